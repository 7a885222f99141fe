"""The conversation's view model: a room's messages as day separators and sender groups, who
has seen my last message, who is typing, and which event to mark read."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pyapp.client.rooms import Room
from pyapp.client.timeline import FAILED, SENT, Message

from ..format import Clock, join_names, member_name, typing_text

log = logging.getLogger(__name__)

GROUP_GAP_MS = 5 * 60 * 1000  # consecutive messages closer than this share one sender label

EMPTY_TEXT = {
    "event": "No messages yet. Say hello to the other attendees!",
    "group": "No messages yet. Start the group's discussion!",
}
EMPTY_TEXT_ANY = "No messages yet. Start the conversation!"


@dataclass
class DayView:
    key: str
    label: str
    kind: str = "day"


@dataclass
class MessageView:
    key: str
    sender_id: str
    sender_name: str
    body: str
    time_text: str
    ts: int
    mine: bool
    status: str  # pending | sent | failed
    error: str | None = None
    first_in_group: bool = True
    seen_by: str | None = None  # "Seen by Bob" under my last message
    kind: str = "message"


@dataclass
class TimelineView:
    items: list[Any]  # DayView | MessageView, oldest first
    empty_text: str  # shown instead of items when the conversation has no messages
    typing: str


class TimelinePart:
    def __init__(self, clock: Clock, context: str = "all"):
        self.clock = clock
        self.context = context
        self._marked: dict[str, str] = {}  # room id -> the last event id marked read

    def view(self, room: Room, me: str | None) -> TimelineView:
        items = self.items(room, me)
        empty = "" if items else EMPTY_TEXT.get(self.context, EMPTY_TEXT_ANY)
        others = [member_name(room, uid) for uid in room.typing if uid != me]
        return TimelineView(items, empty, typing_text(others))

    def items(self, room: Room, me: str | None) -> list[Any]:
        items: list[Any] = []
        last_day = None
        previous: Message | None = None
        for message in room.timeline.messages:
            try:
                day = self.clock.day_key(message.ts)
                view = MessageView(
                    key=message.key, sender_id=message.sender,
                    sender_name=member_name(room, message.sender), body=message.body,
                    time_text=self.clock.time_text(message.ts), ts=message.ts,
                    mine=message.sender == me, status=message.status, error=message.error,
                )
                day_view = DayView("day:" + day, self.clock.day_label(message.ts)) \
                    if day != last_day else None
            except Exception:  # noqa: BLE001  (one message we cannot show must not hide the room)
                log.exception("Could not show message %s", message.key)
                continue
            if day_view is not None:
                items.append(day_view)
                last_day, previous = day, None
            view.first_in_group = not (previous is not None and previous.sender == message.sender
                                       and message.ts - previous.ts < GROUP_GAP_MS)
            items.append(view)
            previous = message
        self._mark_seen(room, me, items)
        return items

    @staticmethod
    def _mark_seen(room: Room, me: str | None, items: list[Any]) -> None:
        confirmed = room.timeline.confirmed
        position = {m.event_id: i for i, m in enumerate(confirmed) if m.event_id}
        mine = next((i for i in range(len(confirmed) - 1, -1, -1)
                     if confirmed[i].sender == me and confirmed[i].status == SENT), None)
        if mine is None:
            return
        readers = [member_name(room, uid) for uid, event_id in room.receipts.items()
                   if uid != me and position.get(event_id, -1) >= mine]
        if not readers:
            return
        key = confirmed[mine].key
        for item in items:
            if isinstance(item, MessageView) and item.key == key:
                item.seen_by = "Seen by " + join_names(sorted(readers, key=str.lower))

    def to_mark_read(self, room: Room) -> str | None:
        """The event to send a read receipt for now that the user sees the room: its last
        one, once (None when that was already marked)."""
        last = room.timeline.last_event_id()
        if not last or self._marked.get(room.room_id) == last:
            return None
        self._marked[room.room_id] = last
        return last

    @staticmethod
    def failed_txn(room: Room, key: str) -> str | None:
        """The transaction id of my unsent message shown as `key`, if it failed."""
        message = next((m for m in room.timeline.local if m.key == key), None)
        if message is None or message.status != FAILED:
            return None
        return message.txn_id
