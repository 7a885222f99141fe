"""People as the member panel shows them, as pure functions: initials for the avatar, the role
badge read from the room's power levels in the platform's words, and the order of the list.

The platform gives power by role (pyapp.orchestrator.policy: event creator / group owner 75,
event organizer / group admin 50, everyone else 0; its bot 90 and platform admins 100). The
badge is read back from the level alone, so it also shows for levels set by anyone else.
"""

from __future__ import annotations

import unicodedata
from typing import Any

HOST_LEVEL = 75
ORGANIZER_LEVEL = 50

# The platform's words per kind of room (its metadata's entity_type); other rooms (DMs, rooms
# made elsewhere) say "moderator" for anyone who can moderate, and nothing for equals.
ROLE_WORDS = {
    "event": ((HOST_LEVEL, "host"), (ORGANIZER_LEVEL, "organizer")),
    "group": ((HOST_LEVEL, "organizer"), (ORGANIZER_LEVEL, "moderator")),
}
RANK = {"host": 0, "organizer": 1, "moderator": 2, None: 3}


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str):  # older rooms may hold levels as strings
        try:
            return int(value.strip())
        except ValueError:
            return default
    return default


def power_level(power_levels: Any, user_id: str) -> int:
    """A user's power in a room (the spec's defaults when the event or the entry is absent)."""
    if not isinstance(power_levels, dict) or not power_levels:
        return 0
    users = power_levels.get("users")
    if isinstance(users, dict) and user_id in users:
        return _int(users[user_id])
    return _int(power_levels.get("users_default"))


def role_badge(power_levels: Any, user_id: str, entity_type: str | None = None) -> str | None:
    """"host" / "organizer" / "moderator", or None for an ordinary member."""
    level = power_level(power_levels, user_id)
    words = ROLE_WORDS.get(entity_type or "")
    if words is None:
        everyone = _int(power_levels.get("users_default")) if isinstance(power_levels, dict) \
            else 0
        kick = _int(power_levels.get("kick"), ORGANIZER_LEVEL) \
            if isinstance(power_levels, dict) else ORGANIZER_LEVEL
        # In a DM both people have the same power: no badge for being an equal.
        return "moderator" if level >= kick and level > everyone \
            and not _all_equal(power_levels) else None
    for threshold, word in words:
        if level >= threshold:
            return word
    return None


def _all_equal(power_levels: dict) -> bool:
    users = power_levels.get("users")
    levels = {_int(v) for v in users.values()} if isinstance(users, dict) else set()
    return len(levels) <= 1


def initials(name: str) -> str:
    """One or two letters for an avatar: the first letters of the first and last words
    ("Ada Lovelace" -> "AL"), ignoring a leading "@" and marks; "?" when there is nothing."""
    text = _visible(name or "").strip()
    if text.startswith("@"):  # a user id: its localpart
        text = text[1:].partition(":")[0]
    words = "".join(c if c.isalnum() else " " for c in text).split()
    if not words:
        return "?"
    letters = words[0][0] + (words[-1][0] if len(words) > 1 else "")
    return letters.upper()


def _visible(text: str) -> str:
    # Bidi overrides and other format characters never make an initial.
    return "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Cc"))


def member_order(role: str | None, name: str) -> tuple:
    """Hosts first, then organizers, moderators and everyone else; by name within each."""
    return (RANK.get(role, 3), name.casefold())
