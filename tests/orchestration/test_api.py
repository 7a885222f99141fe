"""The platform HTTP API end to end: session, create, attend, role change, cancel, errors."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from pyapp.platform.api import add_platform_routes
from pyapp.platform.demo import DEMO_PASSWORD, register_demo_accounts, seed_demo
from pyapp.platform.service import Platform

from .conftest import until
from .test_rooms import state, uid


async def client_for(store, orch, hs) -> TestClient:
    app = web.Application()
    add_platform_routes(app, Platform(store), secret="test-secret", server_name=hs.server_name,
                        orchestrator=orch, sync_timeout=10)
    c = TestClient(TestServer(app))
    await c.start_server()
    return c


async def login(c: TestClient, tenant: str, slug: str):
    c.session.cookie_jar.clear()
    r = await c.post("/api/session", json={"tenant": tenant, "slug": slug,
                                           "password": DEMO_PASSWORD})
    assert r.status == 200, await r.text()


async def test_demo_flow_over_http(store, orch_synapse, make_orchestrator):
    hs = orch_synapse
    p = seed_demo(store)
    register_demo_accounts(hs, store)
    orch = make_orchestrator(store)
    orch.start()
    c = await client_for(store, orch, hs)
    try:
        r = await c.get("/api/me")
        assert r.status == 401 and (await r.json())["error"] == "unauthenticated"
        r = await c.post("/api/session", json={"tenant": "demo", "slug": "bob",
                                               "password": "wrong"})
        assert r.status == 401

        await login(c, "demo", "carol")
        ev = await (await c.get("/api/events/python-meetup")).json()
        # Seeding went through the orchestrator: the room exists with alice and bob in it.
        room = await until(lambda: p.entity("demo", "event", "python-meetup")["matrix_room_id"],
                           what="seeded room")
        await until(lambda: not orch.store.one("SELECT 1 AS x FROM outbox WHERE status='pending'"),
                    what="seed applied")
        assert ev["is_attending"] is False
        st = state(hs, room)
        assert st.memberships[uid("bob", "demo")][0] == "invite"
        assert uid("carol", "demo") not in st.memberships

        r = await c.post("/api/events/python-meetup/attend")
        assert r.status == 200, await r.text()
        assert (await r.json())["role"] == "attendee"
        assert state(hs, room).memberships[uid("carol", "demo")][0] == "invite"

        # carol (attendee) may not promote herself; alice (creator) may promote her.
        r = await c.put("/api/events/python-meetup/attendees/carol/role",
                        json={"role": "organizer"})
        assert r.status == 403
        await login(c, "demo", "alice")
        r = await c.put("/api/events/python-meetup/attendees/carol/role", json={"role": "boss"})
        assert r.status == 400 and "invalid event role" in (await r.json())["message"]
        r = await c.put("/api/events/python-meetup/attendees/carol/role",
                        json={"role": "organizer"})
        assert r.status == 200, await r.text()
        assert state(hs, room).power_levels["users"][uid("carol", "demo")] == 50
        # alice is a platform admin: 100 wherever she is a member.
        assert state(hs, room).power_levels["users"][uid("alice", "demo")] == 100

        # Another tenant's user and another tenant's entities are refused.
        r = await c.put(f"/api/events/python-meetup/attendees/{uid('dave', 'other')}/role",
                        json={"role": "organizer"})
        assert r.status == 403 and (await r.json())["error"] == "cross_tenant"
        r = await c.get("/api/events/other-event")
        assert r.status == 404
        r = await c.get("/api/events/other-event?tenant=other")
        assert r.status == 403
        r = await c.post("/api/events/other-event/attend", json={"tenant": "other"})
        assert r.status == 403
        other_room = p.entity("other", "event", "other-event")["matrix_room_id"]
        assert uid("alice", "demo") not in state(hs, other_room).memberships

        # Bad input: duplicate create, bad slug, unknown slug, non-JSON.
        r = await c.post("/api/events", json={"slug": "python-meetup", "name": "x"})
        assert r.status == 409
        r = await c.post("/api/events", json={"slug": "Bad Slug!", "name": "x"})
        assert r.status == 400 and "invalid slug" in (await r.json())["message"]
        r = await c.post("/api/groups/nope/join")
        assert r.status == 404
        r = await c.post("/api/groups", data="not json",
                         headers={"Content-Type": "application/json"})
        assert r.status == 400 and (await r.json())["error"] == "invalid_json"
        r = await c.post("/api/groups", data="not json")  # text/plain: what a form can send
        assert r.status == 403 and (await r.json())["error"] == "cross_origin"

        await login(c, "demo", "carol")
        r = await c.post("/api/events/python-meetup/cancel-attending")
        assert r.status == 200
        st = state(hs, room)
        assert st.memberships[uid("carol", "demo")][0] == "leave"
        assert uid("carol", "demo") not in st.power_levels["users"]

        r = await c.post("/api/groups", json={"slug": "carols-club", "name": "Carol's club"})
        assert r.status == 201, await r.text()
        g = await r.json()
        assert g["my_role"] == "owner" and g["matrix_room_id"]
        assert state(hs, g["matrix_room_id"]).power_levels["users"] == {uid("carol", "demo"): 75}
        r = await c.delete("/api/groups/carols-club/leave")
        assert r.status == 409  # the owner cannot leave their own group
    finally:
        await c.close()
        await orch.stop()


async def test_homeserver_refusal_leaves_nothing_half_done(store, orch_synapse,
                                                          make_orchestrator, tenant):
    """The alias is already used by a room that is not the event's: creation is refused and the
    event does not exist afterwards."""
    hs = orch_synapse
    p = Platform(store)
    p.create_tenant(tenant)
    p.create_user(tenant, "alice", password=DEMO_PASSWORD)
    s, b = hs.request("POST", "/_matrix/client/v3/createRoom",
                      {"room_alias_name": f"event-taken-{tenant}"},
                      token=hs.registration["as_token"])
    assert s == 200, b
    orch = make_orchestrator(store)
    orch.start()
    c = await client_for(store, orch, hs)
    try:
        await login(c, tenant, "alice")
        r = await c.post("/api/events", json={"slug": "taken", "name": "Taken"})
        body = await r.json()
        assert r.status == 502 and body["error"] == "homeserver_refused", body
        assert "not this event's room" in body["message"]
        r = await c.get("/api/events/taken")
        assert r.status == 404
        assert store.one("SELECT COUNT(*) AS n FROM memberships WHERE tenant = ?",
                         (tenant,))["n"] == 0
    finally:
        await c.close()
        await orch.stop()


async def test_an_organizer_turns_on_encryption_for_an_existing_room_and_it_stays_on(
        store, orch_synapse, make_orchestrator, tenant):
    """The "encrypted chat" setting of an existing event: only its managers may turn it on,
    the bot then sends m.room.encryption; turning it off is refused (one-way, per the spec);
    turning it on again changes nothing."""
    from .test_rooms import raw_state

    hs = orch_synapse
    p = Platform(store)
    p.create_tenant(tenant)
    for slug in ("olga", "pete"):
        p.create_user(tenant, slug, slug.title(), password=DEMO_PASSWORD, matrix_ready=True)
        hs.register_user(f"{slug}_{tenant}", DEMO_PASSWORD)
    p.create_entity(tenant, "event", "quiet-talk", "Quiet talk", "olga")
    p.join(tenant, "event", "quiet-talk", "pete")
    orch = make_orchestrator(store)
    orch.start()
    c = await client_for(store, orch, hs)
    try:
        await login(c, tenant, "pete")
        ev = await (await c.get("/api/events/quiet-talk")).json()
        assert ev["encrypted"] is False and ev["can_manage"] is False
        room = await until(lambda: p.entity(tenant, "event", "quiet-talk")["matrix_room_id"],
                           what="the event's room")
        r = await c.put("/api/events/quiet-talk/encryption", json={"encrypted": True})
        assert r.status == 403, await r.text()

        await login(c, tenant, "olga")
        ev = await (await c.get("/api/events/quiet-talk")).json()
        assert ev["encrypted"] is False and ev["can_manage"] is True
        r = await c.put("/api/events/quiet-talk/encryption", json={"encrypted": False})
        assert r.status == 400 and (await r.json())["error"] == "one_way"
        assert ("m.room.encryption", "") not in raw_state(hs, room)

        r = await c.put("/api/events/quiet-talk/encryption", json={"encrypted": True})
        assert r.status == 200, await r.text()
        assert (await r.json())["encrypted"] is True
        assert raw_state(hs, room)[("m.room.encryption", "")] == {
            "algorithm": "m.megolm.v1.aes-sha2"}
        events_before = hs.request("GET", f"/_synapse/admin/v1/rooms/{room}",
                                   token=hs.admin_token)[1]["state_events"]
        r = await c.put("/api/events/quiet-talk/encryption", json={"encrypted": True})
        assert r.status == 200 and (await r.json())["encrypted"] is True
        r = await c.put("/api/events/quiet-talk/encryption", json={"encrypted": False})
        assert r.status == 400
        # A later full reconcile does not send it again.
        p.reconcile(tenant, "event", "quiet-talk")
        await orch.drain()
        assert hs.request("GET", f"/_synapse/admin/v1/rooms/{room}",
                          token=hs.admin_token)[1]["state_events"] == events_before
        assert p.entity(tenant, "event", "quiet-talk")["encrypted"] == 1
    finally:
        await c.close()
        await orch.stop()
