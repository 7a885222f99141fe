"""matrix-nio's verdict on a /sync answer, kept now that our rooms read the raw answer.

nio parsed every sync with its schemas: the answer as a whole (Schemas.sync: next_batch, the
shape of each room's sections, summaries, device lists; its defaults filled in) and each
event by its section and type (a room event's envelope, then m.room.message, m.room.member,
m.reaction, ... ; typing and receipts; account data; invite state). What failed never reached
the client: a bad answer was an error, a bad event a BadEvent. The same checks run here with
nio's own parsers, on the compiled schemas (pyapp.client.nio_validation), so they cost a few
milliseconds instead of most of a second in the browser.

Where nio would have lost the whole answer because of one event, that event alone is dropped
(see pyapp.client.sync_events); runs after sync_events.clean_sync, whose envelope checks keep
nio's parsers from crashing.
"""

from __future__ import annotations

from typing import Any, Callable

from jsonschema.exceptions import ValidationError
from nio.events import (
    AccountDataEvent, BadEvent, EphemeralEvent, Event, InviteEvent, PresenceEvent,
    ToDeviceEvent, UnknownBadEvent,
)
from nio.schemas import Schemas

from . import nio_validation
from .sync_loop import SyncRefused

# Which of nio's parsers reads each section, as nio.responses.SyncResponse does.
_JOINED = (("state", Event.parse_event), ("timeline", Event.parse_event),
           ("ephemeral", EphemeralEvent.parse_event),
           ("account_data", AccountDataEvent.parse_event))
_LEFT = (("state", Event.parse_event), ("timeline", Event.parse_event))
_INVITED = (("invite_state", InviteEvent.parse_event),)
_GLOBAL = (("to_device", ToDeviceEvent.parse_event), ("presence", PresenceEvent.from_dict),
           ("account_data", AccountDataEvent.parse_event))
_ROOMS = (("join", _JOINED), ("leave", _LEFT), ("invite", _INVITED))
_BAD = (BadEvent, UnknownBadEvent)

nio_validation.install()


def check_sync(body: dict) -> list[str]:
    """Raise SyncRefused where nio would have refused the answer; remove each event nio's
    schemas reject, returning what was removed and where."""
    try:
        nio_validation.validate_json(body, Schemas.sync)
    except ValidationError as e:
        raise SyncRefused(None, f"not a valid sync answer: {e.message}") from None
    dropped: list[str] = []
    for name, parse in _GLOBAL:
        _keep_valid(body.get(name), parse, name, dropped)
    for membership, sections in _ROOMS:
        rooms = body["rooms"].get(membership)
        for room_id, room in rooms.items() if isinstance(rooms, dict) else ():
            if isinstance(room, dict):
                for name, parse in sections:
                    _keep_valid(room.get(name), parse, f"{room_id} {name}", dropped)
    return dropped


def _keep_valid(section: Any, parse: Callable, where: str, dropped: list[str]) -> None:
    events = section.get("events") if isinstance(section, dict) else None
    if not isinstance(events, list):
        return
    keep = [event for event in events if _accepted(event, parse, where, dropped)]
    if len(keep) != len(events):
        section["events"] = keep


def _copy(event: Any) -> Any:
    if not isinstance(event, dict):
        return event
    copy = dict(event)
    if isinstance(copy.get("content"), dict):
        copy["content"] = dict(copy["content"])
    return copy


def _accepted(event: Any, parse: Callable, where: str, dropped: list[str]) -> bool:
    failures = nio_validation.failures
    try:
        # Some of nio's parsers take the event apart as they read it (the member events of
        # invite_state, account data lose their `content`): they read a copy.
        parsed = parse(_copy(event))
    except Exception as e:  # noqa: BLE001  (nio would have lost the answer; we lose the event)
        problem = f"nio cannot read it ({type(e).__name__})"
    else:
        if nio_validation.failures == failures and not isinstance(parsed, _BAD):
            return True
        problem = "fails nio's schema"
    kind = event.get("type") if isinstance(event, dict) else None
    event_id = event.get("event_id") if isinstance(event, dict) else None
    dropped.append(f"{where}: {kind} event {problem}"
                   + (f" ({event_id})" if isinstance(event_id, str) else ""))
    return False
