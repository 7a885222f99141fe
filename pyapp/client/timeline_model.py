"""A room's timeline as the user sees it, built from plain event dicts, without I/O.

Fed the `timeline` section of each sync, the pages of `/messages` and the user's own sends, it
keeps the display items in order and says after each step what changed, so the view can
update only those items:

- Order is the server's (sync appends, back-pagination prepends), never `origin_server_ts`:
  a timestamp is whatever the sender's server claimed. Local echoes stay below every event
  from the server until the server has them.
- A `limited` sync leaves a `Gap` between what was held and what came, carrying the token to
  fill it from (`/messages?dir=b&from=`). The top of the held history is a gap too, until
  the room's creation (or the earliest event the user may see) is reached: then `RoomStart`.
- Relations are aggregated onto the message they point at, whichever arrives first: edits
  (the latest by timestamp, then event id, from the original sender wins; anyone else's are
  ignored, as the spec says), reactions per key with who reacted, redactions (a placeholder
  remains), and the `m.in_reply_to` target (the reply fallback is stripped).
- Membership changes (joins, leaves, profile changes) are items of their own, in order, for
  the view to collapse into one line.
- Events are untrusted (federation delivers malformed ones): each one that cannot be used is
  skipped and noted in `problems`; none can make the model raise or lose another event.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Union

from .crypto import UNREADABLE, UNREADABLE_KEY, WARNING_KEY, WARNINGS
from .media import Media, media_of
from .sync_events import event_problem

log = logging.getLogger(__name__)

PENDING, SENT, FAILED = "pending", "sent", "failed"
HTML_FORMAT = "org.matrix.custom.html"
START_KEY = "start"
TOP_GAP_KEY = "gap:top"
MAX_REACTION_KEY = 64  # characters; a reaction is an emoji or a word, not a message
MAX_PROBLEMS = 50
# An m.room.encrypted event not decrypted (yet): shown as this msgtype and body until
# decrypted() replaces it (pyapp.client.crypto).
UNDECRYPTED = "om.undecrypted"
WAITING_FOR_KEY = "Waiting for this message's key"

_REPLY_HTML = re.compile(r"^\s*<mx-reply>.*?</mx-reply>", re.DOTALL | re.IGNORECASE)


@dataclass
class Reaction:
    key: str
    senders: list[str]  # in the order they reacted

    @property
    def count(self) -> int:
        return len(self.senders)


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
    formatted_body: str | None = None  # org.matrix.custom.html, unsanitized: sanitize to show
    edited: bool = False
    reply_to: str | None = None  # event id of the message this one answers
    redacted: bool = False
    reactions: list[Reaction] = field(default_factory=list)
    media: Media | None = None  # m.image, m.file, m.video, m.audio: what it shows (checked)
    warning: str | None = None  # decrypted, but its sending device is not vouched for


@dataclass
class Gap:
    """Events may be missing here; `token` fetches them (`/messages?dir=b&from=token`).
    None: nothing can fill it (the server gave no token)."""
    key: str
    token: str | None
    loading: bool = False


@dataclass
class RoomStart:
    """Nothing is earlier: the room's creation, or the earliest event the user may see."""
    key: str = START_KEY


@dataclass
class MemberChange:
    """An `m.room.member` event: who (`user_id`) went from `previous` to `membership`."""
    key: str
    sender: str
    user_id: str
    membership: str
    ts: int
    previous: str | None = None  # from unsigned.prev_content, when the server gives it
    name: str | None = None  # display name after
    previous_name: str | None = None

    @property
    def kind(self) -> str:
        """join, leave, profile (a joined member's name or avatar changed), invite, kick,
        ban, unban, reject (an invite declined), withdraw (an invite taken back), knock, or
        the membership itself when none of these fits."""
        by_self = self.sender == self.user_id
        if self.membership == "join":
            return "profile" if self.previous == "join" else "join"
        if self.membership == "leave":
            if self.previous == "ban":
                return "unban"
            if self.previous == "invite":
                return "reject" if by_self else "withdraw"
            return "leave" if by_self else "kick"
        return self.membership


Item = Union[Message, Gap, RoomStart, MemberChange]


@dataclass(frozen=True)
class Changes:
    """Keys of the display items added, changed (fields differ) and removed by one step."""
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


@dataclass
class _Edit:
    event_id: str
    sender: str
    ts: int
    content: dict


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _problem_of(event: Any) -> str | None:
    problem = event_problem(event)
    if problem is None and (not _str(event.get("sender"))
                            or not str(event.get("event_id", "")).startswith("$")):
        # An id not of the form $... could pose as a gap, the start marker or a local echo.
        problem = f"{event['type']} event without sender or $event_id"
    return problem


def _ts(value: Any) -> int:
    """As claimed (the view shows impossible dates as unknown), or 0 when not an integer."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def strip_reply_fallback(body: str, formatted: str | None) -> tuple[str, str | None]:
    """Remove the quoted original other clients put in front of a reply (spec: "Fallbacks
    for rich replies"): the leading `> ` lines and the blank line after them, and the
    leading `<mx-reply>` element."""
    lines = body.split("\n")
    quoted = 0
    while quoted < len(lines) and lines[quoted].startswith(">"):
        quoted += 1
    if quoted:
        if quoted < len(lines) and lines[quoted] == "":
            quoted += 1
        body = "\n".join(lines[quoted:])
    if formatted is not None:
        formatted = _REPLY_HTML.sub("", formatted, count=1)
    return body, formatted


class TimelineModel:
    def __init__(self, limit: int = 500):
        self.limit = limit  # events held; the oldest go first, back-pagination reloads them
        self.problems: list[str] = []  # the latest events that could not be used, and why
        self.version = 0  # grows with every step that changed what is shown
        self._order: list[str] = []  # keys of server items and gaps, oldest first
        self._local: list[str] = []  # keys of local echoes not yet in _order, in send order
        self._items: dict[str, Item] = {}
        self._key_of: dict[str, str] = {}  # event id -> key of its message
        self._seen: set[str] = set()  # every event id taken in (messages and relations)
        self._contents: dict[str, dict] = {}  # message key -> its original content
        self._edits: dict[str, dict[str, _Edit]] = {}  # target event id -> edits of it
        self._reactions: dict[str, dict[str, tuple[str, str]]] = {}  # target -> id -> (key, sender)
        self._relation: dict[str, tuple[str, str]] = {}  # relation id -> (kind, target id)
        self._redactions: dict[str, set[str]] = {}  # id named by redactions -> their ids
        self._replies: dict[str, set[str]] = {}  # target event id -> keys of replies to it
        self._echo_relations: dict[str, str] = {}  # txn id -> local id of a relation echo
        self._gaps = 0
        self._log: dict[str, str] = {}

    # -- reading ------------------------------------------------------------------------
    def items(self) -> list[Item]:
        """Everything to display, oldest first: start marker or gaps, messages, local echoes."""
        return [self._items[k] for k in self._order + self._local]

    def item(self, key: str) -> Item | None:
        return self._items.get(key)

    def message(self, event_id: str) -> Message | None:
        """The message with this event id (e.g. a reply's target), if held."""
        item = self._items.get(self._key_of.get(event_id, ""))
        return item if isinstance(item, Message) else None

    def top_gap(self) -> Gap | None:
        """The gap back-pagination continues from, unless the start is reached."""
        first = self._items.get(self._order[0]) if self._order else None
        return first if isinstance(first, Gap) else None

    def at_start(self) -> bool:
        return bool(self._order) and self._order[0] == START_KEY

    def reaction_event(self, target_id: str, key: str, sender: str) -> str | None:
        """The event id of `sender`'s `key` reaction to `target_id` (what to redact to remove
        it); a pending echo has none yet."""
        for relation_id, (k, s) in self._reactions.get(target_id, {}).items():
            if k == key and s == sender and not relation_id.startswith("~") \
                    and not self._redacted(relation_id):
                return relation_id
        return None

    def echo_content(self, txn_id: str) -> dict | None:
        """What a local echo of a message sends (its reply target included)."""
        return self._contents.get(txn_id) if txn_id in self._local else None

    def content(self, key: str) -> dict | None:
        """The content a message was sent with (before any edit)."""
        return self._contents.get(key)

    def last_event_id(self) -> str | None:
        for key in reversed(self._order):
            item = self._items[key]
            if isinstance(item, Message) and item.event_id:
                return item.event_id
        return None

    def unconfirmed(self) -> list[Message]:
        """Messages the server has not acknowledged: what must survive a reload."""
        return [m for m in self._local_messages() if m.status != SENT]

    def _local_messages(self) -> list[Message]:
        return [self._items[k] for k in self._local]  # type: ignore[misc]

    # -- feeding ------------------------------------------------------------------------
    def apply_sync(self, section: Any) -> Changes:
        """Take a room's `timeline` section of a sync: `events`, `limited`, `prev_batch`."""
        section = _dict(section)
        events = section.get("events")
        events = events if isinstance(events, list) else []
        prev_batch = _str(section.get("prev_batch"))
        self._begin()
        last = self._items[self._order[-1]] if self._order else None
        if last is None:
            self._insert(0, Gap(TOP_GAP_KEY, prev_batch))
        elif isinstance(last, Gap) and section.get("limited") is True:
            self._update(last, token=prev_batch)  # nothing held below it: it leads back
        elif section.get("limited") is True:
            self._gaps += 1
            self._insert(len(self._order), Gap(f"gap:{self._gaps}", prev_batch))
        for event in events:
            self._take(event, len(self._order))
        self._trim()
        return self._finish()

    def prepend_page(self, chunk: Any, end: Any, gap_key: str = TOP_GAP_KEY) -> Changes:
        """Take a `/messages?dir=b` answer fetched from the gap `gap_key`: `chunk` (newest
        first) goes just below the gap, `end` becomes its token. The gap closes when the
        page reaches events already held, or the room's start (no `end`, or the creation)."""
        self._begin()
        gap = self._items.get(gap_key)
        if not isinstance(gap, Gap):
            return self._finish()
        events = chunk if isinstance(chunk, list) else []
        below = self._order.index(gap_key) + 1
        closed = False
        for event in events:  # newest first: each older one goes above the previous
            event_id = _dict(event).get("event_id")
            # A message is held under its key; a membership change under its event id.
            held = (self._key_of.get(event_id) or event_id) if isinstance(event_id, str) \
                else None
            if held in self._order and self._order.index(held) < below:
                closed = True  # reached what the gap's far side holds: all older is held
                break
            self._take(event, below)
        # Nothing older: the top gap is the room's start; a gap lower down had nothing more.
        exhausted = _str(end) is None or not events
        top_reached = gap_key == TOP_GAP_KEY and exhausted
        if gap_key not in self._items:
            pass  # the page held the room's creation: the start replaced the gap
        elif closed or exhausted:
            self._remove(gap_key)
            if top_reached and not self.at_start():
                self._insert(0, RoomStart())
        else:
            self._update(gap, token=_str(end), loading=False)
        return self._finish()

    def decrypted(self, events: list[dict]) -> Changes:
        """Encrypted events shown as waiting for their key have been decrypted: each takes
        the place of its placeholder (a message in place, a reaction or an edit onto its
        target). Events not held as waiting are ignored."""
        self._begin()
        for event in events:
            event_id = _dict(event).get("event_id")
            key = self._key_of.get(event_id) if isinstance(event_id, str) else None
            item = self._items.get(key) if key else None
            if not isinstance(item, Message) or item.msgtype != UNDECRYPTED \
                    or key not in self._order:
                continue
            position = self._order.index(key)
            self._remove(key)
            self._take(event, position)
        return self._finish()

    def set_gap_loading(self, gap_key: str, loading: bool) -> Changes:
        """Show (or stop showing) that a gap is being fetched."""
        self._begin()
        gap = self._items.get(gap_key)
        if isinstance(gap, Gap):
            self._update(gap, loading=loading)
        return self._finish()

    # -- local echo ---------------------------------------------------------------------
    def add_local_echo(self, txn_id: str, content: dict, sender: str, now_ms: int,
                       event_type: str = "m.room.message", status: str = PENDING) -> Changes:
        """Show what the user sends at once. A message becomes an item keyed by `txn_id`;
        a reaction, an edit or a redaction (`event_type` m.room.redaction, the target in
        `content["redacts"]`) applies to its target at once."""
        self._begin()
        content = _dict(content)
        if txn_id in self._items or txn_id in self._echo_relations:
            pass  # already shown (a transaction id names one send)
        elif event_type == "m.room.message" and _dict(content.get("m.relates_to")).get(
                "rel_type") != "m.replace":
            body = content.get("body") if isinstance(content.get("body"), str) else ""
            message = Message(key=txn_id, sender=sender, body=body, ts=_ts(now_ms),
                              status=status, txn_id=txn_id,
                              msgtype=_str(content.get("msgtype")) or "m.text")
            self._contents[txn_id] = content
            self._items[txn_id] = message
            self._local.append(txn_id)
            self._note(txn_id, "added")
            self._render(txn_id)
        else:
            local_id = "~" + txn_id
            self._echo_relations[txn_id] = local_id
            self._relate({"type": event_type, "event_id": local_id, "sender": sender,
                          "origin_server_ts": now_ms, "content": content})
        return self._finish()

    def echo_sent(self, txn_id: str, event_id: str) -> Changes:
        """The server accepted the send; the sync will confirm it in place."""
        self._begin()
        if txn_id in self._local:
            message: Message = self._items[txn_id]  # type: ignore[assignment]
            if event_id in self._seen:  # the sync echo came first (without the txn id)
                self._local.remove(txn_id)
                self._note(txn_id, "removed")
                del self._items[txn_id]
                self._contents.pop(txn_id, None)
            else:
                self._key_of[event_id] = txn_id
                self._update(message, status=SENT, event_id=event_id, error=None)
                self._render(txn_id)  # relations to it may have come first
        elif txn_id in self._echo_relations and event_id not in self._seen:
            self._rename_relation(self._echo_relations.pop(txn_id), event_id)
        elif txn_id in self._echo_relations:
            self._unrelate(self._echo_relations.pop(txn_id))
        return self._finish()

    def echo_failed(self, txn_id: str, error: str) -> Changes:
        """A message stays, marked, to be retried; a reaction or edit is withdrawn."""
        self._begin()
        message = self._items.get(txn_id) if txn_id in self._local else None
        if isinstance(message, Message) and message.status != SENT:
            self._update(message, status=FAILED, error=error)
        elif txn_id in self._echo_relations:
            self._unrelate(self._echo_relations.pop(txn_id))
        return self._finish()

    def echo_retry(self, txn_id: str) -> Changes:
        """A failed message goes back to pending (sent again with the same transaction id,
        which the homeserver deduplicates)."""
        self._begin()
        message = self._items.get(txn_id) if txn_id in self._local else None
        if isinstance(message, Message) and message.status == FAILED:
            self._update(message, status=PENDING, error=None)
        return self._finish()

    def echo_update_content(self, txn_id: str, content: dict) -> Changes:
        """What a local echo will send changed (an upload finished: the file's address)."""
        self._begin()
        if txn_id in self._local and isinstance(content, dict):
            self._contents[txn_id] = content
            self._render(txn_id)
        return self._finish()

    def discard_echo(self, txn_id: str) -> Changes:
        """Forget one unsent message (an upload the user cancelled)."""
        self._begin()
        message = self._items.get(txn_id) if txn_id in self._local else None
        if isinstance(message, Message) and message.status != SENT:
            self._local.remove(txn_id)
            del self._items[txn_id]
            self._contents.pop(txn_id, None)
            self._note(txn_id, "removed")
        return self._finish()

    def discard_local(self) -> Changes:
        """Forget every local echo (signed out: nothing of the session is kept)."""
        self._begin()
        for key in self._local:
            self._note(key, "removed")
            del self._items[key]
            self._contents.pop(key, None)
        self._local.clear()
        for local_id in self._echo_relations.values():
            self._unrelate(local_id)
        self._echo_relations.clear()
        return self._finish()

    # -- taking events in ---------------------------------------------------------------
    def _take(self, event: Any, position: int) -> None:
        """Take one server event; a message item goes at `position` in _order. A bug that
        one event trips costs only that event."""
        try:
            self._take_one(event, position)
        except Exception:  # noqa: BLE001  (contained per event, see above)
            log.exception("Could not take a timeline event")
            self._problem("an event could not be taken in", _dict(event).get("event_id"))

    def _take_one(self, event: Any, position: int) -> None:
        problem = _problem_of(event)
        event_id = _dict(event).get("event_id")
        if problem is not None:
            self._problem(problem, event_id)
            return
        if event_id in self._seen:
            return
        self._match_relation_echo(event)
        kind, content = event["type"], event["content"]
        if kind == "m.room.create" and event.get("state_key") == "":
            self._seen.add(event_id)
            self._reach_start()
        elif kind == "m.room.message" and not self._is_edit(content):
            self._add_message(event, position)
        elif kind in ("m.room.message", "m.reaction", "m.room.redaction"):
            self._relate(event)
        elif kind == "m.room.member":
            self._add_member(event, position)
        elif kind == "m.room.encrypted":
            # Waiting for its key, unless the crypto layer found it can never be read here.
            why = UNREADABLE.get(_dict(event.get("unsigned")).get(UNREADABLE_KEY),
                                 WAITING_FOR_KEY)
            self._seen.add(event_id)
            self._insert(position, Message(
                key=event_id, sender=event["sender"], body=why, event_id=event_id,
                ts=_ts(event.get("origin_server_ts")), msgtype=UNDECRYPTED))
            self._key_of[event_id] = event_id
            # What _render falls back to while relations (reactions) arrive for it first.
            self._contents[event_id] = {"body": why, "msgtype": UNDECRYPTED}

    def _add_member(self, event: dict, position: int) -> None:
        user_id, membership = _str(event.get("state_key")), _str(event["content"].get("membership"))
        if user_id is None or membership is None:
            return self._problem("m.room.member without state_key or membership",
                                 event["event_id"])
        self._seen.add(event["event_id"])
        before = _dict(_dict(event.get("unsigned")).get("prev_content"))
        self._insert(position, MemberChange(
            key=event["event_id"], sender=event["sender"], user_id=user_id,
            membership=membership, ts=_ts(event.get("origin_server_ts")),
            previous=_str(before.get("membership")), name=_str(event["content"].get("displayname")),
            previous_name=_str(before.get("displayname"))))
        return None

    @staticmethod
    def _is_edit(content: dict) -> bool:
        return _dict(content.get("m.relates_to")).get("rel_type") == "m.replace"

    def _add_message(self, event: dict, position: int) -> None:
        event_id, content = event["event_id"], event["content"]
        redacted = "redacted_because" in _dict(event.get("unsigned"))
        if not isinstance(content.get("body"), str) and not redacted:
            self._problem("m.room.message without a string body", event_id)
            return
        self._seen.add(event_id)
        echo = self._local_echo_of(event)
        ts = _ts(event.get("origin_server_ts"))
        if echo is not None:  # confirmed: from the local list into the server's order
            self._local.remove(echo.key)
            self._order.insert(position, echo.key)
            self._note(echo.key, "changed")
            self._update(echo, status=SENT, event_id=event_id, error=None, ts=ts or echo.ts)
            key = echo.key
        else:
            key = event_id
            self._insert(position, Message(
                key=key, sender=event["sender"], body="", ts=ts, event_id=event_id,
                warning=WARNINGS.get(_dict(event.get("unsigned")).get(WARNING_KEY))))
        self._key_of[event_id] = key
        self._contents[key] = content
        if redacted:
            self._redactions.setdefault(event_id, set()).add("unsigned")
        self._render(key)
        # An edit inside the original's `unsigned` (servers bundle the latest one).
        bundled = _dict(_dict(_dict(event.get("unsigned")).get("m.relations")).get("m.replace"))
        if bundled and _problem_of(bundled) is None and bundled["event_id"] not in self._seen:
            self._relate(bundled)

    def _local_echo_of(self, event: dict) -> Message | None:
        txn_id = _dict(event.get("unsigned")).get("transaction_id")
        for key in self._local:
            message: Message = self._items[key]  # type: ignore[assignment]
            if (isinstance(txn_id, str) and message.txn_id == txn_id) \
                    or message.event_id == event["event_id"]:
                return message
        return None

    def _match_relation_echo(self, event: dict) -> None:
        """The server's copy of a reaction/edit we echoed replaces the echo."""
        txn_id = _dict(event.get("unsigned")).get("transaction_id")
        local_id = self._echo_relations.pop(txn_id, None) if isinstance(txn_id, str) else None
        if local_id is not None:
            self._unrelate(local_id)

    def _relate(self, event: dict) -> None:
        """Take a reaction, an edit or a redaction (a server's or our own echo's)."""
        event_id, content, sender = event["event_id"], event["content"], event["sender"]
        relates = _dict(content.get("m.relates_to"))
        kind = event["type"]
        if kind == "m.room.redaction":  # `redacts` moved into content in room version 11
            target = _str(event.get("redacts")) or _str(content.get("redacts"))
        else:
            target = _str(relates.get("event_id"))
        if target is None:
            return self._problem(f"{kind} without a target event id", event_id)
        if kind == "m.reaction":
            key = relates.get("key")
            if relates.get("rel_type") != "m.annotation" or not isinstance(key, str) \
                    or not key or len(key) > MAX_REACTION_KEY:
                return self._problem("m.reaction without a usable annotation key", event_id)
            self._reactions.setdefault(target, {})[event_id] = (key, sender)
        elif kind == "m.room.message":
            new_content = content.get("m.new_content")
            if not isinstance(new_content, dict) or not isinstance(new_content.get("body"), str):
                return self._problem("edit without m.new_content body", event_id)
            self._edits.setdefault(target, {})[event_id] = _Edit(
                event_id, sender, _ts(event.get("origin_server_ts")), new_content)
        else:
            self._redactions.setdefault(target, set()).add(event_id)
        self._seen.add(event_id)
        if kind != "m.room.redaction" or event_id.startswith("~"):  # a server's is final
            self._relation[event_id] = (kind, target)
        self._rerender_for(event_id if kind != "m.room.redaction" else target)
        return None

    def _unrelate(self, relation_id: str) -> None:
        """Withdraw a relation echo the server refused (or that the server's copy replaces)."""
        kind, target = self._relation.pop(relation_id, (None, ""))
        if kind == "m.reaction":
            self._reactions.get(target, {}).pop(relation_id, None)
        elif kind == "m.room.message":
            self._edits.get(target, {}).pop(relation_id, None)
        elif kind is not None:
            self._redactions.get(target, set()).discard(relation_id)
        if kind == "m.room.redaction":
            self._rerender_for(target)
        elif kind is not None:
            self._rerender(target)

    def _rename_relation(self, local_id: str, event_id: str) -> None:
        kind, target = self._relation.pop(local_id, (None, ""))
        self._seen.add(event_id)
        if kind == "m.reaction":
            self._reactions[target][event_id] = self._reactions[target].pop(local_id)
        elif kind == "m.room.message":
            edit = self._edits[target].pop(local_id)
            edit.event_id = event_id
            self._edits[target][event_id] = edit
        elif kind is not None:
            self._redactions[target].discard(local_id)
            self._redactions[target].add(event_id)
            return
        if kind is not None:
            self._relation[event_id] = (kind, target)

    def _redacted(self, event_id: str | None) -> bool:
        return bool(event_id and self._redactions.get(event_id))

    def _rerender_for(self, event_id: str) -> None:
        """Re-render the message `event_id` is, or the one it relates to."""
        kind, target = self._relation.get(event_id, (None, event_id))
        self._rerender(target if kind in ("m.reaction", "m.room.message") else event_id)

    def _reach_start(self) -> None:
        if self.at_start():
            return
        if self._order and isinstance(self._items[self._order[0]], Gap):
            self._remove(self._order[0])
        self._insert(0, RoomStart())

    # -- display ------------------------------------------------------------------------
    def _rerender(self, target_event_id: str) -> None:
        key = self._key_of.get(target_event_id)
        if key is not None:
            self._render(key)

    def _render(self, key: str) -> None:
        """Recompute a message's shown fields from its original and its relations."""
        message = self._items.get(key)
        if not isinstance(message, Message):
            return
        original = self._contents.get(key, {})
        event_id = message.event_id
        redacted = self._redacted(event_id)
        reply = None if redacted else _str(
            _dict(_dict(original.get("m.relates_to")).get("m.in_reply_to")).get("event_id"))
        if reply != message.reply_to:
            if message.reply_to:
                self._replies.get(message.reply_to, set()).discard(key)
            if reply:
                self._replies.setdefault(reply, set()).add(key)
        if redacted:
            self._update(message, body="", formatted_body=None, edited=False, redacted=True,
                         reactions=[], reply_to=None, media=None)
            return
        content, edited = original, False
        edits = [e for e in self._edits.get(event_id or "", {}).values()
                 if e.sender == message.sender and not self._redacted(e.event_id)]
        if edits:
            content = max(edits, key=lambda e: (e.ts, e.event_id)).content
            edited = True
        body = content.get("body") if isinstance(content.get("body"), str) else ""
        formatted = content.get("formatted_body") \
            if content.get("format") == HTML_FORMAT \
            and isinstance(content.get("formatted_body"), str) else None
        if reply:
            body, formatted = strip_reply_fallback(body, formatted)
        self._update(message, body=body, formatted_body=formatted, edited=edited,
                     reply_to=reply, msgtype=_str(content.get("msgtype")) or message.msgtype,
                     reactions=self._aggregate(event_id), media=media_of(content))

    def _aggregate(self, event_id: str | None) -> list[Reaction]:
        by_key: dict[str, Reaction] = {}
        for reaction_id, (key, sender) in self._reactions.get(event_id or "", {}).items():
            if self._redacted(reaction_id):
                continue
            reaction = by_key.setdefault(key, Reaction(key, []))
            if sender not in reaction.senders:  # one per user and key counts
                reaction.senders.append(sender)
        return list(by_key.values())

    # -- bookkeeping --------------------------------------------------------------------
    def _insert(self, position: int, item: Item) -> None:
        self._items[item.key] = item
        self._order.insert(position, item.key)
        self._note(item.key, "added")

    def _remove(self, key: str) -> None:
        self._order.remove(key)
        item = self._items.pop(key)
        self._contents.pop(key, None)
        if isinstance(item, Message) and item.event_id:
            self._key_of.pop(item.event_id, None)
            self._seen.discard(item.event_id)  # may be paginated in again
        elif isinstance(item, MemberChange):
            self._seen.discard(key)
        self._note(key, "removed")

    def _update(self, item: Item, **fields: Any) -> None:
        changed = False
        for name, value in fields.items():
            if getattr(item, name) != value:
                setattr(item, name, value)
                changed = True
        if changed:
            self._note(item.key, "changed")
            if isinstance(item, Message) and item.event_id:
                for reply_key in self._replies.get(item.event_id, ()):
                    if reply_key in self._items:
                        self._note(reply_key, "changed")  # its quoted preview shows this one

    def _trim(self) -> None:
        """Hold at most `limit` events: the oldest go, and the top becomes a gap again
        (fillable only if a gap's token was reached, else it shows that history is cut)."""
        if len(self._order) <= self.limit:
            return
        count = sum(not isinstance(self._items[k], (Gap, RoomStart)) for k in self._order)
        if count <= self.limit:
            return
        token = None
        while count > self.limit:
            key = self._order[0]
            item = self._items[key]
            count -= not isinstance(item, (Gap, RoomStart))
            token = item.token if isinstance(item, Gap) else None
            self._remove(key)
        while self._order and isinstance(self._items[self._order[0]], Gap):
            token = self._items[self._order[0]].token  # type: ignore[union-attr]
            self._remove(self._order[0])
        self._insert(0, Gap(TOP_GAP_KEY, token))

    def _note(self, key: str, kind: str) -> None:
        before = self._log.get(key)
        if kind == "changed":
            self._log[key] = before or "changed"
        elif kind == "added":
            self._log[key] = "changed" if before == "removed" else "added"
        elif before == "added":
            del self._log[key]
        else:
            self._log[key] = "removed"

    def _problem(self, problem: str, event_id: Any) -> None:
        problem += f" ({event_id})" if isinstance(event_id, str) else ""
        log.warning("Timeline event skipped: %s", problem)
        self.problems.append(problem)
        del self.problems[:-MAX_PROBLEMS]

    def _begin(self) -> None:
        self._log = {}

    def _finish(self) -> Changes:
        """What changed, once every step of the operation is done (the model is consistent)."""
        notes, self._log = self._log, {}
        if notes:
            self.version += 1
        shown = self._order + self._local
        ordered = [k for k in shown if k in notes] + [k for k in notes if k not in self._items]
        return Changes(
            added=tuple(k for k in ordered if notes[k] == "added"),
            changed=tuple(k for k in ordered if notes[k] == "changed"),
            removed=tuple(k for k in ordered if notes[k] == "removed"),
        )
