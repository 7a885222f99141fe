"""The room list's view model (the dashboard's "Chats"): one line per joined room with its
unread count and last message, then the invitations, and which room is selected."""

from __future__ import annotations

from dataclasses import dataclass

from pyapp.client.rooms import Room

from ..format import Clock, member_name


@dataclass
class RoomItem:
    room_id: str
    name: str
    unread: int
    preview: str
    when: str
    selected: bool
    invite: bool = False


def preview_text(room: Room, me: str | None) -> str:
    """"Bob: first line of the last message", or "" for a room without messages."""
    messages = room.timeline.messages
    if not messages:
        return ""
    last = messages[-1]
    who = "You" if last.sender == me else member_name(room, last.sender)
    return f"{who}: {last.body}".splitlines()[0]


class RoomListPart:
    def __init__(self, clock: Clock):
        self.clock = clock

    def items(self, joined: list[Room], invites: list[Room], current_id: str | None,
              me: str | None) -> list[RoomItem]:
        items = [RoomItem(room.room_id, room.name or room.room_id, room.unread,
                          preview_text(room, me), self.clock.short_when(room.last_ts),
                          selected=room.room_id == current_id)
                 for room in joined]
        items += [RoomItem(room.room_id, room.name or "Invitation", 0, "You are invited", "",
                           selected=False, invite=True)
                  for room in invites]
        return items
