"""The outbox on its own: local echo, failures, what survives a reload and what sign-out
discards, driven with a fake `send` and memory storage (no homeserver, no ChatService)."""

from __future__ import annotations

import asyncio
import json

from pyapp.client.outbox import OUTBOX_KEY, Outbox, SendRefused
from pyapp.client.rooms import Room
from pyapp.client.storage import MemoryStorage
from pyapp.client.tokens import SessionExpired
from pyapp.client.transport import TransportError

ALICE = "@alice:hs"


class Harness:
    def __init__(self, storage=None):
        self.storage = storage or MemoryStorage()
        self.rooms = {"!r": Room("!r")}
        self.sent: list[tuple[str, dict, str]] = []
        self.answer = None  # an exception to raise, or None to succeed
        self.gate: asyncio.Event | None = None
        self.emitted: list[str] = []
        self.spawned: list[asyncio.Task] = []
        self.expired: list[str] = []
        self.outbox = Outbox(self.storage, rooms=lambda: self.rooms, send=self.send,
                             emit=self.emitted.append, spawn=self.spawn,
                             on_expired=self.expired.append, clock=lambda: 1000.0)

    async def send(self, room_id, content, txn_id):
        if self.gate is not None:
            await self.gate.wait()
        self.sent.append((room_id, content, txn_id))
        if self.answer is not None:
            raise self.answer
        return f"$e{len(self.sent)}"

    def spawn(self, coro):
        self.spawned.append(asyncio.ensure_future(coro))

    def stored(self):
        raw = self.storage.get(OUTBOX_KEY)
        return json.loads(raw) if raw else None

    def local(self):
        return self.rooms["!r"].timeline.local


async def test_a_sent_message_is_echoed_then_marked_sent_and_nothing_is_stored():
    h = Harness()
    h.outbox.restore(ALICE)
    message = await h.outbox.send_text("!r", "hi")
    assert h.sent == [("!r", {"msgtype": "m.text", "body": "hi"}, message.txn_id)]
    assert (message.status, message.event_id, message.ts) == ("sent", "$e1", 1_000_000)
    assert h.emitted == ["!r", "!r"] and h.stored() is None


async def test_failures_are_marked_with_the_reason_and_kept_for_a_reload():
    h = Harness()
    h.outbox.restore(ALICE)
    for error, shown in ((TransportError("down"), "Not sent: no connection."),
                         (SendRefused("too big"), "Not sent: too big.")):
        h.answer = error
        message = await h.outbox.send_text("!r", "hi")
        assert (message.status, message.error) == ("failed", shown)
    assert [m["status"] for m in h.stored()["messages"]] == ["failed", "failed"]
    assert h.stored()["user_id"] == ALICE and h.outbox.unsent_count() == 2


async def test_an_expired_session_fails_the_message_and_ends_the_session():
    h = Harness()
    h.outbox.restore(ALICE)
    h.answer = SessionExpired("Your session has ended.")
    message = await h.outbox.send_text("!r", "hi")
    assert message.error == "Not sent: sign in again, then retry."
    assert h.expired == ["Your session has ended."]


async def test_retry_resends_with_the_same_transaction_id():
    h = Harness()
    h.outbox.restore(ALICE)
    h.answer = TransportError("down")
    message = await h.outbox.send_text("!r", "hi")
    h.answer = None
    await h.outbox.retry("!r", message.txn_id)
    assert [s[2] for s in h.sent] == [message.txn_id, message.txn_id]
    assert message.status == "sent" and h.stored() is None


async def test_a_reload_resends_pending_messages_for_the_same_user_only():
    h = Harness()
    h.outbox.restore(ALICE)
    h.answer = TransportError("down")
    failed = await h.outbox.send_text("!r", "failed one")
    entries = h.stored()["messages"] + [dict(h.stored()["messages"][0], txn_id="t2",
                                              body="pending one", status="pending")]
    h.storage.set(OUTBOX_KEY, json.dumps({"user_id": ALICE, "messages": entries}))

    reloaded = Harness(h.storage)
    reloaded.outbox.restore(ALICE)
    assert reloaded.outbox.unsent_count() == 2
    reloaded.outbox.resend_restored()
    await asyncio.gather(*reloaded.spawned)
    assert [(m.body, m.status) for m in reloaded.local()] == [
        ("failed one", "failed"), ("pending one", "sent")]
    assert reloaded.local()[0].txn_id == failed.txn_id
    assert [s[2] for s in reloaded.sent] == ["t2"]

    other = Harness(h.storage)
    other.outbox.restore("@bob:hs")
    assert other.outbox.unsent_count() == 0 and h.storage.get(OUTBOX_KEY) is None


async def test_discard_cancels_sends_in_flight_and_forgets_everything():
    h = Harness()
    h.outbox.restore(ALICE)
    h.gate = asyncio.Event()
    sending = asyncio.ensure_future(h.outbox.send_text("!r", "hi"))
    for _ in range(5):  # the echo is stored once the send has left
        await asyncio.sleep(0)
    assert h.stored() is not None
    h.outbox.discard()
    h.gate.set()
    await asyncio.wait([sending])
    assert h.sent == [] and h.local() == [] and h.storage.get(OUTBOX_KEY) is None
    assert h.emitted == ["!r"]  # the echo; nothing after the discard


def test_restored_entries_for_unknown_rooms_or_without_ids_are_skipped():
    h = Harness()
    h.storage.set(OUTBOX_KEY, json.dumps({"user_id": ALICE, "messages": [
        {"room_id": "!gone", "txn_id": "t1", "body": "x"}, {"room_id": "!r", "body": "y"},
        {"room_id": ["!r"], "txn_id": "t3"}, "junk"]}))
    h.outbox.restore(ALICE)
    h.outbox.resend_restored()
    assert h.local() == [] and h.spawned == [] and h.outbox.unsent_count() == 0


async def test_the_message_leaves_before_its_echo_is_drawn():
    """Drawing the echo first kept the PUT waiting for the render (Enter -> other members)."""
    h = Harness()
    order = []

    async def send(room_id, content, txn_id):
        order.append("PUT")
        return "$e1"

    h.outbox._send = send
    h.outbox._emit = lambda room_id: order.append("echo drawn")
    h.outbox.restore(ALICE)
    message = await h.outbox.send_text("!r", "hi")
    assert order[:2] == ["PUT", "echo drawn"] and message.status == "sent"


async def test_markdown_is_sent_as_formatted_body_beside_the_typed_text_and_echoed_formatted():
    h = Harness()
    h.outbox.restore(ALICE)
    h.gate = asyncio.Event()
    sending = asyncio.ensure_future(h.outbox.send_text("!r", "**bold** [x](https://e.org)"))
    await asyncio.sleep(0)
    echo = h.local()[0]
    assert echo.formatted_body == '<strong>bold</strong> <a href="https://e.org">x</a>'
    h.gate.set()
    message = await sending
    assert h.sent == [("!r", {"msgtype": "m.text", "body": "**bold** [x](https://e.org)",
                              "format": "org.matrix.custom.html",
                              "formatted_body": echo.formatted_body}, message.txn_id)]


async def test_a_restored_message_is_sent_formatted_again():
    storage = MemoryStorage()
    storage.set(OUTBOX_KEY, json.dumps({"user_id": ALICE, "messages": [
        {"room_id": "!r", "txn_id": "t1", "body": "*soon*", "ts": 5, "status": "pending"}]}))
    again = Harness(storage)
    again.outbox.restore(ALICE)
    again.outbox.resend_restored()
    await asyncio.gather(*again.spawned)
    assert [c.get("formatted_body") for _, c, _ in again.sent] == ["<em>soon</em>"]
