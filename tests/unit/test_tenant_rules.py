"""The tenant boundary's decisions (pyapp.server.tenant_rules), without a homeserver."""

from __future__ import annotations

from pyapp.identity import ROOM_METADATA_TYPE, parse_room_alias, split_user_id
from pyapp.server.tenant_rules import RoomFacts, RoomTenant, TenantRules

BOT = "@openmeet-bot:hs"
R = TenantRules(bot_user_id=BOT, server_name="hs")
ALICE, BOB, DAVE, OPERATOR = "@alice_demo:hs", "@bob_demo:hs", "@dave_other:hs", "@ops:hs"
META = {"entity_type": "event", "entity_slug": "meetup", "tenant_id": "demo"}


def test_who_belongs_to_which_tenant():
    assert R.user_tenant(ALICE) == "demo" and R.user_tenant(DAVE) == "other"
    assert R.user_tenant(OPERATOR) is None and R.user_tenant(BOT) is None
    assert R.user_tenant("@alice_demo:elsewhere") is None  # remote users belong to no tenant
    assert parse_room_alias("#event-js-101-demo:hs") == ("event", "js-101", "demo", "hs")
    assert parse_room_alias("#group-a-b-c-other:hs") == ("group", "a-b-c", "other", "hs")
    for not_platform in ("#talk-x-demo:hs", "#event-demo:hs", "event-x-demo:hs", "#event-x-demo"):
        assert parse_room_alias(not_platform) is None


def test_a_room_is_the_platforms_only_by_the_bots_hand():
    assert R.room_tenant(RoomFacts(creator=BOT, metadata=META, metadata_sender=BOT)) == \
        RoomTenant(True, "demo")
    # Legacy room without metadata: its platform alias names the tenant.
    assert R.room_tenant(RoomFacts(creator=BOT, canonical_alias="#group-g-other:hs")) == \
        RoomTenant(True, "other")
    # The bot's room with nothing readable: a platform room nobody can be shown into.
    assert R.room_tenant(RoomFacts(creator=BOT)) == RoomTenant(True, None)
    # Metadata written by someone else proves nothing: the room is its creator's.
    assert R.room_tenant(RoomFacts(creator=DAVE, metadata=META, metadata_sender=DAVE)) == \
        RoomTenant(False, "other")
    assert R.room_tenant(RoomFacts(creator=OPERATOR)) == RoomTenant(False, None)


def test_invites():
    demo_room = R.room_tenant(RoomFacts(creator=BOT, metadata=META, metadata_sender=BOT))
    daves_room = R.room_tenant(RoomFacts(creator=DAVE))
    alices_room = R.room_tenant(RoomFacts(creator=ALICE))
    assert R.may_invite(BOT, BOB, demo_room) is None
    assert R.may_invite(BOT, DAVE, demo_room) is None  # the platform decides; the join is checked
    assert R.may_invite(ALICE, BOB, demo_room)  # even a room admin: the platform invites
    assert R.may_invite(ALICE, BOB, alices_room) is None
    assert R.may_invite(DAVE, ALICE, daves_room)
    assert R.may_invite(ALICE, DAVE, alices_room)
    assert R.may_invite(OPERATOR, ALICE, R.room_tenant(RoomFacts(creator=OPERATOR)))
    assert R.may_invite(ALICE, BOT, alices_room)
    # A demo user who got into another tenant's room cannot pull their colleagues in.
    assert R.may_invite(BOB, ALICE, daves_room)
    assert R.may_invite_by_address(ALICE) and R.may_invite_by_address(BOT) is None


def test_joins():
    demo_room = R.room_tenant(RoomFacts(creator=BOT, metadata=META, metadata_sender=BOT))
    assert R.may_join(BOB, demo_room) is None and R.may_join(BOT, demo_room) is None
    assert R.may_join(DAVE, demo_room)
    assert R.may_join(OPERATOR, demo_room)
    assert R.may_join(ALICE, RoomTenant(True, None))
    assert R.may_join(ALICE, R.room_tenant(RoomFacts(creator=BOB))) is None
    assert R.may_join(ALICE, R.room_tenant(RoomFacts(creator=DAVE, metadata=META,
                                                     metadata_sender=DAVE)))


def test_platform_metadata_and_aliases_are_the_bots():
    spoof = {"name": "Meetup", "initial_state": [
        {"type": ROOM_METADATA_TYPE, "state_key": "", "content": META}]}
    assert R.may_create_room(DAVE, spoof)
    assert R.may_create_room(BOT, spoof) is None
    assert R.may_create_room(DAVE, {"room_alias_name": "event-meetup-demo"})
    assert R.may_create_room(DAVE, {"room_alias_name": "daves-corner", "name": "x"}) is None
    assert R.may_create_alias(DAVE, "#event-meetup-demo:hs")
    assert R.may_create_alias(DAVE, "#daves-corner:hs") is None
    assert R.may_send_state(DAVE, ROOM_METADATA_TYPE) and R.may_send_state(ALICE, ROOM_METADATA_TYPE)
    assert R.may_send_state(BOT, ROOM_METADATA_TYPE) is None
    assert R.may_send_state(DAVE, "m.room.topic") is None


def test_user_ids_split_into_localpart_and_server_at_the_first_colon():
    assert split_user_id("@alice_t1:hs.example:8448") == ("alice_t1", "hs.example:8448")
    assert split_user_id("alice") == ("alice", "")
    assert split_user_id("@alice") == ("alice", "")
    assert split_user_id("") == ("", "")
