"""Who is online, as the homeserver says it (m.presence in the sync answer's `presence`
section), read as a pure function. A server with presence off (the embedded Synapse: see
benchmarks/presence.py for what turning it on costs) sends none, and nothing is shown.
"""

from __future__ import annotations

from typing import Any

ONLINE, AWAY, OFFLINE = "online", "unavailable", "offline"
STATES = (ONLINE, AWAY, OFFLINE)
MAX_KNOWN = 5_000  # people whose presence is kept (then the longest unheard of go)


def updates(body: Any) -> dict[str, str]:
    """user id -> online | unavailable | offline, from a sync answer (the last word wins)."""
    section = body.get("presence") if isinstance(body, dict) else None
    events = section.get("events") if isinstance(section, dict) else None
    out: dict[str, str] = {}
    for event in events if isinstance(events, list) else ():
        if not isinstance(event, dict) or event.get("type") != "m.presence":
            continue
        sender, content = event.get("sender"), event.get("content")
        state = content.get("presence") if isinstance(content, dict) else None
        if isinstance(sender, str) and sender.startswith("@") and state in STATES:
            out[sender] = state
    return out


def apply(known: dict[str, str], body: Any) -> bool:
    """Fold a sync answer's presence into `known`; True when something changed."""
    changed = False
    for user_id, state in updates(body).items():
        if known.get(user_id) != state:
            known.pop(user_id, None)  # newest last, so the oldest go first
            known[user_id] = state
            changed = True
    while len(known) > MAX_KNOWN:
        known.pop(next(iter(known)))
    return changed
