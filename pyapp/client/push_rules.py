"""A room's notification level (all messages / mentions only / mute) as the user's push rules
on the homeserver, the way other Matrix clients (Element) store and read it, so the setting
follows the user and the server's own unread counts honour it:

  mute           an override rule whose id is the room id, matching `room_id`, no actions;
  mentions only  a room rule whose id is the room id, no actions (mentions still notify:
                 the server's mention rules are override rules, evaluated before room rules);
  all messages   neither (the server's defaults).

Pure: reads the `m.push_rules` account data content and says which requests change a level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

ALL, MENTIONS, MUTE = "all", "mentions", "mute"
LEVELS = (ALL, MENTIONS, MUTE)
LEVEL_LABELS = {ALL: "All messages", MENTIONS: "Mentions only", MUTE: "Mute"}
PUSH_RULES_TYPE = "m.push_rules"
OVERRIDE, ROOM = "override", "room"


@dataclass(frozen=True)
class RuleChange:
    method: str  # PUT | DELETE
    kind: str  # override | room
    rule_id: str
    body: dict | None = None

    @property
    def path(self) -> str:
        return (f"/_matrix/client/v3/pushrules/global/{self.kind}/"
                f"{quote(self.rule_id, safe='')}")


def _rules(push_rules: Any, kind: str) -> list[dict]:
    scope = push_rules.get("global") if isinstance(push_rules, dict) else None
    rules = scope.get(kind) if isinstance(scope, dict) else None
    return [r for r in rules if isinstance(r, dict)] if isinstance(rules, list) else []


def _notifies(rule: dict) -> bool:
    actions = rule.get("actions")
    return isinstance(actions, list) and "notify" in actions


def _is_room_match(rule: dict, room_id: str) -> bool:
    conditions = rule.get("conditions")
    return (isinstance(conditions, list) and len(conditions) == 1
            and isinstance(conditions[0], dict)
            and conditions[0].get("kind") == "event_match"
            and conditions[0].get("key") == "room_id"
            and conditions[0].get("pattern") == room_id)


def level(push_rules: Any, room_id: str) -> str:
    """The room's level as the user's push rules say it (anything unreadable: all)."""
    for rule in _rules(push_rules, OVERRIDE):
        if rule.get("rule_id") == room_id and rule.get("enabled", True) is not False \
                and _is_room_match(rule, room_id) and not _notifies(rule):
            return MUTE
    for rule in _rules(push_rules, ROOM):
        if rule.get("rule_id") == room_id and rule.get("enabled", True) is not False \
                and not _notifies(rule):
            return MENTIONS
    return ALL


def levels(push_rules: Any) -> dict[str, str]:
    """Every room with a level other than all messages: room id -> level."""
    found: dict[str, str] = {}
    for kind in (ROOM, OVERRIDE):  # an override wins over a room rule
        for rule in _rules(push_rules, kind):
            room_id = rule.get("rule_id")
            if isinstance(room_id, str) and room_id.startswith("!"):
                value = level(push_rules, room_id)
                if value != ALL:
                    found[room_id] = value
    return found


def changes(room_id: str, new_level: str) -> list[RuleChange]:
    """The requests that give the room `new_level`: the new rule first, then the other one
    removed (a failure half-way leaves the room quieter, never louder than asked). Removing
    a rule that is not there is harmless (404), so what this client last read of the rules,
    perhaps not yet up to date, does not matter."""
    if new_level not in LEVELS:
        raise ValueError(f"unknown notification level {new_level!r}: use one of "
                         f"{', '.join(LEVELS)}")
    if not isinstance(room_id, str) or not room_id.startswith("!"):
        raise ValueError(f"not a room id: {room_id!r}")
    if new_level == MUTE:
        return [RuleChange("PUT", OVERRIDE, room_id, {
            "conditions": [{"kind": "event_match", "key": "room_id", "pattern": room_id}],
            "actions": []}), RuleChange("DELETE", ROOM, room_id)]
    if new_level == MENTIONS:
        return [RuleChange("PUT", ROOM, room_id, {"actions": []}),
                RuleChange("DELETE", OVERRIDE, room_id)]
    return [RuleChange("DELETE", OVERRIDE, room_id), RuleChange("DELETE", ROOM, room_id)]


def badge(room_level: str, unread: int, highlights: int) -> tuple[int, int]:
    """(unread, mentions) a room's badge shows at its level: a muted room shows nothing, a
    mentions-only room only its mentions."""
    if room_level == MUTE:
        return 0, 0
    if room_level == MENTIONS:
        return highlights, highlights
    return max(unread, highlights), highlights
