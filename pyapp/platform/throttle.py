"""Login throttling as pure logic: a sliding window of attempts per key, clock passed in.

Every attempt counts from the moment it starts (so a burst of concurrent guesses cannot all
slip in while the first hashes are still running); an attempt that turns out to be a success
is given back. A key with ``limit`` attempts inside the last ``window`` seconds is refused
until its oldest attempt leaves the window: that wait is the Retry-After.

The login handler asks for two keys at once, the account and the client address: guessing
one account's password from many addresses and many accounts' passwords from one address
are both limited, and a refused attempt is counted against neither.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    limit: int  # attempts allowed ...
    window: float  # ... within this many seconds


class SlidingWindow:
    """Attempt times per key. ``max_keys`` bounds memory against address-spraying: when full,
    keys whose attempts have all expired are dropped first, then the least recently used."""

    def __init__(self, rule: Limit, max_keys: int = 100_000):
        if rule.limit < 1 or rule.window <= 0:
            raise ValueError("a limit needs at least one attempt in a positive window")
        self.rule = rule
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float] | None:
        hits = self._hits.get(key)
        if hits is None:
            return None
        while hits and hits[0] <= now - self.rule.window:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return None
        return hits

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again; 0 when it may try now."""
        hits = self._recent(key, now)
        if hits is None or len(hits) < self.rule.limit:
            return 0.0
        return hits[len(hits) - self.rule.limit] + self.rule.window - now

    def hit(self, key: str, now: float) -> None:
        hits = self._recent(key, now)
        if hits is None:
            if len(self._hits) >= self.max_keys:
                self._evict(now)
            hits = self._hits[key] = deque()
        else:
            self._hits[key] = self._hits.pop(key)  # most recently used last
        hits.append(now)

    def give_back(self, key: str, at: float) -> None:
        hits = self._hits.get(key)
        if hits is not None:
            try:
                hits.remove(at)
            except ValueError:
                pass  # already expired
            if not hits:
                del self._hits[key]

    def _evict(self, now: float) -> None:
        for key in list(self._hits):
            self._recent(key, now)
        while len(self._hits) >= self.max_keys:
            del self._hits[next(iter(self._hits))]

    def __len__(self) -> int:
        return len(self._hits)


@dataclass(frozen=True)
class Attempt:
    """A granted attempt: hand it back with ``LoginThrottle.succeeded`` if the password was
    right."""
    keys: tuple[tuple[str, str], ...]
    at: float


class Throttled(Exception):
    def __init__(self, retry_after: float, scope: str):
        super().__init__(f"too many sign-in attempts for this {scope}")
        self.scope = scope
        # Whole seconds, never 0: Retry-After is an integer and 0 would invite a tight loop.
        self.retry_after = max(1, math.ceil(retry_after))


class LoginThrottle:
    """Per-account and per-address windows. ``begin`` refuses (raises Throttled) or counts."""

    def __init__(self, per_account: Limit = Limit(5, 300.0),
                 per_address: Limit = Limit(30, 300.0), max_keys: int = 100_000):
        self.windows = {"account": SlidingWindow(per_account, max_keys),
                        "address": SlidingWindow(per_address, max_keys)}

    def begin(self, account: str, address: str, now: float) -> Attempt:
        keys = (("account", account), ("address", address))
        wait = max((self.windows[scope].retry_after(key, now), scope) for scope, key in keys)
        if wait[0] > 0:
            raise Throttled(*wait)
        for scope, key in keys:
            self.windows[scope].hit(key, now)
        return Attempt(keys, now)

    def succeeded(self, attempt: Attempt) -> None:
        for scope, key in attempt.keys:
            self.windows[scope].give_back(key, attempt.at)
