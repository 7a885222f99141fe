"""What a joined room's sync sections say about it besides its messages: name, topic, members,
the member summary, unread counts, who is typing and who has read up to where.

Pure: folds the raw /sync dicts (already cleaned by sync_events.clean_sync) and computes the
room's display name the way the spec (and matrix-nio before it) does: the room's name, else its
canonical alias, else a name made of its members ("Alice and Bob", "Empty Room").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# What a member was typing: the events that end a "typing" shown for them.
TYPED_EVENTS = ("m.room.message", "m.room.encrypted", "m.sticker")
RECEIPT_TYPES = ("m.read", "m.read.private", "m.fully_read")


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _events(section: Any) -> list[dict]:
    events = _dict(section).get("events")
    return [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass
class Member:
    display_name: str | None
    invited: bool = False
    avatar_url: str | None = None  # as given: checked (mxc://) before any use

    def name(self, user_id: str) -> str:
        return self.display_name or user_id


@dataclass
class RoomState:
    own_user_id: str
    name: str | None = None
    canonical_alias: str | None = None
    topic: str | None = None
    avatar_url: str | None = None  # m.room.avatar, as given
    members: dict[str, Member] = field(default_factory=dict)  # joined and invited
    departed: set[str] = field(default_factory=set)  # seen leaving (or banned), not back since
    heroes: list[str] | None = None
    joined: int | None = None  # from the summary, when the server sent one
    invited: int | None = None
    unread: int = 0
    highlights: int = 0
    typing: list[str] = field(default_factory=list)
    receipts: dict[str, str] = field(default_factory=dict)  # user id -> event id read up to
    power_levels: dict = field(default_factory=dict)  # m.room.power_levels content

    def apply_joined(self, data: dict) -> None:
        """Fold one room's section of a sync answer (rooms.join.<id>)."""
        for event in _events(data.get("state")):
            self._state_event(event)
        self._summary(_dict(data.get("summary")))
        unread = _dict(data.get("unread_notifications"))
        count, highlights = (_int(unread.get("notification_count")),
                             _int(unread.get("highlight_count")))
        self.unread = self.unread if count is None else count
        self.highlights = self.highlights if highlights is None else highlights
        timeline, ephemeral = _events(data.get("timeline")), _events(data.get("ephemeral"))
        for event in timeline:
            if isinstance(event.get("state_key"), str):
                self._state_event(event)
        for event in ephemeral:
            self._ephemeral(event)
        # A member's message ends their typing, whenever their "stopped typing" comes
        # (senders hold it back a moment, see pyapp.ui.parts.composer); unless this answer
        # itself says who types now.
        if self.typing and not any(e.get("type") == "m.typing" for e in ephemeral):
            done = {e.get("sender") for e in timeline if e.get("type") in TYPED_EVENTS
                    and not isinstance(e.get("state_key"), str)}
            self.typing = [u for u in self.typing if u not in done]

    def _state_event(self, event: dict) -> None:
        kind, content, key = event.get("type"), _dict(event.get("content")), event.get("state_key")
        if kind == "m.room.member" and isinstance(key, str):
            self._membership(key, content)
        elif kind == "m.room.name":
            self.name = _str_or_none(content.get("name"))
        elif kind == "m.room.canonical_alias":
            self.canonical_alias = _str_or_none(content.get("alias"))
        elif kind == "m.room.topic":
            self.topic = _str_or_none(content.get("topic"))
        elif kind == "m.room.avatar" and key == "":
            self.avatar_url = _str_or_none(content.get("url"))
        elif kind == "m.room.power_levels" and key == "":
            self.power_levels = content

    def _membership(self, user_id: str, content: dict) -> None:
        membership = content.get("membership")
        if membership in ("join", "invite"):
            self.departed.discard(user_id)
            member = self.members.get(user_id)
            invited = membership == "invite"
            if member is None:
                self.members[user_id] = Member(_str_or_none(content.get("displayname")), invited,
                                               _str_or_none(content.get("avatar_url")))
                return
            member.invited = invited
            if "displayname" in content:
                member.display_name = _str_or_none(content.get("displayname"))
            member.avatar_url = _str_or_none(content.get("avatar_url"))
        elif membership in ("leave", "ban"):
            self.members.pop(user_id, None)
            self.departed.add(user_id)

    def _summary(self, summary: dict) -> None:
        heroes = summary.get("m.heroes")
        if isinstance(heroes, list):
            self.heroes = [h for h in heroes if isinstance(h, str)]
        joined, invited = (_int(summary.get("m.joined_member_count")),
                           _int(summary.get("m.invited_member_count")))
        self.joined = self.joined if joined is None else joined
        self.invited = self.invited if invited is None else invited

    def _ephemeral(self, event: dict) -> None:
        content = _dict(event.get("content"))
        if event.get("type") == "m.typing":
            users = content.get("user_ids")
            if isinstance(users, list):
                self.typing = [u for u in users if isinstance(u, str)]
        elif event.get("type") == "m.receipt":
            for event_id, by_type in content.items():
                for receipt_type, by_user in _dict(by_type).items():
                    if receipt_type not in RECEIPT_TYPES:
                        continue
                    for user_id, receipt in _dict(by_user).items():
                        # A threaded receipt is for one thread, not the room.
                        if not _dict(receipt).get("thread_id"):
                            self.receipts[user_id] = event_id

    # -- what the room list shows -----------------------------------------------------
    @property
    def joined_count(self) -> int:
        if self.joined is not None and self.invited is not None:
            return self.joined
        return sum(1 for m in self.members.values() if not m.invited)

    @property
    def member_count(self) -> int:
        if self.joined is not None and self.invited is not None:
            return self.joined + self.invited
        return len(self.members)

    def user_name(self, user_id: str) -> str | None:
        """A member's name, with the user id added when another member has the same one."""
        member = self.members.get(user_id)
        if member is None:
            return None
        name = member.name(user_id)
        clash = sum(1 for uid, m in self.members.items() if m.name(uid) == name) > 1
        return f"{member.display_name} ({user_id})" if clash and member.display_name else name

    def display_name(self) -> str:
        return self.name or self.canonical_alias or self._group_name()

    def _group_name(self) -> str:
        if self.joined is not None and self.invited is not None:
            heroes, count = self.heroes or [], self.member_count
            empty = count <= 1
            others = 0 if len(heroes) >= count - 1 else count - 1 - len(heroes)
        else:
            heroes = sorted((u for u in self.members if u != self.own_user_id),
                            key=lambda u: self.user_name(u) or u)
            empty = not heroes
            heroes, others = heroes[:5], max(0, len(heroes) - 5)
        names = [self.user_name(u) or u for u in heroes]
        if others:
            text = f"{', '.join(names)} and {others} other{'' if others == 1 else 's'}"
        elif len(names) <= 1:
            text = "".join(names)
        else:
            text = f"{', '.join(names[:-1])} and {names[-1]}"
        if empty:
            return f"Empty Room (had {text})" if text else "Empty Room"
        return text


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
