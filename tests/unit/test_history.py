"""History in the chat's view models: back-pagination (loading state, token, the beginning),
a `limited` sync's gap filled or shown, "Jump to latest" counting, membership noise collapsed,
the bot's events hidden, and signing out a stored session (the platform's sign-out)."""

from __future__ import annotations

import asyncio

from pyapp.client.rooms import Room
from pyapp.client.service import PAGE_SIZE, ChatConfig, ChatService
from pyapp.client.storage import MemoryStorage
from pyapp.client.timeline import Timeline
from pyapp.client.timeline_model import MemberChange
from pyapp.ui.format import Clock
from pyapp.ui.parts.timeline import (GapView, MembersView, MessageView, StartView, TimelinePart,
                                     members_text, unseen_count)

from .test_ui_viewmodel import BOT, NOW, signed_in, until, world  # noqa: F401  (fixture)

ME, BOB, CAROL, DAVE = "@alice_t1:hs", "@bob_t1:hs", "@carol_t1:hs", "@dave_t1:hs"


def ev(n, sender=BOB, body=None, ts=None):
    return {"type": "m.room.message", "sender": sender, "event_id": f"$m{n}",
            "origin_server_ts": ts or int(NOW * 1000) - 100_000 + n,
            "content": {"msgtype": "m.text", "body": body or f"m{n}"}}


def member(n, user, membership="join", sender=None, prev=None, name=None, prev_name=None):
    event = {"type": "m.room.member", "state_key": user, "sender": sender or user,
             "event_id": f"$j{n}", "origin_server_ts": int(NOW * 1000) - 200_000 + n,
             "content": {"membership": membership, **({"displayname": name} if name else {})}}
    if prev:
        event["unsigned"] = {"prev_content": {"membership": prev, **(
            {"displayname": prev_name} if prev_name else {})}}
    return event


def create():
    return {"type": "m.room.create", "state_key": "", "sender": BOT, "event_id": "$create",
            "origin_server_ts": 1, "content": {"creator": BOT}}


def room_with(*syncs) -> Room:
    room = Room("!r:hs", members={ME: "Alice", BOB: "Bob", CAROL: "Carol", DAVE: "Dave"},
                timeline=Timeline())
    for section in syncs:
        room.timeline.apply_sync(section)
    return room


def part(hidden=(BOT,)):
    p = TimelinePart(Clock(lambda: NOW, 0), "event")
    p.hidden = frozenset(hidden)
    return p


def kinds(items):
    return [i.body if isinstance(i, MessageView) else
            ("gap", i.top, i.loading) if isinstance(i, GapView) else
            "start" if isinstance(i, StartView) else
            ("members", i.text) if isinstance(i, MembersView) else "day" for i in items]


# -- membership noise ------------------------------------------------------------------
def change(user, membership="join", sender=None, previous=None, name=None, previous_name=None):
    return MemberChange(key=user + membership, sender=sender or user, user_id=user,
                        membership=membership, ts=1, previous=previous, name=name,
                        previous_name=previous_name)


def names(uid):
    return uid[1:].split("_")[0].title()


def test_joins_and_leaves_collapse_into_one_line():
    assert members_text([change(BOB)], names) == "Bob joined"
    assert members_text([change(BOB), change(CAROL)], names) == "Bob and Carol joined"
    assert members_text([change(BOB), change(CAROL), change(DAVE)], names) == "3 people joined"
    assert members_text([change(BOB), change(CAROL), change(DAVE), change(BOB, "leave")],
                        names) == "3 people joined, Bob left"
    assert members_text([change(BOB, "join", previous="join", name="Robert",
                                previous_name="Bob")], names) == "Bob is now Robert"
    assert members_text([change(CAROL, "leave", sender=BOB)], names) == "Carol was removed"


def test_a_run_of_membership_events_is_one_item_and_the_bots_own_are_hidden():
    room = room_with({"events": [create(), member(1, BOT), member(2, ME, "invite", sender=BOT),
                                 member(3, BOB, "invite", sender=BOT), member(4, ME),
                                 member(5, BOB), member(6, CAROL), ev(7, BOT, "I am the bot"),
                                 ev(8, BOB, "hello"), member(9, DAVE)],
                      "prev_batch": "p0"})
    items = part().items(room, ME)
    assert kinds(items) == ["start", "day", ("members", "3 people joined"), "hello",
                            ("members", "Dave joined")]
    shown_all = part(hidden=()).items(room, ME)
    assert "I am the bot" in kinds(shown_all)


# -- history and gaps ------------------------------------------------------------------
def test_the_top_is_a_gap_to_load_until_the_page_holding_the_creation_arrives():
    room = room_with({"events": [ev(n) for n in range(50, 60)], "limited": True,
                      "prev_batch": "t50"})
    items = part().items(room, ME)
    assert kinds(items)[0] == ("gap", True, False)
    room.timeline.set_gap_loading(items[0].key, True)
    assert kinds(part().items(room, ME))[0] == ("gap", True, True)
    view = part().view(room, ME)
    assert view.loading_earlier
    room.timeline.prepend_page([ev(n) for n in range(49, 39, -1)], "t40", items[0].key)
    assert kinds(part().items(room, ME))[:3] == [("gap", True, False), "day", "m40"]
    room.timeline.prepend_page([ev(n) for n in range(39, 0, -1)] + [create()], None,
                               items[0].key)
    shown = kinds(part().items(room, ME))
    assert shown[0] == "start" and shown[2:] == [f"m{n}" for n in range(1, 60)]


def test_a_limited_sync_leaves_a_gap_that_loads_and_keeps_what_was_shown_above_it():
    room = room_with({"events": [create(), ev(1), ev(2)], "prev_batch": "p0"},
                     {"events": [ev(40), ev(41)], "limited": True, "prev_batch": "t40"})
    items = part().items(room, ME)
    # What was shown before the gap is still shown (it used to vanish above the latest gap).
    assert kinds(items) == ["start", "day", "m1", "m2", ("gap", False, False), "m40", "m41"]
    gap = next(i for i in items if isinstance(i, GapView))
    assert gap.can_load
    room.timeline.prepend_page([ev(n) for n in range(39, 2, -1)] + [ev(2), ev(1)], "t1",
                               gap.key)
    assert kinds(part().items(room, ME))[2:] == [f"m{n}" for n in range(1, 42)]


def test_a_gap_without_a_token_says_it_cannot_be_loaded():
    room = room_with({"events": [create(), ev(1)], "prev_batch": "p0"},
                     {"events": [ev(9)], "limited": True})
    gap = next(i for i in part().items(room, ME) if isinstance(i, GapView))
    assert not gap.top and not gap.can_load


# -- jump to latest ----------------------------------------------------------------------
def test_messages_from_others_below_count_while_scrolled_up():
    room = room_with({"events": [create(), ev(1), ev(2)], "prev_batch": "p0"})
    p = part()
    assert p.view(room, ME).unseen == 0
    assert p.set_at_bottom(False)
    room.timeline.apply_sync({"events": [ev(3), ev(4, ME), ev(5, CAROL)]})
    assert p.view(room, ME).unseen == 2  # my own message is not news
    room.timeline.prepend_page([], None)  # earlier history does not count
    assert p.view(room, ME).unseen == 2
    p.set_at_bottom(True)
    assert p.view(room, ME).unseen == 0
    p.set_at_bottom(False)
    assert p.view(room, ME).unseen == 0


def test_unseen_count_is_zero_when_the_last_seen_message_is_gone():
    views = part().items(room_with({"events": [ev(1), ev(2)]}), ME)
    messages = [v for v in views if isinstance(v, MessageView)]
    assert unseen_count(messages, "$m1") == 1
    assert unseen_count(messages, "gone") == 0


# -- the service: /messages ----------------------------------------------------------------
async def test_paginate_loads_pages_backwards_with_a_loading_state_until_the_start(world):  # noqa: F811
    hs = world.hs
    hs.timeline_limit = 10
    for n in range(120):
        hs.post(world.room, world.bob, f"msg {n:03d}")
    model = world.vm()
    await signed_in(world, model)
    shown = lambda: [m.body for m in model.state.items if isinstance(m, MessageView)]  # noqa: E731
    assert shown() == [f"msg {n:03d}" for n in range(110, 120)]
    hs.messages_gate = asyncio.Event()
    loading = model.load_earlier()
    await until(lambda: model.state.loading_earlier)
    assert isinstance(model.state.items[0], GapView) and model.state.items[0].loading
    assert model.load_earlier() is not None and not await model.load_earlier()  # one at a time
    hs.messages_gate.set()
    assert await loading
    await until(lambda: not model.state.loading_earlier)
    call = hs.messages_calls[0]
    assert (call["dir"], call["limit"], call["from"]) == ("b", str(PAGE_SIZE), "p" + str(
        hs.rooms[world.room].timeline[-10][0]))
    assert '"lazy_load_members":true' in call["filter"]
    assert shown() == [f"msg {n:03d}" for n in range(60, 120)]
    assert hs.messages_calls[-1] == call  # no second request while one was on its way
    while not isinstance(model.state.items[0], StartView):
        assert await model.load_earlier()
        await until(lambda: not model.state.loading_earlier)
        assert len(hs.messages_calls) < 6
    assert shown() == [f"msg {n:03d}" for n in range(120)]
    assert hs.messages_calls[1]["from"] != call["from"]  # each page continues from the last


async def test_a_failed_page_leaves_the_gap_to_try_again(world):  # noqa: F811
    hs = world.hs
    hs.timeline_limit = 5
    for n in range(20):
        hs.post(world.room, world.bob, f"msg {n}")
    model = world.vm()
    await signed_in(world, model)
    hs.messages_down = True
    assert not await model.load_earlier()
    first = model.state.items[0]
    await until(lambda: isinstance(model.state.items[0], GapView)
                and not model.state.items[0].loading)
    hs.messages_down = False
    assert await model.load_earlier()
    assert first.key == model.state.items[0].key or isinstance(model.state.items[0], StartView)


async def test_a_limited_sync_is_filled_in_at_once(world):  # noqa: F811
    hs = world.hs
    model = world.vm()
    await signed_in(world, model)
    await world.service.stop()
    hs.timeline_limit = 10
    for n in range(25):
        hs.post(world.room, world.bob, f"while away {n}")
    world.service.start()
    await until(lambda: any(getattr(m, "body", "") == "while away 0"
                            for m in model.state.items))
    bodies = [m.body for m in model.state.items if isinstance(m, MessageView)]
    assert bodies == [f"while away {n}" for n in range(25)]
    assert not any(isinstance(i, GapView) and not i.top for i in model.state.items)


# -- signing out with the platform ---------------------------------------------------------
async def test_a_stored_session_is_signed_out_on_the_server_without_resuming(world):  # noqa: F811
    service = world.service
    await service.login_password("alice_t1", "pw")
    await until(lambda: service.synced)
    await service.stop()
    stored = service.storage
    again = ChatService(ChatConfig("http://hs", tenant="t1", bot_user_id=BOT), world.hs,
                        stored, clock=lambda: NOW)
    revoked = []
    real = world.hs.request

    async def spy(method, url, headers, body=None, timeout=None):
        if url.endswith("/logout"):
            revoked.append(headers.get("Authorization"))
        return await real(method, url, headers, body, timeout)

    world.hs.request = spy
    await again.sign_out_stored()
    assert revoked == ["Bearer tok-@alice_t1:localhost"]
    assert again.session is None and again.sessions.load() is None
    assert not await again.restore()
    await ChatService(ChatConfig("http://hs"), world.hs, MemoryStorage()).sign_out_stored()
