"""The client believes a room's platform metadata only when the platform's bot sent it."""

from __future__ import annotations

from pyapp.client.rooms import RoomList
from pyapp.identity import ROOM_METADATA_TYPE

BOT = "@openmeet-bot:hs"
ME = "@bob_demo:hs"
META = {"entity_type": "event", "entity_slug": "python-meetup", "tenant_id": "demo",
        "created_by": "alice"}


def meta_event(sender, content=META):
    return {"type": ROOM_METADATA_TYPE, "state_key": "", "sender": sender, "content": content,
            "event_id": "$m" + sender, "origin_server_ts": 1}


def joined(room_id, *state):
    return {"rooms": {"join": {room_id: {"state": {"events": list(state)},
                                         "timeline": {"events": []}}}}}


def invited(room_id, inviter, *state):
    member = {"type": "m.room.member", "state_key": ME, "sender": inviter,
              "content": {"membership": "invite"}}
    return {"rooms": {"invite": {room_id: {"invite_state": {"events": [*state, member]}}}}}


def test_joined_room_metadata_counts_only_from_the_bot():
    rooms = RoomList(ME, BOT)
    # A spoof created first would win a first-match lookup if its metadata were believed.
    rooms.apply_sync(joined("!spoof:hs", meta_event("@dave_other:hs")))
    rooms.apply_sync(joined("!real:hs", meta_event(BOT)))
    assert rooms.rooms["!spoof:hs"].metadata is None
    assert rooms.find("event", "python-meetup", "demo").room_id == "!real:hs"


def test_invite_metadata_counts_only_from_the_bot():
    rooms = RoomList(ME, BOT)
    rooms.apply_sync(invited("!spoof:hs", "@dave_other:hs", meta_event("@dave_other:hs")))
    assert rooms.find_invite("event", "python-meetup", "demo") is None
    assert rooms.rooms["!spoof:hs"].metadata is None
    rooms.apply_sync(invited("!real:hs", BOT, meta_event(BOT)))
    assert rooms.find_invite("event", "python-meetup", "demo").room_id == "!real:hs"


def test_later_metadata_from_someone_else_does_not_replace_the_bots():
    rooms = RoomList(ME, BOT)
    rooms.apply_sync(joined("!r:hs", meta_event(BOT)))
    rooms.apply_sync(joined("!r:hs", meta_event("@eve_demo:hs", {**META, "entity_slug": "x"})))
    assert rooms.rooms["!r:hs"].metadata == META


def test_without_a_known_bot_no_metadata_is_believed():
    rooms = RoomList(ME)
    rooms.apply_sync(joined("!r:hs", meta_event(BOT)))
    assert rooms.find("event", "python-meetup", "demo") is None
    # A state event with a non-empty state key is not the room's metadata either.
    rooms = RoomList(ME, BOT)
    rooms.apply_sync(joined("!r:hs", {**meta_event(BOT), "state_key": "x"}))
    assert rooms.rooms["!r:hs"].metadata is None
