"""pyapp.client.crypto's engine in the browser: the Matrix project's Rust crypto
(npm @matrix-org/matrix-sdk-crypto-wasm, pinned; static/vendor/matrix-sdk-crypto-wasm/, the
same engine Element Web uses), driven through Pyodide's FFI. This module only translates;
every cryptographic step is the engine's.

FFI rules learnt the hard way (../shared/notes/runtime-facts.md):
- every promise is settled here into a Future (awaiting a promise rejected with a non-Error
  object would raise "invalid exception object"); rejections become EngineError/Undecryptable;
- a dict becomes a JS Map where the engine wants one; JS null arrives as `jsnull`;
- arrays of UserId are consumed by the call that takes them: built fresh for each call.

The engine keeps its keys in IndexedDB (its own store, named after user and device) encrypted
with a store key of 32 random bytes (pyapp.browser.crypto_store_key keeps it wrapped by a
non-extractable browser key, never readable in localStorage).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from pyapp.client.crypto import (
    KEYS_BACKUP, KEYS_CLAIM, KEYS_QUERY, KEYS_UPLOAD, ROOM_MESSAGE, SIGNATURE_UPLOAD, TO_DEVICE,
    WARNING_KEY, EngineError, EngineRequest, Undecryptable,
)

log = logging.getLogger(__name__)

STORE_PREFIX = "om-chat-crypto:"
# matrix-sdk-indexeddb's databases for a store name.
STORE_SUFFIXES = ("::matrix-sdk-crypto", "::matrix-sdk-crypto-meta")
KINDS = {0: KEYS_UPLOAD, 1: KEYS_QUERY, 2: KEYS_CLAIM, 3: TO_DEVICE, 4: SIGNATURE_UPLOAD,
         5: ROOM_MESSAGE, 6: KEYS_BACKUP}
CODES = {kind: code for code, kind in KINDS.items()}
# DecryptionErrorCode: the key may still come (late to-device, key backup) for these.
WAITING_CODES = {0, 1}
# ShieldStateCode -> pyapp.client.crypto.WARNINGS: UnknownDevice, VerificationViolation,
# MismatchedSender. Not UnsignedDevice (red too): most devices are not cross-signed (nio's
# never are), and a warning on every message would teach members to ignore it.
SHIELD_WARNINGS = {1: "unknown_device", 4: "verification_violation",
                   5: "mismatched_sender"}
DELETE_WAIT_S = 5.0  # MissingRoomKey, UnknownMessageIndex

# What loading cost, for the benchmark and the report (window.omChat.cryptoTimings reads it).
timings: dict[str, float] = {}


def store_name(user_id: str, device_id: str) -> str:
    return f"{STORE_PREFIX}{user_id}/{device_id}"


def _error_text(error) -> str:
    for name in ("description", "message"):
        value = getattr(error, name, None)
        if isinstance(value, str) and value:
            return value
    try:
        return str(error)
    except Exception:  # noqa: BLE001
        return "unknown error"


async def settle(promise, error=EngineError):
    """Await a JS promise; a rejection (whatever was thrown) raises `error(text)`, with the
    JS value as its `js_error`."""
    from pyodide.ffi import create_proxy

    import js

    future = asyncio.get_event_loop().create_future()

    def done(outcome):
        if not future.done():
            future.set_result(outcome)

    on_done = create_proxy(done)
    try:
        # Settled in JS first: a rejection observed from Python never arrived (measured in
        # Chromium with the engine's MegolmDecryptionError), the settled object always does.
        if isinstance(promise, tuple):  # (target, method name, args): called from JS
            target, name, args = promise
            array = js.Array.new()
            for arg in args:
                array.push(arg)
            settled = js.window.omChat._call(target, name, array)
        else:
            settled = js.window.omChat._settle(promise)
        settled.then(on_done)
        outcome = await future
    finally:
        on_done.destroy()
    if outcome.ok:
        return outcome.value
    e = error(_error_text(outcome.error))
    e.js_error = outcome.error
    raise e


def _absent(value) -> bool:
    from pyodide.ffi import JsNull

    return value is None or isinstance(value, JsNull)


class WasmEngine:
    def __init__(self, module, machine, handle=None):
        self._m = module
        self._machine = machine
        self._handle = handle  # the store: its IndexedDB connection closes when both are freed
        from pyapp.browser.backup_engine import WasmBackup

        self.backup = WasmBackup(self)  # key backup and cross-signing (pyapp.client.key_backup)

    def _users(self, users: list[str]):
        import js

        array = js.Array.new()
        for user in users:
            array.push(self._m.UserId.new(user))
        return array

    def _request(self, js_request) -> EngineRequest:
        kind = KINDS.get(int(js_request.type))
        if kind is None:
            raise EngineError(f"unknown request type {js_request.type}")

        def field(name):
            value = getattr(js_request, name, None)
            return value if isinstance(value, str) else ""

        return EngineRequest(id=str(js_request.id), kind=kind, body=str(js_request.body),
                             event_type=field("event_type"), txn_id=field("txn_id"),
                             room_id=field("room_id"), version=field("version"))

    async def receive_sync(self, to_device, changed, left, otk_counts, unused_fallback):
        import js

        counts = js.Map.new()
        for algorithm, count in otk_counts.items():
            counts.set(algorithm, count)
        fallback = None
        if unused_fallback is not None:
            fallback = js.Set.new()
            for algorithm in unused_fallback:
                fallback.add(algorithm)
        lists = self._m.DeviceLists.new(self._users(changed), self._users(left))
        args = [json.dumps(to_device), lists, counts]
        if fallback is not None:
            args.append(fallback)
        await settle((self._machine, "receiveSyncChanges", args))

    async def outgoing_requests(self):
        requests = await settle((self._machine, "outgoingRequests", []))
        return [self._request(r) for r in requests]

    async def mark_sent(self, request, response_body):
        await settle((self._machine, "markRequestAsSent",
                      [request.id, CODES[request.kind], response_body]))

    async def update_tracked_users(self, users):
        await settle((self._machine, "updateTrackedUsers", [self._users(users)]))

    async def missing_sessions(self, users):
        request = await settle((self._machine, "getMissingSessions", [self._users(users)]))
        return None if _absent(request) else self._request(request)

    async def share_room_key(self, room_id, users, rotation=(None, None)):
        from js import BigInt

        settings = self._m.EncryptionSettings.new()
        period_us, messages = rotation
        if period_us is not None:  # the engine's fields are u64: BigInt, not Number
            settings.rotationPeriod = BigInt(period_us)
        if messages is not None:
            settings.rotationPeriodMessages = BigInt(messages)
        requests = await settle((self._machine, "shareRoomKey",
                                  [self._m.RoomId.new(room_id), self._users(users), settings]))
        return [self._request(r) for r in requests]

    async def encrypt(self, room_id, event_type, content):
        encrypted = await settle((self._machine, "encryptRoomEvent",
                                   [self._m.RoomId.new(room_id), event_type, json.dumps(content)]))
        return json.loads(str(encrypted))

    async def decrypt(self, room_id, event):
        settings = self._m.DecryptionSettings.new(self._m.TrustRequirement.Untrusted)
        try:
            decrypted = await settle((self._machine, "decryptRoomEvent",
                                      [json.dumps(event), self._m.RoomId.new(room_id), settings]),
                                     Undecryptable)
        except Undecryptable as e:
            error = getattr(e, "js_error", None)
            code = getattr(error, "code", None)
            e.waiting = code in WAITING_CODES if isinstance(code, int) else True
            withheld = getattr(error, "withheldCode", None)
            e.withheld = withheld if isinstance(withheld, str) and withheld else None
            raise
        event = json.loads(str(decrypted.event))
        try:
            shield = decrypted.shieldState(False)
            code = shield.code
            if shield.color == 0 and code in SHIELD_WARNINGS:  # ShieldColor.Red
                event[WARNING_KEY] = SHIELD_WARNINGS[code]
        except Exception:  # noqa: BLE001  (no shield: shown as decrypted, as before)
            log.exception("No shield state for %s", event.get("event_id"))
        return event

    async def refresh_devices(self):
        """Query every tracked user's devices again (a device appeared that no sync told of)."""
        await settle((self._machine, "markAllTrackedUsersAsDirty", []))

    async def encrypt_attachment(self, data):
        from pyapp.browser import attachment_engine

        return await attachment_engine.encrypt(self._m, data)

    async def decrypt_attachment(self, data, file):
        from pyapp.browser import attachment_engine

        return await attachment_engine.decrypt(self._m, data, file)

    async def close(self):
        self._machine.close()
        if self._handle is not None:
            self._handle.free()
            self._handle = None


class WasmCryptoProvider:
    """Loads the engine's module (once per page) and opens one engine per user and device."""

    def __init__(self, loader, store_keys):
        self._loader = loader  # window.omChat: _cryptoModule() imports the engine's module
        self._store_keys = store_keys  # pyapp.browser.crypto_store_key.StoreKeys
        self._module = None

    async def _load_module(self):
        if self._module is None:
            t0 = time.perf_counter()
            module = await settle(self._loader._cryptoModule())
            timings["importMs"] = (time.perf_counter() - t0) * 1000
            await settle(module.initAsync())
            timings["loadMs"] = (time.perf_counter() - t0) * 1000
            self._module = module
        return self._module

    async def open(self, user_id, device_id):
        module = await self._load_module()
        t0 = time.perf_counter()
        name = store_name(user_id, device_id)
        key = await self._store_keys.get(name)
        handle = await settle(module.StoreHandle.openWithKey(name, key))
        machine = await settle(module.OlmMachine.initFromStore(
            module.UserId.new(user_id), module.DeviceId.new(device_id), handle))
        # Key requests go to the user's other devices, which answer only when verified
        # (cross-signing is not set up here): nothing to gain, one more thing to wait on.
        machine.roomKeyRequestsEnabled = False
        timings["openMs"] = (time.perf_counter() - t0) * 1000
        return WasmEngine(module, machine, handle)

    async def delete(self, user_id, device_id):
        import js

        from pyapp.browser.sync_store import _settle

        name = store_name(user_id, device_id)
        await self._store_keys.delete(name)  # first: without its key the store is unreadable
        for suffix in STORE_SUFFIXES:
            request = js.indexedDB.deleteDatabase(name + suffix)
            # "blocked" while the engine's connection is still closing: the deletion then
            # completes as soon as it has closed, which is waited for (briefly).
            try:
                await asyncio.wait_for(_settle(request, {"success": True, "error": False}),
                                       DELETE_WAIT_S)
            except asyncio.TimeoutError:
                pass  # still deleted once the connection goes (the page at the latest)
