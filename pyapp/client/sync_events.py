"""Drops the events of a /sync answer whose envelope has the wrong shape, before anything reads it.

Synapse refuses such events from its own clients, but federation (or a broken server) can
still deliver them: `content: []`, a numeric `sender`, a list where `unsigned` should be.
matrix-nio validates some of these and crashes on others while parsing (then the whole answer
is lost and the same one comes back on every retry), and our room list would trip over the
rest. An event with a malformed envelope carries nothing the chat can show, so it is removed
here and reported; each one costs only itself, never the sync.
"""

from __future__ import annotations

from typing import Any

ROOM_EVENT_LISTS = ("timeline", "state", "state_after", "ephemeral", "account_data",
                    "invite_state", "knock_state")
GLOBAL_EVENT_LISTS = ("account_data", "presence", "to_device")
_OPTIONAL_STRINGS = ("sender", "event_id", "state_key", "room_id")


def event_problem(event: Any) -> str | None:
    """Why this event cannot be used at all, or None when its envelope is sound."""
    if not isinstance(event, dict):
        return f"an event is a {type(event).__name__}, not an object"
    if not isinstance(event.get("type"), str):
        return "an event has no string type"
    if not isinstance(event.get("content"), dict):
        return f"{event['type']} event has content of type {type(event.get('content')).__name__}"
    for key in _OPTIONAL_STRINGS:
        if key in event and not isinstance(event[key], str):
            return f"{event['type']} event has a non-string {key}"
    ts = event.get("origin_server_ts")
    if "origin_server_ts" in event and (not isinstance(ts, int) or isinstance(ts, bool)):
        return f"{event['type']} event has a non-integer origin_server_ts"
    return None


def _repair(event: dict, where: str, repaired: list[str]) -> None:
    """`unsigned` is the server's annotation, not the sender's event: a malformed one is
    removed and the event kept."""
    if "unsigned" in event and not isinstance(event["unsigned"], dict):
        repaired.append(f"{where}: {event['type']} event had unsigned of type "
                        f"{type(event.pop('unsigned')).__name__}, removed")


def clean_sync(body: Any) -> list[str]:
    """Remove unusable events from a sync body in place (and strip malformed `unsigned`
    annotations); returns what was changed and where."""
    dropped: list[str] = []
    if not isinstance(body, dict):
        return dropped
    for name in GLOBAL_EVENT_LISTS:
        _clean_list(body.get(name), name, dropped)
    rooms = body.get("rooms")
    if not isinstance(rooms, dict):
        return dropped
    for membership, by_room in rooms.items():
        if not isinstance(by_room, dict):
            continue
        for room_id, room in by_room.items():
            if not isinstance(room, dict):
                continue
            for name in ROOM_EVENT_LISTS:
                _clean_list(room.get(name), f"{room_id} {name}", dropped)
    return dropped


def _clean_list(section: Any, where: str, dropped: list[str]) -> None:
    events = section.get("events") if isinstance(section, dict) else None
    if not isinstance(events, list):
        return  # a malformed section is the homeserver's fault: nio reports the answer invalid
    keep = []
    for event in events:
        problem = event_problem(event)
        if problem is None:
            _repair(event, where, dropped)
            keep.append(event)
        else:
            event_id = event.get("event_id") if isinstance(event, dict) else None
            dropped.append(f"{where}: {problem}" + (f" ({event_id})" if isinstance(event_id, str)
                                                    else ""))
    if len(keep) != len(events):
        section["events"] = keep


def clean_page(body: Any) -> list[str]:
    """Like clean_sync, for a `/messages` answer: its `chunk` and `state` lists."""
    dropped: list[str] = []
    if not isinstance(body, dict):
        return dropped
    for name in ("chunk", "state"):
        section = {"events": body.get(name)}
        _clean_list(section, f"/messages {name}", dropped)
        if name in body:
            body[name] = section["events"]
    return dropped
