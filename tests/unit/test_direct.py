"""Direct messages: m.direct read and updated, the DM to reuse, who may be messaged."""

from __future__ import annotations

import pytest

from pyapp.client.direct import (Candidate, create_body, invite_is_direct, may_message,
                                 parse_direct, partner_of, pick_dm, same_community,
                                 target_for_slug, with_room)
from pyapp.client.rooms import RoomList
from pyapp.identity import IdentityError

ME, BOB, CAROL = "@alice_demo:hs", "@bob_demo:hs", "@carol_demo:hs"
DAVE = "@dave_other:hs"  # another tenant
BOT = "@openmeet-bot:hs"


def test_m_direct_is_read_leniently_and_updated_without_losing_anything():
    content = {BOB: ["!a:hs", "!b:hs", "!a:hs", 7, "not-a-room"], "junk": ["!c:hs"],
               CAROL: "!d:hs", "@x:hs": []}
    assert parse_direct(content) == {BOB: ["!a:hs", "!b:hs"]}
    assert parse_direct(None) == parse_direct([1]) == {}
    updated = with_room(content, BOB, "!b:hs")
    assert updated[BOB] == ["!b:hs", "!a:hs", 7, "not-a-room"]  # latest first, once
    assert updated["junk"] == ["!c:hs"] and updated[CAROL] == "!d:hs"  # others' entries kept
    assert with_room(None, CAROL, "!n:hs") == {CAROL: ["!n:hs"]}
    assert with_room({CAROL: "bad"}, CAROL, "!n:hs") == {CAROL: ["!n:hs"]}
    assert content[BOB][0] == "!a:hs"  # the input is not changed
    assert partner_of({BOB: ["!a:hs"]}, "!a:hs") == BOB and partner_of({}, "!a:hs") is None


def test_the_dm_to_reuse_is_a_joined_one_where_the_other_person_still_is():
    direct = {BOB: ["!old:hs", "!left:hs", "!inv:hs", "!new:hs"], CAROL: ["!c:hs"]}
    rooms = [Candidate("!old:hs", "join", True, 10), Candidate("!new:hs", "join", True, 50),
             Candidate("!left:hs", "join", False, 90), Candidate("!inv:hs", "invite", True, 99),
             Candidate("!c:hs", "join", True, 100), Candidate("!notlisted:hs", "join", True, 200)]
    assert pick_dm(direct, BOB, rooms) == "!new:hs"
    assert pick_dm(direct, BOB, [rooms[2]]) is None  # they left: a new one reaches them
    assert pick_dm(direct, BOB, [rooms[3]]) is None  # only invited there: not mine yet
    assert pick_dm(direct, "@nobody:hs", rooms) is None


def test_a_new_dm_is_made_the_standard_way():
    assert create_body(BOB) == {
        "preset": "trusted_private_chat", "is_direct": True, "invite": [BOB],
        # Encrypted from the first event: no plaintext beginning, never turned off.
        "initial_state": [{"type": "m.room.encryption", "state_key": "",
                           "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]}
    assert invite_is_direct({"membership": "invite", "is_direct": True})
    assert not invite_is_direct({"membership": "invite", "is_direct": "yes"})
    assert not invite_is_direct(None)


def test_only_people_of_my_own_community_are_offered():
    assert may_message(ME, BOB, BOT) and same_community(ME, CAROL)
    assert not may_message(ME, ME, BOT)
    assert not may_message(ME, BOT, BOT)
    assert not may_message(ME, DAVE, BOT)  # another tenant
    assert not may_message(ME, "@bob_demo:elsewhere", BOT)  # another server
    assert not may_message(ME, "@operator:hs", BOT)  # outside every tenant
    assert may_message("@op1:hs", "@op2:hs")  # outside every tenant, both
    assert not may_message(None, BOB) and not may_message(ME, "bob")


def test_a_slug_is_always_read_in_my_own_tenant():
    assert target_for_slug("bob", ME) == BOB
    assert target_for_slug("Bob ", ME) == BOB
    assert target_for_slug("dave", ME) == "@dave_demo:hs"  # never another tenant's dave
    with pytest.raises(IdentityError):
        target_for_slug("bob_other", ME)
    with pytest.raises(ValueError):
        target_for_slug("bob", "@operator:hs")


def test_the_room_list_knows_dms_from_m_direct_and_from_direct_invites():
    rooms = RoomList(ME)
    rooms.apply_sync({"rooms": {"join": {"!a:hs": {}}, "invite": {"!i:hs": {"invite_state": {
        "events": [{"type": "m.room.member", "state_key": ME, "sender": CAROL,
                    "content": {"membership": "invite", "is_direct": True}}]}},
        "!g:hs": {"invite_state": {"events": [
            {"type": "m.room.member", "state_key": ME, "sender": CAROL,
             "content": {"membership": "invite"}}]}}}}})
    assert rooms.dm_partner("!a:hs") is None and rooms.dm_partner("!g:hs") is None
    assert rooms.dm_partner("!i:hs") == CAROL
    changed = rooms.apply_sync({"account_data": {"events": [
        {"type": "m.direct", "content": {BOB: ["!a:hs"]}}]}})
    assert changed == {"!a:hs"} and rooms.dm_partner("!a:hs") == BOB
    rooms.apply_sync({"account_data": {"events": [{"type": "m.direct", "content": "bad"}]}})
    assert rooms.dm_partner("!a:hs") is None
