"""Megolm replays (pyapp.client.replay_guard, and how CryptoSession shows them): the same
ciphertext in a new event says it is a copy; the same event seen again (a page of history, a
stored sync replayed) is not a replay. And the warning on a message from a device the engine
cannot vouch for: the engine's alone."""

from __future__ import annotations

import asyncio

from pyapp.client.crypto import UNREADABLE, CryptoSession
from pyapp.client.replay_guard import ReplayGuard
from pyapp.client.timeline_model import TimelineModel
from tests.unit.crypto_fakes import FakeHttp, FakeProvider, encrypted_event, encryption_state, sync

ROOM = "!r:x"
ME, BOB = "@me:x", "@bob:x"


def _copy(event, event_id):
    return {**event, "event_id": event_id, "content": dict(event["content"])}


def test_the_first_event_keeps_its_ciphertext_and_another_event_with_it_is_a_replay():
    guard = ReplayGuard()
    original = encrypted_event("$a", BOB, "s1")
    assert not guard.is_replay(original)
    assert not guard.is_replay(original)  # seen again: still the first
    assert guard.is_replay(_copy(original, "$b"))
    assert not guard.is_replay(encrypted_event("$c", BOB, "s2"))  # same text, other session
    assert not guard.is_replay({"event_id": "$d", "content": "not a dict"})


def test_the_guard_forgets_the_oldest_beyond_its_limit():
    guard = ReplayGuard(limit=2)
    events = [encrypted_event(f"${i}", BOB, f"s{i}") for i in range(3)]
    for event in events:
        guard.is_replay(event)
    assert not guard.is_replay(_copy(events[0], "$x"))  # forgotten, taken as new
    assert guard.is_replay(_copy(events[2], "$y"))


async def encrypted_room_session() -> CryptoSession:
    """A session with its engine loaded for ROOM (encrypted, Bob in it), holding key s1."""
    provider = FakeProvider()
    provider.engine.keys.add("s1")
    tasks: list[asyncio.Task] = []
    session = CryptoSession(FakeHttp({ROOM: [ME, BOB]}), lambda: provider.open(ME, "DEV"),
                            on_decrypted=lambda room, events: None,
                            spawn=lambda coro: tasks.append(asyncio.ensure_future(coro)))
    await session.on_sync(sync(state={ROOM: [encryption_state(ROOM)]}))
    while tasks:
        await tasks.pop(0)
    return session


async def test_a_replayed_megolm_message_shows_as_a_copy_not_as_a_second_message():
    session = await encrypted_room_session()
    original = encrypted_event("$a", BOB, "s1")
    body = sync({ROOM: [original, _copy(original, "$b")]}, batch="s2")
    await session.on_sync(body)
    later = sync({ROOM: [_copy(original, "$c")]}, batch="s3")
    await session.on_sync(later)
    page = [_copy(original, "$a")]  # the original again, in a page of history
    await session.decrypt_page(ROOM, page)
    model = TimelineModel()
    model.apply_sync(body["rooms"]["join"][ROOM]["timeline"])
    model.apply_sync(later["rooms"]["join"][ROOM]["timeline"])
    assert [model.message(e).body for e in ("$a", "$b", "$c")] == [
        "hi", UNREADABLE["replayed"], UNREADABLE["replayed"]]
    assert page[0]["type"] == "m.room.message"


def test_a_warning_comes_from_the_engine_only_and_shows_beside_the_message():
    from pyapp.client.crypto import WARNING_KEY, WARNINGS, clear_event

    envelope = encrypted_event("$w", BOB, "s1", unsigned={WARNING_KEY: "unknown_device"})
    forged = clear_event(envelope, {"type": "m.room.message",
                                    "content": {"msgtype": "m.text", "body": "hi"}})
    assert WARNING_KEY not in forged["unsigned"]  # the server cannot raise (or fake) one
    flagged = clear_event(envelope, {"type": "m.room.message", WARNING_KEY: "unknown_device",
                                     "content": {"msgtype": "m.text", "body": "hi"}})
    odd = clear_event(envelope, {"type": "m.room.message", WARNING_KEY: "made-up",
                                 "content": {"msgtype": "m.text", "body": "hi"}})
    model = TimelineModel()
    model.apply_sync({"events": [{**forged, "event_id": "$a"}, {**flagged, "event_id": "$b"},
                                 {**odd, "event_id": "$c"}]})
    assert [model.message(e).warning for e in ("$a", "$b", "$c")] == [
        None, WARNINGS["unknown_device"], None]


async def test_an_unreadable_event_with_an_odd_unsigned_says_why_and_fails_nothing_else():
    session = await encrypted_room_session()
    original = encrypted_event("$a", BOB, "s1")
    body = sync({ROOM: [encrypted_event("$b", BOB, "broken", unsigned="junk"), original,
                        {**_copy(original, "$c"), "unsigned": ["junk"]}]}, batch="s2")
    await session.on_sync(body)
    model = TimelineModel()
    model.apply_sync(body["rooms"]["join"][ROOM]["timeline"])
    assert [model.message(e).body for e in ("$b", "$a", "$c")] == [
        UNREADABLE["broken"], "hi", UNREADABLE["replayed"]]
