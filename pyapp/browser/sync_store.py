"""pyapp.client.sync_store.SyncStore on IndexedDB: one database per user and device.

Records are JSON strings under string keys in one object store; an answer's records are
written in one readwrite transaction, so a reload finds either the answer before or this
one, never half. A separate database per user and device keeps users of one browser apart,
and signing out deletes the database (indexedDB.databases() no longer lists it).

One tab writes (see SyncStore.writable): the page holding the Web Lock named after the
database, asked for at once and held for the page's life; a later tab's request waits in
the browser's queue and is granted when the writer's page goes. Without Web Locks every
page writes (the browsers this chat supports all have them).
"""

from __future__ import annotations

import asyncio

DB_PREFIX = "om-chat-sync:"
OBJECT_STORE = "records"


def database_name(user_id: str, device_id: str) -> str:
    return f"{DB_PREFIX}{user_id}/{device_id}"


# Database name -> its open request, made by open_early() before Python's imports; taken by the
# store that opens that database (or closed when it is deleted first).
_early: dict[str, object] = {}


def open_early(session_key: str) -> None:
    """Ask IndexedDB for the database of the session stored under `session_key` now
    (pyapp.ui.boot calls this before its imports): opening one, new on a first visit, takes
    tens of ms, which then overlap the imports instead of following them. Anything unexpected
    (no session, an odd one, storage blocked): nothing is opened early."""
    import json

    import js

    try:
        session = json.loads(js.localStorage.getItem(session_key))
        name = database_name(session["user_id"], session["device_id"])
        factory = js.indexedDB
    except Exception:  # noqa: BLE001  (then the store opens it when needed)
        return
    if name not in _early:
        _early[name] = _request_open(factory, name)


def _request_open(factory, name: str):
    from pyodide.ffi import create_once_callable

    request = factory.open(name, 1)

    def upgrade(event=None):
        db = request.result
        if not db.objectStoreNames.contains(OBJECT_STORE):
            db.createObjectStore(OBJECT_STORE)

    request.onupgradeneeded = create_once_callable(upgrade)
    return request


def _drop_early(name: str) -> None:
    """The database is about to be deleted: an early connection nobody took must not block it."""
    request = _early.pop(name, None)
    if request is None:
        return
    if request.readyState == "done":
        if not request.error:
            request.result.close()
    else:
        from pyodide.ffi import create_once_callable

        request.onsuccess = create_once_callable(lambda event=None: request.result.close())


async def _settle(target, events: dict[str, bool]):
    """Wait for one of `events` on an IDB request or transaction: True ones resolve (with
    `target.result` when it has one), False ones raise."""
    from pyodide.ffi import create_proxy

    future = asyncio.get_event_loop().create_future()
    proxies = []

    def handler(ok: bool):
        def on(event=None):
            if future.done():
                return
            if ok:
                future.set_result(None)
            else:
                error = getattr(target, "error", None)
                future.set_exception(OSError(f"IndexedDB: {getattr(error, 'name', 'error')}: "
                                             f"{getattr(error, 'message', '')}"))
        return on

    for name, ok in events.items():
        proxy = create_proxy(handler(ok))
        proxies.append((name, proxy))
        setattr(target, "on" + name, proxy)
    try:
        await future
    finally:
        for name, proxy in proxies:
            setattr(target, "on" + name, None)
            proxy.destroy()


class IndexedDBSyncStore:
    def __init__(self, user_id: str, device_id: str):
        import js

        self.name = database_name(user_id, device_id)
        self._factory = getattr(js, "indexedDB", None)
        if not self._factory:  # no IndexedDB (blocked, or a browser without it): no persistence
            raise RuntimeError("IndexedDB is not available")
        self._db = None
        self._on_versionchange = None
        self._writer = False
        self._release = None
        self._claim(js)

    def _claim(self, js) -> None:
        from pyodide.ffi import create_once_callable, create_proxy

        locks = getattr(js.navigator, "locks", None)
        if not locks or not hasattr(locks, "request"):
            self._writer = True
            return

        def executor(resolve, reject):
            self._release = resolve

        held = js.Promise.new(create_once_callable(executor))

        def granted(lock=None):
            self._writer = True
            return held  # the lock is ours until this settles (clear(), or the page goes)

        self._granted = create_proxy(granted)
        locks.request(self.name, self._granted)

    def writable(self) -> bool:
        return self._writer

    async def _open(self):
        if self._db is not None:
            return self._db
        from pyodide.ffi import create_proxy

        request = _early.pop(self.name, None) or _request_open(self._factory, self.name)
        if request.readyState != "done":
            await _settle(request, {"success": True, "error": False})
        elif request.error:
            raise OSError(f"IndexedDB: {request.error.name}: {request.error.message}")
        db = request.result

        def versionchange(event=None):
            # Another tab signs this user out (deletes the database): let it.
            db.close()
            self._db = None

        if self._on_versionchange is None:
            self._on_versionchange = create_proxy(versionchange)
        db.onversionchange = self._on_versionchange
        self._db = db
        return db

    async def load(self) -> dict[str, str]:
        db = await self._open()
        tx = db.transaction(OBJECT_STORE, "readonly")
        store = tx.objectStore(OBJECT_STORE)
        keys, values = store.getAllKeys(), store.getAll()
        await _settle(tx, {"complete": True, "error": False, "abort": False})
        return {str(k): str(v) for k, v in zip(keys.result, values.result)
                if isinstance(k, str) and isinstance(v, str)}

    async def write(self, puts: dict[str, str], deletes: list[str], replace: bool) -> None:
        db = await self._open()
        tx = db.transaction(OBJECT_STORE, "readwrite")
        store = tx.objectStore(OBJECT_STORE)
        if replace:
            store.clear()
        for key in deletes:
            store.delete(key)
        for key, value in puts.items():
            store.put(value, key)
        await _settle(tx, {"complete": True, "error": False, "abort": False})

    async def clear(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self._writer = False
        if self._release is not None:
            self._release(None)
            self._release = None
        _drop_early(self.name)
        request = self._factory.deleteDatabase(self.name)
        # Blocked: another tab still has it open; it is deleted once that tab lets go
        # (onversionchange above closes it), nothing to wait for here.
        await _settle(request, {"success": True, "blocked": True, "error": False})
