"""Plain stand-ins for what the chat's part view models read: rooms with a hand-made timeline,
so each part is driven without a homeserver or a ChatService."""

from __future__ import annotations

from pyapp.client.rooms import Room
from pyapp.client.timeline import SENT, Message

ME, BOB, CAROL = "@alice_t1:hs", "@bob_t1:hs", "@carol_t1:hs"
NOW = 1_700_000_600.0  # seconds
NOW_MS = int(NOW * 1000)


class StubTimeline:
    def __init__(self, confirmed=(), local=()):
        self.confirmed, self.local = list(confirmed), list(local)

    @property
    def messages(self):
        return self.confirmed + self.local

    def message(self, event_id):
        return next((m for m in self.messages if m.event_id == event_id), None)

    def items(self):
        return self.confirmed + self.local

    def last_event_id(self):
        return next((m.event_id for m in reversed(self.confirmed) if m.event_id), None)


def msg(n, sender, body, ts=NOW_MS - 60_000, status=SENT, **kw):
    kw.setdefault("event_id", f"$e{n}" if status == SENT else None)
    return Message(key=f"k{n}", sender=sender, body=body, ts=ts, status=status, **kw)


def room(room_id="!r:hs", confirmed=(), local=(), **kw):
    kw.setdefault("members", {ME: "Alice", BOB: "Bob"})
    return Room(room_id, timeline=StubTimeline(confirmed, local), **kw)
