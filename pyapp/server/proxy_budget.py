"""How many requests the same-origin homeserver proxy keeps in flight, per kind of route and per
user (pure bookkeeping; pyapp.server.matrix_proxy does the waiting and the I/O).

Long-polling syncs hold an upstream connection for up to 30 s each, so they get a budget of
their own: however many a user (or an attacker with a token) opens, sends, reads and uploads
still find free connections. One user's syncs are capped too, so one client cannot take the
whole sync budget from everyone else. A request over budget is answered at once (429 for the
user's own cap, 503 when the shared budget is full) with Retry-After, instead of queueing
behind connections that may stay busy for half a minute.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from pyapp.server.proxy_routes import OTHER, SYNC, UPLOAD


@dataclass(frozen=True)
class ProxyLimits:
    sync_total: int = 500     # long-polls in flight across everyone (each ~one idle connection)
    # A browser holds at most 6 HTTP/1.1 connections per origin across all its tabs; a few more
    # leave room for a reload whose aborted long-poll has not finished upstream yet.
    sync_per_user: int = 8
    other_total: int = 64     # sends, reads, room actions: short requests
    upload_total: int = 4     # media uploads (bodies are held in memory, up to max_upload_size)
    # Short requests may wait this long for a free slot (a burst), then get 503.
    queue_seconds: float = 2.0
    retry_after: int = 2      # seconds, in Retry-After of 429/503 answers

    def total(self, kind: str) -> int:
        return {SYNC: self.sync_total, OTHER: self.other_total, UPLOAD: self.upload_total}[kind]


@dataclass(frozen=True)
class Refusal:
    status: int   # 429: this user's own cap; 503: the shared budget is full
    errcode: str
    message: str
    retry_after: int


@dataclass
class Budget:
    """Requests in flight. enter() either admits (returns None; call leave() when done) or
    says why not."""

    limits: ProxyLimits = field(default_factory=ProxyLimits)
    in_flight: dict[str, int] = field(default_factory=lambda: {SYNC: 0, OTHER: 0, UPLOAD: 0})
    syncs_by_user: dict[str, int] = field(default_factory=dict)

    def enter(self, kind: str, user: str | None) -> Refusal | None:
        if kind == SYNC and user is not None \
                and self.syncs_by_user.get(user, 0) >= self.limits.sync_per_user:
            return Refusal(429, "M_LIMIT_EXCEEDED",
                           "Too many concurrent syncs for this session", self.limits.retry_after)
        if self.in_flight[kind] >= self.limits.total(kind):
            return Refusal(503, "M_UNKNOWN", "The server is busy; try again shortly",
                           self.limits.retry_after)
        self.in_flight[kind] += 1
        if kind == SYNC and user is not None:
            self.syncs_by_user[user] = self.syncs_by_user.get(user, 0) + 1
        return None

    def leave(self, kind: str, user: str | None) -> None:
        self.in_flight[kind] -= 1
        if kind == SYNC and user is not None:
            left = self.syncs_by_user[user] - 1
            if left:
                self.syncs_by_user[user] = left
            else:
                del self.syncs_by_user[user]


def user_key(authorization: str | None, query_token: str | None) -> str | None:
    """Who a request is from, as far as the proxy can tell without asking the homeserver: its
    access token (hashed: the budget must not keep credentials). None for anonymous requests."""
    token = None
    if authorization and authorization[:7].lower() == "bearer ":
        token = authorization[7:].strip()
    token = token or query_token
    if not token:
        return None
    return hashlib.sha256(token.encode()).hexdigest()[:32]
