"""Human-readable times, day labels and name lists for the chat view.

Pyodide's C library runs in UTC, so local time is computed from an offset the page supplies
(JavaScript's Date knows the user's zone); under CPython the offset comes from the OS.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from pyapp.identity import parse_user_id

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
UNKNOWN_DAY = "Unknown date"
CACHED_TIMES = 10_000
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def local_offset_s() -> int:
    return time.localtime().tm_gmtoff or 0


class Clock:
    def __init__(self, now=time.time, offset_s: int | None = None):
        self.now = now
        self.zone = timezone(timedelta(seconds=local_offset_s() if offset_s is None else offset_s))
        self._cache: dict[int, tuple[str, str]] = {}

    def local(self, ts_ms: int) -> datetime | None:
        """None for a time datetime cannot hold (a sender's clock can claim year 30000 or
        before year 1): such a message is shown with an unknown date instead of failing."""
        try:
            return datetime.fromtimestamp(ts_ms / 1000, self.zone)
        except (ValueError, OverflowError, OSError, TypeError):
            return None

    def _texts(self, ts_ms: int) -> tuple[str, str]:
        """(time, day key) of a timestamp, remembered: every render of a long conversation
        asks again for each of its messages, and they never change (the zone is fixed)."""
        texts = self._cache.get(ts_ms)
        if texts is None:
            when = self.local(ts_ms)
            texts = (when.strftime("%H:%M"), when.strftime("%Y-%m-%d")) if when \
                else ("", "unknown")
            if len(self._cache) >= CACHED_TIMES:
                self._cache.clear()
            self._cache[ts_ms] = texts
        return texts

    def time_text(self, ts_ms: int) -> str:
        return self._texts(ts_ms)[0]

    def day_key(self, ts_ms: int) -> str:
        return self._texts(ts_ms)[1]

    def day_label(self, ts_ms: int) -> str:
        when = self.local(ts_ms)
        if when is None:
            return UNKNOWN_DAY
        day = when.date()
        today = datetime.fromtimestamp(self.now(), self.zone).date()
        if day == today:
            return "Today"
        if day == today - timedelta(days=1):
            return "Yesterday"
        label = f"{_DAYS[day.weekday()]} {day.day} {_MONTHS[day.month - 1]}"
        return label if day.year == today.year else f"{label} {day.year}"

    def short_when(self, ts_ms: int) -> str:
        """Room-list timestamp: the time today, otherwise the day."""
        if not ts_ms:
            return ""
        label = self.day_label(ts_ms)
        return self.time_text(ts_ms) if label == "Today" else label


def join_names(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def typing_text(names: list[str]) -> str:
    if not names:
        return ""
    if len(names) == 1:
        return f"{names[0]} is typing…"
    if len(names) <= 3:
        return f"{join_names(names)} are typing…"
    return f"{len(names)} people are typing…"


def member_name(room, user_id: str) -> str:
    """How a room shows a user: the member's display name, else the platform slug of the
    Matrix id (reads better than "slug_tenant" until the member list is loaded)."""
    if user_id not in room.members and user_id not in getattr(room, "names", {}):
        parsed = parse_user_id(user_id)
        if parsed and parsed[0]:
            return parsed[0]
    return room.display_name(user_id)
