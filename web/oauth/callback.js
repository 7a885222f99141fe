/*
 * OAuth 2.0 redirect target (docs/auth.md). It hands the response parameters to the chat page
 * the user came from, whose Python (pyapp.auth.browser.BrowserOAuth.resume) checks state and
 * issuer and exchanges the code with the PKCE verifier. Doing the exchange there, not here, saves
 * starting Python twice. The parameters go through this tab's sessionStorage (same origin, this
 * tab only) and location.replace() drops this URL, code included, from the history.
 */
(() => {
    "use strict";
    const PREFIX = "om-chat:";
    const raw = location.hash.length > 1 ? location.hash.slice(1) : location.search.slice(1);
    const params = Object.fromEntries(new URLSearchParams(raw));
    const status = document.getElementById("status");
    let store;
    try {
        store = window.sessionStorage;
        store.setItem(PREFIX + "oauth.callback", JSON.stringify(params));
    } catch (e) {
        status.textContent = "Signing in needs this site's storage, which the browser blocks. " +
            "Allow storage for this site and sign in again.";
        return;
    }
    // Where to go back: the page that started this flow (found by its state), or, for a state
    // this tab does not know, the page that last started one (Python then reports the mismatch).
    let target = null;
    try {
        const flow = JSON.parse(store.getItem(PREFIX + "om-chat.oauth.flow." + (params.state || "")) || "null");
        target = flow && flow.return_to;
    } catch (e) { target = null; }
    target = target || store.getItem(PREFIX + "oauth.return") || "/";
    // Only pages of this origin: never an open redirect.
    const url = new URL(target, location.href);
    location.replace(url.origin === location.origin ? url.href : "/");
})();
