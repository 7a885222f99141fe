"""Which live messages raise a browser notification, what it says, and the host's totals."""

from types import SimpleNamespace

from pyapp.client import notify as n
from pyapp.client.push_rules import ALL, MENTIONS, MUTE

ME = "@alice:hs"


def sync(events, room="!r:hs"):
    return {"rooms": {"join": {room: {"timeline": {"events": events}}}}}


def msg(sender, body, event_id="$1", **extra):
    return {"type": "m.room.message", "sender": sender, "event_id": event_id,
            "content": {"msgtype": "m.text", "body": body, **extra}}


def test_incoming_takes_messages_from_others_only():
    got = n.incoming(sync([msg(ME, "mine"), msg("@bob:hs", "hi", "$2"),
                           {"type": "m.reaction", "sender": "@bob:hs", "event_id": "$3"},
                           msg("@bob:hs", "* fix", "$4",
                               **{"m.relates_to": {"rel_type": "m.replace"}}),
                           "junk"]), ME)
    assert [(i.room_id, i.event_id) for i in got] == [("!r:hs", "$2")]
    assert n.incoming({"rooms": {"join": {"!r:hs": None}}}, ME) == []
    assert n.incoming(None, ME) == []


def test_notify_only_when_hidden_and_not_muted():
    assert n.should_notify(level=ALL, direct=False, mentions_me=True, hidden=True)
    assert n.should_notify(level=MENTIONS, direct=False, mentions_me=True, hidden=True)
    assert not n.should_notify(level=MUTE, direct=True, mentions_me=True, hidden=True)
    assert not n.should_notify(level=ALL, direct=True, mentions_me=True, hidden=False)
    assert n.should_notify(level=ALL, direct=True, mentions_me=False, hidden=True)
    assert not n.should_notify(level=MENTIONS, direct=True, mentions_me=False, hidden=True)
    assert not n.should_notify(level=ALL, direct=False, mentions_me=False, hidden=True)


def test_notice_text():
    message = n.Incoming("!r:hs", "$1", "@bob:hs", {"body": "hello\n  there " + "x" * 200})
    notice = n.notice(message, room_name="Meetup", sender_name="Bob", direct=False,
                      mentions_me=True)
    assert notice.title == "Bob mentioned you in Meetup"
    assert notice.body.startswith("hello there x") and len(notice.body) == n.BODY_CHARS
    assert notice.tag == "om-chat:!r:hs"
    assert n.notice(message, room_name="x", sender_name="Bob", direct=True,
                    mentions_me=False).title == "Bob"


def test_totals_count_each_room_at_its_level():
    rooms = [SimpleNamespace(room_id="!a", unread=3, mentions=1),
             SimpleNamespace(room_id="!b", unread=5, mentions=2),
             SimpleNamespace(room_id="!c", unread=4, mentions=0)]
    levels = {"!a": ALL, "!b": MUTE, "!c": MENTIONS}
    assert n.totals(rooms, levels.get) == (3, 1)


def test_direct_invites_are_read_from_the_invite_section():
    def invite(content, sender="@bob:hs", state_key=ME):
        return {"invite_state": {"events": [
            {"type": "m.room.name", "state_key": "", "content": {"name": "x"}},
            {"type": "m.room.member", "state_key": state_key, "sender": sender,
             "content": content}]}}

    body = {"rooms": {"invite": {
        "!dm:hs": invite({"membership": "invite", "is_direct": True}),
        "!group:hs": invite({"membership": "invite"}),
        "!odd:hs": invite({"membership": "invite", "is_direct": "yes"}),
        "!other:hs": invite({"membership": "invite", "is_direct": True}, state_key="@c:hs"),
        "!bad:hs": None}}}
    assert n.direct_invites(body, ME) == [n.Invitation("!dm:hs", "@bob:hs")]
    assert n.direct_invites(body, None) == []
    notice = n.invitation_notice(n.Invitation("!dm:hs", "@bob:hs"), sender_name="Bob",
                                 outside=True)
    assert (notice.title, notice.body) == ("Bob wants to chat", "From outside your community")
