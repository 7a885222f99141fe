"""pyapp.client.key_backup's engine in the browser: the backup and cross-signing operations
of @matrix-org/matrix-sdk-crypto-wasm's OlmMachine (BackupDecryptionKey, enableBackupV1,
backupRoomKeys, importBackedUpRoomKeys, bootstrapCrossSigning, importCrossSigningKeys,
PkEncryption). Only translation: every cryptographic step is the engine's.
"""

from __future__ import annotations

import json

from pyapp.client.crypto import SIGNATURE_UPLOAD, EngineError, EngineRequest
from pyapp.client.key_backup import CrossSigningBootstrap, EncryptedSecret


def _absent(value) -> bool:
    from pyodide.ffi import JsNull

    return value is None or isinstance(value, JsNull)


def _text(value) -> str | None:
    return None if _absent(value) else str(value)


class WasmBackup:
    def __init__(self, engine):
        self._engine = engine  # pyapp.browser.crypto_engine.WasmEngine
        self._m = engine._m
        self._machine = engine._machine

    async def _call(self, name, *args):
        from pyapp.browser.crypto_engine import settle

        return await settle((self._machine, name, list(args)))

    def _key(self, private_key: str):
        from pyodide.ffi import JsException

        try:
            return self._m.BackupDecryptionKey.fromBase64(private_key)
        except JsException as e:
            raise ValueError("not a backup key") from e

    # -- backup -----------------------------------------------------------------------
    def device_created_ms(self):
        value = self._machine.deviceCreationTimeMs
        return None if _absent(value) else int(value)

    async def saved_backup_key(self):
        keys = await self._call("getBackupKeys")
        key = keys.decryptionKey
        return (None if _absent(key) else str(key.toBase64()), _text(keys.backupVersion))

    def new_backup_key(self):
        key = self._m.BackupDecryptionKey.createRandomKey()
        try:
            return str(key.toBase64()), str(key.megolmV1PublicKey.publicKeyBase64)
        finally:
            key.free()  # secret material: not left to the garbage collector

    def public_key(self, private_key):
        key = self._key(private_key)
        try:
            return str(key.megolmV1PublicKey.publicKeyBase64)
        finally:
            key.free()

    async def sign(self, message):
        signatures = await self._call("sign", message)
        return json.loads(str(signatures.asJSON()))

    async def save_backup_key(self, private_key, version):
        await self._call("saveBackupDecryptionKey", self._key(private_key), version)

    async def enable_backup(self, public_key, version):
        await self._call("enableBackupV1", public_key, version)

    async def backup_room_keys(self):
        request = await self._call("backupRoomKeys")
        return None if _absent(request) else self._engine._request(request)

    async def import_backup(self, private_key, version, rooms):
        """Each session's data is decrypted by the engine's backup key (decryptV1), then the
        engine imports them (keeping better copies it already has)."""
        import js
        from pyodide.ffi import JsException, create_proxy

        key = self._key(private_key)
        by_room = js.Map.new()
        try:
            for room_id, room in rooms.items():
                sessions = room.get("sessions") if isinstance(room, dict) else None
                if not isinstance(sessions, dict):
                    continue
                inner = js.Map.new()
                for session_id, data in sessions.items():
                    encrypted = data.get("session_data") if isinstance(data, dict) else None
                    if not isinstance(encrypted, dict):
                        continue
                    try:
                        clear = key.decryptV1(str(encrypted.get("ephemeral", "")),
                                              str(encrypted.get("mac", "")),
                                              str(encrypted.get("ciphertext", "")))
                        inner.set(str(session_id), js.JSON.parse(clear))
                    except JsException:
                        continue  # one damaged key costs only its messages
                try:
                    if inner.size:
                        by_room.set(self._m.RoomId.new(str(room_id)), inner)
                except JsException:
                    continue  # not a room id: nothing of it can be shown anyway
        finally:
            key.free()
        progress = create_proxy(lambda *_: None)
        try:
            result = await self._call("importBackedUpRoomKeys", by_room, progress, version)
        finally:
            progress.destroy()
        return int(result.importedCount)

    # -- secrets for the recovery key -----------------------------------------------------
    def encrypt_to(self, public_key, plaintext):
        encryption = self._m.PkEncryption.fromKey(self._m.Curve25519PublicKey.new(public_key))
        message = encryption.encryptString(plaintext).toBase64()
        return EncryptedSecret(str(message.ciphertext), str(message.mac),
                               str(message.ephemeralKey))

    def decrypt_with(self, private_key, secret):
        from pyodide.ffi import JsException

        key = self._key(private_key)
        try:
            return str(key.decryptV1(secret.ephemeral, secret.mac, secret.ciphertext))
        except JsException as e:
            raise ValueError("the key does not open this secret") from e
        finally:
            key.free()

    # -- cross-signing --------------------------------------------------------------------
    async def has_cross_signing(self):
        status = await self._call("crossSigningStatus")
        return bool(status.hasMaster and status.hasSelfSigning and status.hasUserSigning)

    async def bootstrap_cross_signing(self):
        requests = await self._call("bootstrapCrossSigning", True)
        upload = requests.uploadKeysRequest
        signatures = requests.uploadSignaturesRequest
        return CrossSigningBootstrap(
            upload_keys=None if _absent(upload) else self._engine._request(upload),
            signing_keys_body=str(requests.uploadSigningKeysRequest.body),
            signatures=EngineRequest(id=_text(signatures.id) or "", kind=SIGNATURE_UPLOAD,
                                     body=str(signatures.body)))

    async def export_cross_signing(self):
        export = await self._call("exportCrossSigningKeys")
        if _absent(export):
            return None
        keys = {"master_key": _text(export.masterKey),
                "self_signing_key": _text(export.self_signing_key),
                "user_signing_key": _text(export.userSigningKey)}
        return keys if all(keys.values()) else None

    async def import_cross_signing(self, keys):
        try:
            status = await self._call("importCrossSigningKeys", keys.get("master_key"),
                                      keys.get("self_signing_key"),
                                      keys.get("user_signing_key"))
        except EngineError:
            return False
        return bool(status.hasMaster and status.hasSelfSigning)

    async def sign_own_device(self):
        user_id = str(self._machine.userId.toString())
        device_id = str(self._machine.deviceId.toString())
        device = await self._call("getDevice", self._m.UserId.new(user_id),
                                  self._m.DeviceId.new(device_id))
        if _absent(device):
            return None
        from pyapp.browser.crypto_engine import settle

        request = await settle((device, "verify", []))
        return EngineRequest(id=_text(request.id) or "", kind=SIGNATURE_UPLOAD,
                             body=str(request.body))
