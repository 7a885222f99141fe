"""Durability: crashes between the platform commit and Matrix, a homeserver that is down,
accounts that appear later, one writer per room under concurrent role changes."""

from __future__ import annotations

import asyncio

import pytest

from pyapp.orchestrator.retry import Backoff
from pyapp.platform.service import Platform

from .conftest import until
from .test_rooms import PW, setup_users, state, uid


class Crash(BaseException):
    """Stands for the process dying: nothing after the fault point runs."""


def rooms_with_alias_count(hs, tenant) -> int:
    status, body = hs.request("GET", f"/_synapse/admin/v1/rooms?search_term={tenant}&limit=100",
                              token=hs.admin_token)
    assert status == 200, body
    return body["total_rooms"]


async def test_crash_after_room_created_converges_after_restart(store, orch_synapse,
                                                                make_orchestrator, tenant):
    hs = orch_synapse
    p = Platform(store)
    setup_users(p, hs, tenant, "alice", "bob")
    p.create_entity(tenant, "event", "gig", "Gig", "alice")
    p.join(tenant, "event", "gig", "bob")

    first = make_orchestrator(store)

    def die(point):
        if point == "after_create_room":
            raise Crash()
    first.fault = die
    with pytest.raises(Crash):
        await first.drain()
    # The room exists on the homeserver but the platform never recorded it.
    assert p.entity(tenant, "event", "gig")["matrix_room_id"] is None
    await first.bot.close()

    second = make_orchestrator(store)  # "after restart": a new process, same database
    await second.drain()
    room = p.entity(tenant, "event", "gig")["matrix_room_id"]
    assert room
    assert rooms_with_alias_count(hs, tenant) == 1  # adopted, not duplicated
    st = state(hs, room)
    assert st.memberships[uid("bob", tenant)][0] == "invite"
    assert st.power_levels["users"][uid("alice", tenant)] == 75
    assert store.one("SELECT COUNT(*) AS n FROM outbox WHERE status <> 'done'")["n"] == 0
    await second.bot.close()


async def test_crash_after_commit_before_matrix_call(store, orch_synapse, make_orchestrator,
                                                     tenant):
    hs = orch_synapse
    p = Platform(store)
    setup_users(p, hs, tenant, "alice", "bob")
    p.create_entity(tenant, "group", "g", "G", "alice")
    await make_orchestrator(store).drain()
    # Committed, and the process died before any worker ran: only the outbox knows.
    p.join(tenant, "group", "g", "bob")
    p.set_role(tenant, "group", "g", "alice", "bob", "admin")
    orch = make_orchestrator(store)
    orch.start()
    room = p.entity(tenant, "group", "g")["matrix_room_id"]

    def converged():
        st = state(hs, room)
        return st.power_levels["users"].get(uid("bob", tenant)) == 50 and \
            st.memberships.get(uid("bob", tenant), ("",))[0] == "invite"
    await until(converged, what="bob invited at level 50 after restart")
    await orch.stop()


async def test_homeserver_down_then_back(tmp_path, store, make_orchestrator, orch_synapse, tenant):
    hs = orch_synapse
    p = Platform(store)
    setup_users(p, hs, tenant, "alice", "bob")
    p.create_entity(tenant, "event", "e", "E", "alice")
    orch = make_orchestrator(store, backoff=Backoff(base=0.2, cap=1.0))
    await orch.drain()
    room = p.entity(tenant, "event", "e")["matrix_room_id"]
    orch.start()
    hs.stop()
    try:
        p.join(tenant, "event", "e", "bob")
        orch.wake()
        await until(lambda: store.one("SELECT attempts FROM outbox WHERE user_slug = 'bob' AND "
                                      "tenant = ?", (tenant,))["attempts"] >= 2,
                    what="retries while the homeserver is down")
        row = store.one("SELECT status, last_error FROM outbox WHERE user_slug = 'bob' AND "
                        "tenant = ?", (tenant,))
        assert row["status"] == "pending" and "network" in row["last_error"]
    finally:
        hs.start()
    await until(lambda: store.one("SELECT status FROM outbox WHERE user_slug = 'bob' AND "
                                  "tenant = ?", (tenant,))["status"] == "done",
                timeout=30, what="applied after the homeserver is back")
    assert state(hs, room).memberships[uid("bob", tenant)][0] == "invite"
    await orch.stop()


async def test_pending_invite_applied_when_account_appears(store, orch_synapse,
                                                           make_orchestrator, tenant):
    hs = orch_synapse
    p = Platform(store)
    setup_users(p, hs, tenant, "alice")
    p.create_user(tenant, "newbie", "Newbie", password=PW)  # never logged in to Matrix
    p.create_entity(tenant, "group", "g", "G", "alice")
    p.join(tenant, "group", "g", "newbie")
    p.set_role(tenant, "group", "g", "alice", "newbie", "admin")
    orch = make_orchestrator(store)
    await orch.drain()
    room = p.entity(tenant, "group", "g")["matrix_room_id"]
    newbie = uid("newbie", tenant)
    assert newbie not in state(hs, room).memberships  # recorded, not invited
    assert state(hs, room).power_levels["users"][newbie] == 50  # the level waits for them

    orch.start()
    hs.register_user(f"newbie_{tenant}", PW)  # first login creates the account
    await until(lambda: state(hs, room).memberships.get(newbie, ("",))[0] == "invite",
                what="invite after the account appeared")
    assert p.user(tenant, "newbie")["matrix_ready"] is True
    await orch.stop()


async def test_concurrent_role_changes_lose_no_update(store, orch_synapse, make_orchestrator,
                                                      tenant):
    hs = orch_synapse
    p = Platform(store)
    names = [f"u{i}" for i in range(8)]
    setup_users(p, hs, tenant, "alice", *names)
    p.create_entity(tenant, "group", "g", "G", "alice")
    for n in names:
        p.join(tenant, "group", "g", n)
    # Two workers (four writer tasks) race over the same room.
    a, b = make_orchestrator(store, concurrency=2), make_orchestrator(store, concurrency=2)
    a.start(); b.start()
    for n in names:
        p.set_role(tenant, "group", "g", "alice", n, "admin")
        a.wake(); b.wake()
        await asyncio.sleep(0)
    room = await until(lambda: p.entity(tenant, "group", "g")["matrix_room_id"], what="room")
    want = {uid(n, tenant): 50 for n in names} | {uid("alice", tenant): 75}
    await until(lambda: state(hs, room).power_levels["users"] == want, timeout=30,
                what="all promotions present")
    await a.stop(); await b.stop()
