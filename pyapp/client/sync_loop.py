"""Reconnect policy for the sync loop: exponential backoff with jitter, reset on success."""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, initial: float = 0.5, factor: float = 2.0, maximum: float = 30.0,
                 jitter: float = 0.2, rng: random.Random | None = None):
        self.initial, self.factor, self.maximum, self.jitter = initial, factor, maximum, jitter
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """Record one more failure and return how long to wait before the next attempt."""
        base = min(self.maximum, self.initial * self.factor ** self.failures)
        self.failures += 1
        spread = base * self.jitter
        return max(0.0, base + self._rng.uniform(-spread, spread))

    def reset(self) -> None:
        self.failures = 0
