"""The sync loop on its own, driven by a scripted `fetch` (no homeserver, no ChatService):
long-poll only when healthy, backoff and honest status on failures, expiry, containment of a
failing apply, restart of a dead loop."""

from __future__ import annotations

import asyncio

import pytest

from pyapp.client.session import SESSION_ENDED
from pyapp.client.sync_loop import LONG_POLL_MS, Backoff, SyncLoop, SyncRefused, sync_body
from pyapp.client.tokens import SessionExpired
from pyapp.client.transport import TransportError
from tests.support.waiting import until


class Harness:
    """`script` lists what each fetch does: a body to return, or an exception to raise."""

    def __init__(self, *script, apply_error=None):
        self.script = list(script)
        self.fetches: list[tuple[str | None, int]] = []
        self.applied: list[tuple[dict, bool]] = []
        self.statuses: list[tuple[str, str | None]] = []
        self.expired: list[str] = []
        self.apply_error = apply_error
        self.tasks: list[asyncio.Task] = []
        self.idle = asyncio.Event()  # the script is used up: fetch waits here
        self.loop = SyncLoop(self.fetch, self.apply, on_status=self.status,
                             on_expired=self.expired.append, spawn=self.spawn,
                             backoff=Backoff(initial=0.001, jitter=0))

    async def fetch(self, since, timeout_ms):
        self.fetches.append((since, timeout_ms))
        if not self.script:
            self.idle.set()
            await asyncio.Event().wait()
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        return step

    def apply(self, body, first):
        self.applied.append((body, first))
        if self.apply_error is not None:
            error, self.apply_error = self.apply_error, None
            raise error

    def status(self, status, message):
        if not self.statuses or self.statuses[-1] != (status, message):  # as ChatService
            self.statuses.append((status, message))

    def spawn(self, coro):
        self.tasks.append(asyncio.ensure_future(coro))


def answer(batch):
    return {"next_batch": batch, "rooms": {}}


async def test_first_sync_returns_at_once_then_long_polls_from_the_last_batch():
    h = Harness(answer("s1"), answer("s2"))
    h.loop.start()
    await h.idle.wait()
    assert h.fetches == [(None, 0), ("s1", LONG_POLL_MS), ("s2", LONG_POLL_MS)]
    assert [first for _, first in h.applied] == [True, False]
    assert h.statuses == [("connecting", None), ("online", None)] and h.loop.synced
    await h.loop.stop()


async def test_network_and_server_failures_back_off_then_recover_without_long_polling():
    h = Harness(TransportError("down"), answer("s1"), SyncRefused("M_UNKNOWN", "boom"),
                answer("s2"))
    h.loop.start()
    await h.idle.wait()
    assert ("connecting", "Connection lost. Reconnecting…") in h.statuses
    assert ("offline", "The homeserver reported a problem (boom). Retrying…") in h.statuses
    assert h.fetches[2:] == [("s1", LONG_POLL_MS), ("s1", 0), ("s2", LONG_POLL_MS)]
    assert h.statuses[-1] == ("online", None) and h.loop.backoff.failures == 0
    await h.loop.stop()


@pytest.mark.parametrize("error", [SessionExpired(SESSION_ENDED),
                                   SyncRefused("M_UNKNOWN_TOKEN", "gone")])
async def test_an_expired_session_ends_the_loop_without_a_restart(error):
    h = Harness(answer("s1"), error)
    h.loop.start()
    task = h.loop.task
    await until(lambda: task.done())
    await asyncio.sleep(0.01)
    assert h.expired == [SESSION_ENDED] and h.loop.task is None and h.tasks == []


async def test_a_failing_apply_is_contained_and_the_next_answer_applies():
    h = Harness(answer("s1"), answer("s2"), apply_error=RuntimeError("bad room"))
    h.loop.start()
    await h.idle.wait()
    assert [b["next_batch"] for b, _ in h.applied] == ["s1", "s2"]
    assert h.fetches[-1] == ("s2", LONG_POLL_MS) and h.statuses[-1] == ("online", None)
    await h.loop.stop()


async def test_a_dead_loop_reports_it_and_restarts_from_where_it_was():
    h = Harness(answer("s1"))
    h.loop.start()
    await h.idle.wait()
    dead = h.loop.task
    h.idle.clear()
    h.script.append(answer("s2"))
    dead.cancel()  # not through stop(): as if something escaped the loop
    await h.idle.wait()
    assert ("offline", "The chat stopped updating. Reconnecting…") in h.statuses
    assert h.loop.task is not dead and h.fetches[-2] == ("s1", 0)
    assert h.statuses[-1] == ("online", None)
    await h.loop.stop()


async def test_stop_and_detach_do_not_restart():
    for end in ("stop", "detach"):
        h = Harness(answer("s1"))
        h.loop.start()
        await h.idle.wait()
        task = h.loop.task
        if end == "stop":
            await h.loop.stop()
        else:
            h.loop.detach()
        await until(lambda: task.done())
        await asyncio.sleep(0.01)
        assert h.loop.task is None and h.tasks == []


async def test_retry_now_cuts_the_backoff_short():
    h = Harness(TransportError("down"), answer("s1"))
    h.loop.backoff = Backoff(initial=60, jitter=0)
    h.loop.start()
    await until(lambda: h.statuses[-1][1] == "Connection lost. Reconnecting…")
    h.loop.retry_now()
    await h.idle.wait()
    assert h.statuses[-1] == ("online", None)
    await h.loop.stop()


def test_sync_body_accepts_only_a_sync_answer():
    assert sync_body(200, {"next_batch": "s1"}) == {"next_batch": "s1"}
    for status, body, errcode, message in [
        (500, {"errcode": "M_UNKNOWN", "error": "Internal"}, "M_UNKNOWN", "Internal"),
        (401, {"errcode": "M_MISSING_TOKEN"}, "M_MISSING_TOKEN", "error"),
        (502, None, None, "error"),
        (200, None, None, "not a sync answer"),
        (200, {"next_batch": 5}, None, "not a sync answer"),
        (200, {"rooms": {}}, None, "not a sync answer"),
    ]:
        with pytest.raises(SyncRefused) as refused:
            sync_body(status, body)
        assert (refused.value.errcode, str(refused.value)) == (errcode, message)
