"""A joined room's state folded from raw sync dicts: the display name (spec order: name,
alias, members), members, unread counts, typing and receipts; odd values cost nothing."""

from __future__ import annotations

from pyapp.client.room_state import RoomState

ME = "@me:hs"


def state(kind, key="", **content):
    return {"type": kind, "state_key": key, "sender": ME, "content": content}


def member(user, membership="join", name=None):
    content = {"membership": membership}
    if name is not None:
        content["displayname"] = name
    return state("m.room.member", user, **content)


def joined(*events, timeline=(), summary=None, ephemeral=(), unread=None):
    data = {"state": {"events": list(events)}, "timeline": {"events": list(timeline)},
            "ephemeral": {"events": list(ephemeral)}}
    if summary is not None:
        data["summary"] = summary
    if unread is not None:
        data["unread_notifications"] = unread
    return data


def test_the_name_wins_then_the_alias_then_the_members():
    room = RoomState(ME)
    room.apply_joined(joined(member(ME, name="Me"), member("@a:hs", name="Alice"),
                             member("@b:hs", name="Bob")))
    assert room.display_name() == "Alice and Bob"
    room.apply_joined(joined(state("m.room.canonical_alias", alias="#picnic:hs")))
    assert room.display_name() == "#picnic:hs"
    room.apply_joined(joined(timeline=[state("m.room.name", name="Picnic")]))
    assert room.display_name() == "Picnic"


def test_names_from_the_summary_heroes_count_the_others():
    room = RoomState(ME)
    room.apply_joined(joined(member("@a:hs", name="Alice"), summary={
        "m.heroes": ["@a:hs", "@c:hs"], "m.joined_member_count": 5,
        "m.invited_member_count": 0}))
    assert room.display_name() == "Alice, @c:hs and 2 others"
    assert (room.joined_count, room.member_count) == (5, 5)


def test_an_empty_room_and_clashing_display_names():
    room = RoomState(ME)
    room.apply_joined(joined(member(ME)))
    assert room.display_name() == "Empty Room"
    room.apply_joined(joined(member("@a:hs", name="Sam"), member("@b:hs", name="Sam")))
    assert room.display_name() == "Sam (@a:hs) and Sam (@b:hs)"
    room.apply_joined(joined(timeline=[member("@b:hs", "leave")]))
    assert room.display_name() == "Sam" and set(room.members) == {ME, "@a:hs"}


def test_members_join_change_their_name_and_invites_count_apart():
    room = RoomState(ME)
    room.apply_joined(joined(member("@a:hs", name="A"), member("@i:hs", "invite")))
    assert room.joined_count == 1 and room.member_count == 2
    room.apply_joined(joined(timeline=[member("@i:hs", name="Ivy"), member("@a:hs", "ban")]))
    assert {u: (m.display_name, m.invited) for u, m in room.members.items()} == {
        "@i:hs": ("Ivy", False)}


def test_unread_typing_and_unthreaded_receipts():
    room = RoomState(ME)
    room.apply_joined(joined(unread={"notification_count": 3, "highlight_count": 1}, ephemeral=[
        {"type": "m.typing", "content": {"user_ids": ["@a:hs", 7]}},
        {"type": "m.receipt", "content": {
            "$1": {"m.read": {"@a:hs": {"ts": 1}}},
            "$2": {"m.read": {"@b:hs": {"ts": 1, "thread_id": "$t"}},
                   "m.read.private": {ME: {"ts": 2}}, "m.unknown": {"@c:hs": {}}}}},
    ]))
    assert (room.unread, room.highlights, room.typing) == (3, 1, ["@a:hs"])
    assert room.receipts == {"@a:hs": "$1", ME: "$2"}
    room.apply_joined(joined(unread={"notification_count": 0}))
    assert (room.unread, room.highlights) == (0, 1)  # a missing count keeps the last one


def test_a_members_message_ends_their_typing_unless_the_same_answer_says_otherwise():
    room = RoomState(ME)
    typing = {"type": "m.typing", "content": {"user_ids": ["@a:hs", "@b:hs"]}}
    room.apply_joined(joined(ephemeral=[typing]))
    said = {"type": "m.room.message", "sender": "@a:hs", "content": {"body": "done"}}
    reacted = {"type": "m.reaction", "sender": "@b:hs", "content": {}}
    room.apply_joined(joined(timeline=[said, reacted]))
    assert room.typing == ["@b:hs"]
    room.apply_joined(joined(timeline=[dict(said, sender="@b:hs")], ephemeral=[typing]))
    assert room.typing == ["@a:hs", "@b:hs"]  # the server's word in the same answer wins


def test_odd_values_are_ignored():
    room = RoomState(ME)
    room.apply_joined({"state": {"events": [state("m.room.name", name=5), "junk",
                                            {"type": "m.room.member", "state_key": 3}]},
                       "summary": ["x"], "unread_notifications": {"notification_count": "9"},
                       "ephemeral": {"events": [{"type": "m.typing", "content": {"user_ids": 1}},
                                                {"type": "m.receipt", "content": {"$1": 5}}]}})
    assert room.display_name() == "Empty Room" and room.unread == 0 and room.receipts == {}
