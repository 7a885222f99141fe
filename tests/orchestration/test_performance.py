"""The fast paths keep their guarantees: idle writers wait instead of spinning, per-user changes
read only the state they need, a batch of role changes is one power-levels write."""

from __future__ import annotations

import asyncio
import time

from pyapp.orchestrator import outbox
from pyapp.platform.service import Platform

from .conftest import until
from .test_rooms import setup_users, state, uid


def test_next_due_waits_for_another_writers_lease(store):
    p = Platform(store)
    p.create_tenant("t")
    p.create_user("t", "alice")
    p.create_entity("t", "group", "g", "G", "alice")
    due = store.one("SELECT next_attempt_at AS t FROM outbox")["t"]
    now = time.time()
    store.execute("INSERT INTO room_leases (room_key, owner, until) VALUES (?,?,?)",
                  (outbox.room_key("t", "group", "g"), "other", now + 30))
    assert outbox.next_due(store) == due  # something is pending
    assert outbox.next_due(store, "me", now) == now + 30  # but not ours before the lease ends
    assert outbox.next_due(store, "other", now) == due  # the holder may go on
    assert outbox.next_due(store, "me", now + 31) == due  # an expired lease does not count


async def test_idle_writers_do_not_spin_while_a_room_is_leased(store, orch_synapse,
                                                             make_orchestrator, tenant,
                                                             monkeypatch):
    hs = orch_synapse
    p = Platform(store)
    setup_users(p, hs, tenant, "alice")
    p.create_entity(tenant, "group", "g", "G", "alice")
    key = outbox.room_key(tenant, "group", "g")
    store.execute("INSERT INTO room_leases (room_key, owner, until) VALUES (?,?,?)",
                  (key, "another-process", time.time() + 60))
    claims = 0
    real_claim = outbox.claim

    def counting_claim(*a, **kw):
        nonlocal claims
        claims += 1
        return real_claim(*a, **kw)
    monkeypatch.setattr(outbox, "claim", counting_claim)
    orch = make_orchestrator(store, concurrency=2, poll_interval=0.5)
    orch.start()
    for _ in range(5):
        orch.wake()
        await asyncio.sleep(0.2)
    # Two tasks, five wake-ups and the 0.5 s poll in one second: a handful of looks, not a
    # busy loop (which made thousands and starved the homeserver of CPU).
    assert claims < 30, claims
    assert p.entity(tenant, "group", "g")["matrix_room_id"] is None
    store.execute("DELETE FROM room_leases WHERE room_key = ?", (key,))  # the other one is done
    orch.wake()
    await until(lambda: p.entity(tenant, "group", "g")["matrix_room_id"], what="room created")


def count_calls(orch):
    calls = []
    real = orch.bot.call

    async def call(method, path, body=None, admin=False):
        calls.append((method, path))
        return await real(method, path, body, admin)
    orch.bot.call = call
    return calls


async def test_per_user_changes_read_only_their_state(store, orch_synapse, make_orchestrator,
                                                      tenant):
    hs = orch_synapse
    p = Platform(store)
    setup_users(p, hs, tenant, "alice", "bob", "carol")
    p.create_entity(tenant, "group", "g", "G", "alice")
    for u in ("bob", "carol"):
        p.join(tenant, "group", "g", u)
    orch = make_orchestrator(store)
    await orch.drain()
    room = p.entity(tenant, "group", "g")["matrix_room_id"]
    calls = count_calls(orch)
    bob, carol = uid("bob", tenant), uid("carol", tenant)

    p.set_role(tenant, "group", "g", "alice", "bob", "admin")
    await orch.drain()
    assert state(hs, room).power_levels["users"][bob] == 50
    gets = [path for m, path in calls if m == "GET"]
    assert not any(path.endswith("/state") for path in gets), gets  # never the whole room
    assert any("m.room.member" in path and "bob" in path for path in gets)
    assert not any("carol" in path for path in gets)

    # The ban's sender comes with the partial read: the bot's own ban is lifted on re-admission.
    p.set_role(tenant, "group", "g", "alice", "bob", "banned")
    await orch.drain()
    st = state(hs, room)
    assert st.memberships[bob][0] == "ban" and bob not in st.power_levels["users"]
    p.set_role(tenant, "group", "g", "alice", "bob", "member")
    await orch.drain()
    assert state(hs, room).memberships[bob][0] == "invite"
    # Another tenant's room, or one that lost its metadata, is still refused on a partial read.
    s, _ = hs.request("PUT", f"/_matrix/client/v3/rooms/{room}/state/com.openmeet.room.metadata/",
                      {"entity_type": "group", "entity_slug": "g", "tenant_id": "other"},
                      token=hs.registration["as_token"])
    assert s == 200
    p.set_role(tenant, "group", "g", "alice", "carol", "admin")
    await orch.drain()
    row = store.one("SELECT status, last_error FROM outbox WHERE tenant = ? AND user_slug = 'carol' "
                    "ORDER BY id DESC", (tenant,))
    assert row["status"] == "failed" and "does not match" in row["last_error"]
    assert carol not in state(hs, room).power_levels["users"]


async def test_batched_role_changes_are_one_power_levels_write(store, orch_synapse,
                                                               make_orchestrator, tenant):
    hs = orch_synapse
    p = Platform(store)
    names = [f"u{i}" for i in range(12)]
    setup_users(p, hs, tenant, "alice", *names)
    p.create_entity(tenant, "group", "g", "G", "alice")
    for n in names:
        p.join(tenant, "group", "g", n)
    orch = make_orchestrator(store)
    await orch.drain()
    room = p.entity(tenant, "group", "g")["matrix_room_id"]
    calls = count_calls(orch)
    # Role changes committed while no writer runs: one claim, one read-modify-write.
    for i, n in enumerate(names):
        p.set_role(tenant, "group", "g", "alice", n, "admin" if i % 3 else "banned")
    p.set_role(tenant, "group", "g", "alice", "u1", "member")  # a later change to the same user
    await orch.drain()
    puts = [path for m, path in calls if m == "PUT" and "power_levels" in path]
    assert len(puts) == 1, puts
    want = {uid(n, tenant): 50 for i, n in enumerate(names) if i % 3 and n != "u1"}
    want[uid("alice", tenant)] = 75
    st = state(hs, room)
    assert st.power_levels["users"] == want
    assert all(st.memberships[uid(n, tenant)][0] == "ban" for i, n in enumerate(names)
               if i % 3 == 0)
    assert store.one("SELECT COUNT(*) AS n FROM outbox WHERE tenant = ? AND status <> 'done'",
                     (tenant,))["n"] == 0
