from pyapp.client.timeline import FAILED, PENDING, SENT, Timeline


def remote(event_id, body, txn=None, sender="@bob:hs", ts=1):
    event = {"type": "m.room.message", "event_id": event_id, "sender": sender,
             "origin_server_ts": ts, "content": {"msgtype": "m.text", "body": body}}
    if txn:
        event["unsigned"] = {"transaction_id": txn}
    return event


def test_local_echo_is_confirmed_in_place_by_the_sync_echo():
    t = Timeline()
    local = t.add_local("txn1", "@me:hs", "hi", now_ms=5)
    assert [m.status for m in t.messages] == [PENDING]
    t.add_remote(remote("$e1", "hi", txn="txn1", sender="@me:hs", ts=7))
    assert [(m.key, m.status, m.event_id, m.ts) for m in t.messages] == [("txn1", SENT, "$e1", 7)]
    assert t.messages[0] is local


def test_send_response_then_echo_without_transaction_id_never_duplicates():
    t = Timeline()
    t.add_local("txn1", "@me:hs", "hi", now_ms=5)
    t.mark_sent("txn1", "$e1")
    t.add_remote(remote("$e1", "hi", sender="@me:hs"))  # e.g. echo seen by another device
    assert [m.body for m in t.messages] == ["hi"]


def test_echo_before_send_response_is_not_shown_twice():
    t = Timeline()
    t.add_local("txn1", "@me:hs", "hi", now_ms=5)
    t.add_remote(remote("$e1", "hi", txn="txn1"))
    t.mark_sent("txn1", "$e1")
    assert len(t.messages) == 1 and t.messages[0].status == SENT


def test_remote_messages_stay_above_pending_ones():
    t = Timeline()
    t.add_local("txn1", "@me:hs", "mine", now_ms=5)
    t.add_remote(remote("$e1", "theirs"))
    assert [m.body for m in t.messages] == ["theirs", "mine"]


def test_failed_message_keeps_its_text_and_can_go_back_to_pending():
    t = Timeline()
    t.add_local("txn1", "@me:hs", "keep me", now_ms=5)
    t.mark_failed("txn1", "Not sent: no connection.")
    m = t.messages[0]
    assert (m.status, m.body, m.error) == (FAILED, "keep me", "Not sent: no connection.")
    assert t.unconfirmed() == [m]
    t.mark_pending("txn1")
    assert (m.status, m.error) == (PENDING, None)


def test_duplicate_and_non_message_events_are_ignored():
    t = Timeline()
    assert t.add_remote(remote("$e1", "a"))
    assert not t.add_remote(remote("$e1", "a"))
    assert not t.add_remote({"type": "m.room.member", "event_id": "$m", "content": {}})
    assert not t.add_remote({"type": "m.room.message", "event_id": "$x",
                             "content": {"msgtype": "m.image", "body": "x.png"}})
    assert [m.body for m in t.messages] == ["a"]


def test_a_limited_sync_drops_the_old_contiguous_history_but_keeps_pending():
    t = Timeline()
    t.add_remote(remote("$old", "old"))
    t.add_local("txn1", "@me:hs", "pending", now_ms=5)
    t.reset()
    t.add_remote(remote("$new", "new"))
    assert [m.body for m in t.messages] == ["new", "pending"]
