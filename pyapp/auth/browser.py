"""The browser-only seams of the OAuth login (Pyodide): sessionStorage for the pending flow,
a Web Lock so one tab at a time refreshes, navigation to the auth server, and picking up the
answer the callback page (web/oauth/callback.html) handed over.

Typical page boot (the chat UI's mount):

    oauth = BrowserOAuth.create(service, homeserver)   # also installs the OAuth refresher
    error = await oauth.resume()          # finishes a sign-in that just came back, if any
    if error: show(error)                 # e.g. "... unknown or reused state ..."
    elif not await service.restore():
        if await oauth.method() == "oauth": show a "Sign in" button -> oauth.sign_in()
        else: show the password form -> service.login_password(...)
"""

from __future__ import annotations

import contextlib
import json

from pyapp.client.session import LoginError

from . import flow as F
from .client import OAuthClient
from .login import OAUTH, complete_login, install_oauth, login_method

# The key the callback page writes (with the "om-chat:" prefix of pyapp.browser.storage).
CALLBACK_KEY = "oauth.callback"
RETURN_KEY = "oauth.return"
LOCK_NAME = "om-chat.tokens"
CALLBACK_PATH = "/oauth/callback.html"


def session_storage():
    """sessionStorage (this tab only) behind the same Storage interface as localStorage."""
    import js

    from pyapp.browser.storage import LocalStorage

    try:
        backend = js.window.sessionStorage
        backend.length  # noqa: B018  (throws where storage is blocked)
    except Exception:
        # Storage blocked: the flow cannot survive the redirect; sign-in will report the
        # unknown state instead of failing obscurely.
        from pyapp.client.storage import MemoryStorage

        return MemoryStorage()
    return LocalStorage(backend=backend)


def web_lock(name: str = LOCK_NAME):
    """A `lock` factory for TokenManager: navigator.locks serialises refreshes across every tab
    of the origin. None when the browser has no Web Locks (then only in-page locking applies,
    and the shared-storage reload still lets tabs adopt each other's tokens)."""
    import js

    locks = getattr(js.navigator, "locks", None)
    if locks is None or not hasattr(locks, "request"):
        return None

    @contextlib.asynccontextmanager
    async def hold():
        import asyncio

        from pyodide.ffi import create_once_callable, create_proxy

        loop = asyncio.get_event_loop()
        acquired = loop.create_future()
        release = {}

        def executor(resolve, reject):
            release["resolve"] = resolve

        # The lock is held until the promise our callback returns settles.
        held_until = js.Promise.new(create_once_callable(executor))

        def granted(lock):
            if not acquired.done():
                acquired.set_result(True)
            return held_until

        callback = create_proxy(granted)
        done = locks.request(name, callback)
        try:
            await acquired
            yield
        finally:
            release["resolve"](None)
            try:
                await done
            finally:
                callback.destroy()

    return hold


class BrowserOAuth:
    def __init__(self, service, client: OAuthClient):
        self.service = service
        self.client = client

    @classmethod
    def create(cls, service, homeserver: str, *, callback_url: str | None = None,
               client_name: str = "Community chat",
               known_client: dict | None = None) -> "BrowserOAuth":
        """OAuth for `service` on this page. The callback page is /oauth/callback.html on this
        page's origin: the pending flow is in this origin's sessionStorage, so the callback must
        run there (a host page embedding the chat serves that static file or passes its own)."""
        import js

        from pyapp.browser.fetch_transport import FetchTransport
        from pyapp.browser.storage import LocalStorage

        if callback_url is None:
            callback_url = str(js.location.origin) + CALLBACK_PATH
        transport = getattr(service, "transport", None) or FetchTransport()
        storage = getattr(service, "storage", None) or LocalStorage()
        client = OAuthClient(transport, storage, session_storage(), homeserver=homeserver,
                             redirect_uri=callback_url, client_name=client_name,
                             known_client=known_client)
        install_oauth(service, client, lock=web_lock())
        return cls(service, client)

    async def method(self) -> str:
        return await login_method(self.client)

    async def sign_in(self, prompt: str | None = None, return_to: str | None = None,
                      login_hint: str | None = None) -> None:
        """Leave for the auth server's sign-in page; the browser comes back to this page.
        `login_hint` (e.g. the platform user the host page knows) pre-fills its form."""
        import js

        url = await self.client.begin(return_to or str(js.location.href), prompt=prompt,
                                      login_hint=login_hint)
        # The callback page uses this when the state it gets matches no flow of this tab.
        self.client.flow_storage.set(RETURN_KEY, str(js.location.href))
        js.location.assign(url)

    def pending_callback(self) -> dict[str, str] | None:
        raw = self.client.flow_storage.get(CALLBACK_KEY)
        if raw is None:
            return None
        # Taken out before use: a reload must not replay it.
        self.client.flow_storage.remove(CALLBACK_KEY)
        try:
            params = json.loads(raw)
        except ValueError:
            return None
        return {str(k): str(v) for k, v in params.items()} if isinstance(params, dict) else None

    async def resume(self) -> str | None:
        """Finish a sign-in the callback page handed over. Returns the message to show when
        it was refused (None when there was nothing to finish or it succeeded)."""
        params = self.pending_callback()
        if params is None:
            return None
        self.client.flow_storage.remove(RETURN_KEY)
        try:
            await complete_login(self.service, self.client, params)
        except LoginError as e:
            return str(e)
        return None

    async def sign_out(self) -> None:
        await self.service.logout()


__all__ = ["BrowserOAuth", "web_lock", "session_storage", "OAUTH", "F"]
