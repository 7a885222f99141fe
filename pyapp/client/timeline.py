"""A room's messages as the user sees them, including local echo of what they send.

A message typed by the user is shown at once as pending, keyed by its transaction id. The
server's answer gives it an event id; the sync echo (carrying the same transaction id in
`unsigned`) confirms it in place, so it never shows twice. A failed send stays, marked, until
the user retries it with the same transaction id (the homeserver then deduplicates).
"""

from __future__ import annotations

from dataclasses import dataclass

PENDING, SENT, FAILED = "pending", "sent", "failed"

RENDERED_MSGTYPES = {"m.text", "m.notice", "m.emote"}


@dataclass
class Message:
    key: str  # stable across local echo -> confirmation, used by the view for DOM identity
    sender: str
    body: str
    ts: int  # milliseconds
    status: str = SENT
    txn_id: str | None = None
    event_id: str | None = None
    error: str | None = None
    msgtype: str = "m.text"


class Timeline:
    def __init__(self, limit: int = 500):
        self.limit = limit
        self.confirmed: list[Message] = []
        self.local: list[Message] = []  # not yet seen in sync, in send order
        self._seen: set[str] = set()

    @property
    def messages(self) -> list[Message]:
        return self.confirmed + self.local

    def last_event_id(self) -> str | None:
        for m in reversed(self.confirmed):
            if m.event_id:
                return m.event_id
        return None

    def reset(self) -> None:
        """The server skipped events (a limited sync): what we hold is no longer contiguous."""
        self.confirmed.clear()
        self._seen.clear()

    def add_remote(self, event: dict) -> bool:
        """Take one timeline event from sync. Returns True if what the user sees changed."""
        if not isinstance(event, dict) or event.get("type") != "m.room.message":
            return False
        event_id = event.get("event_id")
        if not isinstance(event_id, str) or not event_id or event_id in self._seen:
            return False
        # Wrong-typed fields (federation can deliver them) make the event unshowable, not fatal.
        content = _dict(event.get("content"))
        body = content.get("body")
        msgtype = content.get("msgtype")
        sender = event.get("sender")
        if not isinstance(body, str) or msgtype not in RENDERED_MSGTYPES \
                or not isinstance(sender, str):
            return False
        self._seen.add(event_id)
        txn_id = _dict(event.get("unsigned")).get("transaction_id")
        if not isinstance(txn_id, str):
            txn_id = None
        ts = event.get("origin_server_ts")
        ts = ts if isinstance(ts, int) and not isinstance(ts, bool) else None
        local = next(
            (m for m in self.local if (txn_id and m.txn_id == txn_id) or m.event_id == event_id),
            None,
        )
        if local is not None:
            self.local.remove(local)
            local.status, local.event_id, local.error = SENT, event_id, None
            local.ts = local.ts if ts is None else ts
            self.confirmed.append(local)
        else:
            self.confirmed.append(Message(
                key=event_id, sender=sender, body=body, ts=ts or 0, event_id=event_id,
                msgtype=msgtype,
            ))
        if len(self.confirmed) > self.limit:
            del self.confirmed[: len(self.confirmed) - self.limit]
        return True

    def add_local(self, txn_id: str, sender: str, body: str, now_ms: int,
                  status: str = PENDING) -> Message:
        message = Message(key=txn_id, sender=sender, body=body, ts=now_ms, status=status,
                          txn_id=txn_id)
        self.local.append(message)
        return message

    def find_local(self, txn_id: str) -> Message | None:
        return next((m for m in self.local if m.txn_id == txn_id), None)

    def mark_sent(self, txn_id: str, event_id: str) -> None:
        message = self.find_local(txn_id)
        if message is None:
            return  # the sync echo came first and already confirmed it
        if event_id in self._seen:
            self.local.remove(message)
            return
        message.status, message.event_id, message.error = SENT, event_id, None

    def mark_failed(self, txn_id: str, error: str) -> None:
        message = self.find_local(txn_id)
        if message is not None and message.status != SENT:
            message.status, message.error = FAILED, error

    def mark_pending(self, txn_id: str) -> Message | None:
        message = self.find_local(txn_id)
        if message is not None and message.status == FAILED:
            message.status, message.error = PENDING, None
        return message

    def unconfirmed(self) -> list[Message]:
        """Messages the server has not acknowledged: what must survive a reload."""
        return [m for m in self.local if m.status != SENT]


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}
