"""Mounts chat components into <om-chat> elements (browser only; called by pyapp.ui.boot).

    <om-chat mode="sidebar|tab|dashboard" context="event|group|dm|all" slug="..."></om-chat>

(context="dm": the slug is a person of the user's own community; the chat is the user's DM
with them, reused or made, pyapp.client.direct.)

Optional attributes: `tenant` (defaults to the one in /config.json), `expect-invite` (the host
page just made the user eligible, e.g. after Attend: show "Joining…" while the invite arrives)
and `login-hint` (the platform user the host page knows, e.g. "alice@demo": the auth server's
sign-in form starts with it).

Every component on the page shares one ChatService (one login, one sync loop, one room
cache), built on first use from /config.json with the browser's fetch transport and storage
(the sync itself kept in IndexedDB, pyapp.browser.sync_store).
With `"auth": "oauth"` in /config.json the page also shares one BrowserOAuth: a sign-in coming
back from the auth server is finished first, then the stored session is restored, both before
the first component renders, so neither a return from the auth server nor a reload flashes the
sign-in screen. A homeserver without OAuth metadata gets the password form.
"""

from __future__ import annotations

import asyncio
import json

from pyapp.client.service import ChatConfig, ChatService
from pyapp.client.session import LoginError

from .viewmodel import OAUTH, PASSWORD, ChatViewModel, SignInOptions

CSS_PATH = "css/chat.css"  # relative to the site root, where /config.json is served

_boot: asyncio.Future | None = None
_views: dict[str, object] = {}
_next_id = 0
_online_proxy = None
_sign_in = SignInOptions()
_draft_store = None


def _config_url() -> str:
    import js

    loader = getattr(js.window, "omChat", None)
    url = getattr(loader, "configURL", None) if loader is not None else None
    return str(url) if url else str(js.URL.new("/config.json", js.location.href).href)


_config: dict | None = None
# Set by the host page (window.omChat.signOut(), web/chat/om-chat.js) when its user signs out
# of the platform; the chat's session ends before anything of it is resumed.
SIGN_OUT_MARK = "sign-out-pending"


async def load_config() -> dict:
    """The deployment's browser configuration: /config.json (pyapp.server.web.make_app serves
    it from the `config` dict), located by the loader next to om-chat.js. Fetched once per
    page: the boot (pyapp.ui.boot) and the chat share it."""
    global _config
    if _config is None:
        import js

        # The loader asked for it when the boot started (omChat._config).
        status, text = await js.window.omChat._config()
        if not 200 <= status < 300:
            raise RuntimeError(f"Could not load the chat configuration (HTTP {status})")
        _config = json.loads(text)
    return dict(_config)


def _make_service(config: dict) -> ChatService:
    from pyapp.browser.fetch_transport import FetchTransport
    from pyapp.browser.storage import LocalStorage

    chat_config = ChatConfig(
        homeserver=config["homeserver"],
        tenant=config.get("tenant"),
        bot_user_id=config.get("bot_user_id"),
        auth=config.get("auth", PASSWORD),
    )
    from pyapp.browser.media_io import BrowserMediaIO
    from pyapp.browser.sync_store import IndexedDBSyncStore

    service = ChatService(chat_config, FetchTransport(), LocalStorage(),
                          sync_stores=IndexedDBSyncStore, crypto=_crypto_provider())
    service.media_io = BrowserMediaIO()
    return service


def _crypto_provider():
    """The Matrix crypto engine, loaded by the loader when first needed (None: a loader
    without it; encrypted rooms then stay unreadable, nothing else changes)."""
    import js

    loader = getattr(js.window, "omChat", None)
    if not loader or not hasattr(loader, "_cryptoModule"):
        return None
    from pyapp.browser.crypto_engine import WasmCryptoProvider
    from pyapp.browser.crypto_store_key import StoreKeys

    return WasmCryptoProvider(loader, StoreKeys())


def _inject_stylesheet() -> None:
    import js

    href = str(js.URL.new(CSS_PATH, _config_url()).href)
    # JavaScript null arrives as pyodide's jsnull, which is falsy but not None.
    if js.document.querySelector(f'link[rel="stylesheet"][href="{href}"]'):
        return
    link = js.document.createElement("link")
    link.rel = "stylesheet"
    link.href = href
    js.document.head.appendChild(link)


def _watch_network(service: ChatService) -> None:
    global _online_proxy
    import js
    from pyodide.ffi import create_proxy

    # Back online: reconnect now rather than at the end of the current backoff wait.
    _online_proxy = create_proxy(lambda *_: service.retry_now())
    js.window.addEventListener("online", _online_proxy)


async def _prepare_oauth(service: ChatService, homeserver: str,
                         known_client: dict | None = None) -> None:
    """Before restore(): installs the OAuth refresher and logout (restored OAuth sessions need
    them) and finishes a sign-in the auth server just sent back."""
    from pyapp.auth.browser import BrowserOAuth

    oauth = BrowserOAuth.create(service, homeserver, known_client=known_client)
    _sign_in.oauth, _sign_in.method = oauth, OAUTH
    try:
        _sign_in.error = await oauth.resume()
    except Exception:  # noqa: BLE001  (an unexpected failure still ends on the sign-in screen)
        import traceback

        traceback.print_exc()
        _sign_in.error = "Signing in could not be finished. Please sign in again."


async def _choose_sign_in(oauth) -> None:
    """Signed out: the Sign in button if the homeserver has an auth server, else the form."""
    try:
        method = await oauth.method()
    except LoginError as e:
        # Unknown for now (homeserver unreachable): keep the button, whose click retries.
        _sign_in.error = _sign_in.error or str(e)
        return
    _sign_in.method = method
    metadata = oauth.client.metadata
    _sign_in.can_create = method == OAUTH and bool(metadata and metadata.supports_create)


async def _start() -> ChatService:
    global _draft_store
    _inject_stylesheet()
    config = await load_config()
    service = ChatService.shared(lambda: _make_service(config))
    if config.get("auth", PASSWORD) == OAUTH:
        from pyapp.auth.browser import session_storage

        _draft_store = session_storage()
        await _prepare_oauth(service, config["homeserver"], config.get("oauth_client"))
    if service.storage.get(SIGN_OUT_MARK):
        await _sign_out_marked(service)
    if service.session is None:
        try:
            await service.restore()
        except Exception:  # a broken stored session must not block the sign-in form
            import traceback

            traceback.print_exc()
    if service.session is None and _sign_in.oauth is not None:
        await _choose_sign_in(_sign_in.oauth)
    _watch_network(service)
    _start_notifier(service)
    _tell_loader_when_synced(service)
    return service


def _tell_loader_when_synced(service: ChatService) -> None:
    """The loader's background work (the memory snapshot, web/chat/om-chat.js) waits until the
    chat has shown its rooms: started earlier, it slowed the first render."""
    import js

    loader = getattr(js.window, "omChat", None)
    if loader is None or not hasattr(loader, "_synced"):
        return

    def changed(_change) -> None:
        if service.synced:
            unsubscribe()
            # After the views' own listeners have drawn this change.
            asyncio.get_event_loop().call_soon(loader._synced)

    unsubscribe = service.subscribe(changed)


_notifier = None


def _start_notifier(service: ChatService) -> None:
    """Browser notifications and the host page's `om-chat:unread` event (pyapp.ui.notifier)."""
    global _notifier
    from .notifier import Notifier

    def focus_room(room_id: str) -> None:
        for view in list(_views.values()):
            if view.focus_room(room_id):
                return

    try:
        _notifier = Notifier(service, focus_room)
    except Exception:  # noqa: BLE001  (the chat works without notifications)
        import traceback

        traceback.print_exc()


async def _sign_out_marked(service: ChatService) -> None:
    """The platform's user signed out: end the chat's session too (revoked on the server,
    not only forgotten here), then clear the mark."""
    try:
        await service.sign_out_stored()
    except Exception:  # noqa: BLE001  (the local session is dropped either way)
        import traceback

        traceback.print_exc()
        service.sessions.clear()
    service.storage.remove(SIGN_OUT_MARK)


async def sign_out_pending() -> None:
    """window.omChat.signOut(): the mark is set; act on it now if the chat is running."""
    if _boot is None:
        return  # the next start reads the mark
    service = await shared_service()
    if service.storage.get(SIGN_OUT_MARK):
        await _sign_out_marked(service)


async def shared_service() -> ChatService:
    global _boot
    if _boot is None:
        _boot = asyncio.ensure_future(_start())
    return await asyncio.shield(_boot)


async def mount(element) -> None:
    global _next_id
    from .view import ChatView

    if (element.getAttribute("data-om-id") or "") in _views:
        return
    service = await shared_service()
    vm = ChatViewModel(
        service,
        mode=element.getAttribute("mode") or "sidebar",
        context=element.getAttribute("context") or "all",
        slug=element.getAttribute("slug") or None,
        tenant=element.getAttribute("tenant") or None,
        expect_invite=element.hasAttribute("expect-invite"),
        sign_in=_sign_in,
        login_hint=element.getAttribute("login-hint") or None,
        draft_store=_draft_store,
    )
    _next_id += 1
    key = f"c{_next_id}"
    element.setAttribute("data-om-id", key)
    _views[key] = ChatView(element, vm)


def unmount(element) -> None:
    view = _views.pop(element.getAttribute("data-om-id") or "", None)
    if view is not None:
        view.destroy()
        element.removeAttribute("data-om-id")


async def mount_all() -> None:
    import js

    elements = js.document.querySelectorAll("om-chat")
    for i in range(elements.length):
        await mount(elements.item(i))
