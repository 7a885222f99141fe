"""The timeline model driven with plain event dicts, as sync and /messages deliver them."""

import pytest

from pyapp.client.timeline_model import (
    FAILED, PENDING, SENT, Gap, MemberChange, Message, RoomStart, TimelineModel, strip_reply_fallback,
)

ME, BOB = "@me:hs", "@bob:hs"


def msg(event_id, body, sender=BOB, ts=1, txn=None, **content):
    event = {"type": "m.room.message", "event_id": event_id, "sender": sender,
             "origin_server_ts": ts, "content": {"msgtype": "m.text", "body": body, **content}}
    if txn:
        event["unsigned"] = {"transaction_id": txn}
    return event


def edit(event_id, target, body, sender=BOB, ts=2):
    return msg(event_id, "* " + body, sender=sender, ts=ts,
               **{"m.new_content": {"msgtype": "m.text", "body": body},
                  "m.relates_to": {"rel_type": "m.replace", "event_id": target}})


def react(event_id, target, key, sender=BOB):
    return {"type": "m.reaction", "event_id": event_id, "sender": sender, "origin_server_ts": 3,
            "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": target,
                                         "key": key}}}


def redaction(event_id, target, sender=BOB, in_content=False):
    event = {"type": "m.room.redaction", "event_id": event_id, "sender": sender,
             "origin_server_ts": 4, "content": {}}
    if in_content:
        event["content"]["redacts"] = target  # room version 11
    else:
        event["redacts"] = target
    return event


def create(event_id="$create"):
    return {"type": "m.room.create", "event_id": event_id, "sender": BOB, "state_key": "",
            "origin_server_ts": 0, "content": {"creator": BOB}}


def member(event_id, user_id, membership, sender=None, prev=None, name=None, prev_name=None):
    event = {"type": "m.room.member", "event_id": event_id, "sender": sender or user_id,
             "state_key": user_id, "origin_server_ts": 5,
             "content": {"membership": membership, **({"displayname": name} if name else {})}}
    if prev:
        event["unsigned"] = {"prev_content": {"membership": prev,
                                              **({"displayname": prev_name} if prev_name else {})}}
    return event


def sync(*events, limited=False, prev_batch="p0"):
    return {"events": list(events), "limited": limited, "prev_batch": prev_batch}


def shape(model):
    """The display items in order, as (kind, key-or-body)."""
    out = []
    for item in model.items():
        if isinstance(item, Message):
            out.append(item.body)
        elif isinstance(item, Gap):
            out.append(("gap", item.token))
        elif isinstance(item, MemberChange):
            out.append((item.kind, item.user_id))
        else:
            out.append("start")
    return out


def messages(model):
    return {m.key: m for m in model.items() if isinstance(m, Message)}


# -- ordering, gaps and history -------------------------------------------------------

def test_first_sync_has_a_top_gap_with_its_prev_batch_and_reports_what_was_added():
    t = TimelineModel()
    changes = t.apply_sync(sync(msg("$1", "a"), msg("$2", "b"), prev_batch="p1"))
    assert shape(t) == [("gap", "p1"), "a", "b"]
    assert changes.added == ("gap:top", "$1", "$2") and not changes.changed
    assert t.top_gap().token == "p1" and not t.at_start()


def test_order_is_the_servers_not_the_claimed_timestamps():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", "first", ts=9_000), msg("$2", "second", ts=-5)))
    t.apply_sync(sync(msg("$3", "third", ts=2**70)))
    assert shape(t)[1:] == ["first", "second", "third"]
    assert [m.ts for m in messages(t).values()] == [9_000, -5, 2**70]


def test_back_pagination_prepends_below_the_top_gap_and_moves_its_token():
    t = TimelineModel()
    t.apply_sync(sync(msg("$3", "c"), prev_batch="p1"))
    changes = t.prepend_page([msg("$2", "b"), msg("$1", "a")], end="p2")
    assert shape(t) == [("gap", "p2"), "a", "b", "c"]
    assert changes.added == ("$1", "$2") and changes.changed == ("gap:top",)


def test_reaching_the_room_creation_replaces_the_top_gap_with_the_start_marker():
    t = TimelineModel()
    t.apply_sync(sync(msg("$2", "b")))
    changes = t.prepend_page([msg("$1", "a"), create()], end="p9")
    assert shape(t) == ["start", "a", "b"] and t.at_start() and t.top_gap() is None
    assert set(changes.removed) == {"gap:top"} and "start" in changes.added


def test_a_page_without_end_is_the_earliest_visible_history():
    t = TimelineModel()
    t.apply_sync(sync(msg("$2", "b")))
    t.prepend_page([msg("$1", "a")], end=None)
    assert shape(t) == ["start", "a", "b"]


def test_a_room_whose_whole_history_came_in_the_first_sync_starts_at_creation():
    t = TimelineModel()
    t.apply_sync(sync(create(), msg("$1", "hello")))
    assert shape(t) == ["start", "hello"]
    assert isinstance(t.items()[0], RoomStart)


def test_a_limited_sync_leaves_a_gap_that_pagination_fills_until_it_meets_held_events():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", "a"), prev_batch="p0"))
    t.apply_sync(sync(msg("$5", "e"), limited=True, prev_batch="p5"))
    assert shape(t) == [("gap", "p0"), "a", ("gap", "p5"), "e"]
    gap = t.items()[2]
    t.set_gap_loading(gap.key, True)
    assert gap.loading
    changes = t.prepend_page([msg("$4", "d"), msg("$3", "c")], end="p3", gap_key=gap.key)
    assert shape(t) == [("gap", "p0"), "a", ("gap", "p3"), "c", "d", "e"]
    assert not gap.loading and changes.changed == (gap.key,)
    changes = t.prepend_page([msg("$2", "b"), msg("$1", "a"), msg("$0", "older")],
                             end="p1", gap_key=gap.key)
    assert shape(t) == [("gap", "p0"), "a", "b", "c", "d", "e"]
    assert changes.removed == (gap.key,) and changes.added == ("$2",)


def test_a_limited_sync_on_an_empty_timeline_moves_the_top_gap_instead_of_adding_one():
    t = TimelineModel()
    t.apply_sync(sync(prev_batch="p0"))
    t.apply_sync(sync(msg("$9", "new"), limited=True, prev_batch="p8"))
    assert shape(t) == [("gap", "p8"), "new"]


def test_duplicates_from_sync_and_pagination_show_once():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", "a"), msg("$2", "b")))
    assert not t.apply_sync(sync(msg("$2", "b")))
    t.prepend_page([msg("$2", "b"), msg("$1", "a"), msg("$0", "z")], end="p")
    assert shape(t) == [("gap", "p"), "z", "a", "b"]


def test_the_limit_drops_the_oldest_and_the_top_becomes_a_gap_again():
    t = TimelineModel(limit=2)
    t.apply_sync(sync(create(), msg("$1", "a"), msg("$2", "b")))
    changes = t.apply_sync(sync(msg("$3", "c")))
    assert shape(t) == [("gap", None), "b", "c"]
    assert set(changes.removed) == {"start", "$1"}
    t.prepend_page([msg("$1", "a")], end=None)  # the dropped one may come back
    assert shape(t) == ["start", "a", "b", "c"]


# -- local echo -----------------------------------------------------------------------

def test_local_echo_is_confirmed_in_place_by_the_sync_echo():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", "theirs")))
    changes = t.add_local_echo("txn1", {"msgtype": "m.text", "body": "hi"}, ME, now_ms=5)
    assert changes.added == ("txn1",)
    local = t.item("txn1")
    assert (local.status, local.body) == (PENDING, "hi")
    t.apply_sync(sync(msg("$2", "hi", sender=ME, ts=7, txn="txn1"), msg("$3", "after")))
    assert shape(t)[1:] == ["theirs", "hi", "after"]
    assert t.item("txn1") is local and (local.status, local.event_id, local.ts) == (SENT, "$2", 7)


def test_pending_messages_stay_below_new_remote_ones():
    t = TimelineModel()
    t.add_local_echo("txn1", {"body": "mine"}, ME, now_ms=5)
    t.apply_sync(sync(msg("$1", "theirs")))
    assert shape(t)[1:] == ["theirs", "mine"]


def test_send_response_then_sync_without_transaction_id_never_duplicates():
    t = TimelineModel()
    t.add_local_echo("txn1", {"body": "hi"}, ME, now_ms=5)
    t.echo_sent("txn1", "$1")
    t.apply_sync(sync(msg("$1", "hi", sender=ME)))
    assert shape(t)[1:] == ["hi"] and t.last_event_id() == "$1"


def test_sync_echo_before_send_response_is_not_shown_twice():
    t = TimelineModel()
    t.add_local_echo("txn1", {"body": "hi"}, ME, now_ms=5)
    t.apply_sync(sync(msg("$1", "hi", sender=ME)))  # another device's view: no txn id
    changes = t.echo_sent("txn1", "$1")
    assert shape(t)[1:] == ["hi"] and changes.removed == ("txn1",)


def test_a_failed_message_keeps_its_text_and_can_be_retried():
    t = TimelineModel()
    t.add_local_echo("txn1", {"body": "keep me"}, ME, now_ms=5)
    t.echo_failed("txn1", "Not sent: no connection.")
    m = t.item("txn1")
    assert (m.status, m.body, m.error) == (FAILED, "keep me", "Not sent: no connection.")
    assert t.unconfirmed() == [m]
    t.echo_retry("txn1")
    assert (m.status, m.error) == (PENDING, None)


def test_reaction_echo_counts_at_once_and_is_withdrawn_if_refused():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", "a")))
    changes = t.add_local_echo("t1", {"m.relates_to": {"rel_type": "m.annotation",
                                                       "event_id": "$1", "key": "👍"}},
                               ME, 5, event_type="m.reaction")
    assert changes.changed == ("$1",)
    assert [(r.key, r.senders) for r in t.item("$1").reactions] == [("👍", [ME])]
    assert t.reaction_event("$1", "👍", ME) is None  # nothing to redact yet
    t.echo_failed("t1", "refused")
    assert t.item("$1").reactions == []


def test_reaction_echo_confirmed_by_send_then_sync_counts_once():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", "a")))
    content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$1", "key": "👍"}}
    t.add_local_echo("t1", content, ME, 5, event_type="m.reaction")
    t.echo_sent("t1", "$r")
    assert t.reaction_event("$1", "👍", ME) == "$r"
    reaction = react("$r", "$1", "👍", sender=ME)
    reaction["unsigned"] = {"transaction_id": "t1"}
    t.apply_sync(sync(reaction))
    assert [r.count for r in t.item("$1").reactions] == [1]


def test_reaction_sync_echo_before_the_send_response_replaces_the_echo():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", "a")))
    content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$1", "key": "👍"}}
    t.add_local_echo("t1", content, ME, 5, event_type="m.reaction")
    reaction = react("$r", "$1", "👍", sender=ME)
    reaction["unsigned"] = {"transaction_id": "t1"}
    t.apply_sync(sync(reaction))
    t.echo_sent("t1", "$r")
    assert [r.senders for r in t.item("$1").reactions] == [[ME]]
    assert t.reaction_event("$1", "👍", ME) == "$r"


def test_removing_my_reaction_by_redaction_echo_and_its_refusal_restores_it():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", "a"), react("$r", "$1", "👍", sender=ME)))
    t.add_local_echo("t2", {"redacts": "$r"}, ME, 6, event_type="m.room.redaction")
    assert t.item("$1").reactions == []
    t.echo_failed("t2", "refused")
    assert [r.key for r in t.item("$1").reactions] == ["👍"]


def test_edit_echo_shows_at_once():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", "typo", sender=ME)))
    content = edit("x", "$1", "fixed")["content"]
    t.add_local_echo("t1", content, ME, 9)
    m = t.item("$1")
    assert (m.body, m.edited) == ("fixed", True) and len(shape(t)) == 2
    t.echo_sent("t1", "$e")
    t.apply_sync(sync(edit("$e", "$1", "fixed", sender=ME)))
    assert (m.body, m.edited) == ("fixed", True)


def test_discarding_local_echoes_removes_them():
    t = TimelineModel()
    t.add_local_echo("t1", {"body": "x"}, ME, 1)
    changes = t.discard_local()
    assert changes.removed == ("t1",) and t.unconfirmed() == []


def test_a_relation_to_a_local_echo_shows_once_the_echo_has_its_event_id():
    t = TimelineModel()
    t.add_local_echo("t1", {"body": "x"}, ME, 1)
    t.apply_sync(sync(react("$r", "$1", "🎉")))  # races the send response
    t.echo_sent("t1", "$1")
    assert [r.key for r in t.item("t1").reactions] == ["🎉"]


# -- relations ------------------------------------------------------------------------

def test_reactions_are_aggregated_per_key_with_who_reacted_once_each():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", "a"), react("$r1", "$1", "👍"), react("$r2", "$1", "👍", ME),
                      react("$r3", "$1", "🎉"), react("$r4", "$1", "👍")))
    assert [(r.key, r.senders, r.count) for r in t.item("$1").reactions] == [
        ("👍", [BOB, ME], 2), ("🎉", [BOB], 1)]
    assert t.reaction_event("$1", "👍", ME) == "$r2"


def test_reactions_and_edits_arriving_before_their_target_apply_when_it_comes():
    t = TimelineModel()
    t.apply_sync(sync(react("$r", "$1", "👍"), edit("$e", "$1", "better")))
    assert shape(t) == [("gap", "p0")]
    changes = t.prepend_page([msg("$1", "orig")], end="p")
    m = t.item("$1")
    assert (m.body, m.edited, [r.key for r in m.reactions]) == ("better", True, ["👍"])
    assert changes.added == ("$1",)


def test_the_latest_edit_by_the_original_sender_wins_and_others_edits_are_ignored():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", "orig"), edit("$e2", "$1", "second", ts=20),
                      edit("$e1", "$1", "first", ts=10),
                      edit("$x", "$1", "hijacked", sender="@mallory:hs", ts=99)))
    m = t.item("$1")
    assert (m.body, m.edited) == ("second", True)
    assert shape(t)[1:] == ["second"]  # edits are not items


def test_equal_timestamps_are_broken_by_event_id():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", "orig"), edit("$b", "$1", "b", ts=5), edit("$a", "$1", "a", ts=5)))
    assert t.item("$1").body == "b"


def test_an_edit_by_someone_else_alone_changes_nothing():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", "orig")))
    changes = t.apply_sync(sync(edit("$x", "$1", "hijacked", sender="@mallory:hs")))
    assert t.item("$1").body == "orig" and not t.item("$1").edited and not changes


def test_the_edit_bundled_in_unsigned_is_applied():
    t = TimelineModel()
    original = msg("$1", "orig")
    original["unsigned"] = {"m.relations": {"m.replace": edit("$e", "$1", "new")}}
    t.apply_sync(sync(original))
    assert (t.item("$1").body, t.item("$1").edited) == ("new", True)


def test_an_edit_of_an_edit_is_ignored():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", "orig"), edit("$e", "$1", "one"), edit("$e2", "$e", "two")))
    assert t.item("$1").body == "one"


def test_an_edit_changes_formatted_body_and_keeps_the_message_key():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", "orig")))
    e = edit("$e", "$1", "**b**")
    e["content"]["m.new_content"].update(format="org.matrix.custom.html",
                                         formatted_body="<b>b</b>")
    changes = t.apply_sync(sync(e))
    assert changes.changed == ("$1",) and not changes.added
    assert t.item("$1").formatted_body == "<b>b</b>"


def test_redaction_leaves_a_placeholder_and_clears_content_edits_and_reactions():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", "secret", format="org.matrix.custom.html",
                          formatted_body="<i>secret</i>"), edit("$e", "$1", "also secret"),
                      react("$r", "$1", "👍")))
    changes = t.apply_sync(sync(redaction("$d", "$1")))
    m = t.item("$1")
    assert (m.redacted, m.body, m.formatted_body, m.reactions, m.edited) == (
        True, "", None, [], False)
    assert changes.changed == ("$1",)


def test_room_v11_redaction_and_already_redacted_events_from_the_server():
    t = TimelineModel()
    redacted = {"type": "m.room.message", "event_id": "$2", "sender": BOB, "content": {},
                "unsigned": {"redacted_because": {"type": "m.room.redaction"}}}
    t.apply_sync(sync(msg("$1", "a"), redacted, redaction("$d", "$1", in_content=True)))
    assert [(m.key, m.redacted) for m in messages(t).values()] == [("$1", True), ("$2", True)]


def test_redacting_a_reaction_or_an_edit_withdraws_it():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", "orig"), edit("$e", "$1", "new"), react("$r", "$1", "👍")))
    t.apply_sync(sync(redaction("$d1", "$r"), redaction("$d2", "$e")))
    m = t.item("$1")
    assert (m.body, m.edited, m.reactions, m.redacted) == ("orig", False, [], False)


def test_a_redaction_arriving_before_its_target_applies_when_the_target_comes():
    t = TimelineModel()
    t.apply_sync(sync(msg("$2", "b"), redaction("$d", "$1"), redaction("$d2", "$r")))
    t.prepend_page([react("$r", "$1", "👍"), msg("$1", "a")], end="p")
    m = t.item("$1")
    assert m.redacted and m.reactions == []


def test_replies_name_their_target_and_lose_the_fallback():
    t = TimelineModel()
    reply = msg("$2", "> <@bob:hs> original\n> more\n\nmy answer",
                format="org.matrix.custom.html",
                formatted_body="<mx-reply><blockquote>original</blockquote></mx-reply>answer",
                **{"m.relates_to": {"m.in_reply_to": {"event_id": "$1"}}})
    t.apply_sync(sync(msg("$1", "original"), reply))
    m = t.item("$2")
    assert (m.reply_to, m.body, m.formatted_body) == ("$1", "my answer", "answer")
    assert t.message(m.reply_to).body == "original"


def test_a_changed_reply_target_marks_its_replies_changed_for_their_preview():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", "orig"),
                      msg("$2", "re", **{"m.relates_to": {"m.in_reply_to": {"event_id": "$1"}}})))
    changes = t.apply_sync(sync(edit("$e", "$1", "new")))
    assert set(changes.changed) == {"$1", "$2"}


def test_a_reply_to_an_unknown_event_and_a_body_starting_with_quote_without_reply():
    t = TimelineModel()
    t.apply_sync(sync(msg("$2", "hi", **{"m.relates_to": {"m.in_reply_to": {"event_id": "$x"}}}),
                      msg("$3", "> quoting is fine\n\nwithout a reply")))
    assert t.item("$2").reply_to == "$x" and t.message("$x") is None
    assert t.item("$3").body == "> quoting is fine\n\nwithout a reply"


def test_strip_reply_fallback_keeps_a_body_that_is_only_a_quote_empty():
    assert strip_reply_fallback("> a\n> b", None) == ("", None)
    assert strip_reply_fallback("plain", "<mx-reply>x</mx-reply>") == ("plain", "")


# -- bad input ------------------------------------------------------------------------

BAD_EVENTS = [
    "not an event", None, 5, [],
    {"type": "m.room.message", "event_id": "$b1", "sender": BOB},  # no content
    {"type": "m.room.message", "event_id": "$b2", "sender": BOB, "content": []},
    {"type": 7, "event_id": "$b3", "sender": BOB, "content": {}},
    {"type": "m.room.message", "event_id": 12, "sender": BOB, "content": {"body": "x"}},
    {"type": "m.room.message", "sender": BOB, "content": {"body": "no id"}},
    {"type": "m.room.message", "event_id": "$b4", "content": {"body": "no sender"}},
    {"type": "m.room.message", "event_id": "$b5", "sender": ["@x:hs"], "content": {"body": "x"}},
    {"type": "m.room.message", "event_id": "$b6", "sender": BOB, "origin_server_ts": "soon",
     "content": {"body": "x"}},
    msg("$b7", None),  # non-string body
    {"type": "m.room.message", "event_id": "$b8", "sender": BOB, "content": {"msgtype": "m.text"}},
    react("$b9", "$ok", "k" * 1024),  # a 1 KB key
    react("$b10", "$ok", 5),
    {"type": "m.reaction", "event_id": "$b11", "sender": BOB, "content": {"m.relates_to": "x"}},
    edit("$b12", "$ok", "x") | {"content": {"m.relates_to": {"rel_type": "m.replace",
                                                               "event_id": "$ok"},
                                            "m.new_content": "not a dict"}},
    edit("$b13", "$ok", "x") | {"content": {"m.relates_to": {"rel_type": "m.replace",
                                                               "event_id": ["$ok"]}}},
    {"type": "m.room.redaction", "event_id": "$b14", "sender": BOB, "content": {}},
    {"type": "m.room.redaction", "event_id": "$b15", "sender": BOB, "redacts": {"x": 1},
     "content": {}},
    msg("$b16", "bad unsigned") | {"unsigned": "nope"},
    msg("$b17", "bad relates", **{"m.relates_to": {"m.in_reply_to": "nope"}}),
    msg("$b18", "odd", msgtype=["m.text"], format="org.matrix.custom.html", formatted_body=5),
]


@pytest.mark.parametrize("bad", BAD_EVENTS, ids=range(len(BAD_EVENTS)))
def test_each_malformed_event_costs_only_itself(bad):
    t = TimelineModel()
    t.apply_sync(sync(msg("$ok", "fine"), bad, msg("$ok2", "also fine")))
    t.prepend_page([bad, msg("$old", "older")], end="p")
    t.apply_sync({"events": [bad], "limited": True, "prev_batch": 5})
    assert t.item("$ok").body == "fine" and t.item("$ok").reactions == []
    assert not t.item("$ok").edited and not t.item("$ok").redacted
    assert {"$ok", "$ok2", "$old"} <= set(messages(t))


def test_malformed_events_are_reported_and_the_report_stays_bounded():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", None)))
    assert t.problems == ["m.room.message without a string body ($1)"]
    t.apply_sync(sync(*[msg(f"$x{i}", None) for i in range(200)]))
    assert len(t.problems) == 50


def test_malformed_sections_are_empty_not_errors():
    t = TimelineModel()
    for section in (None, [], {"events": "x"}, {"events": None, "limited": "yes"}):
        t.apply_sync(section)
    t.prepend_page("not a list", end=None, gap_key="nope")
    assert shape(t) == [("gap", None)]


def test_unknown_msgtype_shows_its_body_and_a_64_kb_body_is_kept_whole():
    t = TimelineModel()
    big = "x" * 65_536
    t.apply_sync(sync(msg("$1", "custom", msgtype="org.example.poll"), msg("$2", big)))
    assert (t.item("$1").body, t.item("$1").msgtype) == ("custom", "org.example.poll")
    assert t.item("$2").body == big


def test_a_redaction_of_an_unknown_event_changes_nothing_visible():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", "a")))
    assert not t.apply_sync(sync(redaction("$d", "$nowhere")))


def test_event_ids_that_could_pose_as_markers_or_echoes_are_refused():
    t = TimelineModel()
    t.add_local_echo("txn1", {"body": "mine"}, ME, 1)
    t.apply_sync(sync(msg("start", "fake start"), msg("gap:top", "fake gap"),
                      msg("txn1", "fake echo"), msg("$1", "real")))
    assert shape(t) == [("gap", "p0"), "real", "mine"]
    assert t.item("txn1").status == PENDING


def test_a_page_repeating_events_below_a_gap_does_not_close_it():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", "a")))
    t.apply_sync(sync(msg("$5", "e"), limited=True, prev_batch="p5"))
    gap = t.items()[2].key
    t.prepend_page([msg("$5", "e"), msg("$4", "d")], end="p4", gap_key=gap)
    assert shape(t) == [("gap", "p0"), "a", ("gap", "p4"), "d", "e"]


def test_a_deleted_reply_no_longer_points_at_its_target():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", "a"),
                      msg("$2", "re", **{"m.relates_to": {"m.in_reply_to": {"event_id": "$1"}}}),
                      redaction("$d", "$2")))
    assert (t.item("$2").redacted, t.item("$2").reply_to) == (True, None)
    assert set(t.apply_sync(sync(edit("$e", "$1", "b"))).changed) == {"$1"}


def test_an_unexpected_error_costs_only_the_event_that_caused_it(monkeypatch):
    t = TimelineModel()
    real = TimelineModel._add_message

    def broken(self, event, position):
        if event["event_id"] == "$bad":
            raise RuntimeError("a bug")
        real(self, event, position)

    monkeypatch.setattr(TimelineModel, "_add_message", broken)
    t.apply_sync(sync(msg("$1", "a"), msg("$bad", "b"), msg("$3", "c")))
    assert shape(t)[1:] == ["a", "c"] and t.problems == ["an event could not be taken in ($bad)"]


def test_membership_changes_are_items_in_order_with_what_they_mean():
    t = TimelineModel()
    t.apply_sync(sync(
        member("$m1", "@a:hs", "join"), msg("$1", "hi"),
        member("$m2", "@a:hs", "join", prev="join", name="Ann", prev_name="a"),
        member("$m3", "@c:hs", "invite", sender=BOB), member("$m4", "@c:hs", "leave", prev="invite"),
        member("$m5", "@d:hs", "invite", sender=BOB),
        member("$m6", "@d:hs", "leave", sender=BOB, prev="invite"),
        member("$m7", "@a:hs", "leave", sender=BOB, prev="join"),
        member("$m8", "@e:hs", "ban", sender=BOB, prev="join"),
        member("$m9", "@e:hs", "leave", sender=BOB, prev="ban"),
        member("$m10", "@a:hs", "leave", prev="join"),
        member("$m11", "@f:hs", "knock"),
        member("$bad", "@g:hs", None), {**member("$bad2", "@g:hs", "join"), "state_key": ""},
    ))
    assert shape(t)[1:] == [
        ("join", "@a:hs"), "hi", ("profile", "@a:hs"), ("invite", "@c:hs"), ("reject", "@c:hs"),
        ("invite", "@d:hs"), ("withdraw", "@d:hs"), ("kick", "@a:hs"), ("ban", "@e:hs"),
        ("unban", "@e:hs"), ("leave", "@a:hs"), ("knock", "@f:hs")]
    change = t.item("$m2")
    assert (change.name, change.previous_name) == ("Ann", "a")
    assert len(t.problems) == 2


def test_the_limit_counts_membership_changes_too():
    t = TimelineModel(limit=2)
    t.apply_sync(sync(*[member(f"$m{i}", f"@u{i}:hs", "join") for i in range(5)]))
    assert shape(t) == [("gap", None), ("join", "@u3:hs"), ("join", "@u4:hs")]


def test_timestamps_far_in_the_future_or_negative_keep_the_servers_order():
    t = TimelineModel()
    t.apply_sync(sync(msg("$1", "first", ts=2**70), msg("$2", "second", ts=-10**15),
                      msg("$3", "third", ts=-1), msg("$4", "fourth", ts=10**400)))
    assert [m.body for m in t.items() if isinstance(m, Message)] == [
        "first", "second", "third", "fourth"]
    assert [t.item(k).ts for k in ("$1", "$2", "$3")] == [2**70, -10**15, -1]
