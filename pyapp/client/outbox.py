"""Local echo and unsent messages: what the user typed, until the server has it.

A message shows at once as pending (the room's timeline holds it, keyed by its transaction
id). What the server has not acknowledged is kept in storage so a reload sends it again, to
the same user only; signing out discards it everywhere (memory, storage, sends in flight), so
no later sign-in on this browser ever sends it.

Reactions, edits and deletions (actions) show at once too; one the server does not take is
withdrawn from the timeline and kept here with the reason, to retry (same transaction id, so
the server never applies it twice) or dismiss. They are not kept across a reload: the edit's
text is in the failed action until the user retries or dismisses it.

The network and the rest of the client come in as callbacks: `send` delivers one event and
returns its id (raising SendRefused, SessionExpired or a network error), `emit` reports a
changed room, `spawn` runs a background task, `on_expired` ends the session.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Mapping

from .markdown import text_content
from .media import needs_upload
from .session import new_transaction_id
from .storage import Storage, load_json, save_json
from .timeline import FAILED, PENDING, Message, Timeline
from .tokens import SessionExpired
from .transport import NETWORK_ERRORS

OUTBOX_KEY = "om-chat.outbox"  # {"user_id": ..., "messages": [...]}: what a reload resends


def _start_now(coro) -> asyncio.Future:
    """A task whose first steps run at once, up to its first real wait (for a send: the
    fetch() of its PUT), where the Python supports it (3.12+, as Pyodide's): the request then
    leaves before anything is drawn (measured in Chromium: Enter -> PUT 2 ms instead of 8-15,
    benchmarks/local_echo.py). Elsewhere it starts at the loop's next turn."""
    if sys.version_info >= (3, 12):
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            return asyncio.Task(coro, loop=loop, eager_start=True)
    return asyncio.ensure_future(coro)


class SendRefused(Exception):
    """The homeserver answered the send with an error; the message says why."""


class RoomLike:  # what the outbox needs of a room (pyapp.client.rooms.Room)
    room_id: str
    timeline: Timeline


# (room_id, content, txn_id[, event_type]) -> event id; m.room.redaction: content["redacts"]
Send = Callable[..., Awaitable[str]]


@dataclass
class Action:
    """A reaction, edit or deletion the server has not taken (yet)."""
    txn_id: str
    room_id: str
    event_type: str
    content: dict
    what: str  # for the error: "Reaction", "Edit", "Deletion"
    error: str | None = None


class Outbox:
    def __init__(self, storage: Storage, *, rooms: Callable[[], Mapping[str, RoomLike]],
                 send: Send, emit: Callable[[str], None],
                 spawn: Callable[[Awaitable[Any]], None],
                 on_expired: Callable[[str], None], clock: Callable[[], float]):
        self.storage = storage
        self._rooms = rooms
        self._send = send
        self._emit = emit
        self._spawn = spawn
        self._on_expired = on_expired
        self._clock = clock
        self.user_id: str | None = None
        self._restored: list[dict] = []
        self._sending: set[asyncio.Task] = set()  # sends in flight, cancelled at sign-out
        self._epoch = 0  # bumped at sign-out: deliveries begun before it are void
        self._actions: dict[str, Action] = {}  # txn id -> action in flight or failed

    def _room(self, room_id: Any) -> RoomLike | None:
        return self._rooms().get(room_id) if isinstance(room_id, str) else None

    # -- sending ----------------------------------------------------------------------
    async def send_text(self, room_id: str, body: str, content: dict | None = None) -> Message:
        """Send what the user typed (read as Markdown); `content` when it is more than that
        (a reply)."""
        room = self._room(room_id)
        if room is None or self.user_id is None:
            raise ValueError("This conversation is not available.")
        txn_id = new_transaction_id()
        content = content or text_content(body)
        room.timeline.add_local_echo(txn_id, content, self.user_id, int(self._clock() * 1000))
        message = room.timeline.item(txn_id)
        # The PUT leaves first (its fetch() is called inside _start where tasks can start
        # eagerly), the echo is drawn (and stored) while it travels: drawing the timeline
        # took a dozen ms off the way to the other members. The composer's render, queued
        # after this step, draws the echo; the emit below covers callers without one.
        epoch, send = self._epoch, self._start(room, message)
        await asyncio.sleep(0)
        if epoch != self._epoch:
            return message  # discarded at sign-out meanwhile: nothing is kept or shown
        self._save()
        self._emit(room_id)
        await self._deliver(room, message, send)
        return message

    async def retry(self, room_id: str, txn_id: str) -> None:
        room = self._room(room_id)
        if room is None or needs_upload(room.timeline.echo_content(txn_id)):
            return  # a file without its upload (pyapp.client.uploads retries those)
        if not room.timeline.echo_retry(txn_id):
            return  # not a failed message (any more)
        self._emit(room_id)
        await self._deliver(room, room.timeline.item(txn_id))

    async def deliver(self, room_id: str, txn_id: str) -> None:
        """Send a local echo that is ready (a file, once uploaded)."""
        room = self._room(room_id)
        message = room.timeline.item(txn_id) if room is not None else None
        if message is not None and not needs_upload(room.timeline.echo_content(txn_id)):
            await self._deliver(room, message)

    def _start(self, room: RoomLike, message: Message) -> asyncio.Future:
        content = room.timeline.echo_content(message.txn_id) \
            or {"msgtype": message.msgtype, "body": message.body}
        send = _start_now(self._send(room.room_id, content, message.txn_id))
        self._sending.add(send)
        return send

    async def _deliver(self, room: RoomLike, message: Message,
                       send: asyncio.Future | None = None) -> None:
        epoch = self._epoch
        if send is None:
            send = self._start(room, message)
        try:
            event_id = await send
        except asyncio.CancelledError:
            if epoch != self._epoch:
                return  # discarded at sign-out
            raise
        except SessionExpired as e:
            room.timeline.echo_failed(message.txn_id, "Not sent: sign in again, then retry.")
            self._on_expired(str(e))
        except NETWORK_ERRORS:
            room.timeline.echo_failed(message.txn_id, "Not sent: no connection.")
        except SendRefused as e:
            room.timeline.echo_failed(message.txn_id, f"Not sent: {e}.")
        else:
            room.timeline.echo_sent(message.txn_id, event_id)
        finally:
            self._sending.discard(send)
        if epoch != self._epoch:
            return  # signed out meanwhile: nothing of this session is kept
        self._save()
        self._emit(room.room_id)

    # -- reactions, edits, deletions --------------------------------------------------
    async def send_action(self, room_id: str, event_type: str, content: dict,
                          what: str) -> Action:
        room = self._room(room_id)
        if room is None or self.user_id is None:
            raise ValueError("This conversation is not available.")
        action = Action(new_transaction_id(), room_id, event_type, content, what)
        self._actions[action.txn_id] = action
        await self._deliver_action(room, action)
        return action

    def failed_actions(self, room_id: str) -> list[Action]:
        return [a for a in self._actions.values() if a.room_id == room_id and a.error]

    async def retry_action(self, txn_id: str) -> None:
        action = self._actions.get(txn_id)
        room = self._room(action.room_id) if action else None
        if room is None or action.error is None:
            return
        action.error = None
        await self._deliver_action(room, action)

    def dismiss_action(self, txn_id: str) -> None:
        action = self._actions.get(txn_id)
        if action is not None and action.error is not None:
            del self._actions[txn_id]
            self._emit(action.room_id)

    async def _deliver_action(self, room: RoomLike, action: Action) -> None:
        epoch = self._epoch
        room.timeline.add_local_echo(action.txn_id, action.content, self.user_id,
                                     int(self._clock() * 1000), event_type=action.event_type)
        self._emit(room.room_id)
        send = asyncio.ensure_future(
            self._send(room.room_id, action.content, action.txn_id, action.event_type))
        self._sending.add(send)
        error = None
        try:
            event_id = await send
        except asyncio.CancelledError:
            if epoch != self._epoch:
                return
            raise
        except SessionExpired as e:
            error = "sign in again, then retry"
            self._on_expired(str(e))
        except NETWORK_ERRORS:
            error = "no connection"
        except SendRefused as e:
            error = str(e)
        finally:
            self._sending.discard(send)
        if epoch != self._epoch:
            return
        if error is None:
            self._actions.pop(action.txn_id, None)
            room.timeline.echo_sent(action.txn_id, event_id)
        else:
            action.error = f"{action.what} failed: {error}."
            room.timeline.echo_failed(action.txn_id, action.error)  # withdrawn from view
        self._emit(room.room_id)

    # -- what survives a reload -------------------------------------------------------
    def unsent_count(self) -> int:
        """Messages typed but not acknowledged by the server: what signing out discards."""
        return sum(len(room.timeline.unconfirmed()) for room in self._rooms().values()) \
            + len(self._restored)

    def _save(self) -> None:
        if self.user_id is None:
            return
        entries = [
            {"room_id": room.room_id, "txn_id": m.txn_id, "body": m.body, "ts": m.ts,
             "status": m.status, "error": m.error,
             "content": room.timeline.echo_content(m.txn_id)}
            for room in self._rooms().values() for m in room.timeline.unconfirmed()
        ]
        if entries:
            save_json(self.storage, OUTBOX_KEY, {"user_id": self.user_id, "messages": entries})
        else:
            self.storage.remove(OUTBOX_KEY)

    def restore(self, user_id: str) -> None:
        """Messages not acknowledged before a reload come back, ready to send again; only
        to the user who typed them. Another user signing in on this browser discards them."""
        self.user_id = user_id
        self.storage.remove(f"{OUTBOX_KEY}.{user_id}")  # older per-user layout
        saved = load_json(self.storage, OUTBOX_KEY)
        mine = isinstance(saved, dict) and saved.get("user_id") == user_id
        entries = saved.get("messages") if mine else None
        self._restored = [e for e in entries if isinstance(e, dict)] \
            if isinstance(entries, list) else []
        if not mine:
            self.storage.remove(OUTBOX_KEY)

    def resend_restored(self) -> None:
        """After the first sync (the rooms are known): show the restored messages again and
        send the pending ones."""
        for entry in self._restored:
            room = self._room(entry.get("room_id"))
            if room is None or not isinstance(entry.get("txn_id"), str) or not entry["txn_id"]:
                continue
            txn_id = entry["txn_id"]
            content = entry.get("content")  # as sent: a reply's relation, the formatted body
            body = entry.get("body") if isinstance(entry.get("body"), str) else ""
            content = dict(content) if isinstance(content, dict) else text_content(body)
            content["body"] = entry.get("body")
            room.timeline.add_local_echo(txn_id, content, self.user_id, entry.get("ts"))
            if needs_upload(content):  # the file itself was not kept
                room.timeline.echo_failed(txn_id, "Not sent: the upload stopped when the page "
                                                  "closed. Attach the file again.")
            elif entry.get("status") == FAILED:
                room.timeline.echo_failed(txn_id, str(entry.get("error") or "Not sent."))
            message = room.timeline.item(txn_id)
            if message.status == PENDING:
                self._spawn(self._deliver(room, message))
            self._emit(room.room_id)
        self._restored = []

    def discard(self) -> None:
        """Sign-out: nothing typed in this session is sent or shown again."""
        self._epoch += 1
        for send in list(self._sending):
            send.cancel()
        self._sending.clear()
        self._restored = []
        self._actions.clear()
        for room in self._rooms().values():
            room.timeline.discard_local()
        self.storage.remove(OUTBOX_KEY)
        if self.user_id is not None:
            self.storage.remove(f"{OUTBOX_KEY}.{self.user_id}")
        self.user_id = None
