"""Room orchestration against a real Synapse: rooms, membership flows, power levels, recovery."""

from __future__ import annotations


from pyapp.identity import ROOM_METADATA_TYPE, matrix_user_id, room_alias
from pyapp.orchestrator.policy import RoomState
from pyapp.platform.service import Platform


PW = "pw-secret-1"


def state(hs, room_id) -> RoomState:
    """The room's state as the homeserver stores it (admin API, independent of the bot)."""
    status, body = hs.request("GET", f"/_synapse/admin/v1/rooms/{room_id}/state",
                              token=hs.admin_token)
    assert status == 200, body
    return RoomState.from_events(body["state"])


def raw_state(hs, room_id) -> dict:
    status, body = hs.request("GET", f"/_synapse/admin/v1/rooms/{room_id}/state",
                              token=hs.admin_token)
    assert status == 200, body
    return {(e["type"], e["state_key"]): e["content"] for e in body["state"]}


def setup_users(p: Platform, hs, tenant: str, *slugs: str, register: bool = True):
    p.create_tenant(tenant)
    for s in slugs:
        p.create_user(tenant, s, s.title(), password=PW, matrix_ready=register)
        if register:
            hs.register_user(f"{s}_{tenant}", PW)


def uid(slug, tenant):
    return matrix_user_id(slug, tenant, "localhost")


async def test_create_event_room_with_state_and_levels(store, orch_synapse, make_orchestrator,
                                                       tenant):
    hs = orch_synapse
    p = Platform(store)
    setup_users(p, hs, tenant, "alice")
    orch = make_orchestrator(store)
    ent, ids = p.create_entity(tenant, "event", "js-workshop", "JS Workshop", "alice",
                               "Learn JS")
    await orch.drain()
    room_id = p.entity(tenant, "event", "js-workshop")["matrix_room_id"]
    assert room_id and room_id.startswith("!")
    s = raw_state(hs, room_id)
    assert s[("m.room.join_rules", "")]["join_rule"] == "invite"
    assert s[("m.room.guest_access", "")]["guest_access"] == "forbidden"
    assert s[("m.room.history_visibility", "")]["history_visibility"] == "invited"
    assert s[("m.room.name", "")]["name"] == "JS Workshop"
    assert s[("m.room.topic", "")]["topic"] == "Learn JS"
    assert s[(ROOM_METADATA_TYPE, "")] == {"entity_type": "event", "entity_slug": "js-workshop",
                                           "tenant_id": tenant, "created_by": "alice"}
    assert s[("m.room.create", "")]["room_version"] == "12"
    assert ("m.room.encryption", "") not in s  # the "encrypted chat" setting is off
    pl = s[("m.room.power_levels", "")]
    assert pl["users"] == {uid("alice", tenant): 75}  # the bot, creator in v12, is not listed
    # Inviting takes the bot's level: the creator (75) and organizers cannot bring people in.
    assert pl["invite"] == 90 and pl["kick"] == 50
    assert s[("m.room.member", uid("alice", tenant))]["membership"] == "invite"
    alias = room_alias("event", "js-workshop", tenant, "localhost")
    assert hs.request("GET", f"/_matrix/client/v3/directory/room/{alias.replace('#', '%23')}")[1][
        "room_id"] == room_id

    # Creating the same entity's room again (a replayed item, a reconcile) keeps the one room.
    p.reconcile(tenant, "event", "js-workshop")
    store.execute("UPDATE entities SET matrix_room_id = NULL")
    p.reconcile(tenant, "event", "js-workshop")
    await orch.drain()
    assert p.entity(tenant, "event", "js-workshop")["matrix_room_id"] == room_id


async def test_the_encrypted_chat_setting_makes_the_room_encrypted_from_its_creation(
        store, orch_synapse, make_orchestrator, tenant):
    hs = orch_synapse
    p = Platform(store)
    setup_users(p, hs, tenant, "alice")
    orch = make_orchestrator(store)
    p.create_entity(tenant, "group", "secret-club", "Secret club", "alice", encrypted=True)
    await orch.drain()
    room_id = p.entity(tenant, "group", "secret-club")["matrix_room_id"]
    assert raw_state(hs, room_id)[("m.room.encryption", "")] == {
        "algorithm": "m.megolm.v1.aes-sha2"}
    assert p.entity(tenant, "group", "secret-club")["encrypted"] == 1


async def test_attend_role_change_cancel(store, orch_synapse, make_orchestrator, tenant):
    hs = orch_synapse
    p = Platform(store)
    setup_users(p, hs, tenant, "alice", "bob")
    orch = make_orchestrator(store)
    p.create_entity(tenant, "group", "hikers", "Hikers", "alice")
    await orch.drain()
    room = p.entity(tenant, "group", "hikers")["matrix_room_id"]
    bob = uid("bob", tenant)

    p.join(tenant, "group", "hikers", "bob")
    await orch.drain()
    st = state(hs, room)
    assert st.memberships[bob][0] == "invite"
    assert bob not in st.power_levels["users"]  # members stay at users_default 0

    p.set_role(tenant, "group", "hikers", "alice", "bob", "admin")
    await orch.drain()
    assert state(hs, room).power_levels["users"][bob] == 50

    p.leave(tenant, "group", "hikers", "bob")
    await orch.drain()
    st = state(hs, room)
    assert st.memberships[bob][0] == "leave"
    assert bob not in st.power_levels["users"]
