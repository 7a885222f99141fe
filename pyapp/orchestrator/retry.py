"""Pure retry policy and the outbox item state machine.

pending --(applied)--> done
pending --(retryable failure)--> pending, attempts+1, next_attempt_at = now + delay
pending --(refused by the homeserver)--> failed (kept for the operator; the reconciler or
          ``retry-failed`` puts it back)
pending --(unexpected error, a bug of ours)--> pending with backoff, attempts+1; failed once
          the item has been attempted ``Backoff.max_unexpected`` times, so a bug costs a few
          spaced attempts instead of a tight loop
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

PENDING, DONE, FAILED = "pending", "done", "failed"


@dataclass(frozen=True)
class Outcome:
    ok: bool
    retry_after: float | None = None  # seconds imposed by the server (rate limit)
    retryable: bool = False
    error: str = ""
    unexpected: bool = False  # our code raised: retried a few times only


OK = Outcome(ok=True)


def unexpected(exc: BaseException) -> Outcome:
    return Outcome(False, retryable=True, unexpected=True,
                   error=f"unexpected {type(exc).__name__}: {exc}"[:500])


def classify(status: int | None, body: Any = None, network_error: str | None = None,
             retry_after_header: str | None = None) -> Outcome:
    """Turn an HTTP result (or a transport error) into what the worker should do."""
    if network_error is not None or status is None:
        return Outcome(False, retryable=True, error=f"network: {network_error}")
    if 200 <= status < 300:
        return OK
    body = body if isinstance(body, dict) else {}
    err = f"{status} {body.get('errcode', '')} {body.get('error', '')}".strip()
    if status == 429 or body.get("errcode") == "M_LIMIT_EXCEEDED":
        ms = body.get("retry_after_ms")
        if ms is None and retry_after_header and retry_after_header.isdigit():
            ms = int(retry_after_header) * 1000
        return Outcome(False, retry_after=None if ms is None else ms / 1000, retryable=True,
                       error=err)
    if status >= 500 or status in (408,):
        return Outcome(False, retryable=True, error=err)
    return Outcome(False, retryable=False, error=err)


@dataclass(frozen=True)
class Backoff:
    base: float = 0.5
    factor: float = 2.0
    cap: float = 60.0
    jitter: float = 0.2  # +- fraction, so many items failing together do not retry in lockstep
    # A transient fault of the homeserver is retried for as long as it lasts; an unexpected
    # error will most likely recur, so the item is parked as failed after this many attempts.
    max_unexpected: int = 5

    def delay(self, attempts: int, rng: random.Random | None = None) -> float:
        d = min(self.cap, self.base * self.factor ** max(0, attempts - 1))
        r = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, d * (1 + r))


@dataclass(frozen=True)
class ItemState:
    status: str
    attempts: int
    next_attempt_at: float
    last_error: str | None = None


def transition(item: ItemState, outcome: Outcome, now: float, backoff: Backoff = Backoff(),
               rng: random.Random | None = None) -> ItemState:
    if item.status != PENDING:
        raise ValueError(f"cannot apply an outcome to a {item.status} item")
    if outcome.ok:
        return ItemState(DONE, item.attempts + 1, item.next_attempt_at, None)
    attempts = item.attempts + 1
    if not outcome.retryable:
        return ItemState(FAILED, attempts, item.next_attempt_at, outcome.error)
    if outcome.unexpected and attempts >= backoff.max_unexpected:
        return ItemState(FAILED, attempts, item.next_attempt_at,
                         f"{outcome.error} (gave up after {attempts} attempts)")
    delay = outcome.retry_after if outcome.retry_after is not None \
        else backoff.delay(attempts, rng)
    return ItemState(PENDING, attempts, now + delay, outcome.error)
