"""Access-token lifetime: refresh ahead of expiry and after a 401, one refresh at a time.

Refresh tokens are single-use: if two refreshes of the same token race, the loser's result
is invalid and its next request fails (the bug that hit the design's production client with
two tabs). So every refresh goes through one lock, and before refreshing we look whether the
token was already replaced, in memory or by another tab through the shared session storage.
The lock is pluggable: an asyncio lock by default, a Web Lock across tabs in the browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Any, AsyncContextManager, Awaitable, Callable

from .session import SESSION_ENDED, Session


class SessionExpired(Exception):
    """The session cannot be renewed (refresh token refused or none): sign in again."""


@dataclass
class Tokens:
    access_token: str
    refresh_token: str | None
    expires_in: float | None  # seconds


Refresher = Callable[[Session], Awaitable[Tokens]]


def legacy_refresh_body(refresh_token: str) -> dict[str, Any]:
    return {"refresh_token": refresh_token}


def tokens_from_refresh(body: dict[str, Any]) -> Tokens:
    ms = body.get("expires_in_ms")
    return Tokens(body["access_token"], body.get("refresh_token"), ms / 1000 if ms else None)


def refresh_margin(lifetime: float | None) -> float:
    """How long before expiry to refresh: a fifth of the lifetime, at most a minute, so a
    30-second token is renewed with 6 s to spare and a 5-minute one with 60 s."""
    if not lifetime:
        return 60.0
    return min(60.0, lifetime / 5)


class TokenManager:
    def __init__(
        self,
        session: Session,
        refresher: Refresher | None,
        *,
        clock: Callable[[], float] = time.time,
        lock: Callable[[], AsyncContextManager] | None = None,
        reload: Callable[[], Session | None] | None = None,
        on_change: Callable[[Session], None] | None = None,
    ):
        self.session = session
        self._refresher = refresher
        self._clock = clock
        self._local_lock = asyncio.Lock()
        self._shared_lock = lock
        self._reload = reload
        self._on_change = on_change
        self.refresh_count = 0

    @property
    def access_token(self) -> str:
        return self.session.access_token

    @property
    def can_refresh(self) -> bool:
        return bool(self.session.refresh_token and self._refresher)

    def refresh_due(self) -> bool:
        s = self.session
        if not (s.expires_at and self.can_refresh):
            return False
        return self._clock() >= s.expires_at - refresh_margin(s.lifetime)

    async def fresh_token(self) -> str:
        if self.refresh_due():
            return await self.refresh(self.session.access_token)
        return self.session.access_token

    async def refresh(self, stale_token: str) -> str:
        """Renew the session unless `stale_token` was already replaced; return the new token."""
        async with self._local_lock:
            async with (self._shared_lock() if self._shared_lock else contextlib.nullcontext()):
                self._adopt_newer_stored()
                if self.session.access_token != stale_token and not self.refresh_due():
                    return self.session.access_token
                if not self.can_refresh:
                    raise SessionExpired(SESSION_ENDED)
                tokens = await self._refresher(self.session)
                now = self._clock()
                s = self.session
                s.access_token = tokens.access_token
                if tokens.refresh_token:
                    s.refresh_token = tokens.refresh_token
                s.expires_at = now + tokens.expires_in if tokens.expires_in else None
                s.lifetime = tokens.expires_in
                self.refresh_count += 1
                if self._on_change:
                    self._on_change(s)
                return s.access_token

    def _adopt_newer_stored(self) -> None:
        """Another tab may have refreshed: its tokens are in the shared storage."""
        if not self._reload:
            return
        stored = self._reload()
        if (
            stored is not None
            and stored.user_id == self.session.user_id
            and stored.device_id == self.session.device_id
            and stored.access_token != self.session.access_token
        ):
            self.session = stored
            if self._on_change:
                self._on_change(stored)
