"""The info panel's view model: the selected room's name, topic and its member panel (names
with initials avatars, role badges from power levels, who is typing, who is online where the
server says it, and "Message" for the people of my community). The platform's bot is not a person and is left out. The member list
is asked for once per room, the first time the panel shows it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pyapp.client.rooms import Room

from ..format import member_name
from ..people import initials, member_order, role_badge


# The server's presence states as the panel says them.
PRESENCE_WORDS = {"online": "online", "unavailable": "away", "offline": "offline"}


@dataclass(frozen=True)
class MemberItem:
    user_id: str
    name: str
    initials: str  # the avatar's fallback; pyapp.ui.view leaves room for an image beside it
    role: str | None = None  # host | organizer | moderator
    typing: bool = False
    can_message: bool = False
    me: bool = False
    presence: str | None = None  # online | away | offline, when the server says (else None)


@dataclass
class InfoView:
    name: str
    topic: str
    members: list[MemberItem]
    member_count: int
    dm: bool = False  # the room is a DM: no "Message" (we are in it)

    @property
    def member_names(self) -> list[str]:
        return [m.name for m in self.members]


class InfoPanelPart:
    def __init__(self):
        self._members_asked: set[str] = set()

    @staticmethod
    def view(room: Room, me: str | None = None, bot: str | None = None,
             may_message: Callable[[str], bool] | None = None, dm: bool = False,
             presence: dict[str, str] | None = None) -> InfoView:
        """`presence`: user id -> the server's m.presence state (pyapp.client.presence)."""
        kind = (room.metadata or {}).get("entity_type")
        typing = set(room.typing)
        members = []
        for uid in room.members:
            if uid == bot:
                continue
            name = member_name(room, uid)
            members.append(MemberItem(
                uid, name, initials(name), role_badge(room.power_levels, uid, kind),
                uid in typing, bool(may_message and not dm and may_message(uid)), uid == me,
                PRESENCE_WORDS.get((presence or {}).get(uid))))
        members.sort(key=lambda m: member_order(m.role, m.name))
        hidden = 1 if bot in room.members else 0
        return InfoView(room.name or room.room_id, room.topic, members,
                        max(room.member_count - hidden, len(members)), dm)

    def to_load_members(self, room_id: str) -> bool:
        """True the first time the panel shows `room_id`: its full member list is needed."""
        if room_id in self._members_asked:
            return False
        self._members_asked.add(room_id)
        return True
