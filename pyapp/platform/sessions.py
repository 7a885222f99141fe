"""Platform sign-in sessions, kept in the platform store (SQLite or PostgreSQL).

The browser holds a random token; the store holds only its HMAC (keyed with the server's
session secret), so a copy of the database does not hand out live sessions, and changing the
secret ends every session. A session ends at its expiry or when revoked (sign-out), and
every process sharing the store sees that at once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Callable

from pyapp.platform.store import Store

DEFAULT_TTL = 7 * 86400.0


class Sessions:
    def __init__(self, store: Store, secret: bytes, ttl: float = DEFAULT_TTL,
                 clock: Callable[[], float] = time.time):
        self.store = store
        self.secret = secret
        self.ttl = ttl
        self.clock = clock

    def _id(self, token: str) -> str:
        return hmac.new(self.secret, token.encode(), hashlib.sha256).hexdigest()

    def create(self, tenant: str, slug: str) -> str:
        """A new session for the user; returns the token for the cookie."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self.store.tx() as c:
            # Expired rows are useless; dropping them here keeps the table as small as the
            # number of live sessions without a separate sweeper.
            c.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            c.execute("INSERT INTO sessions (id, tenant, user_slug, created_at, expires_at) "
                      "VALUES (?,?,?,?,?)", (self._id(token), tenant, slug, now, now + self.ttl))
        return token

    def lookup(self, token: str | None) -> tuple[str, str] | None:
        """(tenant, user slug) of a live session, else None."""
        if not token or len(token) > 200:
            return None
        row = self.store.one("SELECT tenant, user_slug, expires_at FROM sessions WHERE id = ?",
                             (self._id(token),))
        if row is None or row["expires_at"] <= self.clock():
            return None
        return row["tenant"], row["user_slug"]

    def revoke(self, token: str | None) -> None:
        if token:
            self.store.execute("DELETE FROM sessions WHERE id = ?", (self._id(token),))

    def revoke_user(self, tenant: str, slug: str) -> int:
        """End all of a user's sessions (e.g. after a password change); returns how many."""
        return self.store.execute("DELETE FROM sessions WHERE tenant = ? AND user_slug = ?",
                                  (tenant, slug))
