"""Signing out discards unsent messages, after saying so: no later sign-in on this browser,
by the same user or another, ever sends or shows them."""

from __future__ import annotations

import asyncio
import json

import pytest

from pyapp.client.outbox import OUTBOX_KEY
from pyapp.client.service import ChatConfig, ChatService
from pyapp.client.storage import MemoryStorage
from pyapp.ui.format import Clock
from pyapp.ui.viewmodel import CHAT, SIGNED_OUT_SCREEN, ChatViewModel, MessageView

from .ui_fake_homeserver import BOT, NOW, FakeHomeserver, until


@pytest.fixture
async def world():
    hs = FakeHomeserver()
    alice = hs.add_user("alice_t1")
    bob = hs.add_user("bob_t1")
    room = hs.create_room("Picnic", BOT, metadata={"entity_type": "event",
                                                   "entity_slug": "picnic", "tenant_id": "t1"})
    hs.join(room, alice)
    hs.join(room, bob)
    storage = MemoryStorage()  # one browser's localStorage, kept across sign-ins
    service = ChatService(ChatConfig("http://hs", tenant="t1", bot_user_id=BOT), hs, storage,
                          clock=lambda: NOW)
    models = []

    def vm(**kw):
        model = ChatViewModel(service, "sidebar", "event", "picnic",
                              clock=Clock(lambda: NOW, 0), **kw)
        models.append(model)
        return model

    class World:
        pass

    w = World()
    w.hs, w.alice, w.bob, w.room, w.service, w.storage, w.vm = (
        hs, alice, bob, room, service, storage, vm)
    yield w
    for model in models:
        model.close()
    await service.stop()


def bodies(model):
    return [i.body for i in model.state.items if isinstance(i, MessageView)]


async def sign_in(w, model, user):
    assert await model.submit_login(user, "pw")
    await until(lambda: model.state.screen == CHAT)


async def queue_unsent(w, model, text):
    w.hs.send_down = True
    model.set_draft(text)
    await model.send()
    await until(lambda: model.state.items and model.state.items[-1].status == "failed")
    w.hs.send_down = False


def sent_bodies(hs):
    return [e["content"]["body"] for e in hs.sent]


async def test_sign_out_asks_first_then_no_later_sign_in_sends_or_shows_the_message(world):
    w = world
    model = w.vm()
    await sign_in(w, model, "alice_t1")
    await queue_unsent(w, model, "typed while offline")
    assert json.loads(w.storage.get(OUTBOX_KEY))["messages"][0]["body"] == "typed while offline"

    assert not await model.sign_out()
    await until(lambda: model.state.sign_out_question is not None)
    assert model.state.sign_out_question == (
        "1 message has not been sent. Signing out discards it.")
    assert w.service.user_id == w.alice  # nothing happened yet
    model.cancel_sign_out()
    await until(lambda: model.state.sign_out_question is None)
    assert bodies(model) == ["typed while offline"]

    assert not await model.sign_out()
    assert await model.sign_out(confirmed=True)
    await until(lambda: model.state.screen == SIGNED_OUT_SCREEN)
    assert w.storage.get(OUTBOX_KEY) is None
    assert w.service.unsent_count() == 0

    await sign_in(w, model, "bob_t1")  # another person on the same browser
    w.hs.post(w.room, w.bob, "bob is here")
    await until(lambda: bodies(model) == ["bob is here"])
    assert await model.sign_out()  # nothing unsent: no question
    await sign_in(w, model, "alice_t1")  # and the author again
    w.hs.post(w.room, w.bob, "welcome back")
    await until(lambda: bodies(model) == ["bob is here", "welcome back"])
    assert sent_bodies(w.hs) == ["bob is here", "welcome back"]


async def test_the_question_counts_every_unsent_message(world):
    w = world
    model = w.vm()
    await sign_in(w, model, "alice_t1")
    await queue_unsent(w, model, "one")
    await queue_unsent(w, model, "two")
    await model.sign_out()
    await until(lambda: model.state.sign_out_question is not None)
    assert model.state.sign_out_question == (
        "2 messages have not been sent. Signing out discards them.")


async def test_a_send_in_flight_at_sign_out_is_abandoned_not_kept(world):
    w = world
    model = w.vm()
    await sign_in(w, model, "alice_t1")
    w.hs.send_gate = asyncio.Event()  # the homeserver does not answer yet
    model.set_draft("still on its way")
    sending = model.send()
    await until(lambda: model.state.items
                and getattr(model.state.items[-1], "status", None) == "pending")
    await model.sign_out()
    await until(lambda: model.state.sign_out_question == (
        "1 message has not been sent. Signing out discards it."))
    assert await model.sign_out(confirmed=True)
    w.hs.send_gate.set()
    await sending
    assert w.storage.get(OUTBOX_KEY) is None
    await sign_in(w, model, "alice_t1")
    w.hs.post(w.room, w.bob, "later")
    await until(lambda: bodies(model) == ["later"])
    assert sent_bodies(w.hs) == ["later"]


async def test_another_user_signing_in_discards_what_an_expired_session_left(world):
    w = world
    model = w.vm()
    await sign_in(w, model, "alice_t1")
    await queue_unsent(w, model, "left behind")
    w.service._session_expired("Your session has ended. Please sign in again.")
    await until(lambda: model.state.screen == SIGNED_OUT_SCREEN)
    await sign_in(w, model, "bob_t1")
    assert w.storage.get(OUTBOX_KEY) is None
    await model.sign_out()
    await sign_in(w, model, "alice_t1")
    w.hs.post(w.room, w.bob, "later")
    await until(lambda: bodies(model) == ["later"])
    assert sent_bodies(w.hs) == ["later"]


async def test_the_same_user_after_an_expired_session_still_gets_the_message_resent(world):
    w = world
    model = w.vm()
    await sign_in(w, model, "alice_t1")
    await queue_unsent(w, model, "keep me")
    w.service._session_expired("Your session has ended. Please sign in again.")
    await until(lambda: model.state.screen == SIGNED_OUT_SCREEN)
    await sign_in(w, model, "alice_t1")
    await until(lambda: bodies(model) == ["keep me"])
    # Restored as failed: the user decides with Retry, as before the expiry.
    await model.retry_message(model.state.items[-1].key)
    await until(lambda: sent_bodies(w.hs) == ["keep me"])


async def test_signing_out_clears_what_was_typed_in_every_component(world):
    w = world
    first, second = w.vm(), w.vm()
    await sign_in(w, first, "alice_t1")
    await until(lambda: second.state.screen == CHAT)
    first.set_draft("half a thought")
    second.set_draft("another half")
    assert await first.sign_out()
    await until(lambda: second.state.screen == SIGNED_OUT_SCREEN)
    await sign_in(w, first, "bob_t1")
    await until(lambda: second.state.screen == CHAT)
    assert first.state.draft == "" and second.state.draft == ""


async def test_an_older_per_user_outbox_is_dropped_not_sent(world):
    w = world
    w.storage.set(f"{OUTBOX_KEY}.{w.alice}", json.dumps([
        {"room_id": w.room, "txn_id": "old1", "body": "from an older version", "ts": 1,
         "status": "pending"}]))
    model = w.vm()
    await sign_in(w, model, "alice_t1")
    w.hs.post(w.room, w.bob, "later")
    await until(lambda: bodies(model) == ["later"])
    assert sent_bodies(w.hs) == ["later"]
    assert w.storage.get(f"{OUTBOX_KEY}.{w.alice}") is None
