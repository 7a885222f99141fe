"""Failures are counted and one writer per room holds even under a slow homeserver: the lease
is renewed while work runs, and every write is fenced by the lease's generation."""

from __future__ import annotations

import re
import sqlite3
import time
from urllib.parse import unquote

import pytest

from pyapp.orchestrator import outbox
from pyapp.orchestrator.retry import Backoff
from pyapp.platform.service import Platform
from pyapp.platform.store import Store
from tests.support.fault_proxy import FaultProxy

from .conftest import until
from .test_rooms import setup_users, state, uid

LEASE = 1.0  # seconds; short so a takeover happens within the test
WRITES = r"^(PUT .*/state/m\.room\.power_levels/|POST .*/(invite|kick|ban|unban)$)"


# -- the lease in the store ---------------------------------------------------------------
def test_lease_generation_fences_a_writer_that_was_taken_over(any_store, tenant):
    p = Platform(any_store)
    p.create_tenant(tenant)
    p.create_user(tenant, "alice")
    p.create_entity(tenant, "group", "g", "G", "alice")
    t0 = time.time()
    first, items = outbox.claim(any_store, "one", lease=10, now=t0)
    assert first.generation == 1 and items
    outbox.check(any_store, first, now=t0 + 5)
    with pytest.raises(outbox.LeaseLost):
        outbox.check(any_store, first, margin=6, now=t0 + 5)  # too little left to write safely
    assert outbox.claim(any_store, "two", lease=10, now=t0 + 5) is None  # held
    assert outbox.renew(any_store, first, 10, now=t0 + 9)  # held until t0 + 19 now
    assert outbox.claim(any_store, "two", lease=10, now=t0 + 15) is None
    # "one" stalls past its lease: "two" takes the room with the next generation.
    second, _ = outbox.claim(any_store, "two", lease=10, now=t0 + 20)
    assert second.generation == 2
    assert not outbox.renew(any_store, first, 10, now=t0 + 21) and first.lost
    with pytest.raises(outbox.LeaseLost):
        outbox.check(any_store, first, now=t0 + 21)
    outbox.release(any_store, first)  # a late release of the old lease changes nothing
    outbox.check(any_store, second, now=t0 + 21)
    outbox.release(any_store, second)
    # The same owner name claiming again still gets a new generation: its old run is fenced.
    third, _ = outbox.claim(any_store, "one", lease=10, now=t0 + 22)
    assert third.generation == 3
    first.lost = False
    with pytest.raises(outbox.LeaseLost):
        outbox.check(any_store, first, now=t0 + 22)


def test_old_lease_table_gains_the_generation_column(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE room_leases (room_key TEXT PRIMARY KEY, owner TEXT NOT NULL, "
                  "until DOUBLE PRECISION NOT NULL)")
        c.execute("INSERT INTO room_leases VALUES ('t/group/g', 'w', 0)")
    s = Store.open(path)
    try:
        assert s.one("SELECT generation FROM room_leases")["generation"] == 0
    finally:
        s.close()


# -- against the homeserver --------------------------------------------------------------
def item_rows(store, tenant) -> list[dict]:
    """The tenant's items after its room's creation."""
    return store.all("SELECT id, status, attempts, last_error FROM outbox WHERE tenant = ? "
                     "AND op <> ? ORDER BY id", (tenant, outbox.CREATE_ROOM))


async def test_unexpected_error_counts_attempts_with_backoff(store, orch_synapse,
                                                             make_orchestrator, tenant):
    hs = orch_synapse
    p = Platform(store)
    setup_users(p, hs, tenant, "alice", "bob")
    p.create_entity(tenant, "group", "g", "G", "alice")
    await make_orchestrator(store).drain()
    room = p.entity(tenant, "group", "g")["matrix_room_id"]
    _, (item,) = p.join(tenant, "group", "g", "bob")

    orch = make_orchestrator(store, backoff=Backoff(base=0.1, factor=2, jitter=0))
    hits: list[float] = []

    def bug(point):
        if point == "after_power_levels":
            hits.append(time.monotonic())
            raise KeyError("a bug in our code")
    orch.fault = bug
    orch.start()
    row = lambda: store.one("SELECT status, attempts, last_error FROM outbox WHERE id = ?",
                            (item,))
    await until(lambda: row()["status"] == "failed", timeout=20, what="the item parked")
    # Every failure was one counted attempt (the default gives up after 5), spaced by the
    # growing backoff instead of retried at once.
    assert row()["attempts"] == len(hits) == 5, (row(), len(hits))
    assert "KeyError" in row()["last_error"]
    gaps = [b - a for a, b in zip(hits, hits[1:])]
    assert all(g >= 0.1 * 2 ** i * 0.9 for i, g in enumerate(gaps)), gaps
    orch.wake()
    await orch.drain()
    assert len(hits) == 5  # parked: nothing retries it behind the operator's back

    # Once the bug is fixed the operator re-queues it and it is applied.
    orch.fault = lambda point: None
    assert outbox.retry_failed(store, tenant) == 1
    orch.wake()
    await until(lambda: row()["status"] == "done", what="the re-queued item applied")
    assert state(hs, room).memberships[uid("bob", tenant)][0] == "invite"


def room_writes(proxy: FaultProxy, room_id: str) -> list:
    return [f for f in proxy.forwarded
            if re.search(WRITES, f"{f.method} {f.path}") and room_id in unquote(f.path)]


def assert_one_writer_at_a_time(writes: dict[str, list]) -> list[str]:
    """Writes the homeserver received, by writer, in order: once another writer has taken
    over the room the previous one never writes again, and no two writers' requests overlap.
    Returns the sequence of writers."""
    timeline = sorted((f.sent, f.answered, who, f.path) for who, fs in writes.items() for f in fs)
    holders = [who for _, _, who, _ in timeline]
    switches = [(x, y) for x, y in zip(holders, holders[1:]) if x != y]
    assert len(switches) <= 1, f"writers interleaved: {timeline}"
    for (s1, a1, w1, _), (s2, _, w2, _) in zip(timeline, timeline[1:]):
        if w1 != w2:
            assert a1 <= s2, f"{w1} and {w2} wrote at the same time: {timeline}"
    return holders


async def _two_writers_on_a_slow_homeserver(store, hs, make_orchestrator, tenant, **a_kw):
    """Worker "a" starts on a room change whose every write the homeserver takes 1.5 leases
    to accept; worker "b" (its own database connection and homeserver connection, as another
    process) is started while "a" holds the room. Returns the writes each made and the room."""
    other = Store.open(store.url)  # the second worker's own connection, as in another process
    p = Platform(store)
    setup_users(p, hs, tenant, "alice", "bob", "carol")
    p.create_entity(tenant, "group", "g", "G", "alice")
    await make_orchestrator(store).drain()
    room = p.entity(tenant, "group", "g")["matrix_room_id"]
    proxies = {w: FaultProxy(hs.base_url).start() for w in ("a", "b")}
    try:
        for px in proxies.values():
            px.delay[WRITES] = 1.5 * LEASE
        workers = {w: make_orchestrator(s, homeserver_url=proxies[w].base_url, lease=LEASE,
                                        concurrency=1, poll_interval=0.2, **kw)
                   for w, s, kw in (("a", store, a_kw), ("b", other, {}))}
        for n in ("bob", "carol"):
            p.join(tenant, "group", "g", n)
        p.set_role(tenant, "group", "g", "alice", "bob", "admin")
        key = outbox.room_key(tenant, "group", "g")
        workers["a"].start()
        await until(lambda: (store.one("SELECT owner FROM room_leases WHERE room_key = ? AND "
                                       "until > ?", (key, time.time())) or {}).get(
                                           "owner", "").startswith(workers["a"].owner),
                    what="a holds the room")
        workers["b"].start()
        await until(lambda: all(r["status"] == "done" for r in item_rows(store, tenant)),
                    timeout=30, what="all items done")
        await until(lambda: state(hs, room).memberships.get(uid("carol", tenant),
                                                              ("",))[0] == "invite",
                    what="the last invite landed")
        for w in workers.values():
            await w.stop()
        return {w: room_writes(px, room) for w, px in proxies.items()}, room
    finally:
        for px in proxies.values():
            px.stop()
        other.close()


async def test_lease_renewed_while_a_slow_homeserver_works(any_store, orch_synapse,
                                                           make_orchestrator, tenant):
    hs = orch_synapse
    writes, room = await _two_writers_on_a_slow_homeserver(any_store, hs, make_orchestrator,
                                                           tenant)
    holders = assert_one_writer_at_a_time(writes)
    # "a" kept the room for the 3 lease-lengths its writes took: it alone wrote, once each.
    assert holders == ["a"] * 3, holders
    assert sum("power_levels" in f.path for f in writes["a"]) == 1
    assert [(r["status"], r["attempts"]) for r in item_rows(any_store, tenant)] == \
        [("done", 1)] * 3
    st = state(hs, room)
    assert st.power_levels["users"][uid("bob", tenant)] == 50
    assert st.memberships[uid("bob", tenant)][0] == "invite"


async def test_writer_that_lost_its_lease_stops_writing(any_store, orch_synapse,
                                                        make_orchestrator, tenant):
    hs = orch_synapse
    # "a" stalls (a paused process, a starved timer): its lease is not renewed in time and
    # "b" takes the room over while "a"'s first write is still on its way.
    writes, room = await _two_writers_on_a_slow_homeserver(any_store, hs, make_orchestrator,
                                                           tenant, renew_every=30 * LEASE)
    holders = assert_one_writer_at_a_time(writes)
    # That write lands; then "a" finds at its next write's fence that the lease's generation
    # has moved on, and writes nothing more. "b" writes what is left (the power levels too if
    # it read the room before "a"'s write landed).
    assert holders[0] == "a" and holders.count("a") == 1, holders
    assert holders[1:] in (["b"] * 2, ["b"] * 3), holders
    # "a" recorded nothing; "b" applied every item in one attempt.
    assert [(r["status"], r["attempts"]) for r in item_rows(any_store, tenant)] == \
        [("done", 1)] * 3
    key = outbox.room_key(tenant, "group", "g")
    assert any_store.one("SELECT generation FROM room_leases WHERE room_key = ?",
                         (key,))["generation"] == 3  # creation, "a", "b"
    st = state(hs, room)
    assert st.power_levels["users"][uid("bob", tenant)] == 50
    assert st.memberships[uid("carol", tenant)][0] == "invite"


async def test_writer_that_cannot_renew_stops_within_its_lease(store, orch_synapse,
                                                               make_orchestrator, tenant,
                                                               monkeypatch):
    hs = orch_synapse
    lease = 0.5
    p = Platform(store)
    setup_users(p, hs, tenant, "alice", "bob", "carol")
    p.create_entity(tenant, "group", "g", "G", "alice")
    await make_orchestrator(store).drain()
    room = p.entity(tenant, "group", "g")["matrix_room_id"]
    runs = []
    real_claim = outbox.claim

    def counting_claim(*a, **kw):
        got = real_claim(*a, **kw)
        if got is not None:
            runs.append(got)
        return got
    monkeypatch.setattr(outbox, "claim", counting_claim)
    proxy = FaultProxy(hs.base_url).start()
    try:
        proxy.delay[WRITES] = 3 * lease
        orch = make_orchestrator(store, homeserver_url=proxy.base_url, lease=lease,
                                 concurrency=1, poll_interval=0.2)

        def renew_fails(point):
            if point == "renew" and len(runs) == 1:  # for the first run only
                raise ConnectionError("database unreachable")
        orch.fault = renew_fails
        for n in ("bob", "carol"):
            p.join(tenant, "group", "g", n)
        p.set_role(tenant, "group", "g", "alice", "bob", "admin")
        orch.start()
        # Unable to renew, the worker gives its run up before the lease ends: the next claim
        # comes while its first write is still held on the way to the homeserver.
        await until(lambda: len(runs) > 1, timeout=10, what="the run given up and re-claimed")
        assert room_writes(proxy, room) == []
        await until(lambda: all(r["status"] == "done" for r in item_rows(store, tenant)),
                    timeout=30, what="all items done")
        await orch.stop()
    finally:
        proxy.stop()
    # The abandoned run recorded nothing and sent no invite; the next one did it all once.
    assert [(r["status"], r["attempts"]) for r in item_rows(store, tenant)] == [("done", 1)] * 3
    invites = [f for f in room_writes(proxy, room) if f.path.endswith("/invite")]
    assert len(invites) == 2, invites
    st = state(hs, room)
    assert st.power_levels["users"][uid("bob", tenant)] == 50
    assert st.memberships[uid("carol", tenant)][0] == "invite"
