"""The sync loop and its connection status: long-poll /sync, hand each answer on, back off
and reconnect when the network or the homeserver fails, and come back when the loop itself dies.

The I/O and what an answer means come in as callbacks: `fetch(since, timeout_ms)` returns one
sync body (raising a network error, SessionExpired, or SyncRefused when the homeserver answered
with an error), `apply(body, first)` folds it in, `on_status(status, message)` reports the
connection, `on_expired(message)` ends the session, `spawn` runs a background task.

Whatever goes wrong while applying one answer is contained: it is logged, the status stays
honest (never "online" while the loop is dead), and the next answer is applied as usual.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any, Awaitable, Callable

from .session import SESSION_ENDED
from .tokens import SessionExpired
from .transport import NETWORK_ERRORS

log = logging.getLogger(__name__)

CONNECTING, ONLINE, OFFLINE = "connecting", "online", "offline"
LONG_POLL_MS = 30_000
EXPIRED_ERRCODES = ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN")


class SyncRefused(Exception):
    """The homeserver answered /sync with an error (or with something that is no sync)."""

    def __init__(self, errcode: str | None, message: str):
        super().__init__(message)
        self.errcode = errcode


class Backoff:
    """Reconnect policy: exponential backoff with jitter, reset on success."""

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


class SyncLoop:
    """One session's sync loop. `synced`: the first answer has been applied."""

    def __init__(self, fetch: Callable[[str | None, int], Awaitable[Any]],
                 apply: Callable[[dict, bool], None], *,
                 on_status: Callable[[str, str | None], None],
                 on_expired: Callable[[str], None],
                 spawn: Callable[[Awaitable[Any]], None],
                 backoff: Backoff | None = None):
        self._fetch = fetch
        self._apply = apply
        self._on_status = on_status
        self._on_expired = on_expired
        self._spawn = spawn
        self.backoff = backoff or Backoff()
        self.task: asyncio.Task | None = None
        self.next_batch: str | None = None
        self.synced = False
        self._wake = asyncio.Event()

    def start(self) -> None:
        if self.task is None or self.task.done():
            self._on_status(CONNECTING, None)
            self.task = asyncio.ensure_future(self._run())
            self.task.add_done_callback(self._ended)

    async def stop(self) -> None:
        task, self.task = self.task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

    def detach(self) -> None:
        """Stop without waiting (the session is over): the loop will not restart."""
        task, self.task = self.task, None
        if task is not None:
            task.cancel()

    def retry_now(self) -> None:
        """Skip the rest of the backoff wait (user pressed Retry, or the browser is online)."""
        self._wake.set()

    def _ended(self, task: asyncio.Task) -> None:
        """The loop ends on its own only when the session does; stop() and detach() let go
        of it first. Any other end is a fault: say so, and start it again."""
        if task is not self.task:
            return
        error = None if task.cancelled() else task.exception()
        log.error("The sync loop ended unexpectedly", exc_info=error)
        self._spawn(self._restart(task))

    async def _restart(self, dead: asyncio.Task) -> None:
        await self._wait_backoff("The chat stopped updating. Reconnecting…")
        if self.task is dead:
            self.task = None
            self.start()

    async def _run(self) -> None:
        while True:
            try:
                # Long-poll only once we know the connection works: the first sync and the
                # first after a failure return at once, so "online" shows without delay.
                healthy = self.synced and self.backoff.failures == 0
                body = await self._fetch(self.next_batch, LONG_POLL_MS if healthy else 0)
            except asyncio.CancelledError:
                raise
            except SessionExpired as e:
                self._expire(str(e))
                return
            except NETWORK_ERRORS:
                await self._wait_backoff("Connection lost. Reconnecting…")
                continue
            except SyncRefused as e:
                if e.errcode in EXPIRED_ERRCODES:
                    self._expire(SESSION_ENDED)
                    return
                await self._wait_backoff(f"The homeserver reported a problem ({e}). Retrying…")
                continue
            self.next_batch = body["next_batch"]
            self._apply_contained(body)

    def _expire(self, message: str) -> None:
        self.task = None
        self._on_expired(message)

    def _apply_contained(self, body: dict) -> None:
        first = not self.synced
        self.synced = True
        try:
            self._apply(body, first)
        except Exception:  # noqa: BLE001  (one bad answer costs only itself)
            log.exception("Could not apply a sync response")
        self.backoff.reset()
        self._on_status(ONLINE, None)

    async def _wait_backoff(self, message: str) -> None:
        delay = self.backoff.next_delay()
        self._on_status(OFFLINE if self.synced or self.backoff.failures > 1 else CONNECTING,
                        message)
        self._wake.clear()
        # asyncio.wait, not wait_for: on 3.11 wait_for can swallow a cancel that lands as the
        # event fires, and stop() would then wait forever for this task.
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait([waiter], timeout=delay)
        finally:
            waiter.cancel()


def sync_body(status: int, body: Any) -> dict:
    """The sync answer to fold in, or SyncRefused saying why there is none."""
    if status != 200:
        errcode = body.get("errcode") if isinstance(body, dict) else None
        message = body.get("error") if isinstance(body, dict) else None
        raise SyncRefused(errcode if isinstance(errcode, str) else None,
                          message if isinstance(message, str) and message else "error")
    if not isinstance(body, dict) or not isinstance(body.get("next_batch"), str) \
            or not body["next_batch"]:
        raise SyncRefused(None, "not a sync answer")
    return body
