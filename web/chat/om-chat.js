/*
 * <om-chat> embed loader. Host pages add ONE classic script tag:
 *
 *   <script src="https://chat.example/chat/om-chat.js" defer></script>
 *   <om-chat mode="sidebar|tab|dashboard" context="event|group|dm|all" slug="..."></om-chat>
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
 *   timings      ms since navigation: bootStart, loaderImported (pyodide.mjs evaluated),
 *                runtimeReady (loadPyodide resolved), packagesReady (our wheels on sys.path),
 *                pythonReady, mounted, synced (the chat first showed its rooms);
 *                importSeconds (Python's `import nio` + our client)
 *   ready        Promise, resolves when Python and the chat libraries are loaded
 *   mounted      Promise, resolves when mount_all() has returned
 *   signOut()    -> Promise: the host's user signed out of the host (the platform), so the chat
 *                signs out too: at once when Python runs on this page, else the next time the
 *                chat starts in this browser (a mark in localStorage), before it resumes anything
 *   runPython(code) -> Promise of the last expression's value; only present (from `ready` on)
 *                when the deployment's /config.json has "debug_run_python": true, because it
 *                runs any Python, with the user's session, for any script on the page
 *   bootMode     "snapshot" (Python's memory restored from this browser's Cache API) | "normal"
 *   snapshot     none | restored | rejected | making | stored | failed | unavailable
 *   snapshotError  why a stored snapshot was not used (a normal boot followed)
 *   retry()
 *   staticBase, configURL
 *   unread       {unread, mentions}: the last counts om-chat:unread gave (set by pyapp.ui.notifier)
 * and window events: om-chat:progress {step, label, fraction}, om-chat:python-ready {timings},
 * om-chat:mounted, om-chat:error {message}, om-chat:snapshot {ok, bytes, ms | error},
 * om-chat:unread {unread, mentions} (the user's unread messages and mentions over all chats,
 * each room at its notification setting; sent whenever they change; README "Embed the chat").
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
    // The HTML sanitizer for received formatted messages (pyapp.ui.sanitize), from our own
    // origin like the runtime; imported as a module so no global of the host page changes.
    const sanitizerURL = staticBase + "vendor/dompurify/purify.es.mjs";
    let sanitizer = null;
    const MAIN = "from pyapp.ui import boot\nawait boot.main()\n";

    let resolveReady, rejectReady, resolveMounted, rejectMounted;
    const ready = new Promise((res, rej) => { resolveReady = res; rejectReady = rej; });
    let resolveSynced;
    const synced = new Promise((res) => { resolveSynced = res; });
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
        _synced() {
            if (omChat.timings.synced === undefined) omChat.timings.synced = performance.now();
            resolveSynced();
        },
        _sanitizer() { return loadSanitizer(); },
        // pyapp.ui.dom.h: an element with its class, text (as text, never HTML) and attributes
        // (name, value, name, value...), made in one call from Python instead of one per step.
        _el(tag, cls, text, ...attrs) {
            const el = document.createElement(tag);
            if (cls) el.className = cls;
            if (text !== null && text !== undefined) el.textContent = text;
            for (let i = 0; i < attrs.length; i += 2) el.setAttribute(attrs[i], attrs[i + 1]);
            return el;
        },
        // /config.json, asked for when the boot starts (Python would ask only after its
        // imports): resolves to [HTTP status, body text]; a failed fetch is tried again.
        _config() { return loadConfig(); },
        // The Matrix crypto engine's module (pyapp.browser.crypto_engine), imported only when
        // the user meets encryption: a dynamic import is the one way a module loads under the
        // page's CSP, and Python cannot write one.
        _cryptoModule() { return import(staticBase + "vendor/matrix-sdk-crypto-wasm/index.mjs"); },
        // Settles a promise into {ok, value} / {ok: false, error}: handlers attached from
        // Python never see the engine's rejections (its error objects are not Errors).
        _settle(promise) {
            return Promise.resolve(promise).then((value) => ({ ok: true, value }),
                                                 (error) => ({ ok: false, error }));
        },
        // Calls target[name](...args) from a microtask (not inside Python's call into JS:
        // the engine's error paths never settled when entered from there), settled as above.
        _call(target, name, args) {
            return Promise.resolve()
                .then(() => target[name](...args))
                .then((value) => ({ ok: true, value }), (error) => ({ ok: false, error }));
        },
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
                // Our wheels download beside these (see fetchWheels); Python's boot reports
                // "libraries" itself when it imports them.
                if (CORE_FILES.includes(file)) {
                    seenCore.add(file);
                    if (seenCore.has("pyodide.asm.wasm") && seenCore.has("python_stdlib.zip")) progress("start");
                    else progress("download", seenCore.size / CORE_FILES.length);
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

    function loadSanitizer() {
        // Resolves to DOMPurify, or null when it cannot load (formatted messages then show
        // their plain body); a failed load is tried again by the next call.
        if (!sanitizer) {
            sanitizer = import(sanitizerURL).then((m) => m.default, (e) => {
                console.warn("om-chat: HTML sanitizer not loaded:", e);
                sanitizer = null;
                return null;
            });
        }
        return sanitizer;
    }

    let config = null;
    function loadConfig() {
        if (!config) {
            config = fetch(configURL, { cache: "no-store", credentials: "omit" })
                .then(async (r) => [r.status, await r.text()]);
            config.catch(() => { config = null; });
        }
        return config;
    }

    function boot() {
        if (omChat.state !== "idle") return;
        omChat.state = "booting";
        omChat.timings.bootStart = performance.now();
        if (!runtimeStarted) preloadRuntime();
        loadSanitizer(); // small: fetched while Pyodide downloads
        loadConfig();
        watchDownloads();
        progress("download");
        window.addEventListener("unhandledrejection", onUnhandled);
        startPython().catch((e) => fail(e.message, e.stack));
    }

    async function startPython() {
        const stored = findSnapshot(); // read while Pyodide's module loads
        const indexURL = staticBase + "pyodide/";
        // Without a stored snapshot our wheels are needed: fetched now, while Pyodide loads.
        let wheels = stored.then((bytes) => (bytes ? null : fetchWheels(indexURL)));
        wheels.catch(() => {}); // awaited below; a failure is reported there
        let loadPyodide;
        try {
            ({ loadPyodide } = await import(pyodideURL));
        } catch (e) {
            throw new Error(`Could not load Pyodide: ${e.message}`);
        }
        omChat.timings.loaderImported = performance.now();
        runtimeStarted = true;
        let pyodide = await restoreSnapshot(loadPyodide, indexURL, await stored);
        omChat.bootMode = pyodide ? "snapshot" : "normal";
        if (!pyodide) {
            pyodide = await loadPyodide({ indexURL });
            omChat.timings.runtimeReady = performance.now();
            installWheels(pyodide, (await wheels) || (await fetchWheels(indexURL)));
        }
        omChat.timings.packagesReady = performance.now();
        // main() reports its own failures through _failed(); the rejection then changes nothing.
        // A restored Python would repeat the snapshot's random sequence: reseed it first.
        const main = omChat.bootMode === "snapshot"
            ? "import importlib, random\nimportlib.invalidate_caches()\nrandom.seed()\n" + MAIN : MAIN;
        try {
            await pyodide.runPythonAsync(main);
        } finally {
            if (omChat.bootMode === "snapshot" && omChat.state === "failed") dropSnapshot();
        }
        if (omChat.bootMode === "normal" && omChat.state === "mounted") {
            afterFirstRooms().then(() => makeSnapshot(pyodide));
        }
    }

    // -- our wheels -------------------------------------------------------------------------
    // Every wheel of static/pyodide/pyodide-lock.json (ours and what the chat imports, nothing
    // else), fetched from the start of the boot beside Pyodide's own files and checked against
    // the lock's sha256. They go on sys.path as they are: their bytecode-only layout is what
    // zipimport reads, so nothing is unpacked (Pyodide's loadPackage unpacked them file by file
    // after Python had started: 0.35-0.65 s of a first visit, measured with
    // benchmarks/first_visit.py). Resolves to [[file name, bytes], ...].
    function fetchWheels(indexURL) {
        const sri = (hex) => "sha256-" + btoa(String.fromCharCode(...hex.match(/../g).map((h) => parseInt(h, 16))));
        return fetch(indexURL + "pyodide-lock.json")
            .then((r) => {
                if (!r.ok) throw new Error(`Could not load pyodide-lock.json (HTTP ${r.status})`);
                return r.json();
            })
            .then((lock) => Promise.all(Object.values(lock.packages).map(async (p) => {
                const r = await fetch(new URL(p.file_name, indexURL).href, { integrity: sri(p.sha256) });
                if (!r.ok) throw new Error(`Could not load ${p.file_name} (HTTP ${r.status})`);
                return [p.file_name.slice(p.file_name.lastIndexOf("/") + 1), new Uint8Array(await r.arrayBuffer())];
            })));
    }

    // The wheels as files in site-packages (where the snapshot worker finds them too), each
    // one on sys.path.
    let wheelPaths = [];
    function installWheels(pyodide, wheels) {
        const site = pyodide._api.sitepackages; // private, as the snapshot's API (pinned)
        const paths = wheels.map(([name, bytes]) => {
            pyodide.FS.writeFile(`${site}/${name}`, bytes, { canOwn: true });
            return `${site}/${name}`;
        });
        pyodide.runPython(`import sys\nsys.path.extend(${JSON.stringify(paths)})`);
        wheelPaths = paths;
    }

    // -- memory snapshot --------------------------------------------------------------------
    // Starting Python, installing our wheels and importing nio + the chat is most of a reload's
    // time. After a normal boot has mounted the chat, om-chat-snapshot.js (a worker) imports the
    // same modules in a second Python and stores its whole memory in the Cache API, keyed by the
    // build's runtime id (static/build-info.json); the next page load restores that memory
    // instead (Pyodide 314's private _loadSnapshot, pinned in package.json). Nothing per-page is
    // in it: config, session and DOM are read by main() after the restore. Any failure falls
    // back to a normal boot and drops the snapshot; a new build has a new id, and storing a
    // snapshot deletes the others.
    const SNAPSHOT_CACHE = "om-chat-python-snapshot";
    const SNAPSHOT_FORMAT = 3; // bump when what a snapshot holds changes without a new build
    const snapshotWorkerURL = new URL("om-chat-snapshot.js", scriptURL).href;
    // The snapshot's second Python takes a core for seconds. Started at mount, it competed with
    // the first sync's answer, its storing and its render (on 2 cores: 0.1-0.8 s later "ready"
    // on a first visit, measured with benchmarks/first_visit.py), so it waits until the chat
    // has shown its rooms (pyapp.ui.mount calls _synced), or SNAPSHOT_LATEST_MS after mounting
    // when that never comes (signed out), and then for an idle moment.
    const SNAPSHOT_LATEST_MS = 15000;
    let snapshotKey = null;
    omChat.snapshot = "none"; // none | restored | rejected | making | stored | failed | unavailable

    async function findSnapshot() {
        try {
            if (!("caches" in window)) return null;
            const idPromise = fetch(staticBase + "build-info.json",
                                    { cache: "no-cache", credentials: "omit" })
                .then((r) => (r.ok ? r.json() : {})).then((info) => info.runtime_id || null);
            const cache = await caches.open(SNAPSHOT_CACHE);
            // There is one entry at most (storing one deletes the others): read it while the
            // build's id arrives, then use it only if it was made by this build.
            const keys = await cache.keys();
            const early = keys.length === 1 ? keys[0] : null;
            let reading = early ? cache.match(early).then((r) => r.arrayBuffer()) : null;
            if (reading) reading.catch(() => {});
            const id = await idPromise;
            if (!id) return null;
            snapshotKey = `${staticBase}pyodide/snapshot/v${SNAPSHOT_FORMAT}-${id}`;
            if (!early || early.url !== snapshotKey) {
                const hit = await cache.match(snapshotKey);
                if (!hit) return null;
                reading = hit.arrayBuffer();
            }
            const bytes = new Uint8Array(await reading);
            omChat.timings.snapshotRead = performance.now();
            return bytes;
        } catch (e) {
            console.warn("om-chat: no Python snapshot:", e);
            return null;
        }
    }

    // The stored entry (written by om-chat-snapshot.js): a 16-byte header ("OMS2", memory
    // length, file index length, number of stored pages), the stored pages' numbers, those
    // 64 KiB pages of the memory snapshot (zero pages are left out), the index of
    // site-packages' files (JSON [[path, offset, length]], length -1 = folder), their contents.
    function unpackSnapshot(bytes) {
        const PAGE = 65536;
        const view = new DataView(bytes.buffer, bytes.byteOffset, 16);
        if (new TextDecoder().decode(bytes.subarray(0, 4)) !== "OMS2") throw new Error("not a snapshot");
        const memory = new Uint8Array(view.getUint32(4, true));
        const count = view.getUint32(12, true);
        let at = 16 + 4 * count;
        for (let i = 0; i < count; i++) {
            const start = new DataView(bytes.buffer, bytes.byteOffset + 16 + 4 * i, 4).getUint32(0, true) * PAGE;
            const length = Math.min(PAGE, memory.length - start);
            if (length <= 0 || at + length > bytes.length) throw new Error("truncated snapshot");
            memory.set(bytes.subarray(at, at + length), start);
            at += length;
        }
        const indexEnd = at + view.getUint32(8, true);
        if (indexEnd > bytes.length) throw new Error("truncated snapshot");
        return {
            memory,
            index: JSON.parse(new TextDecoder().decode(bytes.subarray(at, indexEnd))),
            files: bytes.subarray(indexEnd),
        };
    }

    async function restoreSnapshot(loadPyodide, indexURL, bytes) {
        if (!bytes) return null;
        try {
            const { memory, index, files } = unpackSnapshot(bytes);
            const { default: createPyodideModule } = await import(indexURL + "pyodide.asm.mjs");
            const pyodide = await loadPyodide({
                indexURL,
                _loadSnapshot: memory,
                createPyodideModule: async (settings) => {
                    const module = await createPyodideModule(settings);
                    const restore = module.API.restoreSnapshot;
                    // The loader sizes INITIAL_MEMORY for the snapshot, but this build defines
                    // its memory inside the wasm module, which ignores that: without growing
                    // first, the copy fails ("RangeError: offset is out of bounds").
                    module.API.restoreSnapshot = (snapshot) => {
                        const header = new Uint32Array(snapshot.buffer, snapshot.byteOffset, 2)[1];
                        if (!module.growMemory(snapshot.length - header)) {
                            throw new Error("could not grow the wasm memory to the snapshot's size");
                        }
                        return restore(snapshot);
                    };
                    return module;
                },
            });
            omChat.timings.runtimeReady = performance.now();
            // One copy of all files, owned by the file system from then on (no copy per file),
            // so that the rest of the stored bytes (the memory) can be freed.
            const own = files.slice();
            for (const [path, offset, length] of index) {
                if (length < 0) pyodide.FS.mkdirTree(path);
                else pyodide.FS.writeFile(path, own.subarray(offset, offset + length), { canOwn: true });
            }
            // The chat's own modules must be there, or the snapshot is not ours.
            if (!pyodide.runPython("import sys\n'pyapp.ui.boot' in sys.modules")) {
                throw new Error("the snapshot does not hold the chat");
            }
            omChat.snapshot = "restored";
            return pyodide;
        } catch (e) {
            console.warn("om-chat: the stored Python snapshot was not usable, starting normally:", e);
            omChat.snapshot = "rejected";
            omChat.snapshotError = String((e && e.message) || e);
            dropSnapshot();
            return null;
        }
    }

    function afterFirstRooms() {
        const late = new Promise((res) => setTimeout(res, SNAPSHOT_LATEST_MS));
        return Promise.race([synced, late]).then(() => new Promise((res) => {
            if ("requestIdleCallback" in window) requestIdleCallback(() => res(), { timeout: 2000 });
            else setTimeout(res, 0);
        }));
    }

    function dropSnapshot() {
        if (!snapshotKey || !("caches" in window)) return;
        caches.open(SNAPSHOT_CACHE).then((c) => c.delete(snapshotKey)).catch(() => {});
    }

    function makeSnapshot(pyodide) {
        if (!snapshotKey || typeof Worker !== "function") {
            omChat.snapshot = "unavailable";
            return;
        }
        // What the page imported to boot and mount is what the next load should find in memory.
        const modules = pyodide.runPython("import sys\nsorted(sys.modules)").toJs();
        let worker;
        try {
            worker = new Worker(snapshotWorkerURL, { type: "module" });
        } catch (e) { // e.g. om-chat.js served from another origin than the page
            omChat.snapshot = "unavailable";
            return;
        }
        omChat.snapshot = "making";
        const done = (result) => {
            worker.terminate();
            omChat.snapshot = result.ok ? "stored" : "failed";
            if (!result.ok) console.warn("om-chat: no Python snapshot made:", result.error);
            emit("snapshot", result);
        };
        worker.onmessage = (event) => done(event.data);
        worker.onerror = (event) => done({ ok: false, error: event.message || "worker error" });
        // The worker puts the same wheel files on the same sys.path (no second download).
        const wheels = wheelPaths.map((path) => [path, pyodide.FS.readFile(path)]);
        worker.postMessage({ indexURL: staticBase + "pyodide/", modules, cacheName: SNAPSHOT_CACHE,
                             key: snapshotKey, wheels }, wheels.map(([, bytes]) => bytes.buffer));
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
