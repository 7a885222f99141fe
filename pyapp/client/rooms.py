"""The rooms the user can see, kept from sync: what the chat views read.

Everything is read from the raw sync body, once: names, members, typing, receipts and unread
counts through pyapp.client.room_state, our metadata state, invite state and messages here.
A room is found by the platform entity it belongs to (its metadata state), never by id. That
metadata counts only when the platform's bot sent it: anyone can create a room and write the
same state type into it, claiming to be another tenant's event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pyapp.identity import ROOM_METADATA_TYPE, split_user_id

from .direct import DIRECT_TYPE, Candidate, invite_is_direct, parse_direct, partner_of, pick_dm
from .room_state import RoomState
from .timeline import Timeline

log = logging.getLogger(__name__)


@dataclass
class Room:
    room_id: str
    membership: str = "join"  # "join" or "invite"
    name: str = ""
    topic: str = ""
    metadata: dict[str, Any] | None = None
    unread: int = 0
    highlights: int = 0  # the server's count of unread mentions of me
    # Unread decrypted messages that mention me: the server cannot see a mention inside
    # ciphertext, so these are counted here until the room is read (its unread count is 0).
    encrypted_mentions: set[str] = field(default_factory=set)
    inviter: str | None = None
    invite_direct: bool = False  # my invite says the room is a DM (`is_direct`)
    typing: list[str] = field(default_factory=list)
    receipts: dict[str, str] = field(default_factory=dict)  # user id -> event id read up to
    members: dict[str, str] = field(default_factory=dict)  # user id -> display name
    # Display names of earlier senders (back-pagination's lazy-loaded members), not members.
    names: dict[str, str] = field(default_factory=dict)
    avatars: dict[str, str] = field(default_factory=dict)  # user id -> avatar_url, as given
    avatar_url: str | None = None  # the room's own (m.room.avatar), as given
    member_count: int = 0
    power_levels: dict = field(default_factory=dict)  # m.room.power_levels content
    timeline: Timeline = field(default_factory=Timeline)

    @property
    def mentions(self) -> int:
        """Unread mentions of me: the server's, and those only this device could read."""
        return self.highlights + len(self.encrypted_mentions)

    @property
    def last_ts(self) -> int:
        messages = self.timeline.messages
        return messages[-1].ts if messages else 0

    def display_name(self, user_id: str) -> str:
        name = self.members.get(user_id) or self.names.get(user_id)
        if name:
            return name
        return split_user_id(user_id)[0] if user_id.startswith("@") else user_id

    def matches(self, entity_type: str, slug: str, tenant: str | None) -> bool:
        m = self.metadata or {}
        return (
            m.get("entity_type") == entity_type
            and m.get("entity_slug") == slug
            and (tenant is None or m.get("tenant_id") == tenant)
        )


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _events(section: Any) -> list[dict]:
    events = _dict(section).get("events")
    return [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []


class RoomList:
    def __init__(self, own_user_id: str, bot_user_id: str | None = None):
        self.own_user_id = own_user_id
        self.bot_user_id = bot_user_id  # None: no metadata is trusted
        self.rooms: dict[str, Room] = {}
        self.direct: dict[str, list[str]] = {}  # m.direct: user id -> DM room ids
        self.direct_raw: dict = {}  # as stored, to update without losing what we cannot read
        self._states: dict[str, RoomState] = {}  # joined rooms' state, across Room objects

    def _is_metadata(self, event: dict) -> bool:
        """The room's platform metadata, as only the platform's bot can write it."""
        return (event.get("type") == ROOM_METADATA_TYPE and event.get("state_key") == ""
                and self.bot_user_id is not None and event.get("sender") == self.bot_user_id)

    def find(self, entity_type: str, slug: str, tenant: str | None = None) -> Room | None:
        for room in self.rooms.values():
            if room.membership == "join" and room.matches(entity_type, slug, tenant):
                return room
        return None

    def find_invite(self, entity_type: str, slug: str, tenant: str | None = None) -> Room | None:
        for room in self.rooms.values():
            if room.membership == "invite" and room.matches(entity_type, slug, tenant):
                return room
        return None

    def joined(self) -> list[Room]:
        rooms = [r for r in self.rooms.values() if r.membership == "join"]
        return sorted(rooms, key=lambda r: (-r.last_ts, r.name.lower()))

    def invites(self) -> list[Room]:
        return [r for r in self.rooms.values() if r.membership == "invite"]

    def avatar_of(self, user_id: str, room_id: str | None = None) -> str | None:
        """A person's avatar_url as given (their member event in `room_id` first, else in
        any room; check it with pyapp.client.media before use)."""
        room = self.rooms.get(room_id or "")
        if room is not None and user_id in room.avatars:
            return room.avatars[user_id]
        for room in self.rooms.values():
            if user_id in room.avatars:
                return room.avatars[user_id]
        return None

    def apply_sync(self, raw: dict) -> set[str]:
        """Fold one sync response in; returns the ids of rooms whose view changed.

        A room whose data trips us up is logged and skipped; the other rooms still update."""
        changed: set[str] = set()
        for event in _events(raw.get("account_data")):
            if event.get("type") == DIRECT_TYPE:
                changed |= self.set_direct(event.get("content"))
        sections = _dict(raw.get("rooms"))
        for membership, apply in (("join", self._apply_joined), ("invite", self._apply_invite)):
            for room_id, data in _dict(sections.get(membership)).items():
                changed.add(room_id)
                try:
                    apply(room_id, _dict(data))
                except Exception:  # noqa: BLE001  (contained per room, see above)
                    log.exception("Could not apply the sync of room %s", room_id)
        for room_id in _dict(sections.get("leave")):
            self._states.pop(room_id, None)
            if self.rooms.pop(room_id, None) is not None:
                changed.add(room_id)
        return changed

    def set_direct(self, content) -> set[str]:
        """Take the user's `m.direct` in; returns the rooms whose DM partner changed."""
        before = {room_id: partner_of(self.direct, room_id) for room_id in self.rooms}
        self.direct_raw = dict(content) if isinstance(content, dict) else {}
        self.direct = parse_direct(content)
        return {room_id for room_id, was in before.items()
                if partner_of(self.direct, room_id) != was}

    def dm_partner(self, room_id: str) -> str | None:
        """Who a room is a DM with: per m.direct, or my invite's inviter when it says DM."""
        partner = partner_of(self.direct, room_id)
        if partner is None:
            room = self.rooms.get(room_id)
            if room is not None and room.membership == "invite" and room.invite_direct:
                return room.inviter
        return partner

    def set_joined_members(self, room_id: str, joined: dict[str, str]) -> None:
        """The full joined member list (/joined_members); the invited ones the sync named stay
        (a DM's other person is only invited until they accept)."""
        room, state = self.rooms.get(room_id), self._states.get(room_id)
        if room is None:
            return
        invited = {uid: m.display_name or "" for uid, m in state.members.items()
                   if m.invited and uid not in joined} if state is not None else {}
        room.members = {**joined, **invited}
        room.member_count = len(joined)

    def dm_room(self, user_id: str) -> Room | None:
        """My joined DM with `user_id` to open (pyapp.client.direct.pick_dm), or None."""
        candidates = []
        for room_id in self.direct.get(user_id, ()):
            room, state = self.rooms.get(room_id), self._states.get(room_id)
            if room is not None:
                # Lazy-loaded members: unknown is not gone; only a seen leave counts.
                here = state is None or user_id not in state.departed
                candidates.append(Candidate(room_id, room.membership, here, room.last_ts))
        room_id = pick_dm(self.direct, user_id, candidates)
        return self.rooms.get(room_id) if room_id else None

    def dm_invite(self, user_id: str) -> Room | None:
        """A pending DM invitation from `user_id`."""
        for room in self.rooms.values():
            if room.membership == "invite" and room.invite_direct and room.inviter == user_id:
                return room
        return None

    def apply_page(self, room_id: str, body: dict, gap_key: str) -> bool:
        """Fold a `/messages?dir=b` answer fetched from the gap `gap_key` of a joined room;
        True when what the room shows changed. The lazy-loaded member events of the page
        (`state`) name its senders; they are who those senders were then, not members now."""
        room = self.rooms.get(room_id)
        if room is None or room.membership != "join":
            return False
        for event in _events({"events": body.get("state")}):
            user_id, content = event.get("state_key"), _dict(event.get("content"))
            name = content.get("displayname")
            if event.get("type") == "m.room.member" and isinstance(user_id, str) \
                    and isinstance(name, str) and name:
                room.names.setdefault(user_id, name)
        return bool(room.timeline.prepend_page(body.get("chunk"), body.get("end"), gap_key))

    def _apply_joined(self, room_id: str, data: dict) -> None:
        room = self.rooms.get(room_id)
        if room is None or room.membership != "join":
            room = self.rooms[room_id] = Room(room_id)
        timeline = _dict(data.get("timeline"))
        events = _events(timeline)
        for event in _events(data.get("state")) + events:
            if self._is_metadata(event):
                room.metadata = _dict(event.get("content"))
        room.timeline.apply_sync(timeline)
        state = self._states.get(room_id)
        if state is None:
            state = self._states[room_id] = RoomState(self.own_user_id)
        state.apply_joined(data)
        self._copy_state(room, state)

    def _apply_invite(self, room_id: str, data: dict) -> None:
        room = self.rooms.setdefault(room_id, Room(room_id, membership="invite"))
        for event in _events(data.get("invite_state")):
            kind, content = event.get("type"), _dict(event.get("content"))
            if kind == ROOM_METADATA_TYPE:
                if self._is_metadata(event):
                    room.metadata = content
            elif kind == "m.room.name":
                room.name = _str(content.get("name")) or room.name
            elif kind == "m.room.topic":
                room.topic = _str(content.get("topic")) or room.topic
            elif kind == "m.room.avatar":
                room.avatar_url = _str(content.get("url")) or room.avatar_url
            elif kind == "m.room.member" and event.get("state_key") == self.own_user_id:
                room.inviter = _str(event.get("sender")) or None
                room.invite_direct = invite_is_direct(content)
            elif kind == "m.room.member" and isinstance(event.get("state_key"), str) \
                    and _str(content.get("displayname")):
                room.names[event["state_key"]] = content["displayname"]  # the inviter's name

    @staticmethod
    def _copy_state(room: Room, state: RoomState) -> None:
        room.name = state.display_name()
        room.topic = state.topic or ""
        room.unread = state.unread
        room.highlights = state.highlights
        if not room.unread:
            room.encrypted_mentions.clear()  # read
        room.typing = list(state.typing)
        room.receipts = dict(state.receipts)
        room.members.update({uid: m.display_name or "" for uid, m in state.members.items()})
        room.avatars = {uid: m.avatar_url for uid, m in state.members.items() if m.avatar_url}
        room.avatar_url = state.avatar_url
        room.member_count = state.joined_count or len(state.members)
        room.power_levels = state.power_levels
