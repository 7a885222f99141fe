/* Shared by the demo host pages: navigation, platform sign-in, calls to the platform API.
   Plain JS on purpose: a host page of the community platform, not part of the chat. */
(() => {
    "use strict";

    const PAGES = [
        ["/index.html", "Home"],
        ["/event.html?slug=python-meetup", "Event"],
        ["/group.html?slug=pythonistas", "Group"],
        ["/messages.html", "Messages"],
    ];

    function h(tag, attrs = {}, ...children) {
        const el = document.createElement(tag);
        for (const [k, v] of Object.entries(attrs)) {
            if (k === "class") el.className = v;
            else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
            else el.setAttribute(k, v);
        }
        for (const c of children) if (c !== null && c !== undefined) el.append(c);
        return el;
    }

    /* The platform API may be absent (the runtime's test server serves pages only): then
       `absent` is true and pages fall back to showing the chat for whoever signs in to it. */
    async function api(method, path, body) {
        let response;
        try {
            response = await fetch("/api/" + path, {
                method,
                credentials: "same-origin",
                headers: body ? { "Content-Type": "application/json" } : {},
                body: body ? JSON.stringify(body) : undefined,
            });
        } catch (e) {
            return { ok: false, status: 0, absent: true, message: "The platform is unreachable." };
        }
        let data = null;
        const isJson = (response.headers.get("content-type") || "").includes("application/json");
        if (isJson) data = await response.json().catch(() => null);
        if (!isJson && response.status === 404) return { ok: false, status: 404, absent: true };
        return {
            ok: response.ok, status: response.status, data, absent: false,
            message: (data && data.message) || `The platform answered ${response.status}.`,
        };
    }

    function query(name, fallback) {
        return new URLSearchParams(location.search).get(name) || fallback;
    }

    function renderNav(me) {
        const nav = document.querySelector(".site-nav");
        if (!nav) return;
        const here = location.pathname === "/" ? "/index.html" : location.pathname;
        const links = h("ul", { class: "site-links" });
        for (const [href, label] of PAGES) {
            const a = h("a", { href }, label);
            if (href.split("?")[0] === here) a.setAttribute("aria-current", "page");
            if (label === "Messages") a.append(messagesBadge);
            links.append(h("li", {}, a));
        }
        const who = h("div", { class: "site-who" });
        if (me) {
            who.append(h("span", {}, `${me.display_name || me.slug} · ${me.tenant}`),
                       h("button", { type: "button", class: "site-btn site-btn--link", onclick: signOut }, "Sign out"));
        }
        nav.replaceChildren(h("a", { class: "site-brand", href: "/index.html" }, "OpenMeet demo"), links, who);
    }

    /* The chat tells its host page the unread and mention counts (README, "Embed the chat"):
       a badge on "Messages" in the navigation. */
    const messagesBadge = h("span", { class: "site-badge", hidden: "" });
    function showUnread(detail) {
        const unread = Number(detail && detail.unread) || 0;
        const mentions = Number(detail && detail.mentions) || 0;
        messagesBadge.hidden = unread === 0 && mentions === 0;
        messagesBadge.classList.toggle("site-badge--mention", mentions > 0);
        messagesBadge.textContent = mentions > 0 ? `@${mentions}` : String(unread);
        const said = [];
        if (unread) said.push(unread === 1 ? "1 unread message" : `${unread} unread messages`);
        if (mentions) said.push(mentions === 1 ? "1 mention" : `${mentions} mentions`);
        messagesBadge.setAttribute("aria-label", said.join(", "));
    }
    window.addEventListener("om-chat:unread", (event) => showUnread(event.detail));
    if (window.omChat && window.omChat.unread) showUnread(window.omChat.unread);

    async function signOut() {
        // Signing out of the platform signs out of its chat too (web/chat/om-chat.js).
        if (window.omChat && window.omChat.signOut) await window.omChat.signOut();
        await api("DELETE", "session");
        location.reload();
    }

    /* A small platform sign-in form (the demo's stand-in for the platform's own login). */
    function signInForm(onDone, note) {
        const error = h("p", { class: "site-error", role: "alert", hidden: "" });
        const tenant = h("input", { id: "si-tenant", name: "tenant", value: "demo", autocomplete: "organization" });
        const slug = h("input", { id: "si-user", name: "user", autocomplete: "username", required: "" });
        const password = h("input", { id: "si-pass", name: "password", type: "password", autocomplete: "current-password", required: "" });
        const form = h("form", { class: "site-card site-signin" },
            h("h2", {}, "Sign in to the platform"),
            note ? h("p", { class: "site-muted" }, note) : null,
            error,
            h("label", { for: "si-tenant" }, "Community"), tenant,
            h("label", { for: "si-user" }, "User"), slug,
            h("label", { for: "si-pass" }, "Password"), password,
            h("button", { type: "submit", class: "site-btn site-btn--primary" }, "Sign in"));
        form.addEventListener("submit", async (e) => {
            e.preventDefault();
            const r = await api("POST", "session", { tenant: tenant.value.trim(), slug: slug.value.trim(), password: password.value });
            if (r.ok) { onDone(r.data); return; }
            error.textContent = r.status === 401 ? "Unknown user or wrong password." : r.message;
            error.hidden = false;
        });
        return form;
    }

    let currentUser = null;

    async function boot() {
        const me = await api("GET", "me");
        currentUser = me.ok ? me.data : null;
        renderNav(currentUser);
        return me;
    }

    function chatElement(mode, context, slug, extra = {}) {
        const el = document.createElement("om-chat");
        el.setAttribute("mode", mode);
        el.setAttribute("context", context);
        if (slug) el.setAttribute("slug", slug);
        // The chat's sign-in page starts with the platform user already signed in here.
        if (currentUser && currentUser.slug && currentUser.tenant) {
            el.setAttribute("login-hint", `${currentUser.slug}@${currentUser.tenant}`);
        }
        for (const [k, v] of Object.entries(extra)) if (v !== undefined && v !== null) el.setAttribute(k, v);
        return el;
    }

    /* A direct chat with a person of the community, in a panel over the page: the chat's own
       <om-chat context="dm" slug="..."> (it reuses the DM with them or starts one). */
    function openDirectChat(slug, name) {
        let panel = document.getElementById("site-dm");
        if (!panel) {
            panel = h("aside", { id: "site-dm", class: "site-dm" });
            document.body.append(panel);
        }
        const close = h("button", { type: "button", class: "site-btn site-btn--link" }, "Close");
        close.addEventListener("click", () => panel.remove());
        panel.setAttribute("aria-label", `Direct chat with ${name}`);
        // The chat's own header names the person; the panel adds only the way to close it.
        panel.replaceChildren(h("div", { class: "site-dm-head" }, close),
                              chatElement("sidebar", "dm", slug));
        close.focus();
    }

    /* One person of an attendee or member list: name, platform role, and "Message" for the
       others (the signed-in user's own community: the platform lists only its own members). */
    function personItem(person, shownRoles) {
        const li = h("li", { class: "site-person" }, person.display_name,
            shownRoles.includes(person.role) ? h("span", { class: "site-tag" }, person.role) : null);
        if (currentUser && person.slug !== currentUser.slug && person.matrix_ready !== false) {
            li.append(h("button", {
                type: "button", class: "site-btn site-btn--small",
                "aria-label": `Message ${person.display_name}`,
                onclick: () => openDirectChat(person.slug, person.display_name),
            }, "Message"));
        }
        return li;
    }

    /* The "encrypted chat" setting of an event or group, for its organizers only (others see
       the lock in the chat's header). Turning it on is one-way, as in Matrix itself: the page
       says so and asks once more before doing it. */
    function encryptionControl(plural, entity) {
        if (!entity.can_manage) return null;
        const box = h("section", { class: "site-encryption", "aria-labelledby": "enc-title" });
        const status = h("p", { class: "site-encryption-status", role: "status" });
        const error = h("p", { class: "site-error", role: "alert", hidden: "" });
        const turnOn = h("button", { type: "button", class: "site-btn" }, "Turn on encryption…");
        const warning = h("div", { class: "site-encryption-confirm", hidden: "" },
            h("p", {}, "Once turned on, encryption cannot be turned off for this chat. Only " +
                       "members' devices will read new messages and files; the server and the " +
                       "platform will not. Members who join later will not read what was sent " +
                       "before they joined."),
            h("button", { type: "button", class: "site-btn site-btn--primary" }, "Turn on for good"),
            h("button", { type: "button", class: "site-btn site-btn--link" }, "Cancel"));
        const [confirm, cancel] = warning.querySelectorAll("button");
        function show(on) {
            status.textContent = on
                ? "🔒 On: messages are end-to-end encrypted. This cannot be turned off."
                : "Off: the chat's server can read its messages.";
            turnOn.hidden = on;
            warning.hidden = true;
        }
        turnOn.addEventListener("click", () => { warning.hidden = false; turnOn.hidden = true; confirm.focus(); });
        cancel.addEventListener("click", () => { show(false); turnOn.focus(); });
        confirm.addEventListener("click", async () => {
            confirm.disabled = true;
            error.hidden = true;
            const r = await api("PUT", `${plural}/${encodeURIComponent(entity.slug)}/encryption`, { encrypted: true });
            confirm.disabled = false;
            if (r.ok) { show(true); return; }
            error.textContent = r.message;
            error.hidden = false;
        });
        box.append(h("h2", { class: "site-h2", id: "enc-title" }, "Chat encryption"), status, turnOn, warning, error);
        show(entity.encrypted);
        return box;
    }

    window.site = { h, api, query, boot, renderNav, signInForm, chatElement, openDirectChat, personItem,
                    encryptionControl };
})();
