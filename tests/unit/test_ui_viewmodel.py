"""The chat view model against a real ChatService on an in-memory homeserver."""

from __future__ import annotations

import asyncio

import pytest

from pyapp.client.service import ChatConfig, ChatService
from pyapp.client.storage import MemoryStorage
from pyapp.ui.format import Clock
from pyapp.ui.viewmodel import (CHAT, CHECKING, JOINING, LOADING, NOT_FOUND, SIGNED_OUT_SCREEN,
                                ChatViewModel, DayView, MessageView)

from .ui_fake_homeserver import BOT, NOW, FakeHomeserver, until


class ManualTimers:
    """Timers the test fires by hand, so idle timeouts need no waiting."""

    def __init__(self):
        self.pending = []

    def __call__(self, delay, fn):
        timer = _Timer(delay, fn)
        self.pending.append(timer)
        return timer

    def fire_all(self):
        for timer in [t for t in self.pending if not t.cancelled]:
            timer.cancelled = True
            timer.fn()


class _Timer:
    def __init__(self, delay, fn):
        self.delay, self.fn, self.cancelled = delay, fn, False

    def cancel(self):
        self.cancelled = True


@pytest.fixture
async def world():
    hs = FakeHomeserver()
    alice = hs.add_user("alice_t1")
    bob = hs.add_user("bob_t1")
    hs.add_user("openmeet-bot")
    event_room = hs.create_room("Picnic in the park", BOT, topic="Bring snacks",
                                metadata={"entity_type": "event", "entity_slug": "picnic",
                                          "tenant_id": "t1"})
    hs.join(event_room, alice)
    hs.join(event_room, bob)
    service = ChatService(ChatConfig("http://hs", tenant="t1", bot_user_id=BOT), hs,
                          MemoryStorage(), clock=lambda: NOW)
    made = []

    def vm(mode="sidebar", context="event", slug="picnic", **kw):
        kw.setdefault("clock", Clock(lambda: NOW, 0))
        model = ChatViewModel(service, mode, context, slug, **kw)
        made.append(model)
        return model

    class World:
        pass

    w = World()
    w.hs, w.alice, w.bob, w.room, w.service, w.vm = hs, alice, bob, event_room, service, vm
    yield w
    for model in made:
        model.close()
    await service.stop()


async def signed_in(w, model):
    await w.service.login_password("alice_t1", "pw")
    await until(lambda: model.state.screen == CHAT)


def messages(state):
    return [i for i in state.items if isinstance(i, MessageView)]


async def test_signed_out_shows_the_login_form_and_a_wrong_password_keeps_the_username(world):
    model = world.vm()
    assert model.state.screen == SIGNED_OUT_SCREEN
    ok = await model.submit_login("alice_t1", "nope")
    await until(lambda: model.state.login.error)
    assert not ok
    assert model.state.screen == SIGNED_OUT_SCREEN
    assert model.state.login.error == "Wrong username or password."
    assert model.state.login.username == "alice_t1"
    assert not model.state.login.busy


async def test_empty_credentials_are_refused_with_a_readable_message(world):
    model = world.vm()
    await model.submit_login("  ", "")
    await until(lambda: model.state.login.error)
    assert "username and password" in model.state.login.error


async def test_before_the_session_is_checked_the_component_does_not_offer_a_login(world):
    model = world.vm(session_checked=False)
    assert model.state.screen == CHECKING
    model.set_session_checked()
    await until(lambda: model.state.screen == SIGNED_OUT_SCREEN)


async def test_login_shows_loading_then_the_event_room_found_by_its_metadata(world):
    model = world.vm()
    screens = []
    model.subscribe(lambda s: screens.append(s.screen))
    assert await model.submit_login("alice_t1", "pw")
    await until(lambda: model.state.screen == CHAT)
    assert LOADING in screens
    assert model.state.room_id == world.room
    assert model.state.title == "Picnic in the park"
    assert model.state.status_text == "Online"
    assert model.state.composer_enabled
    assert model.state.empty_text.startswith("No messages yet")


async def test_a_context_without_a_room_says_so_clearly(world):
    model = world.vm(slug="no-such-event")
    await signed_in_any(world, model)
    assert model.state.screen == NOT_FOUND
    assert "no chat for this event" in model.state.notice
    assert not model.state.composer_enabled


async def signed_in_any(w, model):
    await w.service.login_password("alice_t1", "pw")
    await until(lambda: w.service.synced)
    model.refresh()


async def test_after_attending_the_component_waits_for_the_invite_and_joins_by_itself(world):
    hs = world.hs
    model = world.vm(slug="quiz-night", expect_invite=True)
    await signed_in_any(world, model)
    assert model.state.screen == JOINING
    assert model.state.notice == "Joining the conversation…"
    room = hs.create_room("Quiz night", BOT, metadata={"entity_type": "event",
                                                       "entity_slug": "quiz-night",
                                                       "tenant_id": "t1"})
    hs.invite(room, world.alice, BOT)
    await until(lambda: model.state.screen == CHAT)
    assert model.state.title == "Quiz night"


async def test_a_room_of_another_tenant_is_not_this_contexts_room(world):
    world.hs.create_room("Other picnic", BOT, metadata={"entity_type": "event",
                                                         "entity_slug": "fair", "tenant_id": "t2"})
    model = world.vm(slug="fair")
    await signed_in_any(world, model)
    assert model.state.screen == NOT_FOUND


async def test_enter_sends_shift_enter_does_not_and_the_message_is_echoed_then_confirmed(world):
    model = world.vm()
    await signed_in(world, model)
    model.set_draft("hello\n")
    assert model.on_key("Enter", shift=True) is False
    model.set_draft("hello\nthere")
    rev = model.state.draft_rev
    assert model.on_key("Enter") is True
    await until(lambda: messages(model.state))
    first = messages(model.state)[0]
    assert first.body == "hello\nthere" and first.mine
    assert model.state.draft == "" and model.state.draft_rev > rev
    await until(lambda: [m.status for m in messages(model.state)] == ["sent"])
    await until(lambda: world.hs.sent)
    assert [e["content"]["body"] for e in world.hs.sent] == ["hello\nthere"]
    # The sync echo confirms the same message in place: one message, same key.
    await until(lambda: world.service.room(world.room).timeline.local == [])
    assert [m.key for m in messages(model.state)] == [first.key]


async def test_the_first_render_after_enter_draws_the_echo_with_the_emptied_composer(world):
    """Local echo in one render: a render of the emptied composer alone (and the frame the
    browser paints after it) used to come first, doubling Enter -> my own text on screen."""
    model = world.vm()
    await signed_in(world, model)
    renders = []
    model.subscribe(lambda s: renders.append((s.draft, [m.body for m in messages(s)])))
    model.set_draft("right away")
    for _ in range(5):  # whatever typing set off (the typing notice) is done
        await asyncio.sleep(0)
    renders.clear()
    model.on_key("Enter")
    await until(lambda: renders)
    assert renders[0] == ("", ["right away"])


async def test_whitespace_only_is_not_sent(world):
    model = world.vm()
    await signed_in(world, model)
    model.set_draft("  \n ")
    model.on_key("Enter")
    await asyncio.sleep(0)
    assert model.send() is None
    assert world.hs.sent == []
    assert model.state.draft == "  \n "


async def test_a_failed_send_shows_the_error_and_retry_delivers_it_exactly_once(world):
    hs = world.hs
    model = world.vm()
    await signed_in(world, model)
    hs.send_down = True
    model.set_draft("are we still on?")
    await model.send()
    await until(lambda: messages(model.state) and messages(model.state)[0].status == "failed")
    failed = messages(model.state)[0]
    assert failed.error == "Not sent: no connection."
    assert failed.body == "are we still on?"
    hs.send_down = False
    await model.retry_message(failed.key)
    await until(lambda: messages(model.state)[0].status == "sent")
    assert model.retry_message(failed.key) is None  # nothing left to retry
    assert [e["content"]["body"] for e in hs.sent] == ["are we still on?"]


async def test_sync_errors_show_a_banner_with_retry_and_the_draft_survives(world):
    hs = world.hs
    model = world.vm()
    await signed_in(world, model)
    model.set_draft("half-typed thought")
    hs.sync_errors = 2
    hs.post(world.room, world.bob, "wake the long poll")
    await until(lambda: model.state.banner is not None)
    assert "problem" in model.state.banner
    assert model.state.status in ("offline", "connecting")
    model.retry_connection()
    await until(lambda: model.state.banner is None and model.state.status == "online")
    assert model.state.draft == "half-typed thought"


async def test_unreachable_homeserver_mid_chat_is_offline_then_recovers(world):
    hs = world.hs
    model = world.vm()
    await signed_in(world, model)
    hs.down = True
    hs.changed.set()
    await until(lambda: model.state.status == "offline")
    assert model.state.banner == "Connection lost. Reconnecting…"
    assert model.state.status_text == "Offline"
    assert model.state.screen == CHAT  # the conversation stays readable
    hs.down = False
    model.retry_connection()
    await until(lambda: model.state.status == "online")


async def test_typing_is_announced_while_typing_and_withdrawn_on_send_clear_and_idle(world):
    hs = world.hs
    timers = ManualTimers()
    model = world.vm(timer=timers)
    await signed_in(world, model)
    model.set_draft("h")
    await until(lambda: hs.typing_calls == [(world.room, True)])
    timers.fire_all()  # five idle seconds
    await until(lambda: hs.typing_calls[-1] == (world.room, False))
    model.set_draft("hi")
    await until(lambda: hs.typing_calls[-1] == (world.room, True))
    model.set_draft("")
    await until(lambda: hs.typing_calls[-1] == (world.room, False))
    model.set_draft("hi again")
    await until(lambda: hs.typing_calls[-1] == (world.room, True))
    model.send()
    await until(lambda: hs.sent)
    assert hs.typing_calls[-1] == (world.room, True)  # the stop follows a moment later
    timers.fire_all()
    await until(lambda: hs.typing_calls[-1] == (world.room, False))


async def test_other_users_typing_is_shown_by_name(world):
    model = world.vm()
    await signed_in(world, model)
    world.hs.set_typing(world.room, [world.bob])
    await until(lambda: model.state.typing == "Bob is typing…")
    world.hs.set_typing(world.room, [world.alice])  # my own typing is not shown to me
    await until(lambda: model.state.typing == "")


async def test_new_messages_are_marked_read_only_while_the_conversation_is_visible(world):
    hs = world.hs
    model = world.vm()
    await signed_in(world, model)
    model.set_visible(False)
    hs.post(world.room, world.bob, "first")
    await until(lambda: messages(model.state))
    assert hs.read_calls == []
    model.set_visible(True)
    await until(lambda: len(hs.read_calls) == 1)
    assert hs.read_calls[0][1] == world.service.room(world.room).timeline.last_event_id()


async def test_my_last_message_shows_who_has_seen_it(world):
    hs = world.hs
    model = world.vm()
    await signed_in(world, model)
    model.set_draft("see you at noon")
    await model.send()
    await until(lambda: world.service.room(world.room).timeline.local == [])
    mine = messages(model.state)[-1]
    assert mine.seen_by is None
    hs.set_receipt(world.room, world.bob, world.service.room(world.room).timeline.confirmed[-1].event_id)
    await until(lambda: messages(model.state)[-1].seen_by == "Seen by Bob")


async def test_messages_are_grouped_by_sender_with_day_separators(world):
    hs = world.hs
    day = 86_400_000
    now_ms = int(NOW * 1000)
    hs.post(world.room, world.bob, "yesterday's", ts=now_ms - day)
    hs.post(world.room, world.bob, "one", ts=now_ms - 60_000)
    hs.post(world.room, world.bob, "two", ts=now_ms - 30_000)
    hs.post(world.room, world.alice, "three", ts=now_ms - 10_000)
    model = world.vm()
    await signed_in(world, model)
    items = model.state.items
    # (the room's membership lines and their day come first)
    kinds = [(i.label if isinstance(i, DayView) else (i.body, i.first_in_group))
             for n, i in enumerate(items) if isinstance(i, MessageView)
             or isinstance(i, DayView) and isinstance(items[n + 1], MessageView)]
    assert kinds == ["Yesterday", ("yesterday's", True), "Today", ("one", True),
                     ("two", False), ("three", True)]
    names = {m.body: m.sender_name for m in messages(model.state)}
    assert names["one"] == "Bob"
    assert messages(model.state)[-1].time_text == "22:23"


async def test_one_render_per_burst_of_service_changes(world):
    hs = world.hs
    model = world.vm()
    await signed_in(world, model)
    renders = []
    model.subscribe(lambda s: renders.append(len(messages(s))))
    for n in range(3):
        hs.post(world.room, world.bob, f"m{n}")
    await until(lambda: renders and renders[-1] == 3)
    assert set(renders) == {3}  # never a half-applied sync


async def test_dashboard_lists_my_chats_with_unread_and_previews_and_an_info_panel(world):
    hs = world.hs
    group = hs.create_room("Hiking club", BOT, topic="Weekend walks",
                           metadata={"entity_type": "group", "entity_slug": "hikers",
                                     "tenant_id": "t1"})
    hs.join(group, world.alice)
    hs.post(world.room, world.bob, "older", ts=int(NOW * 1000) - 20_000)
    hs.post(group, world.bob, "newer\nsecond line", ts=int(NOW * 1000) - 10_000)
    model = world.vm("dashboard", "all", None)
    await signed_in(world, model)
    items = model.state.rooms
    assert [r.name for r in items] == ["Hiking club", "Picnic in the park"]
    assert items[0].preview == "bob: newer"  # not a member there: the platform slug
    assert items[0].selected and model.state.title == "Hiking club"
    await until(lambda: model.state.info and "Alice" in model.state.info.member_names)
    assert model.state.info.topic == "Weekend walks"
    model.select_room(world.room)
    await until(lambda: model.state.room_id == world.room)
    assert [r.selected for r in model.state.rooms] == [False, True]
    assert model.state.pane == "conversation"
    # The platform's bot is not a person: not listed, not counted.
    await until(lambda: model.state.info.member_names == ["Alice", "Bob"])
    assert model.state.info.member_count == 2


async def test_drafts_are_kept_per_conversation_in_the_dashboard(world):
    hs = world.hs
    group = hs.create_room("Hiking club", BOT)
    hs.join(group, world.alice)
    model = world.vm("dashboard", "all", None)
    await signed_in(world, model)
    model.select_room(group)
    model.set_draft("for the hikers")
    model.select_room(world.room)
    await until(lambda: model.state.room_id == world.room)
    assert model.state.draft == ""
    model.select_room(group)
    await until(lambda: model.state.room_id == group)
    assert model.state.draft == "for the hikers"


async def test_an_expired_session_returns_to_login_with_the_reason(world):
    model = world.vm()
    await signed_in(world, model)
    model.set_draft("unsent words")
    world.service._session_expired("Your session has ended. Please sign in again.")
    await until(lambda: model.state.screen == SIGNED_OUT_SCREEN)
    assert model.state.login.error == "Your session has ended. Please sign in again."
    assert model.state.draft == "unsent words"


def test_unknown_mode_or_missing_slug_is_rejected_early():
    service = ChatService(ChatConfig("http://hs"), FakeHomeserver(), MemoryStorage())
    with pytest.raises(ValueError):
        ChatViewModel(service, "popup", "event", "x")
    with pytest.raises(ValueError):
        ChatViewModel(service, "sidebar", "event", None)


async def test_a_platform_username_signs_in_to_the_tenants_matrix_account(world):
    model = world.vm()
    assert await model.submit_login("alice", "pw")  # the account is alice_t1
    await until(lambda: model.state.screen == CHAT)
    assert model.state.user_id == world.alice
