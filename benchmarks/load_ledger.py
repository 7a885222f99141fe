"""The load test's bookkeeping, without I/O: when each simulated member speaks, what was sent,
what every client received, and what a gap in a sync means for the count.

benchmarks/load.py drives it; tests/unit/test_load_ledger.py drives it directly.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

BODY_PREFIX = "load "  # every load message's body: "load <uid>"


def message_body(uid: str) -> str:
    return BODY_PREFIX + uid


def uid_of(event: dict) -> str | None:
    """The unique id a load message carries, or None for any other event."""
    if event.get("type") != "m.room.message":
        return None
    body = (event.get("content") or {}).get("body")
    if isinstance(body, str) and body.startswith(BODY_PREFIX):
        return body[len(BODY_PREFIX):]
    return None


def send_times(duration: float, interval: float, jitter: float, rng: random.Random) -> list[float]:
    """When one member sends, in seconds from the start: a random first moment within one
    interval (members do not speak in step), then every interval * (1 +- jitter)."""
    if interval <= 0 or not 0 <= jitter < 1:
        raise ValueError("interval must be > 0 and jitter in [0, 1)")
    t = rng.uniform(0, interval)
    out = []
    while t < duration:
        out.append(t)
        t += interval * rng.uniform(1 - jitter, 1 + jitter)
    return out


def backfill_events(chunk: list[dict], known_event_ids: set[str]) -> tuple[list[dict], bool]:
    """One page of /messages (newest first, dir=b) after a limited sync: the events not yet
    seen, and whether paging may stop (it reached an event this client already had)."""
    new = []
    for event in chunk:
        if event.get("event_id") in known_event_ids:
            return new, True
        new.append(event)
    return new, False


@dataclass
class Ledger:
    """Sent messages per room, and what each client received of them."""

    members: dict[str, str] = field(default_factory=dict)  # client -> room
    sent: dict[str, str] = field(default_factory=dict)  # uid -> room, acknowledged by the server
    unacknowledged: dict[str, str] = field(default_factory=dict)  # uid -> room, send failed
    received: dict[str, Counter] = field(default_factory=dict)  # client -> uid -> times

    def add_client(self, client: str, room: str) -> None:
        self.members[client] = room
        self.received.setdefault(client, Counter())

    def record_sent(self, uid: str, room: str) -> None:
        self.unacknowledged.pop(uid, None)
        self.sent[uid] = room

    def record_unacknowledged(self, uid: str, room: str) -> None:
        if uid not in self.sent:
            self.unacknowledged[uid] = room

    def record_received(self, client: str, uid: str) -> None:
        self.received[client][uid] += 1

    def expected(self, client: str) -> set[str]:
        room = self.members[client]
        return {uid for uid, r in self.sent.items() if r == room}

    def missing(self, client: str) -> set[str]:
        return self.expected(client) - set(self.received[client])

    def complete(self) -> bool:
        return not any(self.missing(c) for c in self.members)

    def report(self) -> dict:
        """Lost: (client, message) pairs the server acknowledged but the client never got.
        Duplicated: pairs the client got more than once. Unexpected: messages a client got
        from a room it is not in, or never acknowledged to its sender (a lost answer)."""
        by_room: dict[str, set[str]] = {}
        for uid, room in self.sent.items():
            by_room.setdefault(room, set()).add(uid)
        lost = duplicated = deliveries = unexpected = 0
        for client, room in self.members.items():
            want = by_room.get(room, set())
            got = self.received[client]
            lost += len(want - set(got))
            duplicated += sum(1 for uid, n in got.items() if n > 1)
            deliveries += sum(min(n, 1) for uid, n in got.items() if uid in want)
            unexpected += sum(1 for uid in got if uid not in want)
        return {"clients": len(self.members), "sent": len(self.sent),
                "unacknowledged": len(self.unacknowledged),
                "expected_deliveries": sum(len(by_room.get(r, ())) for r in self.members.values()),
                "deliveries": deliveries, "lost": lost, "duplicated": duplicated,
                "unexpected": unexpected}
