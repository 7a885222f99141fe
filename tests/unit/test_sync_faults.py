"""One odd event, room or callback must cost only itself: the sync loop goes on, later messages
still arrive and are shown, and the connection status never says Online while the loop is dead.

Federation can deliver events Synapse would refuse from its own clients (`content: []`, a
numeric sender, a timestamp in the year 30000); the fake homeserver injects them into a real
ChatService's sync answers."""

from __future__ import annotations

import asyncio

import pytest

from pyapp.client.rooms import RoomList
from pyapp.client.service import ChatConfig, ChatService
from pyapp.client.storage import MemoryStorage
from pyapp.client.sync_events import clean_sync
from pyapp.ui.format import UNKNOWN_DAY, Clock
from pyapp.ui.viewmodel import CHAT, ChatViewModel, DayView, MessageView

from .ui_fake_homeserver import BOT, NOW, FakeHomeserver, until

YEAR_10000_MS = 253_402_300_800_000  # 10000-01-01T00:00:00Z


def event_meta(slug):
    return {"entity_type": "event", "entity_slug": slug, "tenant_id": "t1"}


@pytest.fixture
async def world():
    hs = FakeHomeserver()
    alice = hs.add_user("alice_t1")
    bob = hs.add_user("bob_t1")
    room = hs.create_room("Picnic", BOT, metadata=event_meta("picnic"))
    other = hs.create_room("Hike", BOT, metadata=event_meta("hike"))
    for r in (room, other):
        hs.join(r, alice)
        hs.join(r, bob)
    service = ChatService(ChatConfig("http://hs", tenant="t1", bot_user_id=BOT), hs,
                          MemoryStorage(), clock=lambda: NOW)
    models = []

    def vm(slug="picnic"):
        model = ChatViewModel(service, "sidebar", "event", slug, clock=Clock(lambda: NOW, 0))
        models.append(model)
        return model

    class World:
        pass

    w = World()
    w.hs, w.alice, w.bob, w.room, w.other, w.service, w.vm = (
        hs, alice, bob, room, other, service, vm)
    await service.login_password("alice_t1", "pw")
    await until(lambda: service.synced and service.status == "online")
    yield w
    for model in models:
        model.close()
    await service.stop()


def bodies(model):
    return [i.body for i in model.state.items if isinstance(i, MessageView)]


def odd_event(n, **fields):
    event = {"type": "m.room.message", "sender": "@mallory:elsewhere", "event_id": f"$odd{n}",
             "origin_server_ts": 1_700_000_000_000,
             "content": {"msgtype": "m.text", "body": "odd"}}
    event.update(fields)
    return event


ODD_TIMELINE_EVENTS = {
    "content empty list": odd_event(1, content=[]),
    "content list": odd_event(2, content=["body"]),
    "content string": odd_event(3, content="hello"),
    "body not a string": odd_event(4, content={"msgtype": "m.text", "body": 5}),
    "sender not a string": odd_event(5, sender=42),
    "unsigned a list": odd_event(6, unsigned=["x"]),
    "event not an object": "junk",
    "timestamp a string": odd_event(7, origin_server_ts="yesterday"),
    "metadata state a list": {"type": "com.openmeet.room.metadata", "state_key": "",
                              "sender": BOT, "event_id": "$odd8", "origin_server_ts": 1,
                              "content": ["event"]},
    "member content a list": {"type": "m.room.member", "state_key": "@mallory:elsewhere",
                              "sender": "@mallory:elsewhere", "event_id": "$odd9",
                              "origin_server_ts": 1, "content": ["join"]},
}


@pytest.mark.parametrize("odd", ODD_TIMELINE_EVENTS.values(), ids=ODD_TIMELINE_EVENTS.keys())
async def test_an_odd_timeline_event_is_skipped_and_later_messages_still_arrive(world, odd):
    model = world.vm()
    await until(lambda: model.state.screen == CHAT)

    def inject(body):
        body["rooms"]["join"][world.room]["timeline"]["events"].append(odd)
        return body

    world.hs.sync_rewrite = inject
    world.hs.post(world.room, world.bob, "before the odd one")
    await until(lambda: world.hs.sync_rewrite is None)
    world.hs.post(world.room, world.bob, "after the odd one")
    await until(lambda: "after the odd one" in bodies(model))
    assert bodies(model)[:1] == ["before the odd one"]
    assert not world.service.sync_loop.task.done()
    assert model.state.status_text == "Online"
    assert model.state.title == "Picnic"  # the room is still found by its (good) metadata


ODD_OTHER_EVENTS = {
    "typing content a list": ("ephemeral", {"type": "m.typing", "content": ["@bob"]}),
    "receipt content empty list": ("ephemeral", {"type": "m.receipt", "content": []}),
    "room account data a string": ("account_data", {"type": "m.fully_read", "content": "x"}),
}


@pytest.mark.parametrize("section,odd", ODD_OTHER_EVENTS.values(), ids=ODD_OTHER_EVENTS.keys())
async def test_odd_ephemeral_and_account_data_events_are_skipped(world, section, odd):
    model = world.vm()
    await until(lambda: model.state.screen == CHAT)

    def inject(body):
        body["rooms"]["join"][world.room][section]["events"].append(odd)
        return body

    world.hs.sync_rewrite = inject
    world.hs.post(world.room, world.bob, "first")
    await until(lambda: world.hs.sync_rewrite is None)
    world.hs.post(world.room, world.bob, "second")
    await until(lambda: bodies(model) == ["first", "second"])
    assert model.state.status_text == "Online"


async def test_an_invite_with_odd_state_is_listed_without_breaking_the_sync(world):
    model = world.vm()
    await until(lambda: model.state.screen == CHAT)

    def inject(body):
        body["rooms"]["invite"]["!odd:elsewhere"] = {"invite_state": {"events": [
            {"type": "m.room.name", "state_key": "", "sender": "@m:elsewhere", "content": ["x"]},
            {"type": "com.openmeet.room.metadata", "state_key": "", "sender": "@m:elsewhere",
             "content": "event"},
            {"type": "m.room.member", "state_key": world.alice, "sender": "@m:elsewhere",
             "content": {"membership": "invite"}},
        ]}}
        return body

    world.hs.sync_rewrite = inject
    world.hs.post(world.room, world.bob, "first")
    await until(lambda: world.service.room("!odd:elsewhere") is not None)
    world.hs.post(world.room, world.bob, "second")
    await until(lambda: bodies(model) == ["first", "second"])
    assert world.service.room("!odd:elsewhere").metadata is None


@pytest.mark.parametrize("ts", [YEAR_10000_MS, 10**15, 2**70, -10**15, -1],
                         ids=["year 10000", "year 33658", "2**70", "before year 1", "-1"])
async def test_a_message_with_an_impossible_timestamp_costs_only_itself(
        world, ts):
    model = world.vm()
    await until(lambda: model.state.screen == CHAT)
    world.hs.post(world.room, world.bob, "from the far future", ts=ts)
    world.hs.post(world.room, world.bob, "a normal one")
    if ts < 0:  # nio's schema (origin_server_ts minimum 0) rejects it: dropped, as nio did
        await until(lambda: bodies(model) == ["a normal one"])
    else:
        await until(lambda: bodies(model) == ["from the far future", "a normal one"])
        odd = next(i for i in model.state.items if isinstance(i, MessageView)
                   and i.body == "from the far future")
        days = [i.label for i in model.state.items if isinstance(i, DayView)]
        if ts >= YEAR_10000_MS:
            assert odd.time_text == "" and UNKNOWN_DAY in days
    # The dashboard's room list formats the same timestamps.
    dashboard = ChatViewModel(world.service, "dashboard", "all", clock=Clock(lambda: NOW, 0))
    try:
        await until(lambda: dashboard.state.rooms)
        assert {r.name for r in dashboard.state.rooms} == {"Picnic", "Hike"}
    finally:
        dashboard.close()


def test_clock_formats_unrepresentable_times_as_unknown():
    clock = Clock(lambda: NOW, 0)
    for ts in (YEAR_10000_MS, 10**400, -10**15):
        assert clock.time_text(ts) == ""
        assert clock.day_label(ts) == UNKNOWN_DAY
        assert clock.short_when(ts) == UNKNOWN_DAY
    assert clock.time_text(YEAR_10000_MS - 60_000) == "23:59"


def test_clean_sync_drops_only_malformed_events_and_says_where():
    good = {"type": "m.room.message", "sender": "@a:hs", "event_id": "$g",
            "origin_server_ts": 1, "content": {"body": "hi", "msgtype": "m.text"}}
    body = {"next_batch": "s1", "account_data": {"events": [{"type": "m.direct", "content": []}]},
            "rooms": {"join": {"!r:hs": {"timeline": {"events": [
                good, {**good, "event_id": "$b", "content": []}, 7,
                {**good, "event_id": "$u", "unsigned": "x"}]}}}}}
    problems = clean_sync(body)
    events = body["rooms"]["join"]["!r:hs"]["timeline"]["events"]
    assert [e["event_id"] for e in events] == ["$g", "$u"]
    assert "unsigned" not in events[1]
    assert body["account_data"]["events"] == []
    assert len(problems) == 4
    assert any("!r:hs timeline" in p and "$b" in p for p in problems)


async def test_an_exception_while_reading_a_sync_skips_that_answer_not_the_loop(
        world, monkeypatch):
    model = world.vm()
    await until(lambda: model.state.screen == CHAT)
    original = RoomList.apply_sync
    calls = {"n": 0}

    def broken_once(self, raw):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("could not digest this")
        return original(self, raw)

    monkeypatch.setattr(RoomList, "apply_sync", broken_once)
    world.hs.post(world.room, world.bob, "in the broken answer")
    await until(lambda: calls["n"] >= 1)
    world.hs.post(world.room, world.bob, "after it")
    await until(lambda: bodies(model) == ["after it"])
    assert model.state.status_text == "Online"
    assert not world.service.sync_loop.task.done()


async def test_one_room_that_fails_to_apply_does_not_stop_the_others(world, monkeypatch):
    picnic, hike = world.vm("picnic"), world.vm("hike")
    await until(lambda: picnic.state.screen == CHAT and hike.state.screen == CHAT)
    original = RoomList._copy_state

    def broken_for_picnic(room, state):
        if room.room_id == world.room:
            raise KeyError("something in the room's state that we did not expect")
        original(room, state)

    monkeypatch.setattr(RoomList, "_copy_state", staticmethod(broken_for_picnic))
    world.hs.post(world.room, world.bob, "picnic news")
    world.hs.post(world.other, world.bob, "hike news")
    await until(lambda: bodies(hike) == ["hike news"])
    # The failing room still got what was applied before the failure.
    await until(lambda: bodies(picnic) == ["picnic news"])
    monkeypatch.setattr(RoomList, "_copy_state", staticmethod(original))
    world.hs.post(world.room, world.bob, "picnic again")
    await until(lambda: bodies(picnic) == ["picnic news", "picnic again"])
    assert world.service.status == "online"


async def test_a_failing_callback_stops_neither_the_loop_nor_the_other_views(world):
    model = world.vm()
    await until(lambda: model.state.screen == CHAT)

    def broken(_):
        raise RuntimeError("a host page's listener is broken")

    world.service.subscribe(broken)
    model.subscribe(broken)
    seen = []
    model.subscribe(lambda state: seen.append(bodies(model)))
    world.hs.post(world.room, world.bob, "still flowing")
    await until(lambda: seen and seen[-1] == ["still flowing"])
    world.hs.post(world.room, world.bob, "and again")
    await until(lambda: seen[-1] == ["still flowing", "and again"])
    assert world.service.status == "online"


async def test_a_failure_after_the_rooms_are_applied_still_shows_them(world, monkeypatch):
    model = world.vm()
    await until(lambda: model.state.screen == CHAT)

    def broken():
        raise RuntimeError("invite handling failed")

    monkeypatch.setattr(world.service, "_accept_tenant_invites", broken)
    world.hs.post(world.room, world.bob, "shown anyway")
    await until(lambda: bodies(model) == ["shown anyway"])
    world.hs.post(world.room, world.bob, "and the next")
    await until(lambda: bodies(model) == ["shown anyway", "and the next"])


async def test_a_dead_sync_loop_is_reported_and_restarted(world):
    model = world.vm()
    await until(lambda: model.state.screen == CHAT)
    statuses = []
    world.service.subscribe(lambda change: statuses.append(
        (world.service.status, world.service.status_message)))
    task = world.service.sync_loop.task
    task.cancel()  # ends without stop(): as if something escaped the loop
    await until(lambda: statuses)
    assert statuses[0] == ("offline", "The chat stopped updating. Reconnecting…")
    await until(lambda: world.service.sync_loop.task is not task
                and world.service.status == "online", timeout=5)
    world.hs.post(world.room, world.bob, "after the restart")
    await until(lambda: bodies(model) == ["after the restart"])


async def test_a_loop_that_raises_past_its_handlers_is_reported_and_restarted(
        world, monkeypatch):
    model = world.vm()
    await until(lambda: model.state.screen == CHAT)
    service = world.service
    original = service.sync_loop._wait_backoff
    calls = {"n": 0}

    async def broken_once(message):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("escaped the loop")
        await original(message)

    monkeypatch.setattr(service.sync_loop, "_wait_backoff", broken_once)
    task = service.sync_loop.task
    world.hs.sync_errors = 1
    world.hs.post(world.room, world.bob, "wake")
    await until(lambda: task.done())
    assert service.status != "online"
    await until(lambda: service.sync_loop.task is not task and service.status == "online")
    world.hs.post(world.room, world.bob, "after the restart")
    await until(lambda: bodies(model) == ["wake", "after the restart"])


async def test_stop_and_logout_do_not_restart_the_loop(world):
    await world.service.logout()
    await asyncio.sleep(0)
    assert world.service.sync_loop is None
    assert world.service.status == "signed_out"
