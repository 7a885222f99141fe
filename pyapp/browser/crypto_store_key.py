"""The key of the crypto engine's IndexedDB store, never kept readable by the page.

The engine encrypts its store (the device's Olm account, its Megolm sessions) with 32 bytes
given at open. Those bytes are made once per store with the browser's random generator and
kept only wrapped: AES-GCM under a browser key created non-extractable, stored as a CryptoKey
object in IndexedDB. Script on the page can ask the browser to unwrap (as any code running the
chat can), but the key material itself is in no storage a copy of the profile's files or
localStorage reveals in the clear. Deleting the store deletes its key.
"""

from __future__ import annotations

from pyapp.browser.crypto_engine import settle
from pyapp.browser.sync_store import _settle

DB_NAME = "om-chat-crypto-keys"
OBJECT_STORE = "keys"


class StoreKeys:
    def __init__(self):
        self._db = None

    async def _open(self):
        if self._db is not None:
            return self._db
        import js
        from pyodide.ffi import create_proxy

        request = js.indexedDB.open(DB_NAME, 1)

        def upgrade(event=None):
            db = request.result
            if not db.objectStoreNames.contains(OBJECT_STORE):
                db.createObjectStore(OBJECT_STORE)

        proxy = create_proxy(upgrade)
        request.onupgradeneeded = proxy
        try:
            await _settle(request, {"success": True, "error": False})
        finally:
            request.onupgradeneeded = None
            proxy.destroy()
        self._db = request.result
        return self._db

    async def _get_record(self, name: str):
        db = await self._open()
        tx = db.transaction(OBJECT_STORE, "readonly")
        got = tx.objectStore(OBJECT_STORE).get(name)
        await _settle(tx, {"complete": True, "error": False, "abort": False})
        return got.result

    async def get(self, name: str):
        """The store key (a Uint8Array of 32 bytes) for the store `name`, made on first use."""
        import js
        from pyodide.ffi import JsNull, to_js

        subtle = js.crypto.subtle
        record = await self._get_record(name)
        if record is not None and not isinstance(record, JsNull):
            params = to_js({"name": "AES-GCM", "iv": record.iv},
                           dict_converter=js.Object.fromEntries)
            raw = await settle(subtle.decrypt(params, record.wrapper, record.wrapped))
            return js.Uint8Array.new(raw)
        key = js.crypto.getRandomValues(js.Uint8Array.new(32))
        algorithm = to_js({"name": "AES-GCM", "length": 256}, dict_converter=js.Object.fromEntries)
        usages = to_js(["encrypt", "decrypt"])
        wrapper = await settle(subtle.generateKey(algorithm, False, usages))
        iv = js.crypto.getRandomValues(js.Uint8Array.new(12))
        params = to_js({"name": "AES-GCM", "iv": iv}, dict_converter=js.Object.fromEntries)
        wrapped = await settle(subtle.encrypt(params, wrapper, key))
        record = js.Object.new()
        record.wrapper, record.iv, record.wrapped = wrapper, iv, wrapped
        db = await self._open()
        tx = db.transaction(OBJECT_STORE, "readwrite")
        tx.objectStore(OBJECT_STORE).put(record, name)
        await _settle(tx, {"complete": True, "error": False, "abort": False})
        return key

    async def delete(self, name: str) -> None:
        db = await self._open()
        tx = db.transaction(OBJECT_STORE, "readwrite")
        tx.objectStore(OBJECT_STORE).delete(name)
        await _settle(tx, {"complete": True, "error": False, "abort": False})
