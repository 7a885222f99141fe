"""The sync, kept across reloads: what the client knew at `next_batch`, so a page load shows
the chat from storage and resumes with an incremental sync instead of a full one.

An answer is stored before the homeserver is told it arrived: ChatService hands each cleaned
/sync answer to `SyncPersistence.save` (folded into the snapshot and serialised at once, as
received, before decryption touches it), shows it while the write runs, and waits for
`written()` before its next /sync, whose `since=` acknowledges the answer (to-device messages
are then deleted on the server). So what is stored is never behind what the server has let go
of; a page closed mid-write loses nothing, the next load resumes from the previous token. (Not
Hydrogen's stricter order, stored before shown: that kept the IndexedDB commit, ~2-3 ms, on
every message's way to the screen.) A failed write is logged and persistence stops for the
session (the sync itself is never lost).

What is kept is raw sync data, not the models built from it, so restoring is applying
synthetic sync answers to a fresh RoomList, the same code path as a live sync:

- per joined room, the newest timeline chunks as received (`events`, `limited`,
  `prev_batch`), whole chunks only, at least MAX_EVENTS events when there are that many: a
  chunk's `prev_batch` paginates from its first event, and `limited` chunks leave the same
  gaps on replay as they did live;
- the room's current state events (latest per type and state key), its summary, unread
  counts and read receipts, applied after the chunks so they win over older state in them;
- per invited room, its latest invite section. Left rooms are forgotten;
- the user's global account data (`m.direct`, push rules...), latest per type: a sync sends
  it only when it changes, so a resumed sync would never bring it again.

Records are JSON strings in a key/value store (`SyncStore`): "meta" (schema version, user,
device, next_batch) and one "room:<id>" per room, written together in one transaction per
answer (only the rooms that answer touched). The browser's store is IndexedDB, one database
per user and device (pyapp.browser.sync_store); tests use MemorySyncStore.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Callable, Protocol

from .sync_events import clean_sync

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MAX_EVENTS = 50  # per room: the newest whole chunks holding at least this many events
MAX_CHUNKS = 60  # bound for rooms whose syncs bring empty limited chunks
META_KEY = "meta"
ROOM_PREFIX = "room:"
ACCOUNT_KEY = "account"  # global account data: {type: latest event}


class SyncStore(Protocol):
    """One user's and device's records. Every method may raise; callers contain it.

    `writable()`: this page is the store's one writer. Two tabs of one user writing their
    own answers would interleave rooms of one tab with the other's next_batch, and a room
    whose record is older than next_batch would miss messages for good on the next resume.
    A page that is not the writer keeps its snapshot in memory; when it becomes the writer
    (the other tab closed) it writes the whole snapshot at once."""

    def writable(self) -> bool: ...

    async def load(self) -> dict[str, str]: ...

    async def write(self, puts: dict[str, str], deletes: list[str], replace: bool) -> None:
        """One transaction: with `replace`, everything else is removed first."""
        ...

    async def clear(self) -> None: ...


class MemorySyncStore:
    """The store in memory; `fail` makes writes raise (a full disk, a blocked database)."""

    def __init__(self) -> None:
        self.records: dict[str, str] = {}
        self.fail = False
        self.writes = 0
        self.owner = True

    def writable(self) -> bool:
        return self.owner

    async def load(self) -> dict[str, str]:
        return dict(self.records)

    async def write(self, puts: dict[str, str], deletes: list[str], replace: bool) -> None:
        if self.fail:
            raise OSError("the store refused the write")
        if replace:
            self.records.clear()
        for key in deletes:
            self.records.pop(key, None)
        self.records.update(puts)
        self.writes += 1

    async def clear(self) -> None:
        self.records.clear()


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _events(section: Any) -> list[dict]:
    events = _dict(section).get("events")
    return [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class SyncSnapshot:
    """What the stored answers say, per room, as raw sync data (see the module's doc)."""

    def __init__(self, user_id: str, device_id: str, next_batch: str | None = None):
        self.user_id, self.device_id, self.next_batch = user_id, device_id, next_batch
        self.rooms: dict[str, dict] = {}
        self.account: dict[str, dict] = {}

    # -- taking answers in ----------------------------------------------------------------
    def absorb(self, body: dict) -> tuple[dict[str, str], list[str]]:
        """Fold one (cleaned) sync answer in; returns the records to write and to delete."""
        self.next_batch = body["next_batch"]
        sections = _dict(body.get("rooms"))
        puts: dict[str, str] = {}
        deletes: list[str] = []
        account = [e for e in _events(body.get("account_data")) if isinstance(e.get("type"), str)]
        if account:
            self.account.update({e["type"]: e for e in account})
            puts[ACCOUNT_KEY] = _dumps(self.account)
        for room_id, data in _dict(sections.get("join")).items():
            if isinstance(data, dict):
                puts[ROOM_PREFIX + room_id] = _dumps(self._absorb_joined(room_id, data))
        for room_id, data in _dict(sections.get("invite")).items():
            if isinstance(data, dict):
                record = self.rooms[room_id] = {"membership": "invite",
                                                "invite_state": _dict(data.get("invite_state"))}
                puts[ROOM_PREFIX + room_id] = _dumps(record)
        for room_id in _dict(sections.get("leave")):
            if self.rooms.pop(room_id, None) is not None:
                deletes.append(ROOM_PREFIX + room_id)
            puts.pop(ROOM_PREFIX + room_id, None)
        puts[META_KEY] = _dumps(self.meta())
        return puts, deletes

    def _absorb_joined(self, room_id: str, data: dict) -> dict:
        record = self.rooms.get(room_id)
        if record is None or record.get("membership") != "join":
            record = self.rooms[room_id] = {"membership": "join", "state": {}, "chunks": [],
                                            "summary": {}, "unread": {}, "receipts": {}}
        timeline = _dict(data.get("timeline"))
        events = _events(timeline)
        for event in _events(data.get("state")) + events:
            key = event.get("state_key")
            if isinstance(key, str):
                record["state"][f"{event.get('type')}\x1f{key}"] = event
        record["summary"].update(_dict(data.get("summary")))
        record["unread"].update(_dict(data.get("unread_notifications")))
        for event in _events(data.get("ephemeral")):
            if event.get("type") == "m.receipt":
                _merge_receipts(record["receipts"], _dict(event.get("content")))
        if events or timeline.get("limited") is True:
            chunk: dict[str, Any] = {"events": events, "limited": timeline.get("limited") is True}
            if isinstance(timeline.get("prev_batch"), str):
                chunk["prev_batch"] = timeline["prev_batch"]
            chunks = record["chunks"]
            chunks.append(chunk)
            total = sum(len(c["events"]) for c in chunks)
            while len(chunks) > 1 and (total - len(chunks[0]["events"]) >= MAX_EVENTS
                                       or len(chunks) > MAX_CHUNKS):
                total -= len(chunks.pop(0)["events"])
        return record

    def meta(self) -> dict:
        return {"version": SCHEMA_VERSION, "user_id": self.user_id, "device_id": self.device_id,
                "next_batch": self.next_batch}

    def records(self) -> dict[str, str]:
        """Everything, as written by a full sync."""
        out = {ROOM_PREFIX + room_id: _dumps(r) for room_id, r in self.rooms.items()}
        if self.account:
            out[ACCOUNT_KEY] = _dumps(self.account)
        out[META_KEY] = _dumps(self.meta())
        return out

    # -- giving it back -------------------------------------------------------------------
    @classmethod
    def restore(cls, records: dict[str, str], user_id: str,
                device_id: str) -> "SyncSnapshot | None":
        """The stored snapshot, or None when there is none usable (absent, another schema
        version, another user or device, unreadable): then the caller drops the store."""
        try:
            meta = json.loads(records[META_KEY])
            if not isinstance(meta, dict) or meta.get("version") != SCHEMA_VERSION \
                    or meta.get("user_id") != user_id or meta.get("device_id") != device_id \
                    or not isinstance(meta.get("next_batch"), str) or not meta["next_batch"]:
                return None
            snapshot = cls(user_id, device_id, meta["next_batch"])
            account = json.loads(records.get(ACCOUNT_KEY, "{}"))
            if not isinstance(account, dict) or not all(isinstance(e, dict)
                                                        for e in account.values()):
                return None
            snapshot.account = account
            for key, raw in records.items():
                if key.startswith(ROOM_PREFIX):
                    record = json.loads(raw)
                    if not _valid_record(record):
                        return None
                    snapshot.rooms[key[len(ROOM_PREFIX):]] = record
            return snapshot
        except (KeyError, ValueError, TypeError):
            return None

    def bodies(self) -> list[dict]:
        """Sync answers that rebuild the rooms when applied in order to a fresh RoomList:
        each room's chunks, then its state, summary, unread counts and receipts."""
        depth = max((len(r["chunks"]) for r in self.rooms.values()
                     if r["membership"] == "join"), default=0)
        bodies: list[dict] = [{"next_batch": self.next_batch, "rooms": {"join": {}}}
                              for _ in range(depth)]
        last: dict[str, dict] = {"join": {}, "invite": {}}
        for room_id, record in self.rooms.items():
            if record["membership"] == "invite":
                last["invite"][room_id] = {"invite_state": record["invite_state"]}
                continue
            for body, chunk in zip(bodies, record["chunks"]):
                body["rooms"]["join"][room_id] = {"timeline": _copy(chunk)}
            last["join"][room_id] = {
                "state": {"events": [_copy(e) for e in record["state"].values()]},
                "summary": dict(record["summary"]),
                "unread_notifications": dict(record["unread"]),
                "ephemeral": {"events": [{"type": "m.receipt",
                                          "content": _copy(record["receipts"])}]},
            }
        bodies.append({"next_batch": self.next_batch, "rooms": last,
                       "account_data": {"events": [_copy(e) for e in self.account.values()]}})
        for body in bodies:
            clean_sync(body)  # storage is the page's, but read as carefully as the network
        return bodies


def _copy(value: Any) -> Any:
    """The models keep references into what they are fed; the snapshot must stay its own."""
    return json.loads(json.dumps(value))


def _merge_receipts(into: dict, content: dict) -> None:
    """Keep only each user's latest receipt per type (what RoomState keeps), not the history."""
    for event_id, by_type in content.items():
        for receipt_type, by_user in _dict(by_type).items():
            for user_id, receipt in _dict(by_user).items():
                for held in into.values():  # the user's older receipt of this type goes
                    _dict(held.get(receipt_type)).pop(user_id, None)
                into.setdefault(event_id, {}).setdefault(receipt_type, {})[user_id] = receipt
    for event_id in [e for e, by_type in into.items() if not any(by_type.values())]:
        del into[event_id]


def _valid_record(record: Any) -> bool:
    if not isinstance(record, dict):
        return False
    if record.get("membership") == "invite":
        return isinstance(record.get("invite_state"), dict)
    return (record.get("membership") == "join" and isinstance(record.get("state"), dict)
            and isinstance(record.get("chunks"), list)
            and all(isinstance(c, dict) and isinstance(c.get("events"), list)
                    for c in record["chunks"])
            and all(isinstance(record.get(k), dict) for k in ("summary", "unread", "receipts")))


OpenStore = Callable[[str, str], SyncStore]  # (user id, device id) -> that pair's store


class SyncPersistence:
    """The service's side: which store is open (the signed-in user's and device's), the
    snapshot written to it, and containment: a store that fails is dropped for the session
    (logged), and the chat goes on without it. Operations run one at a time; a write runs
    in the background until written() (or the next operation) waits for it."""

    def __init__(self, open_store: OpenStore | None):
        self._open = open_store
        self.store: SyncStore | None = None
        self.snapshot: SyncSnapshot | None = None
        self._lock = asyncio.Lock()
        self._behind = False  # answers were not written (not the writer): write all next
        self._writing: asyncio.Future | None = None

    @property
    def enabled(self) -> bool:
        return self.store is not None

    def open(self, user_id: str, device_id: str) -> None:
        """The session's store; nothing is read until resume()."""
        self.snapshot = SyncSnapshot(user_id, device_id)
        self.store, self._behind = None, False
        if self._open is not None:
            try:
                self.store = self._open(user_id, device_id)
            except Exception:  # noqa: BLE001  (no storage: the chat works without it)
                log.exception("The sync store could not be opened; not persisting the sync")

    async def resume(self) -> SyncSnapshot | None:
        """The stored snapshot to show and resume from, or None (a full sync follows). A
        store that is unusable (another schema version, unreadable) is dropped."""
        store, snapshot = self.store, self.snapshot
        if store is None or snapshot is None:
            return None
        async with self._lock:
            try:
                records = await store.load()
            except Exception:  # noqa: BLE001
                log.exception("The stored sync could not be read")
                records = {"": ""}
            if not records:
                return None
            stored = SyncSnapshot.restore(records, snapshot.user_id, snapshot.device_id)
            if stored is None:
                log.warning("The stored sync is unusable (another version?); dropping it")
                await self._clear_contained(store)
                return None
            self.snapshot = stored
            return stored

    async def save(self, body: dict, full: bool) -> None:
        """Fold one answer in now, as received, and start writing it (see written()).
        `full`: an initial sync, which replaces whatever was stored."""
        async with self._lock:
            await self.written()  # one transaction at a time, in order
            store, snapshot = self.store, self.snapshot
            if snapshot is None:
                return
            if full:
                snapshot.rooms.clear()
                snapshot.account.clear()
            try:
                puts, deletes = snapshot.absorb(body)
            except Exception:  # noqa: BLE001  (cannot happen with a cleaned answer)
                log.exception("Could not fold a sync answer into the stored snapshot")
                self.store = None
                return
            if store is None or self.store is not store:
                return
            if not store.writable():
                self._behind = True
                return
            replace, self._behind = full or self._behind, False
            self._writing = asyncio.ensure_future(
                self._write(store, snapshot.records() if replace else puts, deletes, replace))

    async def written(self) -> None:
        """The last answer saved is in the store (or the store was given up, logged). A
        caller cancelled while waiting does not cancel the write."""
        if self._writing is not None and not self._writing.done():
            await asyncio.shield(self._writing)

    async def _write(self, store: SyncStore, puts: dict[str, str], deletes: list[str],
                     replace: bool) -> None:
        # One turn of the loop first: the answer is drawn (a render queued by applying it)
        # before its records are handed to the store, not after.
        await asyncio.sleep(0)
        try:
            await store.write(puts, deletes, replace)
        except Exception:  # noqa: BLE001
            # The answer is still shown; the store is behind, so it must not be resumed.
            log.exception("The sync could not be stored; not persisting it any more")
            if self.store is store:
                self.store = None
            await self._clear_contained(store)

    async def drop(self) -> None:
        """Forget what is stored (a bad since token): the next answer is a full sync."""
        async with self._lock:
            await self.written()
            if self.snapshot is not None:
                self.snapshot = SyncSnapshot(self.snapshot.user_id, self.snapshot.device_id)
            if self.store is not None:
                await self._clear_contained(self.store)

    async def clear(self) -> None:
        """Sign-out or session ended: nothing of this user stays in the browser."""
        store = self.store
        self.store = self.snapshot = None
        async with self._lock:
            await self.written()  # a write landing after the clear would leave data behind
            if store is not None:
                await self._clear_contained(store)

    @staticmethod
    async def _clear_contained(store: SyncStore) -> None:
        try:
            await store.clear()
        except Exception:  # noqa: BLE001
            log.exception("The stored sync could not be removed")
