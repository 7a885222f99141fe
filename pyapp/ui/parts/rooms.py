"""The room list's view model (the dashboard's "Chats"): one line per joined room with its
unread count and last message (a DM under the other person's name), then the invitations
("Alice wants to chat" for a DM; marked when it comes from outside my community), and which
room is selected."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pyapp.client.media import summary as media_summary
from pyapp.client.rooms import Room

from ..format import Clock, member_name
from ..people import initials


@dataclass
class RoomItem:
    room_id: str
    name: str
    unread: int
    preview: str
    when: str
    selected: bool
    invite: bool = False
    dm: bool = False
    initials: str = ""
    outside: bool = False  # an invitation from someone outside my community
    mentions: int = 0  # unread mentions of me (the server's highlight count), shown apart
    person: str | None = None  # a DM's other person (their avatar is the room's)


def preview_text(room: Room, me: str | None) -> str:
    """"Bob: first line of the last message", or "" for a room without messages."""
    messages = room.timeline.messages
    if not messages:
        return ""
    last = messages[-1]
    who = "You" if last.sender == me else member_name(room, last.sender)
    # A file's body is its name as the sender gave it: the safe name, said as a file.
    text = media_summary(last.media) if getattr(last, "media", None) and not last.redacted \
        else last.body
    return (f"{who}: {text}".splitlines() or [""])[0]


class RoomListPart:
    def __init__(self, clock: Clock):
        self.clock = clock

    def items(self, joined: list[Room], invites: list[Room], current_id: str | None,
              me: str | None, dm_partner: Callable[[str], str | None] | None = None,
              in_community: Callable[[str], bool] | None = None,
              badge: Callable[[Room], tuple[int, int]] | None = None) -> list[RoomItem]:
        """`badge(room)`: the (unread, mentions) shown at the room's notification level."""
        items = []
        for room in joined:
            partner = dm_partner(room.room_id) if dm_partner else None
            name = member_name(room, partner) if partner else (room.name or room.room_id)
            unread, mentions = badge(room) if badge else (room.unread, room.mentions)
            items.append(RoomItem(room.room_id, name, unread, preview_text(room, me),
                                  self.clock.short_when(room.last_ts),
                                  selected=room.room_id == current_id, dm=partner is not None,
                                  initials=initials(name), mentions=mentions, person=partner))
        for room in invites:
            partner = dm_partner(room.room_id) if dm_partner else None
            outside = bool(room.inviter and in_community and not in_community(room.inviter))
            if partner:
                who = member_name(room, partner)
                name, text = who, f"{who} wants to chat"
            else:
                name, text = room.name or "Invitation", "You are invited"
            if outside:
                text += " · from outside your community"
            items.append(RoomItem(room.room_id, name, 0, text, "", selected=False, invite=True,
                                  dm=partner is not None, initials=initials(name),
                                  outside=outside, person=partner))
        return items
