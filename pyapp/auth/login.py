"""OAuth login wired into the chat service: which login a homeserver needs, starting a sign-in,
finishing it after the redirect, and the refresher/logout the service uses for OAuth sessions.

Runs the same under CPython and Pyodide; the browser-only parts (navigation, sessionStorage,
Web Locks) are in pyapp.auth.browser.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, AsyncContextManager, Callable

from pyapp.client.session import OAUTH, PASSWORD, AuthMethod, SessionAdopted

from .client import OAuthClient

if TYPE_CHECKING:
    from pyapp.client.service import ChatService


def install_oauth(service: "ChatService", oauth: OAuthClient,
                  lock: Callable[[], AsyncContextManager] | None = None) -> None:
    """Let `service` refresh and log out OAuth sessions (also restored ones after a reload);
    `lock` serialises token refreshes across the origin's tabs."""
    service.on_auth(AuthMethod(OAUTH, refresh=oauth.refresh, logout=oauth.revoke, lock=lock))


async def login_method(oauth: OAuthClient) -> str:
    """"oauth" when the homeserver advertises an auth server, else "password" (homeservers
    without OAuth 2.0 metadata keep the classic /login)."""
    return OAUTH if await oauth.discover() is not None else PASSWORD


async def complete_login(service: "ChatService", oauth: OAuthClient,
                         params: dict[str, str]) -> str:
    """Finish a sign-in from the callback's parameters; the service is then signed in and
    syncing. Returns the page to go back to. OAuthError (a LoginError) carries the message."""
    session, return_to = await oauth.complete(params)
    service.on_auth(SessionAdopted(session))
    return return_to
