"""Server-side key backup and cross-signing for the session layer, without I/O of its own.

History on a new browser without friction (issue 11): the room keys this device holds are
copied, encrypted, to the homeserver's key backup (the spec's
`m.megolm_backup.v1.curve25519-aes-sha2`), where only the holder of the **recovery key** can
open them. The recovery key is the backup's private key (32 bytes from the engine's random
generator) written the spec's way (base58, `0x8B 0x01` prefix and a parity byte; the same
text other Matrix clients accept as a recovery key). It is shown once, when the backup is
made, and never leaves the browser otherwise.

The cross-signing private keys travel with the backup: encrypted by the engine to the
backup's public key (the same public-key scheme as the backed-up room keys), in the account
data `com.openmeet.cross_signing_keys` (which also notes whether the member confirmed saving
the recovery key: until then a reload shows it again). A second browser that is given the recovery key
therefore also gets the self-signing key and signs its own device, so the user's devices
trust each other. (The spec's secret storage, m.secret_storage, needs AES-CTR/HMAC code the
engine does not offer; this project writes no cryptography, so it uses what the engine has.)

Every cryptographic step is the engine's (`BackupEngine`, pyapp.browser.backup_engine in the
browser, a fake in the unit tests); this module decides when to make the backup, what to ask
the member, what to send and what to import.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Protocol

log = logging.getLogger(__name__)

ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"
SECRETS_TYPE = "com.openmeet.cross_signing_keys"
VERSION_PATH = "/_matrix/client/v3/room_keys/version"
MAX_UPLOADS = 200  # backup requests sent in one go (the engine batches room keys by 100s)
RETRY_AFTER_S = 30.0  # a setup that failed (offline, server error) is tried again after this

# States (what the member is shown: pyapp.ui.parts.key_backup).
IDLE = "idle"          # not started: no encrypted room yet, or the engine is loading
CHECKING = "checking"  # asking the homeserver about its backup
SHOW_KEY = "show_key"  # a new backup was made: the recovery key is shown, once
ASK_KEY = "ask_key"    # the homeserver has a backup this browser cannot open yet
RESTORING = "restoring"
CREATING = "creating"  # the recovery key was lost: a new backup is being made
SKIPPED = "skipped"    # asked, and the member chose to go on without the key
ON = "on"              # this browser backs up its keys (and has restored what was there)
FAILED = "failed"      # setting up failed; tried again with the next engine start

# In a member's words.
WRONG_KEY = ("This recovery key does not open your message backup. Check it (it is the key "
             "that was shown when encryption was set up) and try again.")
MALFORMED_KEY = ("This is not a recovery key: it should be 12 groups of 4 letters and digits, "
                 "like the one that was shown when encryption was set up.")


class RecoveryKeyError(ValueError):
    """The text given is not a recovery key (typing error, another kind of key)."""


class BackupHttpError(Exception):
    pass


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_PREFIX = bytes([0x8B, 0x01])


def _b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def _b58decode(text: str) -> bytes:
    n = 0
    for char in text:
        i = _B58.find(char)
        if i < 0:
            raise RecoveryKeyError(MALFORMED_KEY)
        n = n * 58 + i
    zeros = len(text) - len(text.lstrip("1"))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * zeros + body


def encode_recovery_key(key: bytes) -> str:
    """The spec's text form of a 32-byte key (client-server API, "Key representation"):
    prefix, key and a parity byte, base58, in groups of 4."""
    if len(key) != 32:
        raise ValueError("a recovery key holds 32 bytes")
    data = _PREFIX + key
    parity = 0
    for b in data:
        parity ^= b
    text = _b58encode(data + bytes([parity]))
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))


def decode_recovery_key(text: str) -> bytes:
    """The 32-byte key in a recovery key as typed or pasted (spaces and line breaks are
    ignored); RecoveryKeyError when it is not one."""
    compact = "".join(str(text).split())
    if not compact:
        raise RecoveryKeyError("Enter your recovery key.")
    data = _b58decode(compact)
    parity = 0
    for b in data:
        parity ^= b
    if len(data) != 35 or data[:2] != _PREFIX or parity != 0:
        raise RecoveryKeyError(MALFORMED_KEY)
    return data[2:34]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def canonical_json(value: Any) -> str:
    """The spec's canonical JSON: what signatures are made over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def recovery_key_file(recovery_key: str, user_id: str) -> str:
    """The text file offered for download next to the recovery key."""
    return (f"Recovery key for your encrypted chat messages ({user_id})\n\n"
            f"{recovery_key}\n\n"
            "Keep it somewhere safe, like a password manager. When you sign in to the chat on "
            "another browser, enter this key to read the messages sent before.\n"
            "Anyone with this key and your account can read your encrypted messages.\n")


@dataclass
class EncryptedSecret:
    ciphertext: str
    mac: str
    ephemeral: str


@dataclass
class CrossSigningBootstrap:
    """The engine's bootstrap requests, in the order they go out."""
    upload_keys: Any  # EngineRequest | None: this device's keys, if not uploaded yet
    signing_keys_body: str  # POST /keys/device_signing/upload
    signatures: Any  # EngineRequest (SignatureUpload)


class BackupEngine(Protocol):
    """The crypto engine's backup and cross-signing operations (keys are unpadded base64)."""

    def device_created_ms(self) -> int | None:
        """When this device's keys were made (the engine's clock): messages sent before
        can only be read with keys from the backup."""
        ...

    async def saved_backup_key(self) -> tuple[str | None, str | None]:
        """(private key, backup version) kept in the engine's store, if any."""
        ...

    def new_backup_key(self) -> tuple[str, str]:
        """A fresh random (private, public) backup key pair."""
        ...

    def public_key(self, private_key: str) -> str:
        """The public key of a private backup key; ValueError if it is not one."""
        ...

    async def sign(self, message: str) -> dict: ...

    async def save_backup_key(self, private_key: str, version: str) -> None: ...

    async def enable_backup(self, public_key: str, version: str) -> None: ...

    async def backup_room_keys(self) -> Any:
        """The next EngineRequest (KeysBackup) of keys not backed up yet, or None."""
        ...

    async def import_backup(self, private_key: str, version: str, rooms: dict) -> int:
        """Decrypt and import the keys of a /room_keys/keys answer's `rooms`; how many."""
        ...

    def encrypt_to(self, public_key: str, plaintext: str) -> EncryptedSecret: ...

    def decrypt_with(self, private_key: str, secret: EncryptedSecret) -> str:
        """ValueError when the key does not open it."""
        ...

    async def has_cross_signing(self) -> bool:
        """The engine holds all private cross-signing keys."""
        ...

    async def bootstrap_cross_signing(self) -> CrossSigningBootstrap: ...

    async def export_cross_signing(self) -> dict | None:
        """{master_key, self_signing_key, user_signing_key} private seeds, if held."""
        ...

    async def import_cross_signing(self, keys: dict) -> bool:
        """Take the private cross-signing keys; True when they match the published ones."""
        ...

    async def sign_own_device(self) -> Any:
        """The EngineRequest (SignatureUpload) signing this device with the self-signing key,
        or None."""
        ...


Http = Callable[..., Awaitable[Any]]


def _json(response) -> Any:
    try:
        return json.loads(response.body or b"null")
    except ValueError:
        return None


class KeyBackup:
    """One signed-in device's key backup. `send(request)` sends an engine request and marks
    it sent (the crypto session's); `lock` is the crypto session's (one conversation with the
    engine at a time); `on_change()` asks the views to render; `on_restored()` retries the
    messages that were waiting for their keys."""

    def __init__(self, http: Http, engine: BackupEngine, user_id: str,
                 send: Callable[[Any], Awaitable[bool]], lock: asyncio.Lock,
                 on_change: Callable[[], None] = lambda: None,
                 on_restored: Callable[[], Awaitable[None]] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self._http = http
        self._engine = engine
        self.user_id = user_id
        self._send = send
        self._lock = lock
        self._on_change = on_change
        self._on_restored = on_restored
        self._clock = clock
        self._failed_at: float | None = None  # a setup that may work when tried again
        self.state = IDLE
        self.version: str | None = None
        self._public_key: str | None = None  # the server's backup's (auth_data.public_key)
        self.recovery_key: str | None = None  # only while it is shown (SHOW_KEY)
        self.error: str | None = None  # the last recovery key's problem, or why setup failed
        self.restored = 0  # room keys imported from the backup
        self.cross_signing: str | None = None  # "set up" | "trusted" | why not
        self.device_created_ms: int | None = None

    # -- the member's answers ---------------------------------------------------------
    async def confirm_saved(self) -> None:
        """"I have saved it": the recovery key is not shown (nor kept) any more. Until then
        it is shown again after a reload (the account data says it was not saved yet)."""
        if self.state != SHOW_KEY:
            return
        self.recovery_key = None
        self._set(ON)
        try:
            secrets = await self._account_data() or {}
            secrets["saved"] = True
            await self._request("PUT", self._secrets_path(), secrets)
        except Exception:  # noqa: BLE001  (shown once more after a reload: no harm)
            log.exception("Could not note that the recovery key was saved")

    def skip(self) -> None:
        if self.state == ASK_KEY:
            self.error = None
            self._set(SKIPPED)

    def ask_again(self) -> None:
        if self.state == SKIPPED:
            self._set(ASK_KEY)

    async def start_over(self) -> bool:
        """The recovery key is lost: a new backup (and a new recovery key, shown once)
        replaces the old one. What only the old backup held stays unreadable on new
        browsers; the member confirmed that first (pyapp.ui.parts.key_backup)."""
        if self.state not in (ASK_KEY, SKIPPED):
            return False
        self.error = None
        self._set(CREATING)
        try:
            async with self._lock:
                await self._create()
                await self.upload()
        except Exception as e:  # noqa: BLE001  (nothing replaced: asked again)
            log.exception("Starting a new key backup failed")
            self.error = f"A new backup could not be made: {e}. Try again."
            self._set(ASK_KEY)
            return False
        return True

    async def restore(self, text: str) -> bool:
        """Open the backup with a recovery key typed by the member: its keys are imported,
        the waiting messages retried and this device signed by the user's cross-signing key.
        A wrong key sets `error` and changes nothing else (the member can try again)."""
        if self.state not in (ASK_KEY, SKIPPED):
            return False
        try:
            private = b64(decode_recovery_key(text))
            public = self._engine.public_key(private)
        except (RecoveryKeyError, ValueError) as e:
            self.error = str(e) if isinstance(e, RecoveryKeyError) else MALFORMED_KEY
            self._set(ASK_KEY)
            return False
        if public != self._public_key or self.version is None:
            self.error = WRONG_KEY
            self._set(ASK_KEY)
            return False
        self.error = None
        self._set(RESTORING)
        try:
            async with self._lock:
                await self._engine.save_backup_key(private, self.version)
                await self._engine.enable_backup(public, self.version)
                self.restored = await self._download(private)
                try:
                    await self._trust_this_device(private)
                except Exception as e:  # noqa: BLE001  (the messages are restored all the same)
                    log.exception("Trusting this device failed")
                    self.cross_signing = f"this device could not be signed: {e}"
                self._set(ON)
                if self._on_restored is not None:
                    await self._on_restored()
                await self.upload()
        except Exception as e:  # noqa: BLE001  (network, server: said, and the key can be given again)
            log.exception("Restoring the key backup failed")
            if self.state != ON:
                self.error = f"Your messages could not be restored: {e}. Try again."
                self._set(ASK_KEY)
                return False
        return True

    def should_retry(self) -> bool:
        """A setup that failed for the network's or the server's sake is due again."""
        return self.state == FAILED and self._failed_at is not None \
            and self._clock() - self._failed_at >= RETRY_AFTER_S

    # -- started with the engine ------------------------------------------------------
    async def start(self) -> None:
        """Called once the engine is ready and the user has an encrypted room: use the
        homeserver's backup if this browser has its key, make one if there is none, or ask
        for the recovery key. Not under the crypto session's lock (its round trips must not
        hold up syncs; the engine takes concurrent calls)."""
        if self.state not in (IDLE, FAILED):
            return
        self._failed_at = None
        self._set(CHECKING)
        try:
            self.device_created_ms = self._engine.device_created_ms()
            info = await self._server_backup()
            private, version = await self._engine.saved_backup_key()
            if info is None:
                await self._create()
                return
            self.version = info.get("version") if isinstance(info.get("version"), str) else None
            auth = info.get("auth_data") if isinstance(info.get("auth_data"), dict) else {}
            self._public_key = auth.get("public_key")
            if info.get("algorithm") != ALGORITHM or not isinstance(self._public_key, str) \
                    or self.version is None:
                self.error = "Your message backup was made by an app this chat cannot read."
                self._set(FAILED)
                return
            if private is not None and self._engine.public_key(private) == self._public_key:
                if version != self.version:
                    await self._engine.save_backup_key(private, self.version)
                await self._engine.enable_backup(self._public_key, self.version)
                secrets = await self._account_data()
                if secrets is not None and secrets.get("saved") is False \
                        and secrets.get("version") == self.version:
                    # Made here, and the page went before "I have saved it": shown again.
                    self.recovery_key = encode_recovery_key(unb64(private))
                    self._set(SHOW_KEY)
                    return
                self._set(ON)
                return
            self._set(ASK_KEY)
        except Exception as e:  # noqa: BLE001  (the next engine start tries again)
            log.exception("Setting up the key backup failed")
            self.error = f"Message backup is not available: {e}"
            self._failed_at = self._clock()
            self._set(FAILED)

    async def upload(self) -> int:
        """Send the room keys not backed up yet (new ones made or received); how many
        requests went out."""
        if self.state not in (ON, SHOW_KEY):
            return 0
        sent = 0
        while sent < MAX_UPLOADS:
            request = await self._engine.backup_room_keys()
            if request is None:
                break
            if not await self._send(request):
                break  # refused (backup replaced, server down): asked again after the next keys
            sent += 1
        return sent

    # -- steps ------------------------------------------------------------------------
    def _set(self, state: str) -> None:
        self.state = state
        try:
            self._on_change()
        except Exception:  # noqa: BLE001
            log.exception("Showing the key backup's state failed")

    async def _request(self, method: str, path: str, body: Any = None):
        response = await self._http(method, path, body, timeout=60)
        if response.status != 200:
            data = _json(response)
            code = data.get("errcode") if isinstance(data, dict) else None
            raise BackupHttpError(f"{method} {path.split('?')[0]} answered HTTP "
                                  f"{response.status} {code or ''}".strip())
        return _json(response)

    async def _server_backup(self) -> dict | None:
        response = await self._http("GET", VERSION_PATH, timeout=30)
        if response.status == 404:
            return None
        if response.status != 200 or not isinstance(_json(response), dict):
            raise BackupHttpError(f"the homeserver's backup is unknown (HTTP {response.status})")
        return _json(response)

    async def _create(self) -> None:
        engine = self._engine
        await self._bootstrap_cross_signing()
        private, public = engine.new_backup_key()
        auth_data: dict = {"public_key": public}
        signatures = await engine.sign(canonical_json(auth_data))
        if signatures:
            auth_data["signatures"] = signatures
        created = await self._request("POST", VERSION_PATH,
                                      {"algorithm": ALGORITHM, "auth_data": auth_data})
        version = created.get("version") if isinstance(created, dict) else None
        if not isinstance(version, str):
            raise BackupHttpError("the homeserver gave the new backup no version")
        await engine.save_backup_key(private, version)
        await engine.enable_backup(public, version)
        self.version, self._public_key = version, public
        secrets: dict = {"version": version, "saved": False}
        keys = await engine.export_cross_signing()
        if keys:
            secret = engine.encrypt_to(public, json.dumps(keys))
            secrets.update(algorithm=ALGORITHM, ciphertext=secret.ciphertext, mac=secret.mac,
                           ephemeral=secret.ephemeral)
        await self._request("PUT", self._secrets_path(), secrets)
        self.recovery_key = encode_recovery_key(unb64(private))
        self._set(SHOW_KEY)

    async def _bootstrap_cross_signing(self) -> None:
        """Make the user's cross-signing keys when there are none yet. The homeserver lets a
        user publish their first cross-signing keys without asking for the password again
        (MSC3967); if it asks (keys exist already, made by another app), this is left alone
        and said in `cross_signing`."""
        engine = self._engine
        if await engine.has_cross_signing():
            self.cross_signing = "set up"
            return
        if await self._published_master_key():
            self.cross_signing = "made by another device or app: not replaced"
            return
        bootstrap = await engine.bootstrap_cross_signing()
        if bootstrap.upload_keys is not None:
            await self._send(bootstrap.upload_keys)
        response = await self._http("POST", "/_matrix/client/v3/keys/device_signing/upload",
                                    bootstrap.signing_keys_body, timeout=30)
        if response.status != 200:
            self.cross_signing = (f"the homeserver refused the cross-signing keys "
                                  f"(HTTP {response.status})")
            log.warning("Cross-signing upload refused: %s %s", response.status,
                        (response.body or b"")[:200])
            return
        await self._send(bootstrap.signatures)
        self.cross_signing = "set up"

    def _secrets_path(self) -> str:
        return f"/_matrix/client/v3/user/{_q(self.user_id)}/account_data/{SECRETS_TYPE}"

    async def _account_data(self) -> dict | None:
        response = await self._http("GET", self._secrets_path(), timeout=30)
        if response.status == 404:
            return None
        data = _json(response) if response.status == 200 else None
        if not isinstance(data, dict):
            raise BackupHttpError(f"the account data could not be read (HTTP {response.status})")
        return data

    async def _published_master_key(self) -> bool:
        body = await self._request("POST", "/_matrix/client/v3/keys/query",
                                   {"device_keys": {self.user_id: []}})
        masters = body.get("master_keys") if isinstance(body, dict) else None
        return isinstance(masters, dict) and self.user_id in masters

    async def _download(self, private: str) -> int:
        body = await self._request(
            "GET", f"/_matrix/client/v3/room_keys/keys?version={_q(self.version)}")
        rooms = body.get("rooms") if isinstance(body, dict) else None
        if not isinstance(rooms, dict) or not rooms:
            return 0
        return await self._engine.import_backup(private, self.version, rooms)

    async def _trust_this_device(self, private: str) -> None:
        """Take the cross-signing keys from the account data (opened with the recovery key)
        and sign this device with them."""
        data = await self._account_data()
        if not isinstance(data, dict) or not all(isinstance(data.get(k), str)
                                                 for k in ("ciphertext", "mac", "ephemeral")):
            self.cross_signing = "no cross-signing keys in the backup"
            return
        try:
            keys = json.loads(self._engine.decrypt_with(
                private, EncryptedSecret(data["ciphertext"], data["mac"], data["ephemeral"])))
        except ValueError:
            self.cross_signing = "the cross-signing keys could not be opened"
            return
        if not isinstance(keys, dict) or not await self._engine.import_cross_signing(keys):
            self.cross_signing = "the cross-signing keys do not match the published ones"
            return
        request = await self._engine.sign_own_device()
        if request is not None:
            await self._send(request)
        self.cross_signing = "trusted"


def _q(value: str | None) -> str:
    from urllib.parse import quote

    return quote(value or "", safe="")
