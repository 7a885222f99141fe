"""The composer's mention picker: while an `@name` is being typed, the room's members who
match, one of them active; ArrowUp/ArrowDown move, Enter or Tab (or a click) insert the pill,
Escape closes the list until the next "@". The pills inserted per room are remembered so the
message that is sent names their users (pyapp.client.mentions.message_content).
"""

from __future__ import annotations

from dataclasses import dataclass

from pyapp.client import mentions
from pyapp.client.mentions import Pill, Query


@dataclass
class MentionOption:
    user_id: str
    name: str
    active: bool


class MentionPicker:
    def __init__(self):
        self.query: Query | None = None
        self.options: list[Pill] = []
        self.active = 0
        self._dismissed: int | None = None  # the "@" whose list Escape closed
        self.pills: dict[str | None, list[Pill]] = {}  # room id -> pills inserted

    @property
    def open(self) -> bool:
        return bool(self.options)

    def update(self, text: str, caret: int, members: dict[str, str], exclude=()) -> bool:
        """The text or caret changed; True when the list shown changed."""
        before = ([p.user_id for p in self.options], self.active)
        query = mentions.query_at(text, caret)
        if query is None or query.start == self._dismissed:
            self.query, self.options = query, []
        else:
            self._dismissed = None
            self.query = query
            options = mentions.suggestions(members, query.text, exclude)
            if [p.user_id for p in options] != before[0]:
                self.active = 0
            self.options = options
        if query is None:
            self._dismissed = None
        return ([p.user_id for p in self.options], self.active) != before

    def view(self) -> list[MentionOption]:
        return [MentionOption(p.user_id, p.name, i == self.active)
                for i, p in enumerate(self.options)]

    def move(self, step: int) -> None:
        if self.options:
            self.active = (self.active + step) % len(self.options)

    def dismiss(self) -> None:
        if self.query is not None:
            self._dismissed = self.query.start
        self.options = []

    def choose(self, room_id: str | None, text: str, user_id: str | None = None
               ) -> tuple[str, int] | None:
        """Insert the active option (or `user_id`'s): the new text and caret, or None."""
        if self.query is None or not self.options:
            return None
        pill = next((p for p in self.options if p.user_id == user_id), None) \
            if user_id is not None else self.options[self.active]
        if pill is None:
            return None
        new_text, caret = mentions.insert(text, self.query, pill)
        self.pills.setdefault(room_id, []).append(pill)
        self.query, self.options = None, []
        return new_text, caret

    def take(self, room_id: str | None, text: str) -> list[Pill]:
        """The pills still in the message being sent (forgotten for the next message)."""
        return mentions.used(text, self.pills.pop(room_id, []))

    def forget_all(self) -> None:
        self.pills.clear()
        self.query, self.options = None, []
