"""The conversation's view model, driven with plain rooms."""

from __future__ import annotations

from pyapp.client.timeline import FAILED, PENDING
from pyapp.ui.format import Clock
from pyapp.ui.parts.timeline import DayView, MessageView, TimelinePart

from .ui_parts_fakes import BOB, CAROL, ME, NOW, NOW_MS, msg, room

DAY_MS = 86_400_000


def part(context="event"):
    return TimelinePart(Clock(lambda: NOW, 0), context)


def shown(items):
    return [i.label if isinstance(i, DayView) else (i.body, i.first_in_group) for i in items]


def test_days_are_separated_and_one_senders_close_messages_share_a_label():
    r = room(confirmed=[
        msg(1, BOB, "yesterday's", ts=NOW_MS - DAY_MS),
        msg(2, BOB, "one", ts=NOW_MS - 600_000),
        msg(3, BOB, "two", ts=NOW_MS - 590_000),
        msg(4, BOB, "later", ts=NOW_MS - 200_000),  # more than five minutes after "two"
        msg(5, ME, "mine", ts=NOW_MS - 100_000),
    ])
    view = part().view(r, ME)
    assert shown(view.items) == ["Yesterday", ("yesterday's", True), "Today", ("one", True),
                                 ("two", False), ("later", True), ("mine", True)]
    assert view.empty_text == ""
    mine = view.items[-1]
    assert isinstance(mine, MessageView) and mine.mine and mine.sender_name == "Alice"


def test_unknown_senders_are_named_by_their_platform_slug():
    r = room(confirmed=[msg(1, CAROL, "hi"), msg(2, "@someone:elsewhere", "yo")])
    names = [i.sender_name for i in part().items(r, ME) if isinstance(i, MessageView)]
    assert names == ["carol", "someone"]


def test_local_echoes_follow_the_confirmed_messages_with_their_status():
    r = room(confirmed=[msg(1, BOB, "hi")],
             local=[msg(2, ME, "on its way", status=PENDING, txn_id="t2"),
                    msg(3, ME, "lost", status=FAILED, txn_id="t3", error="Not sent.")])
    views = [i for i in part().items(r, ME) if isinstance(i, MessageView)]
    assert [(v.body, v.status, v.error) for v in views] == [
        ("hi", "sent", None), ("on its way", "pending", None), ("lost", "failed", "Not sent.")]


def test_an_empty_conversation_invites_the_first_message_per_context():
    assert part("event").view(room(), ME).empty_text.startswith("No messages yet. Say hello")
    assert "group's discussion" in part("group").view(room(), ME).empty_text
    assert part("all").view(room(), ME).empty_text == "No messages yet. Start the conversation!"


def test_my_last_sent_message_says_who_has_read_up_to_it():
    r = room(confirmed=[msg(1, ME, "first"), msg(2, BOB, "reply"), msg(3, ME, "last")],
             members={ME: "Alice", BOB: "Bob", CAROL: "carol c"})
    r.receipts = {BOB: "$e2", ME: "$e3"}
    assert all(i.seen_by is None for i in part().items(r, ME) if isinstance(i, MessageView))
    r.receipts = {BOB: "$e3", CAROL: "$e3", ME: "$e3"}
    seen = {i.body: i.seen_by for i in part().items(r, ME) if isinstance(i, MessageView)}
    assert seen == {"first": None, "reply": None, "last": "Seen by Bob and carol c"}


def test_typing_shows_the_others_only():
    r = room(typing=[ME, BOB, CAROL])
    assert part().view(r, ME).typing == "Bob and carol are typing…"
    assert part().view(room(typing=[ME]), ME).typing == ""


def test_the_last_event_is_marked_read_once():
    timeline = part()
    r = room(confirmed=[msg(1, BOB, "a")])
    assert timeline.to_mark_read(room()) is None  # nothing to mark
    assert timeline.to_mark_read(r) == "$e1"
    assert timeline.to_mark_read(r) is None
    r.timeline.confirmed.append(msg(2, BOB, "b"))
    assert timeline.to_mark_read(r) == "$e2"


def test_only_a_failed_message_of_mine_can_be_retried():
    r = room(local=[msg(1, ME, "pending", status=PENDING, txn_id="t1"),
                    msg(2, ME, "failed", status=FAILED, txn_id="t2")])
    assert TimelinePart.failed_txn(r, "k2") == "t2"
    assert TimelinePart.failed_txn(r, "k1") is None
    assert TimelinePart.failed_txn(r, "nope") is None


def test_formatted_html_reaches_the_view_unchanged_for_the_sanitizer_beside_the_plain_body():
    r = room(confirmed=[msg(1, BOB, "**hi**", formatted_body="<b>hi</b><script>x</script>"),
                        msg(2, BOB, "plain")])
    views = [i for i in part().items(r, ME) if isinstance(i, MessageView)]
    assert [(v.body, v.html) for v in views] == [
        ("**hi**", "<b>hi</b><script>x</script>"), ("plain", None)]


def test_a_message_of_an_unknown_or_media_msgtype_shows_its_body():
    r = room(confirmed=[msg(1, BOB, "Poll: lunch?", msgtype="org.example.poll"),
                        msg(2, BOB, "cat.png", msgtype="m.image"), msg(3, BOB, "text")])
    views = [i for i in part().items(r, ME) if isinstance(i, MessageView)]
    assert [v.body for v in views] == ["Poll: lunch?", "cat.png", "text"]
