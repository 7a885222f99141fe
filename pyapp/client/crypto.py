"""End-to-end encryption for the session layer, without I/O of its own.

The cryptography is the engine's (in the browser the Matrix project's Rust crypto compiled to
WebAssembly, pyapp.browser.crypto_engine; in tests a fake): this module never encrypts or
decrypts anything itself. It decides *when* the engine is needed and what to feed it:

- a sync's to-device events, device-list changes and one-time-key counts go to the engine
  (before the sync's room events are decrypted: the keys for them may be in the same answer);
- whatever the engine then wants sent (key uploads, key queries and claims, room keys to other
  devices) goes out through the session's authenticated HTTP (`MatrixHttp`), and the answers
  go back to the engine;
- `m.room.encrypted` events of the sync and of history pages are replaced in place by their
  decrypted form, the envelope (event id, sender, timestamp, `unsigned`) kept from the server;
- before a message is encrypted, the room's members' devices are queried, Olm sessions are
  claimed where missing and the room key is shared (the engine rotates it when a member left
  or the rotation period is over).

The engine is loaded only when the user meets encryption (an encrypted room, an encrypted
event, a to-device message): a user of unencrypted rooms never downloads it, and loading it
never holds up a sync. While it loads, encrypted events show as waiting for their key and
the crypto parts of the syncs are kept in order; when it is ready they are fed, and events
that could not be decrypted then are retried after every sync that brought keys
(`on_decrypted` hands the healed events to the service).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol
from urllib.parse import quote

from .key_backup import KeyBackup
from .replay_guard import ReplayGuard

log = logging.getLogger(__name__)

ENCRYPTED = "m.room.encrypted"
ENCRYPTION_STATE = "m.room.encryption"
MEGOLM = "m.megolm.v1.aes-sha2"
# How long after a failed engine load the next sync that needs it tries again.
RELOAD_AFTER_S = 30.0
# Someone invited less than this long ago without device keys is waited for (up to
# DEVICE_WAIT_S, looking every DEVICE_POLL_S) before the first message to them is encrypted.
# Their browser fetches and compiles the engine when the invitation arrives, seconds on a busy
# machine; the message waits as pending meanwhile, and someone offline costs the wait once
# per room.
FRESH_INVITE_MS = 120_000
DEVICE_WAIT_S, DEVICE_POLL_S = 15.0, 0.3
MAX_PENDING = 2000  # undecrypted events remembered for a retry (the oldest go first)

# The engine's request kinds (matrix-sdk-crypto's RequestType).
KEYS_UPLOAD, KEYS_QUERY, KEYS_CLAIM, TO_DEVICE, SIGNATURE_UPLOAD, ROOM_MESSAGE, KEYS_BACKUP = (
    "KeysUpload", "KeysQuery", "KeysClaim", "ToDevice", "SignatureUpload", "RoomMessage",
    "KeysBackup")


# Why a message can never be read on this device, in a member's words, by the code the
# engine gives (a withheld code from the sender, or a failure of the ciphertext itself). The
# timeline shows them for events marked with `unsigned.om_unreadable` (set here, after any
# such mark from the server has been removed, so the server cannot choose the words).
UNREADABLE_KEY = "om_unreadable"
UNREADABLE = {
    "m.unverified": "This message can't be read here: the sender's app only shares keys "
                    "with verified devices.",
    "m.blacklisted": "This message can't be read here: the sender's app blocked this device.",
    "m.unauthorised": "This message was sent before you could read this conversation.",
    "m.unavailable": "This message's key is not available to this device.",
    "m.no_olm": "This message can't be read here: the sender's device could not reach "
                "this one securely.",
    "broken": "This message can't be read: it was not encrypted in a way this device "
              "can open.",
    "replayed": "This message is a copy of an earlier encrypted message, sent again; "
                "it is not shown twice.",
}


# A message that decrypted but whose sending device the engine cannot vouch for (its
# ShieldStateCode, non-strict: only the red ones), in a member's words. The engine's decrypt
# gives the code under WARNING_KEY; clear_event puts it in `unsigned` (the server's own
# mark of that name is dropped).
WARNING_KEY = "om_warning"
WARNINGS = {
    "unknown_device": "Sent from a device this app does not know (it may be new, deleted, "
                      "or have changed its keys): take care.",
    "mismatched_sender": "The sender of this message could not be confirmed: take care.",
    "verification_violation": "The sender's identity changed since it was verified: "
                              "take care.",
}


class EngineError(Exception):
    """The engine failed (could not load, or refused an operation)."""


class Undecryptable(Exception):
    """The engine cannot decrypt this event (yet): `waiting` when the key may still come."""

    def __init__(self, reason: str, waiting: bool = True, withheld: str | None = None):
        super().__init__(reason)
        self.waiting = waiting
        self.withheld = withheld  # the sender's withheld code (m.unverified, ...), if any


@dataclass
class EngineRequest:
    """One outgoing request of the engine: `kind` (see above), its JSON `body` and the
    fields some kinds need to build their path."""
    id: str
    kind: str
    body: str
    event_type: str = ""
    txn_id: str = ""
    room_id: str = ""
    version: str = ""


class CryptoEngine(Protocol):
    async def receive_sync(self, to_device: list[dict], changed: list[str], left: list[str],
                           otk_counts: dict[str, int],
                           unused_fallback: list[str] | None) -> None: ...

    async def outgoing_requests(self) -> list[EngineRequest]: ...

    async def mark_sent(self, request: EngineRequest, response_body: str) -> None: ...

    async def update_tracked_users(self, users: list[str]) -> None: ...

    async def missing_sessions(self, users: list[str]) -> EngineRequest | None: ...

    async def share_room_key(self, room_id: str, users: list[str],
                             rotation: Rotation = (None, None)) -> list[EngineRequest]: ...

    async def encrypt(self, room_id: str, event_type: str, content: dict) -> dict: ...

    async def decrypt(self, room_id: str, event: dict) -> dict:
        """The clear event ({type, content, ...}); raises Undecryptable."""
        ...

    async def encrypt_attachment(self, data: Any) -> tuple[Any, dict]:
        """(ciphertext, the spec's EncryptedFile fields but url) of a file's bytes (in the
        browser a Blob in, a Uint8Array out: the file never passes through Python)."""
        ...

    async def decrypt_attachment(self, data: Any, file: dict) -> Any:
        """The file's bytes from its ciphertext; raises EngineError when the key or hash
        does not match."""
        ...

    async def close(self) -> None: ...


class CryptoProvider(Protocol):
    """Where engines come from: one per user and device, with its own persistent store."""

    async def open(self, user_id: str, device_id: str) -> CryptoEngine: ...

    async def delete(self, user_id: str, device_id: str) -> None:
        """Delete the device's store (sign-out): its keys are gone from this browser."""
        ...


def request_http(request: EngineRequest) -> tuple[str, str]:
    """(method, path) of an engine request (spec: client-server API, end-to-end encryption)."""
    base = "/_matrix/client/v3"
    if request.kind == KEYS_UPLOAD:
        return "POST", f"{base}/keys/upload"
    if request.kind == KEYS_QUERY:
        return "POST", f"{base}/keys/query"
    if request.kind == KEYS_CLAIM:
        return "POST", f"{base}/keys/claim"
    if request.kind == SIGNATURE_UPLOAD:
        return "POST", f"{base}/keys/signatures/upload"
    if request.kind == TO_DEVICE:
        return "PUT", (f"{base}/sendToDevice/{quote(request.event_type, safe='')}/"
                       f"{quote(request.txn_id, safe='')}")
    if request.kind == ROOM_MESSAGE:
        return "PUT", (f"{base}/rooms/{quote(request.room_id, safe='')}/send/"
                       f"{quote(request.event_type, safe='')}/{quote(request.txn_id, safe='')}")
    if request.kind == KEYS_BACKUP:
        return "PUT", f"{base}/room_keys/keys?version={quote(request.version, safe='')}"
    raise EngineError(f"unknown engine request {request.kind}")


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _events(section: Any) -> list:
    events = _dict(section).get("events")
    return events if isinstance(events, list) else []


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


# How long a room key is used, from the room's m.room.encryption: (microseconds, messages);
# None keeps the engine's default (a week, 100 messages, the spec's recommendation).
Rotation = tuple[int | None, int | None]
# A period outside these bounds is the room's mistake (or an attack on forward secrecy): a
# key for one message at least, and rotated at least yearly / every 10,000 messages.
MAX_ROTATION_MS = 365 * 24 * 3600 * 1000
MAX_ROTATION_MSGS = 10_000


def rotation_of(encryption: dict | None) -> Rotation:
    """The room's own rotation settings, which the spec says senders follow; values that are
    not sensible whole numbers are ignored (the engine's default applies)."""
    content = encryption if isinstance(encryption, dict) else {}

    def bounded(value, top):
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 < value
        return min(value, top) if ok else None

    ms = bounded(content.get("rotation_period_ms"), MAX_ROTATION_MS)
    return (None if ms is None else ms * 1000,
            bounded(content.get("rotation_period_msgs"), MAX_ROTATION_MSGS))


def encryption_of(events: list) -> dict | None:
    """The room's latest `m.room.encryption` content among these state events, if any."""
    found = None
    for event in events:
        if isinstance(event, dict) and event.get("type") == ENCRYPTION_STATE \
                and event.get("state_key") == "" and isinstance(event.get("content"), dict) \
                and isinstance(event["content"].get("algorithm"), str):
            found = event["content"]
    return found


def _mark_unreadable(event: dict, code: str) -> None:
    """Say why `event` can never be read (an `unsigned` that is not an object, the server's
    doing, is replaced rather than let fail the whole sync)."""
    if not isinstance(event.get("unsigned"), dict):
        event["unsigned"] = {}
    event["unsigned"][UNREADABLE_KEY] = code


def clear_event(envelope: dict, decrypted: dict) -> dict:
    """The event to show: the decrypted type and content inside the server's envelope. Only
    type and content come from the sender's ciphertext; who sent it, when and its id are the
    server's. An edit's relation stays readable to the server (spec), so the clear content
    gets it from the envelope when the sender left it out of the ciphertext."""
    content = dict(_dict(decrypted.get("content")))
    relation = _dict(envelope.get("content")).get("m.relates_to")
    if "m.relates_to" not in content and isinstance(relation, dict):
        content["m.relates_to"] = relation
    event = {k: v for k, v in envelope.items() if k not in ("type", "content")}
    event["type"] = decrypted.get("type") if isinstance(decrypted.get("type"), str) else ""
    event["content"] = content
    unsigned = dict(_dict(envelope.get("unsigned")))
    unsigned["om_encrypted"] = True
    unsigned.pop(WARNING_KEY, None)
    if decrypted.get(WARNING_KEY) in WARNINGS:
        unsigned[WARNING_KEY] = decrypted[WARNING_KEY]
    event["unsigned"] = unsigned
    return event


@dataclass
class _Backlog:
    """The crypto parts of syncs that came while the engine was loading, in order."""
    to_device: list[dict] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    otk_counts: dict[str, int] = field(default_factory=dict)
    unused_fallback: list[str] | None = None

    def add(self, body: dict) -> None:
        self.to_device += [e for e in _events(body.get("to_device")) if isinstance(e, dict)]
        lists = _dict(body.get("device_lists"))
        # Deduplicated: a user of unencrypted rooms only keeps this until sign-out.
        self.changed = list(dict.fromkeys(self.changed + _strings(lists.get("changed"))))
        self.left = list(dict.fromkeys(self.left + _strings(lists.get("left"))))
        counts = body.get("device_one_time_keys_count")
        if isinstance(counts, dict):
            self.otk_counts = {k: v for k, v in counts.items()
                               if isinstance(k, str) and isinstance(v, int)}
        fallback = body.get("device_unused_fallback_key_types")
        if isinstance(fallback, list):
            self.unused_fallback = _strings(fallback)

    def __bool__(self) -> bool:
        return bool(self.to_device or self.changed or self.left or self.otk_counts
                    or self.unused_fallback is not None)


HttpRequest = Callable[..., Awaitable[Any]]  # MatrixHttp.request


class CryptoSession:
    """One signed-in device's encryption. `load_engine()` makes the engine (once, when it is
    first needed); `http` is the session's MatrixHttp.request; `on_decrypted(room_id, events)`
    receives events decrypted after they were shown as waiting; `spawn` runs a background
    task."""

    def __init__(self, http: HttpRequest, load_engine: Callable[[], Awaitable[CryptoEngine]],
                 on_decrypted: Callable[[str, list[dict]], None],
                 spawn: Callable[[Awaitable[Any]], None],
                 clock: Callable[[], float] = time.monotonic, user_id: str = "",
                 on_backup_change: Callable[[], None] = lambda: None):
        self._http = http
        self._wall = time.time  # compared with the server's timestamps
        self.user_id = user_id
        self._on_backup_change = on_backup_change
        # The server-side key backup (pyapp.client.key_backup), made when the engine is
        # ready if it can back up keys (its `backup` attribute).
        self.backup: KeyBackup | None = None
        self._backing_up = False  # an upload to the backup is on its way
        self._load_engine = load_engine
        self._on_decrypted = on_decrypted
        self._spawn = spawn
        self._clock = clock
        self.engine: CryptoEngine | None = None
        self.load_error: str | None = None
        self._loading: asyncio.Future | None = None
        self._failed_at: float | None = None
        self._backlog = _Backlog()
        self._lock = asyncio.Lock()  # one conversation with the engine at a time
        self.rooms: dict[str, dict] = {}  # encrypted room id -> its m.room.encryption content
        self._members: dict[str, list[str]] = {}  # encrypted room -> joined members (cached)
        self._invited_at: dict[str, dict[str, int]] = {}  # room -> invitee -> invite's ts
        self._waited_for: set[str] = set()  # rooms whose invitees' keys were waited for
        self.pending: dict[str, tuple[str, dict]] = {}  # event id -> (room id, encrypted event)
        self._replays = ReplayGuard()
        self.closed = False

    # -- what the service asks ----------------------------------------------------------
    def is_encrypted(self, room_id: str) -> bool:
        return room_id in self.rooms

    @property
    def ready(self) -> bool:
        return self.engine is not None

    async def on_sync(self, body: dict) -> None:
        """Take one sync answer before the rooms see it: note encrypted rooms, feed the
        engine (or keep the crypto parts until it is loaded), decrypt the timeline events
        in place. Never raises for the engine's sake: what cannot be decrypted stays
        encrypted (shown as waiting) and is retried later."""
        needed = self._scan(body)
        self._backlog.add(body)
        if self.engine is None:
            if needed or self._backlog.to_device:
                self._start_loading()
            self._remember_encrypted(body)
            return
        async with self._lock:
            if self.engine is None:  # closed meanwhile
                return
            had_keys = bool(self._backlog.to_device)
            await self._feed()
            await self._decrypt_sync(body)
            if had_keys and self.pending:
                await self._retry_pending(exclude=body)
            if had_keys:
                self._backup_soon()
        self._maybe_start_backup()

    def on_stored(self, body: dict) -> None:
        """A stored sync shown after a reload: its crypto parts were fed when it came, its
        encrypted events are shown as waiting until the engine (loaded now) decrypts them."""
        needed = self._scan(body)
        self._remember_encrypted(body)
        if needed:
            self._start_loading()

    async def decrypt_page(self, room_id: str, events: list) -> None:
        """Decrypt a history page's events in place (what fails is shown as waiting)."""
        encrypted = [e for e in events if isinstance(e, dict) and e.get("type") == ENCRYPTED]
        if not encrypted:
            return
        if self.engine is None:
            self._start_loading()
            for event in encrypted:
                self._remember(room_id, event)
            return
        async with self._lock:
            await self._decrypt_list(room_id, events)

    async def encrypt(self, room_id: str, event_type: str, content: dict) -> dict:
        """The `m.room.encrypted` content to send for this event, after making sure every
        device of every member can read it. Raises EngineError when that is impossible."""
        engine = await self._wait_engine()
        await self._wait_for_invitees(room_id)
        async with self._lock:
            members = await self._room_members(room_id)
            await engine.update_tracked_users(members)
            await self._send_outgoing()  # key queries for the members' devices
            claim = await engine.missing_sessions(members)
            if claim is not None:
                await self._send(claim)
            shared = await engine.share_room_key(room_id, members,
                                                 rotation_of(self.rooms.get(room_id)))
            for request in shared:
                await self._send(request)
            encrypted = await engine.encrypt(room_id, event_type, content)
            self._backup_soon()  # a new room key, if one was made
            return encrypted

    async def encrypt_attachment(self, data: Any) -> tuple[Any, dict]:
        """A file to upload encrypted (pyapp.client.media.with_file); EngineError when the
        engine is not available. Attachments have their own key: no room key is involved."""
        return await (await self._wait_engine()).encrypt_attachment(data)

    async def decrypt_attachment(self, data: Any, file: dict) -> Any:
        return await (await self._wait_engine()).decrypt_attachment(data, file)

    async def close(self) -> None:
        """Sign-out: the engine lets go of its store (the caller deletes it)."""
        self.closed = True
        async with self._lock:
            engine, self.engine = self.engine, None
            if engine is not None:
                await engine.close()

    # -- loading --------------------------------------------------------------------------
    def _start_loading(self) -> None:
        if self._loading is not None or self.closed:
            return
        if self._failed_at is not None and self._clock() - self._failed_at < RELOAD_AFTER_S:
            return
        self._loading = asyncio.get_event_loop().create_future()
        self._spawn(self._load())

    async def _load(self) -> None:
        loading = self._loading
        try:
            engine = await self._load_engine()
        except Exception as e:  # noqa: BLE001  (offline, blocked, no WebAssembly: a state, not a crash)
            log.warning("The encryption engine did not load: %s", e)
            self.load_error = str(e) or type(e).__name__
            self._failed_at = self._clock()
            self._loading = None
            loading.set_exception(EngineError(f"Encryption is not available: {self.load_error}"))
            loading.exception()  # retrieved: nobody may be waiting
            return
        if self.closed:
            await engine.close()
            return
        self.load_error = None
        async with self._lock:
            self.engine = engine
            self._loading = None
            loading.set_result(engine)
            try:
                await self._feed()
                await self._track_encrypted_members()
                await self._retry_pending()
            except Exception:  # noqa: BLE001  (the next sync feeds and retries again)
                log.exception("Starting the encryption engine's work failed")
        self._maybe_start_backup()

    def _maybe_start_backup(self) -> None:
        """The key backup starts (found, made or asked for) once the engine is ready and the
        user has an encrypted room; a setup that failed is tried again later."""
        if self.engine is None or self.closed or not self.user_id:
            return
        backup_engine = getattr(self.engine, "backup", None)
        if backup_engine is None:
            return
        if self.backup is None:
            if not self.rooms:
                return
            self.backup = KeyBackup(self._http, backup_engine, self.user_id, self._send,
                                    self._lock, on_change=self._on_backup_change,
                                    on_restored=self._retry_pending, clock=self._clock)
        elif not self.backup.should_retry():
            return
        self._spawn(self._start_backup())

    async def _start_backup(self) -> None:
        """Not under the lock: the backup's round trips to the homeserver must not hold up
        syncs and sends (until it is on, it backs nothing up)."""
        await self.backup.start()
        async with self._lock:
            await self._upload_backup()

    def _backup_soon(self) -> None:
        """New room keys go to the backup beside the sync or send that brought them (its
        round trip must not delay showing the sync or sending the message)."""
        if self.backup is None or self._backing_up:
            return
        self._backing_up = True

        async def upload():
            try:
                async with self._lock:
                    self._backing_up = False
                    await self._upload_backup()
            finally:
                self._backing_up = False
        self._spawn(upload())

    async def _upload_backup(self) -> None:
        """Under the lock: new room keys (made or received) go to the backup."""
        if self.backup is not None:
            try:
                await self.backup.upload()
            except Exception:  # noqa: BLE001  (the engine keeps them for the next try)
                log.exception("Backing up room keys failed")

    async def _wait_engine(self) -> CryptoEngine:
        if self.engine is not None:
            return self.engine
        self._start_loading()
        if self._loading is None:
            raise EngineError(f"Encryption is not available: {self.load_error or 'signed out'}")
        return await asyncio.shield(self._loading)

    # -- syncs --------------------------------------------------------------------------
    def _scan(self, body: dict) -> bool:
        """Note the encrypted rooms and their membership changes; True when this answer
        holds anything encrypted."""
        needed = False
        for room_id, room in _dict(_dict(body.get("rooms")).get("join")).items():
            room = _dict(room)
            timeline = _events(room.get("timeline"))
            state = _events(room.get("state")) + [e for e in timeline if isinstance(e, dict)
                                                  and "state_key" in e]
            encryption = encryption_of(state)
            if encryption is not None and room_id not in self.rooms:
                self.rooms[room_id] = encryption  # one-way (spec): never turned off again
            if any(isinstance(e, dict) and e.get("type") == "m.room.member" for e in state):
                self._members.pop(room_id, None)
            if room_id in self.rooms or any(isinstance(e, dict) and e.get("type") == ENCRYPTED
                                            for e in timeline):
                needed = True
        for room_id in _dict(_dict(body.get("rooms")).get("leave")):
            self._members.pop(room_id, None)
        # An invitation to an encrypted room (a DM, say): the engine loads while the user
        # reads it, so this device's keys are on the server before the first message after
        # the join is encrypted (a device whose keys come later never gets that one's key).
        for room in _dict(_dict(body.get("rooms")).get("invite")).values():
            if encryption_of(_events(_dict(room).get("invite_state"))) is not None:
                needed = True
        return needed

    async def _feed(self) -> None:
        backlog, self._backlog = self._backlog, _Backlog()
        if backlog:
            await self.engine.receive_sync(backlog.to_device, backlog.changed, backlog.left,
                                           backlog.otk_counts, backlog.unused_fallback)
        await self._send_outgoing()

    async def _track_encrypted_members(self) -> None:
        """Follow the device lists of the encrypted rooms' members from the start."""
        users: set[str] = set()
        for room_id in list(self.rooms):
            try:
                users.update(await self._room_members(room_id))
            except EngineError as e:
                log.warning("Members of %s unknown: %s", room_id, e)
        if users:
            await self.engine.update_tracked_users(sorted(users))
            await self._send_outgoing()

    async def _decrypt_sync(self, body: dict) -> None:
        for room_id, room in _dict(_dict(body.get("rooms")).get("join")).items():
            await self._decrypt_list(room_id, _events(_dict(room).get("timeline")))

    async def _decrypt_list(self, room_id: str, events: list) -> None:
        # All at once: each engine call costs a few turns of the browser's event loop (the
        # promise settled in JS, the future resolved in Python), which overlap when the
        # calls do; one after the other a page of 200 took seconds (benchmarks/encryption.py).
        at = [i for i, e in enumerate(events) if isinstance(e, dict) and e.get("type") == ENCRYPTED]
        clears = await asyncio.gather(*(self._decrypt_one(room_id, events[i]) for i in at))
        for i, clear in zip(at, clears):
            if clear is not None:
                events[i] = clear

    async def _decrypt_one(self, room_id: str, event: dict) -> dict | None:
        unsigned = event.get("unsigned")
        if isinstance(unsigned, dict):
            unsigned.pop(UNREADABLE_KEY, None)  # only ours counts
        # Before the engine's await: the events of a sync decrypt together and finish in any
        # order, and the first in the timeline must own its ciphertext.
        replay = self._replays.is_replay(event)
        try:
            decrypted = await self.engine.decrypt(room_id, event)
        except Undecryptable as e:
            log.info("Cannot decrypt %s yet: %s", event.get("event_id"), e)
            if e.waiting:
                self._remember(room_id, event)  # a late key or a withheld one may still come
            if e.withheld or not e.waiting:
                _mark_unreadable(event, e.withheld if e.withheld in UNREADABLE else "broken")
            return None
        except Exception:  # noqa: BLE001  (one event's failure costs only that event)
            log.exception("Decrypting %s failed", event.get("event_id"))
            self._remember(room_id, event)
            return None
        self.pending.pop(event.get("event_id"), None)
        if replay:
            log.warning("%s replays an earlier megolm message", event.get("event_id"))
            _mark_unreadable(event, "replayed")
            return None
        return clear_event(event, decrypted)

    def _remember_encrypted(self, body: dict) -> None:
        for room_id, room in _dict(_dict(body.get("rooms")).get("join")).items():
            for event in _events(_dict(room).get("timeline")):
                if isinstance(event, dict) and event.get("type") == ENCRYPTED:
                    self._remember(room_id, event)

    def _remember(self, room_id: str, event: dict) -> None:
        event_id = event.get("event_id")
        if isinstance(event_id, str):
            self.pending[event_id] = (room_id, event)
            while len(self.pending) > MAX_PENDING:
                self.pending.pop(next(iter(self.pending)))

    async def _retry_pending(self, exclude: dict | None = None) -> None:
        """Try the events shown as waiting again; hand over those that decrypt now."""
        skip = set()
        if exclude is not None:
            for room in _dict(_dict(exclude.get("rooms")).get("join")).values():
                skip.update(e.get("event_id") for e in _events(_dict(room).get("timeline"))
                            if isinstance(e, dict))
        healed: dict[str, list[dict]] = {}
        for event_id, (room_id, event) in list(self.pending.items()):
            if event_id in skip:
                continue
            clear = await self._decrypt_one(room_id, event)
            if clear is not None:
                healed.setdefault(room_id, []).append(clear)
        for room_id, events in healed.items():
            try:
                self._on_decrypted(room_id, events)
            except Exception:  # noqa: BLE001
                log.exception("Showing the decrypted events of %s failed", room_id)

    # -- requests ---------------------------------------------------------------------
    async def _send_outgoing(self) -> None:
        for request in await self.engine.outgoing_requests():
            await self._send(request)

    async def _send(self, request: EngineRequest) -> bool:
        """Send one engine request and tell the engine the answer. A refused request is
        logged and left to the engine, which asks for it again (False)."""
        method, path = request_http(request)
        response = await self._http(method, path, request.body, timeout=30)
        if response.status != 200:
            log.warning("%s refused: HTTP %s %s", request.kind, response.status,
                        response.body[:200])
            return False
        if not request.id:  # nothing to tell (a bootstrap's signature upload)
            return True
        await self.engine.mark_sent(request, response.body.decode("utf-8", "replace")
                                    if isinstance(response.body, bytes) else response.body)
        return True

    async def _wait_for_invitees(self, room_id: str) -> None:
        """Someone invited a moment ago whose device has no keys yet (a new DM's other
        person, whose browser loads the engine when the invitation arrives): wait a little
        for their keys, once per room. A room key shared before their device exists never
        reaches it, so the message would stay unreadable to them; someone who is not online
        costs this wait once, then the message goes (as other clients do)."""
        if room_id not in self._waited_for:
            # The invitees are noted when the members are first fetched, which may not have
            # happened yet (the engine was loaded before this room came).
            async with self._lock:
                await self._room_members(room_id)
        invited = self._invited_at.pop(room_id, None)
        now = self._wall() * 1000
        fresh = sorted(u for u, ts in (invited or {}).items() if now - ts < FRESH_INVITE_MS)
        if not fresh:
            return
        deadline = self._clock() + DEVICE_WAIT_S
        while not self.closed:
            try:
                missing = await self._without_devices(fresh)
            except Exception:  # noqa: BLE001  (a failed look costs the wait, not the send)
                log.warning("Device keys of %s could not be looked up", fresh)
                return
            if not missing or self._clock() >= deadline:
                break
            await asyncio.sleep(DEVICE_POLL_S)
        refresh = getattr(self.engine, "refresh_devices", None)
        if refresh is not None:
            # The engine may hold an invitee's device list from before their keys existed
            # as current (no sync need tell it otherwise while they are only invited).
            async with self._lock:
                await refresh()

    async def _without_devices(self, users: list[str]) -> list[str]:
        response = await self._http("POST", "/_matrix/client/v3/keys/query",
                                    json.dumps({"device_keys": {u: [] for u in users}}),
                                    timeout=30)
        body = json.loads(response.body or b"null") if response.status == 200 else None
        devices = _dict(_dict(body).get("device_keys"))
        return [u for u in users if not _dict(devices.get(u))]

    async def _room_members(self, room_id: str) -> list[str]:
        """Everyone joined or invited whose devices must get the room key. The sync's
        members are lazy-loaded (only senders), so the full list is fetched, and kept
        until the sync shows a membership change."""
        members = self._members.get(room_id)
        if members is not None:
            return members
        path = f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/members"
        response = await self._http("GET", path, timeout=30)
        try:
            body = json.loads(response.body or b"null") if response.status == 200 else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise EngineError(f"the room's members could not be loaded (HTTP {response.status})")
        events = _strings_events(body.get("chunk"))
        members = sorted({e["state_key"] for e in events
                          if _dict(e.get("content")).get("membership") in ("join", "invite")})
        self._members[room_id] = members
        if room_id not in self._waited_for:
            self._waited_for.add(room_id)
            self._invited_at[room_id] = {
                e["state_key"]: e["origin_server_ts"] for e in events
                if _dict(e.get("content")).get("membership") == "invite"
                and isinstance(e.get("origin_server_ts"), int)}
        return members


def _strings_events(chunk: Any) -> list[dict]:
    return [e for e in chunk if isinstance(e, dict) and e.get("type") == "m.room.member"
            and isinstance(e.get("state_key"), str)] if isinstance(chunk, list) else []
