"""What today's views read of a room's timeline (pyapp.client.timeline over the model)."""

from pyapp.client.rooms import RoomList
from pyapp.client.timeline import FAILED, PENDING, SENT, Timeline


def remote(event_id, body, txn=None, sender="@bob:hs", ts=1, **content):
    event = {"type": "m.room.message", "event_id": event_id, "sender": sender,
             "origin_server_ts": ts, "content": {"msgtype": "m.text", "body": body, **content}}
    if txn:
        event["unsigned"] = {"transaction_id": txn}
    return event


def sync(*events, limited=False):
    return {"events": list(events), "limited": limited, "prev_batch": "p"}


def echo(t, txn, body):
    t.add_local_echo(txn, {"msgtype": "m.text", "body": body}, "@me:hs", now_ms=5)
    return t.item(txn)


def test_local_echo_is_confirmed_in_place_by_the_sync_echo():
    t = Timeline()
    local = echo(t, "txn1", "hi")
    assert [m.status for m in t.messages] == [PENDING] and t.local == [local]
    t.apply_sync(sync(remote("$e1", "hi", txn="txn1", sender="@me:hs", ts=7)))
    assert [(m.key, m.status, m.event_id, m.ts) for m in t.messages] == [("txn1", SENT, "$e1", 7)]
    assert t.messages[0] is local and t.confirmed == [local] and t.local == []


def test_a_sent_message_stays_local_until_the_sync_has_it():
    t = Timeline()
    echo(t, "txn1", "hi")
    t.echo_sent("txn1", "$e1")
    assert [m.status for m in t.local] == [SENT] and t.confirmed == []
    t.apply_sync(sync(remote("$e1", "hi", sender="@me:hs")))
    assert [m.body for m in t.confirmed] == ["hi"] and t.local == []


def test_remote_messages_stay_above_pending_ones():
    t = Timeline()
    echo(t, "txn1", "mine")
    t.apply_sync(sync(remote("$e1", "theirs")))
    assert [m.body for m in t.messages] == ["theirs", "mine"]


def test_a_failed_message_keeps_its_text():
    t = Timeline()
    m = echo(t, "txn1", "keep me")
    t.echo_failed("txn1", "Not sent: no connection.")
    assert (m.status, m.body, m.error) == (FAILED, "keep me", "Not sent: no connection.")
    assert t.messages == [m] and t.unconfirmed() == [m]


def test_messages_of_every_msgtype_are_shown_by_their_body_and_membership_is_not_a_message():
    t = Timeline()
    t.apply_sync(sync(remote("$e1", "a"),
                      {"type": "m.room.member", "event_id": "$m", "sender": "@b:hs",
                       "state_key": "@b:hs", "content": {"membership": "join"}},
                      remote("$x", "x.png", msgtype="m.image"),
                      remote("$p", "Poll: lunch?", msgtype="org.example.poll")))
    assert [m.body for m in t.messages] == ["a", "x.png", "Poll: lunch?"]


def test_a_limited_sync_shows_only_what_is_contiguous_with_now_but_keeps_pending():
    t = Timeline()
    t.apply_sync(sync(remote("$old", "old")))
    echo(t, "txn1", "pending")
    t.apply_sync(sync(remote("$new", "new"), limited=True))
    assert [m.body for m in t.messages] == ["new", "pending"]


def test_views_follow_every_change_of_the_model():
    t = Timeline()
    t.apply_sync(sync(remote("$1", "a")))
    first = t.messages
    assert t.messages == first  # read twice, computed once
    t.apply_sync(sync(remote("$2", "b")))
    assert [m.body for m in t.messages] == ["a", "b"]


def test_edits_replies_and_deletions_from_other_clients_show_as_the_conversation_is():
    """Through the room list as a sync delivers them: an edit replaces the text of the message
    (it is not a message of its own), a reply loses its quoted fallback, a deleted message
    stays as an empty placeholder."""
    rooms = RoomList("@me:hs")
    events = [
        remote("$1", "helo"),
        remote("$2", "* hello", **{"m.new_content": {"msgtype": "m.text", "body": "hello"},
                                   "m.relates_to": {"rel_type": "m.replace", "event_id": "$1"}}),
        remote("$3", "> <@bob:hs> hello\n\nhi bob", sender="@carol:hs",
               **{"m.relates_to": {"m.in_reply_to": {"event_id": "$1"}}}),
        remote("$4", "oops"),
        {"type": "m.room.redaction", "event_id": "$5", "sender": "@bob:hs", "redacts": "$4",
         "content": {}},
    ]
    rooms.apply_sync({"rooms": {"join": {"!r:hs": {"timeline": sync(*events)}}}})
    shown = rooms.rooms["!r:hs"].timeline.messages
    assert [(m.key, m.body, m.redacted) for m in shown] == [
        ("$1", "hello", False), ("$3", "hi bob", False), ("$4", "", True)]
    assert shown[0].edited and shown[1].reply_to == "$1"
