"""An encrypted room through a real ChatService and view model (fake homeserver, fake engine):
the lock in the header, "Waiting for this message's key" turning into the text when the key
arrives, and sends going out as m.room.encrypted."""

from __future__ import annotations

import json
import re

import pytest

from pyapp.client.service import ChatConfig, ChatService
from pyapp.client.storage import MemoryStorage
from pyapp.client.timeline_model import WAITING_FOR_KEY
from pyapp.client.transport import HttpResponse
from pyapp.ui.format import Clock
from pyapp.ui.viewmodel import CHAT, ChatViewModel, MessageView
from tests.support.waiting import until

from .crypto_fakes import FakeProvider, encrypted_event, encryption_state, room_key
from .ui_fake_homeserver import BOT, NOW, FakeHomeserver



class CryptoHomeserver(FakeHomeserver):
    """Adds what the crypto layer needs: to-device delivery and the full member list."""

    def __init__(self):
        super().__init__()
        self.to_device: list[dict] = []

    def deliver(self, event: dict) -> None:
        self.to_device.append(event)
        self._bump()

    async def request(self, method, url, headers, body=None, timeout=None):
        m = re.search(r"/rooms/([^/]+)/members$", url)
        if m:
            room = self.rooms[m.group(1).replace("%21", "!").replace("%3A", ":")]
            chunk = [{"type": "m.room.member", "state_key": u, "sender": u,
                      "content": {"membership": s}} for u, s in room.members.items()]
            return HttpResponse(200, {"content-type": "application/json"},
                                json.dumps({"chunk": chunk}).encode())
        response = await super().request(method, url, headers, body, timeout)
        if "/sync" in url and response.status == 200 and self.to_device:
            answer = json.loads(response.body)
            answer["to_device"] = {"events": self.to_device}
            self.to_device = []
            response = HttpResponse(200, response.headers, json.dumps(answer).encode())
        return response


def secret_picnic(hs: CryptoHomeserver) -> tuple[str, str, str]:
    """Alice and Bob in an encrypted event room: (alice, bob, room id)."""
    alice, bob = hs.add_user("alice_t1"), hs.add_user("bob_t1")
    hs.add_user("openmeet-bot")
    room_id = hs.create_room("Secret picnic", BOT, metadata={
        "entity_type": "event", "entity_slug": "picnic", "tenant_id": "t1"})
    hs.rooms[room_id].state.append(encryption_state(room_id))
    hs.join(room_id, alice)
    hs.join(room_id, bob)
    return alice, bob, room_id


@pytest.fixture
async def world():
    hs = CryptoHomeserver()
    alice, bob, room_id = secret_picnic(hs)
    provider = FakeProvider()
    service = ChatService(ChatConfig("http://hs", tenant="t1", bot_user_id=BOT), hs,
                          MemoryStorage(), clock=lambda: NOW, crypto=provider)
    model = ChatViewModel(service, "sidebar", "event", "picnic", clock=Clock(lambda: NOW, 0))
    yield hs, room_id, alice, bob, provider, service, model
    model.close()
    await service.stop()


def bodies(model):
    return [(i.body, i.status) if hasattr(i, "status") else i.body
            for i in model.state.items if isinstance(i, MessageView)]


async def test_a_message_waits_for_its_key_then_shows_and_sends_are_encrypted(world):
    hs, room_id, alice, bob, provider, service, model = world
    event = encrypted_event("$late", bob, "s-late", content={"msgtype": "m.text",
                                                             "body": "the spot is by the oak"})
    hs.rooms[room_id].timeline.append((hs._bump(), event))
    await service.login_password("alice_t1", "pw")
    await until(lambda: model.state.screen == CHAT)
    await until(lambda: service.crypto.ready, what="the engine loaded")
    assert model.state.encrypted
    assert [m.body for m in model.state.items if isinstance(m, MessageView)] == [WAITING_FOR_KEY]

    hs.deliver(room_key("s-late"))
    await until(lambda: [m.body for m in model.state.items if isinstance(m, MessageView)]
                == ["the spot is by the oak"], what="the late key healing the message")

    await service.send_text(room_id, "see you there")
    await until(lambda: any(getattr(m, "body", "") == "see you there"
                            for m in model.state.items if isinstance(m, MessageView)))
    assert hs.sent[-1]["type"] == "m.room.encrypted"
    assert "body" not in hs.sent[-1]["content"]
    await service.logout()
    assert provider.deleted == [provider.opened[0]]  # the device's store is deleted
    assert provider.engine.closed


async def test_a_mention_readable_only_when_its_key_comes_notifies_and_counts(world):
    """Synapse cannot see a mention inside ciphertext (its highlight count stays 0): once
    this device reads it, it is news like any other message, and an unread mention."""
    hs, room_id, alice, bob, provider, service, model = world
    old = encrypted_event("$old", bob, "s-old", content={"msgtype": "m.text", "body": "earlier"})
    hs.rooms[room_id].timeline.append((hs._bump(), old))
    await service.login_password("alice_t1", "pw")
    await until(lambda: service.crypto is not None and service.crypto.ready)
    news = []
    service.incoming_listeners.append(news.extend)
    mention = {"msgtype": "m.text", "body": "@alice the oak, 6pm",
               "m.mentions": {"user_ids": [alice]}}
    hs.rooms[room_id].unread = 1  # the server counts it (.m.rule.encrypted), not as a mention
    hs.rooms[room_id].timeline.append((hs._bump(), encrypted_event("$m", bob, "s-m",
                                                                   content=mention)))
    await until(lambda: bodies(model).count((WAITING_FOR_KEY, "sent")) == 2)
    assert news == [] and model.state.mentions == 0  # nothing readable yet

    hs.deliver(room_key("s-m"))
    await until(lambda: news, what="the healed mention told as news")
    assert [(n.event_id, n.sender, n.content["body"]) for n in news] == [
        ("$m", bob, "@alice the oak, 6pm")]
    await until(lambda: model.state.mentions == 1, what="the header's count")
    assert service.badge(service.room(room_id)) == (1, 1)
    assert service.unread_totals() == (1, 1)
    shown = [i for i in model.state.items if isinstance(i, MessageView) and i.event_id == "$m"]
    assert shown and shown[0].mentions_me  # highlighted in the timeline too

    hs.deliver(room_key("s-old"))  # an event from before this session heals: not news
    await until(lambda: ("earlier", "sent") in bodies(model))
    assert [n.event_id for n in news] == ["$m"]

    hs.rooms[room_id].unread = 0  # read (elsewhere): the count goes
    hs.rooms[room_id].receipts[alice] = "$m"
    hs.rooms[room_id].ephemeral_pos = hs._bump()
    await until(lambda: model.state.mentions == 0, what="the count cleared once read")
    assert service.unread_totals() == (0, 0)


async def test_a_mention_decrypted_at_once_counts_too(world):
    hs, room_id, alice, bob, provider, service, model = world
    await service.login_password("alice_t1", "pw")
    await until(lambda: service.crypto is not None and service.crypto.ready)
    hs.deliver(room_key("s-now"))
    news = []
    service.incoming_listeners.append(news.extend)
    hs.rooms[room_id].unread = 2
    for n, content in enumerate(({"msgtype": "m.text", "body": "hello"},
                                 {"msgtype": "m.text", "body": "@alice?",
                                  "m.mentions": {"user_ids": [alice]}})):
        hs.rooms[room_id].timeline.append((hs._bump(), encrypted_event(
            f"$n{n}", bob, "s-now", content=content)))
    await until(lambda: len(news) == 2)
    await until(lambda: model.state.mentions == 1)
    assert service.unread_totals() == (2, 1)
