"""The load test's counting (benchmarks/load_ledger.py): lost and duplicated deliveries,
the members' send schedule and the backfill after a limited sync."""

import random

import pytest

from benchmarks.load_ledger import Ledger, backfill_events, message_body, send_times, uid_of


def ledger_two_rooms() -> Ledger:
    led = Ledger()
    for client, room in (("m0", "!a"), ("m1", "!a"), ("m2", "!b")):
        led.add_client(client, room)
    return led


def test_every_message_once_is_complete():
    led = ledger_two_rooms()
    led.record_sent("m0-1", "!a")
    led.record_sent("m2-1", "!b")
    for client in ("m0", "m1"):
        led.record_received(client, "m0-1")
    assert not led.complete()
    led.record_received("m2", "m2-1")
    assert led.complete()
    r = led.report()
    assert (r["lost"], r["duplicated"], r["unexpected"]) == (0, 0, 0)
    assert r["deliveries"] == r["expected_deliveries"] == 3


def test_lost_and_duplicated_are_counted_per_client():
    led = ledger_two_rooms()
    led.record_sent("m0-1", "!a")
    led.record_sent("m0-2", "!a")
    led.record_received("m0", "m0-1")
    led.record_received("m0", "m0-2")
    led.record_received("m1", "m0-1")
    led.record_received("m1", "m0-1")  # delivered twice
    assert led.missing("m1") == {"m0-2"}
    r = led.report()
    assert (r["lost"], r["duplicated"]) == (1, 1)
    assert r["expected_deliveries"] == 4 and r["deliveries"] == 3


def test_a_message_from_another_room_or_never_acknowledged_is_unexpected():
    led = ledger_two_rooms()
    led.record_unacknowledged("m0-1", "!a")  # the send's answer was lost...
    led.record_received("m1", "m0-1")  # ...but the server stored it
    led.record_sent("m2-1", "!b")
    led.record_received("m0", "m2-1")  # leaked across rooms
    led.record_received("m2", "m2-1")
    r = led.report()
    assert r["unexpected"] == 2 and r["unacknowledged"] == 1 and r["lost"] == 0


def test_a_retried_send_that_succeeds_is_acknowledged():
    led = ledger_two_rooms()
    led.record_unacknowledged("m0-1", "!a")
    led.record_sent("m0-1", "!a")
    led.record_unacknowledged("m0-1", "!a")  # a late failure report changes nothing
    assert led.report()["unacknowledged"] == 0 and led.sent == {"m0-1": "!a"}


def test_uid_round_trip_and_other_events_ignored():
    event = {"type": "m.room.message",
             "content": {"msgtype": "m.text", "body": message_body("m3-7")}}
    assert uid_of(event) == "m3-7"
    assert uid_of({"type": "m.room.message", "content": {"body": "lat-1"}}) is None
    assert uid_of({"type": "m.room.member", "content": {"body": message_body("x")}}) is None


def test_send_times_rate_and_jitter():
    rng = random.Random(1)
    times = send_times(3600, 45, 1 / 3, rng)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert 0 <= times[0] < 45 and times[-1] < 3600
    assert min(gaps) >= 30 and max(gaps) <= 60
    assert 75 <= len(times) <= 85  # one per 45 s on average
    assert len(send_times(5, 45, 0.3, random.Random(2))) <= 1  # shorter than one interval
    with pytest.raises(ValueError):
        send_times(10, 0, 0.1, rng)
    with pytest.raises(ValueError):
        send_times(10, 5, 1.0, rng)


def test_backfill_stops_at_the_first_known_event():
    chunk = [{"event_id": "$5"}, {"event_id": "$4"}, {"event_id": "$3"}, {"event_id": "$2"}]
    new, done = backfill_events(chunk, {"$3", "$1"})
    assert [e["event_id"] for e in new] == ["$5", "$4"] and done
    new, done = backfill_events(chunk, set())
    assert len(new) == 4 and not done


def test_append_replaces_only_the_latest_run_of_the_load_section():
    from benchmarks.load import with_latest_run

    doc = ("# Benchmarks\n\n## Load\n\nHow to run.\n\n### Latest run\n\nold figures\n\n"
           "### Reading\n\nnotes\n\n## Chat\n\nchat figures\n")
    out = with_latest_run(doc, "new figures")
    assert out == doc.replace("old figures", "new figures")
    assert with_latest_run(out, "newer") == doc.replace("old figures", "newer")
    fresh = with_latest_run("# Benchmarks\n", "first")
    assert fresh == "# Benchmarks\n\n## Load\n\n### Latest run\n\nfirst\n"
    no_run = with_latest_run("# B\n\n## Load\n\nHow.\n\n## Chat\n\nc\n", "f")
    assert no_run == "# B\n\n## Load\n\nHow.\n\n### Latest run\n\nf\n\n## Chat\n\nc\n"
