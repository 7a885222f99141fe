/*
 * <om-chat> embed loader. Host pages add ONE classic script tag:
 *
 *   <script src="https://chat.example/chat/om-chat.js" defer></script>
 *   <om-chat mode="sidebar|tab|dashboard" context="event|group|all" slug="..."></om-chat>
 *
 * Optional attributes on that script tag: data-static (base URL of the built runtime,
 * default ../static/ next to this file), data-config (default ../config.json).
 *
 * Every <om-chat> shows boot progress at once (never a blank area). Python (Pyodide, loaded
 * straight from its module: PyScript's loader compiles code with Function() and so needs
 * 'unsafe-eval' in the page's CSP, Pyodide only 'wasm-unsafe-eval') starts once per page however
 * many elements there are; then
 * pyapp.ui.boot.main() imports the chat and calls pyapp.ui.mount.mount_all(). Elements
 * connected later are mounted with pyapp.ui.mount.mount(element).
 *
 * For tests and host pages, window.omChat exposes:
 *   state        "idle" | "booting" | "python-ready" | "mounted" | "failed"
 *                ("mounted": mount_all() returned, which may include the UI's first connection;
 *                 code that only needs Python should wait for "python-ready")
 *   step         current boot step id (see STEPS)
 *   timings      ms since navigation: bootStart, pythonReady, mounted; importSeconds (Python)
 *   ready        Promise, resolves when Python and the chat libraries are loaded
 *   mounted      Promise, resolves when mount_all() has returned
 *   signOut()    -> Promise: the host's user signed out of the host (the platform), so the chat
 *                signs out too: at once when Python runs on this page, else the next time the
 *                chat starts in this browser (a mark in localStorage), before it resumes anything
 *   runPython(code) -> Promise of the last expression's value; only present (from `ready` on)
 *                when the deployment's /config.json has "debug_run_python": true, because it
 *                runs any Python, with the user's session, for any script on the page
 *   retry()
 *   staticBase, configURL
 * and window events: om-chat:progress {step, label, fraction}, om-chat:python-ready {timings},
 * om-chat:mounted, om-chat:error {message}.
 */
(() => {
    "use strict";
    if (window.omChat && window.omChat.loaderVersion) return; // the tag was included twice

    const STEPS = [
        ["download", "Downloading Python"],
        ["start", "Starting Python"],
        ["libraries", "Loading chat libraries"],
        ["connecting", "Connecting"],
    ];
    // Share of the progress bar at which each step begins (download is the longest on a cold cache).
    const STEP_START = { download: 0, start: 0.4, libraries: 0.6, connecting: 0.9 };
    const CORE_FILES = ["pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip"];
    // No progress at all for this long means something hangs without an error we can see.
    const STALL_MS = 90000;

    const script = document.currentScript ||
        document.querySelector('script[src*="om-chat.js"]');
    const scriptURL = script ? script.src : location.href;
    const staticBase = new URL((script && script.dataset.static) || "../static/", scriptURL).href;
    const configURL = new URL((script && script.dataset.config) || "../config.json", scriptURL).href;

    const pyodideURL = staticBase + "pyodide/pyodide.mjs";
    // Resolved by name against static/pyodide/pyodide-lock.json (our wheels only).
    const PACKAGES = ["pyapp"];
    const MAIN = "from pyapp.ui import boot\nawait boot.main()\n";

    let resolveReady, rejectReady, resolveMounted, rejectMounted;
    const ready = new Promise((res, rej) => { resolveReady = res; rejectReady = rej; });
    const mounted = new Promise((res, rej) => { resolveMounted = res; rejectMounted = rej; });
    // Nobody may be listening yet; failures are shown in the elements and via om-chat:error.
    ready.catch(() => {});
    mounted.catch(() => {});

    const elements = new Set();      // connected <om-chat> elements
    const mountedElements = new WeakSet();
    let api = null;                  // Python side, set by _pythonReady
    let mountAllDone = false;
    let runtimeStarted = false;     // Pyodide cannot be started twice in one page
    let stallTimer = null;
    let observer = null;
    const seenCore = new Set();

    const SIGN_OUT_MARK = "om-chat:sign-out-pending"; // read by pyapp.ui.mount (LocalStorage prefix)

    function signOut() {
        try { localStorage.setItem(SIGN_OUT_MARK, "1"); } catch (e) { /* storage blocked: nothing stored either */ }
        if (!api || !api.signOut) return Promise.resolve();
        return Promise.resolve(api.signOut()).catch((e) => console.error("om-chat sign-out:", e));
    }

    const omChat = {
        loaderVersion: 1,
        state: "idle",
        step: null,
        fraction: 0,
        error: null,
        timings: {},
        ready,
        mounted,
        staticBase,
        configURL,
        retry,
        signOut,
        // -- called from Python (pyapp.ui.boot) ---------------------------------------
        _progress(step) { progress(step); },
        _pythonReady(pyApi, info) {
            // From here on the chat UI reports its own state (connecting, offline...).
            clearTimeout(stallTimer);
            api = pyApi;
            if (pyApi.runPython) omChat.runPython = (code) => api.runPython(code);
            omChat.state = "python-ready";
            omChat.timings.pythonReady = performance.now();
            if (info && info.importSeconds !== undefined) omChat.timings.importSeconds = info.importSeconds;
            emit("python-ready", { timings: { ...omChat.timings } });
            resolveReady(omChat);
        },
        _mountAllStarting() {
            // mount_all() covers exactly the elements connected now; later ones get mount().
            for (const el of elements) mountedElements.add(el);
        },
        _mounted() {
            mountAllDone = true;
            clearTimeout(stallTimer);
            omChat.state = "mounted";
            omChat.timings.mounted = performance.now();
            emit("mounted", { timings: { ...omChat.timings } });
            resolveMounted(omChat);
            for (const el of elements) {
                if (mountedElements.has(el)) el.setAttribute("data-om-state", "mounted");
                else mountOne(el);
            }
        },
        _failed(message, details) { fail(message, details); },
    };
    window.omChat = omChat;

    function emit(name, detail) {
        window.dispatchEvent(new CustomEvent("om-chat:" + name, { detail }));
    }

    function stepIndex(step) {
        return STEPS.findIndex(([id]) => id === step);
    }

    function progress(step, within = 0) {
        if (omChat.state === "failed") return;
        const i = stepIndex(step);
        if (i < 0 || i < stepIndex(omChat.step)) return; // steps only move forward
        const next = i + 1 < STEPS.length ? STEP_START[STEPS[i + 1][0]] : 1;
        const fraction = STEP_START[step] + (next - STEP_START[step]) * Math.min(within, 1);
        if (step === omChat.step && fraction <= omChat.fraction) return;
        omChat.step = step;
        omChat.fraction = fraction;
        if (omChat.state === "booting") armStallTimer();
        for (const el of elements) if (!mountedElements.has(el)) renderBoot(el);
        emit("progress", { step, label: STEPS[i][1], fraction });
    }

    function armStallTimer() {
        clearTimeout(stallTimer);
        stallTimer = setTimeout(() => {
            if (omChat.state === "booting") {
                fail(`Loading stalled at "${STEPS[stepIndex(omChat.step)][1]}"`);
            }
        }, STALL_MS);
    }

    function fail(message, details) {
        if (omChat.state === "failed") return;
        clearTimeout(stallTimer);
        if (observer) observer.disconnect();
        omChat.state = "failed";
        omChat.error = { message: String(message), details: details ? String(details) : "" };
        console.error("om-chat:", message, details || "");
        for (const el of elements) if (!mountedElements.has(el) || !mountAllDone) renderError(el);
        emit("error", { message: String(message) });
        rejectReady(new Error(message));
        rejectMounted(new Error(message));
    }

    function retry() {
        // Once Pyodide has started it cannot start a second time in this page.
        if (runtimeStarted) {
            location.reload();
            return;
        }
        omChat.state = "idle";
        omChat.step = null;
        omChat.fraction = 0;
        omChat.error = null;
        boot();
    }

    function watchDownloads() {
        if (!("PerformanceObserver" in window)) return;
        observer = new PerformanceObserver((list) => {
            for (const entry of list.getEntries()) {
                const name = entry.name.split("?")[0];
                if (!name.startsWith(staticBase)) continue;
                if (entry.responseStatus >= 400) {
                    fail(`Could not load ${name.slice(staticBase.length)} (HTTP ${entry.responseStatus})`);
                    return;
                }
                const file = name.slice(name.lastIndexOf("/") + 1);
                if (CORE_FILES.includes(file)) {
                    seenCore.add(file);
                    if (seenCore.has("pyodide.asm.wasm") && seenCore.has("python_stdlib.zip")) progress("start");
                    else progress("download", seenCore.size / CORE_FILES.length);
                } else if (file.endsWith(".whl")) {
                    progress("libraries");
                }
            }
        });
        observer.observe({ type: "resource", buffered: true });
    }

    function onUnhandled(event) {
        if (omChat.state !== "booting") return;
        const reason = event.reason;
        fail(reason && reason.message ? reason.message : String(reason), reason && reason.stack);
    }

    function preloadRuntime() {
        // Pyodide asks for these only after its own module has loaded and evaluated; asking
        // now overlaps that chain with the big downloads. Same request modes as Pyodide's own
        // fetch()/import(), so the browser hands over the preloaded responses.
        const links = [
            ["modulepreload", "pyodide/pyodide.mjs"],
            ["modulepreload", "pyodide/pyodide.asm.mjs"],
            ["preload", "pyodide/pyodide.asm.wasm"],
            ["preload", "pyodide/python_stdlib.zip"],
            ["preload", "pyodide/pyodide-lock.json"],
        ];
        for (const [rel, path] of links) {
            const href = staticBase + path;
            if (document.querySelector(`link[href="${href}"]`)) continue;
            const link = document.createElement("link");
            link.rel = rel;
            link.href = href;
            if (rel === "preload") {
                link.as = "fetch";
                link.crossOrigin = "anonymous";
            }
            document.head.appendChild(link);
        }
    }

    function boot() {
        if (omChat.state !== "idle") return;
        omChat.state = "booting";
        omChat.timings.bootStart = performance.now();
        if (!runtimeStarted) preloadRuntime();
        watchDownloads();
        progress("download");
        window.addEventListener("unhandledrejection", onUnhandled);
        startPython().catch((e) => fail(e.message, e.stack));
    }

    async function startPython() {
        let loadPyodide;
        try {
            ({ loadPyodide } = await import(pyodideURL));
        } catch (e) {
            throw new Error(`Could not load Pyodide: ${e.message}`);
        }
        runtimeStarted = true;
        const pyodide = await loadPyodide({ indexURL: staticBase + "pyodide/" });
        // No micropip, no package cache: the wheels come from our lock file, by name.
        await pyodide.loadPackage(PACKAGES, { messageCallback: (m) => console.debug(m) });
        // main() reports its own failures through _failed(); the rejection then changes nothing.
        await pyodide.runPythonAsync(MAIN);
    }

    async function mountOne(el) {
        if (!api || !mountAllDone || mountedElements.has(el) || !el.isConnected) return;
        mountedElements.add(el);
        try {
            await api.mount(el);
            el.setAttribute("data-om-state", "mounted");
        } catch (e) {
            mountedElements.delete(el);
            renderError(el, `Chat could not be shown: ${e.message}`);
        }
    }

    // -- rendering of the boot state (before and instead of the chat UI) ---------------------

    function clear(el) {
        while (el.firstChild) el.removeChild(el.firstChild);
    }

    function h(tag, className, text) {
        const n = document.createElement(tag);
        if (className) n.className = className;
        if (text !== undefined) n.textContent = text;
        return n;
    }

    function renderBoot(el) {
        let panel = el.querySelector(":scope > .om-boot:not(.om-boot--error)");
        if (!panel) {
            clear(el);
            panel = h("div", "om-boot");
            panel.setAttribute("role", "status");
            panel.setAttribute("aria-live", "polite");
            panel.appendChild(h("div", "om-boot__title", "Loading chat…"));
            const bar = h("div", "om-boot__bar");
            bar.setAttribute("role", "progressbar");
            bar.setAttribute("aria-valuemin", "0");
            bar.setAttribute("aria-valuemax", "100");
            bar.appendChild(h("div", "om-boot__fill"));
            panel.appendChild(bar);
            const list = h("ol", "om-boot__steps");
            for (const [id, label] of STEPS) {
                const li = h("li", "om-boot__step", label);
                li.dataset.step = id;
                list.appendChild(li);
            }
            panel.appendChild(list);
            el.appendChild(panel);
        }
        const current = stepIndex(omChat.step);
        panel.querySelector(".om-boot__fill").style.width = `${Math.round(omChat.fraction * 100)}%`;
        panel.querySelector(".om-boot__bar").setAttribute("aria-valuenow", String(Math.round(omChat.fraction * 100)));
        panel.querySelectorAll(".om-boot__step").forEach((li, i) => {
            li.classList.toggle("is-done", i < current);
            li.classList.toggle("is-active", i === current);
        });
        el.setAttribute("data-om-state", "booting");
    }

    function renderError(el, message) {
        clear(el);
        const panel = h("div", "om-boot om-boot--error");
        panel.setAttribute("role", "alert");
        panel.appendChild(h("div", "om-boot__title", "The chat could not start"));
        panel.appendChild(h("p", "om-boot__message", message || (omChat.error && omChat.error.message) || "Unknown error"));
        const button = h("button", "om-boot__retry", "Retry");
        button.type = "button";
        button.addEventListener("click", () => retry());
        panel.appendChild(button);
        if (omChat.error && omChat.error.details) {
            const details = h("details", "om-boot__details");
            details.appendChild(h("summary", "", "Details"));
            details.appendChild(h("pre", "", omChat.error.details));
            panel.appendChild(details);
        }
        el.appendChild(panel);
        el.setAttribute("data-om-state", "failed");
    }

    // -- the element ------------------------------------------------------------------------

    class OmChatElement extends HTMLElement {
        connectedCallback() {
            elements.add(this);
            if (mountedElements.has(this)) return; // moved within the page: keep its chat
            if (omChat.state === "failed") renderError(this);
            else renderBoot(this);
            boot();
            mountOne(this);
        }

        disconnectedCallback() {
            elements.delete(this);
            // A move is a disconnect followed by a connect in the same task: wait before unmounting.
            queueMicrotask(() => {
                if (this.isConnected || !mountedElements.has(this)) return;
                mountedElements.delete(this);
                if (api) Promise.resolve(api.unmount(this)).catch((e) => console.error("om-chat unmount:", e));
            });
        }
    }

    function injectStylesheet() {
        const href = new URL("om-chat.css", scriptURL).href;
        if (document.querySelector(`link[rel="stylesheet"][href="${href}"]`)) return;
        const link = document.createElement("link");
        link.rel = "stylesheet";
        link.href = href;
        document.head.appendChild(link);
    }

    injectStylesheet();
    if (!customElements.get("om-chat")) customElements.define("om-chat", OmChatElement);
})();
