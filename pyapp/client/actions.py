"""What a reply, a reaction, an edit and a deletion send, and who may delete what; pure.

Contents follow the spec (Client-Server API, "Rich replies", "Event replacements",
"Event annotations and reactions", "Redactions"):

- A reply names its target in `m.relates_to.m.in_reply_to` and mentions the target's sender
  (`m.mentions`). It carries no quoted fallback in `body`: spec v1.13 removed reply fallbacks
  (MSC2781), clients that still add one are handled on receipt (timeline_model strips it).
- An edit is an `m.room.message` with `m.new_content` (what the message now says) and a
  `"* " + body` fallback for clients that do not understand edits.
- A reaction is an `m.reaction` annotation; removing it redacts that event.
- Deleting is a redaction. Anyone may redact their own events when their power level reaches
  the level for sending `m.room.redaction`; redacting someone else's also needs the room's
  `redact` level (default 50). The server enforces both; the client only hides what would be
  refused.
"""

from __future__ import annotations

from typing import Any

from .markdown import text_content
from .timeline_model import MAX_REACTION_KEY

REACTION_TYPE = "m.reaction"
REDACTION_TYPE = "m.room.redaction"
MESSAGE_TYPE = "m.room.message"
DEFAULT_REACTIONS = ("👍", "❤️", "😂", "🎉", "😮", "😢")
MAX_BODY = 32_000  # characters: well under the server's 64 KiB event limit once encoded

__all__ = ["DEFAULT_REACTIONS", "MAX_REACTION_KEY", "reply_content", "edit_content",
           "reaction_content", "reaction_key_problem", "can_delete", "text_problem"]


def text_problem(body: str) -> str | None:
    """Why this text cannot be sent as a message, or None."""
    if not body.strip():
        return "Write something first."
    if len(body) > MAX_BODY:
        return f"This message is too long ({len(body):,} characters; at most {MAX_BODY:,})."
    return None


def reply_content(body: str, target_id: str, target_sender: str | None,
                  me: str | None) -> dict:
    content = text_content(body)
    content["m.relates_to"] = {"m.in_reply_to": {"event_id": target_id}}
    mentioned = [target_sender] if target_sender and target_sender != me else []
    content["m.mentions"] = {"user_ids": mentioned}
    return content


def edit_content(body: str, target_id: str, new: dict | None = None,
                 mentioned_before=()) -> dict:
    """The replacement of my message `target_id` by `body`; `new` is its content when it
    holds mentions (pyapp.client.mentions.message_content). The new content names everyone
    mentioned; the edit itself only those not mentioned before, so that fixing a typo does
    not notify the same people again (the spec's rule for edits)."""
    new = new if new is not None else text_content(body)
    content = {"msgtype": "m.text", "body": "* " + body, "m.new_content": new,
               "m.relates_to": {"rel_type": "m.replace", "event_id": target_id}}
    if "m.mentions" in new or mentioned_before:
        new.setdefault("m.mentions", {})
        named = new["m.mentions"].get("user_ids", [])
        content["m.mentions"] = {"user_ids": [u for u in named if u not in mentioned_before]}
    if "formatted_body" in new:  # the fallback for clients without edits, formatted alike
        content["format"] = new["format"]
        content["formatted_body"] = "* " + new["formatted_body"]
    return content


def reaction_key_problem(key: Any) -> str | None:
    """Why `key` cannot be a reaction (the timeline model ignores such keys on receipt too)."""
    if not isinstance(key, str) or not key.strip():
        return "Choose an emoji to react with."
    if len(key) > MAX_REACTION_KEY:
        return f"A reaction is at most {MAX_REACTION_KEY} characters."
    return None


def reaction_content(target_id: str, key: str) -> dict:
    return {"m.relates_to": {"rel_type": "m.annotation", "event_id": target_id, "key": key}}


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def user_level(power_levels: dict, user_id: str | None) -> int:
    users = power_levels.get("users")
    users = users if isinstance(users, dict) else {}
    return _int(users.get(user_id), _int(power_levels.get("users_default"), 0))


def can_delete(power_levels: dict, me: str | None, sender: str) -> bool:
    """May `me` redact an event `sender` sent, in a room with these power levels? Without
    any power levels event, the spec's defaults apply (only the creator has 100; we cannot
    know who that is here, so: own events only)."""
    if me is None:
        return False
    events = power_levels.get("events")
    events = events if isinstance(events, dict) else {}
    level = user_level(power_levels, me)
    if level < _int(events.get(REDACTION_TYPE), _int(power_levels.get("events_default"), 0)):
        return False
    return sender == me or (bool(power_levels) and level >= _int(power_levels.get("redact"), 50))
