"""The same store and orchestration on a real PostgreSQL server (Debian's packages)."""

from __future__ import annotations

import time

from pyapp.orchestrator import outbox
from pyapp.platform.service import Platform
from pyapp.platform.store import Store

from .test_rooms import setup_users, state, uid


async def test_flow_on_postgres(pg_store, orch_synapse, make_orchestrator, tenant):
    hs = orch_synapse
    assert pg_store.dialect == "postgresql"
    p = Platform(pg_store)
    setup_users(p, hs, tenant, "alice", "bob")
    p.create_entity(tenant, "event", "pg-event", "PG", "alice")
    p.join(tenant, "event", "pg-event", "bob")
    p.set_role(tenant, "event", "pg-event", "alice", "bob", "organizer")
    await make_orchestrator(pg_store).drain()
    room = p.entity(tenant, "event", "pg-event")["matrix_room_id"]
    st = state(hs, room)
    assert st.memberships[uid("bob", tenant)][0] == "invite"
    assert st.power_levels["users"][uid("bob", tenant)] == 50
    p.leave(tenant, "event", "pg-event", "bob")
    await make_orchestrator(pg_store).drain()
    assert state(hs, room).memberships[uid("bob", tenant)][0] == "leave"


def test_room_lease_is_exclusive_across_connections(pg_cluster, pg_store, tenant):
    other = Store.open(pg_store.url)  # a second process/machine on the same database
    try:
        p = Platform(pg_store)
        p.create_tenant(tenant)
        p.create_user(tenant, "alice")
        p.create_entity(tenant, "group", "g", "G", "alice")
        got = outbox.claim(pg_store, "one")
        assert got is not None and got[0].key == outbox.room_key(tenant, "group", "g")
        assert outbox.claim(other, "two") is None  # leased by "one"
        assert outbox.claim(other, "two", now=time.time() + 31) is not None  # lease expired
    finally:
        other.close()


def test_transaction_rolls_back_platform_change_and_outbox(pg_store, tenant):
    p = Platform(pg_store)
    p.create_tenant(tenant)
    p.create_user(tenant, "alice")
    try:
        with pg_store.tx() as c:
            outbox.enqueue(c, tenant, "event", "x", outbox.CREATE_ROOM)
            raise RuntimeError("crash inside the transaction")
    except RuntimeError:
        pass
    assert pg_store.one("SELECT COUNT(*) AS n FROM outbox WHERE tenant = %s".replace("%s", "?"),
                        (tenant,))["n"] == 0
