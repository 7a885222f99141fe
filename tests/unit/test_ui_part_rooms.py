"""The room list's and the info panel's view models, driven with plain rooms."""

from __future__ import annotations

from pyapp.ui.format import Clock
from pyapp.ui.parts.info import InfoPanelPart
from pyapp.ui.parts.rooms import RoomListPart

from .ui_parts_fakes import BOB, CAROL, ME, NOW, NOW_MS, msg, room


def test_each_joined_room_shows_its_last_message_then_come_the_invitations():
    picnic = room("!p:hs", [msg(1, BOB, "see you\nat noon", ts=NOW_MS - 60_000)],
                  name="Picnic", unread=2)
    hike = room("!h:hs", [msg(2, ME, "count me in", ts=NOW_MS - 86_400_000)])
    club = room("!c:hs", [msg(3, CAROL, "welcome")], name="Club")
    quiet = room("!q:hs", name="Quiet")
    invite = room("!i:hs", membership="invite")
    items = RoomListPart(Clock(lambda: NOW, 0)).items([picnic, hike, club, quiet], [invite],
                                                      "!h:hs", ME)
    assert [(i.name, i.preview, i.when, i.unread, i.selected, i.invite) for i in items] == [
        ("Picnic", "Bob: see you", "22:22", 2, False, False),
        ("!h:hs", "You: count me in", "Yesterday", 0, True, False),
        ("Club", "carol: welcome", "22:22", 0, False, False),
        ("Quiet", "", "", 0, False, False),
        ("Invitation", "You are invited", "", 0, False, True),
    ]


def test_nothing_is_selected_without_a_current_room():
    items = RoomListPart(Clock(lambda: NOW, 0)).items([room("!a:hs")], [], None, ME)
    assert [i.selected for i in items] == [False]


def test_the_info_panel_lists_members_by_name_and_counts_those_not_loaded():
    r = room(name="Hiking club", topic="Weekend walks",
             members={ME: "alice", BOB: "Bob", CAROL: ""}, member_count=12)
    info = InfoPanelPart.view(r)
    assert (info.name, info.topic, info.member_count) == ("Hiking club", "Weekend walks", 12)
    assert info.member_names == ["alice", "Bob", "carol_t1"]
    assert InfoPanelPart.view(room("!x:hs", members={ME: "A"})).name == "!x:hs"
    assert InfoPanelPart.view(room("!x:hs", members={ME: "A", BOB: "B"})).member_count == 2


def test_the_member_list_is_asked_for_once_per_room():
    panel = InfoPanelPart()
    assert panel.to_load_members("!a:hs")
    assert not panel.to_load_members("!a:hs")
    assert panel.to_load_members("!b:hs")


def test_the_member_panel_shows_roles_avatars_typing_and_message_for_my_community():
    bot, eve = "@openmeet-bot:hs", "@eve_other:hs"
    r = room(members={ME: "Alice", BOB: "Bob", CAROL: "carol", bot: "Bot", eve: "Eve"},
             member_count=5, typing=[BOB], metadata={"entity_type": "event"},
             power_levels={"users": {CAROL: 75, BOB: 50, bot: 90}})
    community = {ME, BOB, CAROL}
    info = InfoPanelPart.view(r, ME, bot, lambda uid: uid in community and uid != ME)
    rows = [(m.name, m.initials, m.role, m.typing, m.can_message, m.me) for m in info.members]
    assert rows == [("carol", "C", "host", False, True, False),
                    ("Bob", "B", "organizer", True, True, False),
                    ("Alice", "A", None, False, False, True),
                    ("Eve", "E", None, False, False, False)]  # another tenant: no Message
    assert info.member_count == 4  # the bot is not counted
    dm = InfoPanelPart.view(r, ME, bot, lambda uid: True, dm=True)
    assert not any(m.can_message for m in dm.members)  # already in the DM


def test_dms_show_the_other_persons_name_and_invitations_say_who_wants_to_chat():
    dm = room("!dm:hs", [msg(1, BOB, "hi")], name="Alice and Bob", unread=1)
    invite = room("!i:hs", membership="invite", inviter=CAROL, members={},
                  names={CAROL: "Carol C"})
    outside = room("!o:hs", membership="invite", inviter="@dave_other:hs", members={})
    partners = {"!dm:hs": BOB, "!i:hs": CAROL, "!o:hs": "@dave_other:hs"}
    items = RoomListPart(Clock(lambda: NOW, 0)).items(
        [dm], [invite, outside], "!dm:hs", ME, partners.get,
        lambda uid: uid.endswith("_t1:hs"))
    assert [(i.name, i.preview, i.unread, i.dm, i.initials, i.invite, i.outside)
            for i in items] == [
        ("Bob", "Bob: hi", 1, True, "B", False, False),
        ("Carol C", "Carol C wants to chat", 0, True, "CC", True, False),
        ("dave", "dave wants to chat · from outside your community", 0, True, "D", True, True),
    ]
