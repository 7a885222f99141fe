"""The homeserver proxy's in-flight budgets: long-polling syncs cannot starve sends, one user
cannot take every sync slot, and an exhausted budget answers at once with Retry-After.

The pure bookkeeping (pyapp.server.proxy_budget) is driven directly; the proxy itself runs in
front of a fake homeserver whose /sync long-polls until the test lets it go."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from pyapp.server.matrix_proxy import add_matrix_proxy
from pyapp.server.proxy_budget import Budget, ProxyLimits, user_key
from pyapp.server.proxy_routes import OTHER, SYNC, UPLOAD

SEND = "/_matrix/client/v3/rooms/%21r%3Ahs/send/m.room.message/{}"
SYNC_PATH = "/_matrix/client/v3/sync?since=s1&timeout=30000"


def test_syncs_are_capped_per_user_then_in_total():
    budget = Budget(ProxyLimits(sync_total=5, sync_per_user=2, other_total=1))
    assert budget.enter(SYNC, "alice") is None
    assert budget.enter(SYNC, "alice") is None
    refusal = budget.enter(SYNC, "alice")
    assert refusal.status == 429 and refusal.errcode == "M_LIMIT_EXCEEDED"
    assert refusal.retry_after > 0
    for user in ("bob", "bob", "carol"):
        assert budget.enter(SYNC, user) is None
    refusal = budget.enter(SYNC, "dave")
    assert refusal.status == 503 and refusal.retry_after > 0
    # Syncs do not use up the budget of other requests, nor the other way round.
    assert budget.enter(OTHER, "alice") is None
    assert budget.enter(OTHER, "alice").status == 503
    assert budget.enter(UPLOAD, "alice") is None
    budget.leave(SYNC, "alice")
    assert budget.enter(SYNC, "alice") is None
    for user in ("alice", "alice", "bob", "bob", "carol"):
        budget.leave(SYNC, user)
    assert budget.in_flight[SYNC] == 0 and budget.syncs_by_user == {}


def test_user_key_hashes_the_token_from_header_or_query():
    assert user_key("Bearer abc", None) == user_key(None, "abc") == user_key("bearer abc", None)
    assert user_key("Bearer abc", None) != user_key("Bearer abd", None)
    assert "abc" not in user_key("Bearer abc", None)
    assert user_key(None, None) is None and user_key("Basic eA==", None) is None


class FakeHomeserver:
    """/sync long-polls until `release` is set; sends answer once `sends_open` is set (at once
    unless a test clears it)."""

    def __init__(self):
        self.release = asyncio.Event()
        self.sends_open = asyncio.Event()
        self.sends_open.set()
        self.syncs_waiting = 0
        self.sends_waiting = 0
        self.sends = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/_matrix/client/v3/sync", self.sync)
        app.router.add_put("/_matrix/client/v3/rooms/{room}/send/{type}/{txn}", self.send)
        return app

    async def sync(self, request):
        self.syncs_waiting += 1
        try:
            await self.release.wait()
        finally:
            self.syncs_waiting -= 1
        return web.json_response({"next_batch": "s2"})

    async def send(self, request):
        self.sends_waiting += 1
        try:
            await self.sends_open.wait()
        finally:
            self.sends_waiting -= 1
        self.sends += 1
        return web.json_response({"event_id": f"$e{self.sends}"})


@pytest.fixture
async def stack():
    homeserver = FakeHomeserver()
    upstream = TestServer(homeserver.app())
    await upstream.start_server()
    proxy_app = web.Application()
    add_matrix_proxy(proxy_app, str(upstream.make_url("/")).rstrip("/"),
                     limits=ProxyLimits(sync_total=20, sync_per_user=8, other_total=4,
                                        queue_seconds=0.5))
    proxy = TestServer(proxy_app)
    await proxy.start_server()
    # The test's own client must not be the bottleneck: no connection limit.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as client:
        yield homeserver, client, str(proxy.make_url("")).rstrip("/")
        homeserver.release.set()
    await proxy.close()
    await upstream.close()


async def _wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_120_syncs_of_one_user_do_not_stall_a_send(stack):
    homeserver, client, base = stack
    auth = {"Authorization": "Bearer alice-token"}

    async def sync():
        async with client.get(base + SYNC_PATH, headers=auth) as r:
            return r.status, r.headers.get("Retry-After"), await r.json()

    syncs = [asyncio.create_task(sync()) for _ in range(120)]
    # All but the user's cap are turned away at once, with a hint when to come back...
    await _wait_for(lambda: sum(t.done() for t in syncs) == 112)
    refused = [t.result() for t in syncs if t.done()]
    pending = [t for t in syncs if not t.done()]
    assert len(pending) == 8
    assert all(status == 429 and retry and body["errcode"] == "M_LIMIT_EXCEEDED"
               for status, retry, body in refused)
    await _wait_for(lambda: homeserver.syncs_waiting == 8)
    # ...and a send goes through at once, from the same user and from another.
    for i, token in enumerate(("alice-token", "bob-token")):
        started = time.monotonic()
        async with client.put(base + SEND.format(i), json={"body": "hi"},
                              headers={"Authorization": f"Bearer {token}"},
                              timeout=aiohttp.ClientTimeout(total=5)) as r:
            assert r.status == 200 and (await r.json())["event_id"]
        assert time.monotonic() - started < 1.0
    homeserver.release.set()
    assert {(await t)[0] for t in pending} == {200}


async def test_many_users_fill_the_sync_budget_but_sends_still_pass(stack):
    homeserver, client, base = stack

    async def sync(user):
        async with client.get(base + SYNC_PATH, headers={"Authorization": f"Bearer {user}"}) as r:
            return r.status, r.headers.get("Retry-After")

    syncs = [asyncio.create_task(sync(f"user{i}")) for i in range(30)]
    await _wait_for(lambda: sum(t.done() for t in syncs) == 10)
    await _wait_for(lambda: homeserver.syncs_waiting == 20)
    assert {t.result() for t in syncs if t.done()} == {(503, "2")}
    pending = [t for t in syncs if not t.done()]
    async with client.put(base + SEND.format("x"), json={"body": "hi"},
                          headers={"Authorization": "Bearer user0"},
                          timeout=aiohttp.ClientTimeout(total=5)) as r:
        assert r.status == 200
    homeserver.release.set()
    await asyncio.gather(*pending)


async def test_short_requests_wait_briefly_for_a_slot_then_get_503(stack):
    homeserver, client, base = stack

    async def send(txn):
        async with client.put(base + SEND.format(txn), json={"body": "hi"},
                              headers={"Authorization": "Bearer alice"},
                              timeout=aiohttp.ClientTimeout(total=5)) as r:
            return r.status, r.headers.get("Retry-After")

    homeserver.sends_open.clear()
    holding = [asyncio.create_task(send(f"h{i}")) for i in range(4)]  # every "other" slot
    await _wait_for(lambda: homeserver.sends_waiting == 4)
    started = time.monotonic()
    assert await send("late") == (503, "2")
    assert 0.4 < time.monotonic() - started < 2.0  # waited queue_seconds (0.5), not forever
    # A slot that frees up during the wait is taken.
    waiting = asyncio.create_task(send("lucky"))
    await asyncio.sleep(0.1)
    homeserver.sends_open.set()
    assert (await waiting)[0] == 200
    assert [status for status, _ in await asyncio.gather(*holding)] == [200] * 4
