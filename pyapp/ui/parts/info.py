"""The info panel's view model: the selected room's name, topic and members. The member list
is asked for once per room, the first time the panel shows it."""

from __future__ import annotations

from dataclasses import dataclass

from pyapp.client.rooms import Room

from ..format import member_name


@dataclass
class InfoView:
    name: str
    topic: str
    members: list[str]
    member_count: int


class InfoPanelPart:
    def __init__(self):
        self._members_asked: set[str] = set()

    @staticmethod
    def view(room: Room) -> InfoView:
        members = sorted((member_name(room, uid) for uid in room.members), key=str.lower)
        return InfoView(room.name or room.room_id, room.topic, members,
                        max(room.member_count, len(members)))

    def to_load_members(self, room_id: str) -> bool:
        """True the first time the panel shows `room_id`: its full member list is needed."""
        if room_id in self._members_asked:
            return False
        self._members_asked.add(room_id)
        return True
