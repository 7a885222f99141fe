"""pyapp.client.key_backup with a fake engine and a fake homeserver: the backup is made once
with a recovery key shown once; a second device asks for it, a wrong or malformed key is said
and changes nothing, the right one imports the keys, heals the waiting messages and signs
the device with the user's cross-signing key. (No cryptography in the fakes: the "public
key" of a private key is a label, "encryption" a JSON wrapper naming it.)"""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from pyapp.client import key_backup as kb
from pyapp.client.crypto import KEYS_BACKUP, SIGNATURE_UPLOAD, EngineRequest
from pyapp.client.transport import HttpResponse

ME = "@alice:localhost"


class FakeBackupEngine:
    def __init__(self, keys: list[str] | None = None):
        self.saved: tuple[str | None, str | None] = (None, None)
        self.enabled: tuple[str, str] | None = None
        self.room_keys = list(keys or [])  # session ids held
        self.backed_up: set[str] = set()
        self.cross_signing: dict | None = None
        self.imported: list[str] = []
        self.signed_device = False

    def device_created_ms(self):
        return 5000

    def new_backup_key(self):
        private = kb.b64(os.urandom(32))
        return private, self.public_key(private)

    def public_key(self, private):
        if len(kb.unb64(private)) != 32:
            raise ValueError("not a key")
        return "pub-" + private

    async def saved_backup_key(self):
        return self.saved

    async def sign(self, message):
        json.loads(message)
        return {ME: {"ed25519:DEV": "sig"}}

    async def save_backup_key(self, private, version):
        self.saved = (private, version)

    async def enable_backup(self, public, version):
        self.enabled = (public, version)

    async def backup_room_keys(self):
        todo = [k for k in self.room_keys if k not in self.backed_up][:2]
        if not todo or self.enabled is None:
            return None
        self.backed_up |= set(todo)
        public, version = self.enabled
        return EngineRequest(f"b{len(self.backed_up)}", KEYS_BACKUP, json.dumps(
            {"rooms": {"!r:localhost": {"sessions": {k: {"session_data": {"to": public}}
                                                     for k in todo}}}}), version=version)

    async def import_backup(self, private, version, rooms):
        for room in rooms.values():
            for sid, data in room["sessions"].items():
                assert data["session_data"]["to"] == self.public_key(private)
                self.imported.append(sid)
                self.room_keys.append(sid)
                self.backed_up.add(sid)
        return len(self.imported)

    def encrypt_to(self, public, plaintext):
        return kb.EncryptedSecret(json.dumps({"to": public, "text": plaintext}), "mac", "eph")

    def decrypt_with(self, private, secret):
        data = json.loads(secret.ciphertext)
        if data["to"] != self.public_key(private):
            raise ValueError("bad mac")
        return data["text"]

    async def has_cross_signing(self):
        return self.cross_signing is not None

    async def bootstrap_cross_signing(self):
        self.cross_signing = {"master_key": "M", "self_signing_key": "S",
                              "user_signing_key": "U"}
        return kb.CrossSigningBootstrap(None, json.dumps({"master_key": {"user_id": ME}}),
                                        EngineRequest("", SIGNATURE_UPLOAD, "{}"))

    async def export_cross_signing(self):
        return self.cross_signing

    async def import_cross_signing(self, keys):
        self.cross_signing = keys
        return keys.get("master_key") == "M"

    async def sign_own_device(self):
        self.signed_device = True
        return EngineRequest("", SIGNATURE_UPLOAD, json.dumps({ME: {"DEV2": {}}}))


class FakeServer:
    """The homeserver's key backup, account data and cross-signing keys."""

    def __init__(self, refuse_signing_keys=False):
        self.backup: dict | None = None
        self.keys: dict = {}
        self.account_data: dict = {}
        self.master: dict | None = None
        self.signatures: list = []
        self.refuse_signing_keys = refuse_signing_keys
        self.calls: list[tuple[str, str]] = []
        self.down = False

    async def __call__(self, method, path, body=None, headers=None, timeout=None, auth=True):
        self.calls.append((method, path))
        data = json.loads(body) if isinstance(body, str) else body
        if self.down:
            return self._answer(502, {"errcode": "M_UNKNOWN"})
        base = "/_matrix/client/v3"
        if path == base + "/room_keys/version":
            if method == "POST":
                self.backup = dict(data, version=str(int((self.backup or {}).get("version", 0)) + 1))
                return self._answer(200, {"version": self.backup["version"]})
            return self._answer(200, self.backup) if self.backup else \
                self._answer(404, {"errcode": "M_NOT_FOUND"})
        if path.startswith(base + "/room_keys/keys"):
            if method == "PUT" and self.backup and f"version={self.backup['version']}" not in path:
                return self._answer(403, {"errcode": "M_WRONG_ROOM_KEYS_VERSION"})
            if method == "PUT":
                for room_id, room in data["rooms"].items():
                    self.keys.setdefault(room_id, {"sessions": {}})["sessions"].update(
                        room["sessions"])
                return self._answer(200, {"count": 1, "etag": "1"})
            return self._answer(200, {"rooms": self.keys})
        if "/account_data/" in path:
            kind = path.rsplit("/", 1)[1]
            if method == "PUT":
                self.account_data[kind] = data
                return self._answer(200, {})
            return self._answer(200, self.account_data[kind]) if kind in self.account_data \
                else self._answer(404, {"errcode": "M_NOT_FOUND"})
        if path == base + "/keys/query":
            return self._answer(200, {"master_keys": {ME: self.master} if self.master else {}})
        if path == base + "/keys/device_signing/upload":
            if self.refuse_signing_keys:
                return self._answer(401, {"flows": [{"stages": ["m.login.password"]}]})
            self.master = data["master_key"]
            return self._answer(200, {})
        if path == base + "/keys/signatures/upload":
            self.signatures.append(data)
            return self._answer(200, {"failures": {}})
        return self._answer(404, {"errcode": "M_UNRECOGNIZED"})

    @staticmethod
    def _answer(status, body):
        return HttpResponse(status, {"content-type": "application/json"},
                            json.dumps(body).encode())


def make(server, engine, retried=None, clock=None):
    changes = []

    async def send(request):
        from pyapp.client.crypto import request_http

        method, path = request_http(request)
        response = await server(method, path, request.body)
        return response.status == 200

    async def on_restored():
        if retried is not None:
            retried.append(True)

    backup = kb.KeyBackup(server, engine, ME, send, asyncio.Lock(),
                          on_change=lambda: changes.append(backup.state),
                          on_restored=on_restored, **({"clock": clock} if clock else {}))
    return backup, changes


def test_recovery_keys_round_trip_in_the_specs_text_form():
    key = bytes(range(32))
    text = kb.encode_recovery_key(key)
    groups = text.split(" ")
    assert len(groups) == 12 and all(len(g) == 4 for g in groups[:-1])
    assert text.startswith("E")  # the spec's prefix makes every recovery key start so
    assert kb.decode_recovery_key(text) == key
    assert kb.decode_recovery_key("  " + text.replace(" ", "\n") + "\n") == key
    assert kb.decode_recovery_key(text.replace(" ", "")) == key


def test_the_specs_example_recovery_key_decodes():
    spec_example = "EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 Q9fu gUMN UE4d"
    assert kb.encode_recovery_key(kb.decode_recovery_key(spec_example)) == spec_example


@pytest.mark.parametrize("bad", ["", "hello", "EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 "
                                 "Q9fu gUMN UE4", "EsTc LW2K PGiF wKEA 3As5 g5c4 BXwk qeeJ ZJV8 "
                                 "Q9fu gUMN UE4e", "0OIl"])
def test_text_that_is_not_a_recovery_key_is_refused_clearly(bad):
    with pytest.raises(kb.RecoveryKeyError) as e:
        kb.decode_recovery_key(bad)
    assert "recovery key" in str(e.value)


def test_a_typo_breaks_the_parity_and_is_caught():
    text = kb.encode_recovery_key(os.urandom(32))
    i = 5 if text[5] != "a" else 6
    typo = text[:i] + ("a" if text[i] != "a" else "b") + text[i + 1:]
    with pytest.raises(kb.RecoveryKeyError):
        kb.decode_recovery_key(typo)


async def test_the_first_device_makes_the_backup_and_shows_the_recovery_key_once():
    server, engine = FakeServer(), FakeBackupEngine(keys=["s1", "s2", "s3"])
    backup, changes = make(server, engine)
    await backup.start()
    assert backup.state == kb.SHOW_KEY
    assert server.backup["algorithm"] == kb.ALGORITHM
    assert server.backup["auth_data"]["signatures"] == {ME: {"ed25519:DEV": "sig"}}
    private = kb.b64(kb.decode_recovery_key(backup.recovery_key))
    assert server.backup["auth_data"]["public_key"] == engine.public_key(private)
    assert engine.saved == (private, "1") and engine.enabled[1] == "1"
    # Cross-signing published, its private keys in the account data, for the recovery key only.
    assert server.master == {"user_id": ME} and backup.cross_signing == "set up"
    secret = server.account_data[kb.SECRETS_TYPE]
    assert engine.decrypt_with(private, kb.EncryptedSecret(
        secret["ciphertext"], secret["mac"], secret["ephemeral"])) == json.dumps(
        engine.cross_signing)
    assert await backup.upload() == 2
    assert set(server.keys["!r:localhost"]["sessions"]) == {"s1", "s2", "s3"}
    # A reload before "I have saved it" shows the same key again; after it, never.
    engine.enabled = None
    reloaded, _ = make(server, engine)
    await reloaded.start()
    assert reloaded.state == kb.SHOW_KEY and reloaded.recovery_key == backup.recovery_key
    await reloaded.confirm_saved()
    assert reloaded.state == kb.ON and reloaded.recovery_key is None
    assert server.account_data[kb.SECRETS_TYPE]["saved"] is True
    again, _ = make(server, engine)
    await again.start()
    assert again.state == kb.ON and again.recovery_key is None


async def test_a_device_that_has_the_key_backs_up_without_asking():
    server, engine = FakeServer(), FakeBackupEngine(keys=["s1"])
    first, _ = make(server, engine)
    await first.start()
    await first.confirm_saved()
    engine.enabled = None  # a reload: the engine starts with backups off
    again, _ = make(server, engine)
    await again.start()
    assert again.state == kb.ON and again.recovery_key is None
    assert engine.enabled == (server.backup["auth_data"]["public_key"], "1")
    assert sum(1 for m, p in server.calls if m == "POST" and p.endswith("/version")) == 1


async def test_a_second_device_asks_and_a_wrong_or_malformed_key_changes_nothing():
    server = FakeServer()
    first, _ = make(server, FakeBackupEngine(keys=["s1", "s2"]))
    await first.start()
    await first.upload()
    recovery_key = first.recovery_key
    engine2, retried = FakeBackupEngine(), []
    second, _ = make(server, engine2, retried)
    await second.start()
    assert second.state == kb.ASK_KEY

    assert not await second.restore("not a key at all")
    assert second.state == kb.ASK_KEY and second.error == kb.MALFORMED_KEY
    other = kb.encode_recovery_key(os.urandom(32))
    assert not await second.restore(other)
    assert second.state == kb.ASK_KEY and second.error == kb.WRONG_KEY
    assert engine2.saved == (None, None) and engine2.enabled is None and not engine2.imported

    second.skip()
    assert second.state == kb.SKIPPED and second.error is None
    second.ask_again()
    assert await second.restore(recovery_key.replace(" ", ""))
    assert second.state == kb.ON and second.error is None
    assert sorted(engine2.imported) == ["s1", "s2"] and second.restored == 2
    assert retried == [True]
    # The device is signed with the user's self-signing key, taken from the account data.
    assert engine2.cross_signing["self_signing_key"] == "S" and engine2.signed_device
    assert server.signatures[-1] == {ME: {"DEV2": {}}}
    assert second.cross_signing == "trusted"


async def test_restoring_while_the_server_fails_says_so_and_the_key_can_be_given_again():
    server = FakeServer()
    first, _ = make(server, FakeBackupEngine(keys=["s1"]))
    await first.start()
    await first.upload()
    engine2 = FakeBackupEngine()
    second, _ = make(server, engine2)
    await second.start()
    server.down = True
    assert not await second.restore(first.recovery_key)
    assert second.state == kb.ASK_KEY and "could not be restored" in second.error
    server.down = False
    assert await second.restore(first.recovery_key)
    assert engine2.imported == ["s1"]


async def test_cross_signing_refused_by_the_server_still_makes_the_backup():
    server, engine = FakeServer(refuse_signing_keys=True), FakeBackupEngine()
    backup, _ = make(server, engine)
    await backup.start()
    assert backup.state == kb.SHOW_KEY and server.backup is not None
    assert "refused" in backup.cross_signing


async def test_existing_cross_signing_keys_of_another_app_are_not_replaced():
    server, engine = FakeServer(), FakeBackupEngine()
    server.master = {"user_id": ME, "keys": {"ed25519:X": "X"}}
    backup, _ = make(server, engine)
    await backup.start()
    assert backup.state == kb.SHOW_KEY
    assert server.master["keys"] == {"ed25519:X": "X"}
    assert "not replaced" in backup.cross_signing
    assert "ciphertext" not in server.account_data[kb.SECRETS_TYPE]  # no keys to carry


async def test_a_backup_of_an_unknown_algorithm_is_said_not_overwritten():
    server, engine = FakeServer(), FakeBackupEngine()
    server.backup = {"version": "7", "algorithm": "org.example.other", "auth_data": {}}
    backup, _ = make(server, engine)
    await backup.start()
    assert backup.state == kb.FAILED and "cannot read" in backup.error
    assert server.backup["version"] == "7"


def test_the_download_file_holds_the_key_and_says_what_it_is_for():
    text = kb.recovery_key_file("EsT1 abcd", ME)
    assert "EsT1 abcd" in text and ME in text and "another browser" in text


# -- with the crypto session (pyapp.client.crypto) ------------------------------------------
class LinkedBackup(FakeBackupEngine):
    """The backup side of a crypto_fakes.FakeEngine: its room keys are the engine's."""

    def __init__(self, engine):
        super().__init__()
        self.engine = engine

    @property
    def room_keys(self):
        return sorted(self.engine.keys)

    @room_keys.setter
    def room_keys(self, value):
        pass

    async def import_backup(self, private, version, rooms):
        count = 0
        for room in rooms.values():
            for sid in room["sessions"]:
                self.engine.keys.add(sid)
                self.backed_up.add(sid)
                count += 1
        return count


def crypto_session(server, members):
    from pyapp.client.crypto import CryptoSession
    from tests.unit.crypto_fakes import FakeEngine, FakeHttp, FakeProvider

    engine = FakeEngine()
    engine.backup = LinkedBackup(engine)
    rest = FakeHttp(members)

    async def http(method, path, body=None, headers=None, timeout=None, auth=True):
        response = await server(method, path, body)
        if response.status == 404 and b"M_UNRECOGNIZED" in response.body:
            return await rest(method, path, body, headers, timeout, auth)
        return response

    healed, tasks = [], []
    session = CryptoSession(http, lambda: FakeProvider(engine).open(ME, "DEV"),
                            on_decrypted=lambda room, events: healed.append((room, events)),
                            spawn=lambda coro: tasks.append(asyncio.ensure_future(coro)),
                            user_id=ME)
    return session, engine, healed, tasks


async def test_the_crypto_session_backs_up_keys_as_they_come_and_a_new_device_heals_with_them():
    from tests.unit.crypto_fakes import encrypted_event, encryption_state, room_key, sync

    room, bob = "!r:localhost", "@bob:localhost"
    server = FakeServer()
    first, engine, _, tasks = crypto_session(server, {room: [ME, bob]})
    await first.on_sync(sync({room: []}, state={room: [encryption_state(room)]}))
    while tasks:
        await tasks.pop(0)
    assert first.backup.state == kb.SHOW_KEY and server.backup is not None
    recovery_key = first.backup.recovery_key

    # A key received from another device, and the one made to send: both reach the backup.
    await first.on_sync(sync({room: [encrypted_event("$1", bob, "s-bob")]},
                             to_device=[room_key("s-bob")], batch="s2"))
    while tasks:
        await tasks.pop(0)
    assert "s-bob" in server.keys[room]["sessions"]
    await first.encrypt(room, "m.room.message", {"msgtype": "m.text", "body": "mine"})
    while tasks:
        await tasks.pop(0)
    assert engine.session_of[room] in server.keys[room]["sessions"]

    # A new device: the earlier message waits, then heals when the recovery key is given.
    second, engine2, healed, tasks2 = crypto_session(server, {room: [ME, bob]})
    await second.on_sync(sync({room: [encrypted_event("$1", bob, "s-bob")]},
                              state={room: [encryption_state(room)]}))
    while tasks2:
        await tasks2.pop(0)
    assert second.backup.state == kb.ASK_KEY and "$1" in second.pending
    assert await second.backup.restore(recovery_key)
    assert [(r, [e["event_id"] for e in events]) for r, events in healed] == [(room, ["$1"])]
    assert not second.pending


async def test_engines_without_a_backup_side_make_no_backup():
    from pyapp.client.crypto import CryptoSession
    from tests.unit.crypto_fakes import FakeHttp, FakeProvider, encryption_state, sync

    provider, tasks = FakeProvider(), []
    session = CryptoSession(FakeHttp({}), lambda: provider.open(ME, "DEV"),
                            on_decrypted=lambda *a: None,
                            spawn=lambda coro: tasks.append(asyncio.ensure_future(coro)),
                            user_id=ME)
    await session.on_sync(sync({"!r:x": []}, state={"!r:x": [encryption_state("!r:x")]}))
    while tasks:
        await tasks.pop(0)
    assert session.ready and session.backup is None


async def test_a_setup_that_failed_offline_is_tried_again_later():
    now = [0.0]
    server, engine = FakeServer(), FakeBackupEngine()
    server.down = True
    backup, _ = make(server, engine, clock=lambda: now[0])
    await backup.start()
    assert backup.state == kb.FAILED and "not available" in backup.error
    assert not backup.should_retry()
    now[0] += kb.RETRY_AFTER_S
    assert backup.should_retry()
    server.down = False
    await backup.start()
    assert backup.state == kb.SHOW_KEY and not backup.should_retry()


async def test_uploads_stop_when_the_server_refuses_them():
    server, engine = FakeServer(), FakeBackupEngine(keys=[f"s{i}" for i in range(10)])
    backup, _ = make(server, engine)
    await backup.start()
    server.backup["version"] = "2"  # another app replaced the backup
    calls = len(server.calls)
    assert await backup.upload() == 0
    assert len(server.calls) == calls + 1  # one refused request, not a loop


def test_what_the_member_sees_while_the_backup_is_locked():
    from pyapp.client.timeline_model import WAITING_FOR_KEY
    from pyapp.ui.parts import key_backup as part
    from pyapp.ui.parts.timeline import MessageView

    backup = kb.KeyBackup(FakeServer(), FakeBackupEngine(), ME, None, asyncio.Lock())
    assert part.key_backup_view(backup) is None  # idle: nothing to show
    backup.state, backup.device_created_ms = kb.ASK_KEY, 5000
    view = part.key_backup_view(backup)
    assert view.mode == "ask" and view.locked_before == 5000

    def message(key, body, ts):
        return MessageView(key=key, sender_id="@b:x", sender_name="Bob", body=body,
                           time_text="", ts=ts, mine=False, status="sent")

    items = [message("old", WAITING_FOR_KEY, 4000), message("new", WAITING_FOR_KEY, 6000),
             message("read", "hello", 3000)]
    shown = part.mark_locked(items, view)
    assert [i.body for i in shown] == [part.IN_BACKUP_TEXT, WAITING_FOR_KEY, "hello"]
    backup.state = kb.SKIPPED
    assert part.key_backup_view(backup).text == part.SKIPPED_TEXT
    lost = part.key_backup_view(backup, starting_over=True)
    assert lost.mode == "start_over" and "stay unreadable" in lost.text
    backup.state = kb.CREATING
    assert part.key_backup_view(backup).text == part.CREATING_TEXT
    backup.state = kb.ON  # unlocked: nothing marked any more
    assert part.mark_locked(items, part.key_backup_view(backup)) is items
    backup.state, backup.recovery_key = kb.SHOW_KEY, "EsT1 abcd"
    shown_key = part.key_backup_view(backup)
    assert shown_key.mode == "show" and "EsT1 abcd" in shown_key.file_text


async def test_the_backup_starts_with_the_first_encrypted_room_not_with_the_engine():
    from tests.unit.crypto_fakes import encryption_state, room_key, sync

    room = "!r:localhost"
    server = FakeServer()
    session, engine, _, tasks = crypto_session(server, {room: [ME]})
    # A to-device key loads the engine, but the user has no encrypted room yet.
    await session.on_sync(sync({}, to_device=[room_key("s1")]))
    while tasks:
        await tasks.pop(0)
    assert session.ready and session.backup is None and server.backup is None
    await session.on_sync(sync({room: []}, state={room: [encryption_state(room)]}, batch="s2"))
    while tasks:
        await tasks.pop(0)
    assert session.backup.state == kb.SHOW_KEY and server.backup is not None
    assert "s1" in server.keys[room]["sessions"]  # the key received before is backed up too


async def test_a_lost_recovery_key_starts_a_new_backup_with_a_new_key():
    server = FakeServer()
    first, _ = make(server, FakeBackupEngine(keys=["s1"]))
    await first.start()
    old_key = first.recovery_key
    engine2 = FakeBackupEngine(keys=["s2"])
    second, _ = make(server, engine2)
    await second.start()
    second.skip()
    assert await second.start_over()
    assert second.state == kb.SHOW_KEY and second.recovery_key != old_key
    assert server.backup["version"] == "2"
    assert engine2.enabled[1] == "2" and "s2" in server.keys["!r:localhost"]["sessions"]
    # The cross-signing keys of another device are not replaced (that would need the password).
    assert second.cross_signing.endswith("not replaced")


# -- through a real ChatService and view model (fake homeserver, fake engine) ---------------
async def test_the_chat_asks_for_the_key_says_what_waits_and_heals_with_it():
    from pyapp.client.service import ChatConfig, ChatService
    from pyapp.client.storage import MemoryStorage
    from pyapp.ui.format import Clock
    from pyapp.ui.parts import key_backup as part
    from pyapp.ui.viewmodel import CHAT, ChatViewModel, MessageView
    from tests.support.waiting import until
    from tests.unit.crypto_fakes import FakeEngine, FakeProvider, encrypted_event
    from tests.unit.test_crypto_ui import BOT, NOW, CryptoHomeserver, secret_picnic

    backups = FakeServer()

    class Homeserver(CryptoHomeserver):
        async def request(self, method, url, headers, body=None, timeout=None):
            path = url.replace("http://hs", "")
            if any(p in path for p in ("/room_keys/", "/account_data/" + kb.SECRETS_TYPE,
                                       "/keys/query", "/device_signing/", "/signatures/")):
                return await backups(method, path, body)
            return await super().request(method, url, headers, body, timeout)

    hs = Homeserver()
    alice, bob, room_id = secret_picnic(hs)
    hs.rooms[room_id].timeline.append((hs._bump(), encrypted_event(
        "$old", bob, "s-old", content={"msgtype": "m.text", "body": "the spot is by the oak"})))
    # Another browser of alice's made the backup, with that message's key in it.
    first, _ = make(backups, FakeBackupEngine(keys=["s-old"]))
    await first.start()
    await first.upload()
    for room in list(backups.keys):
        backups.keys[room_id] = backups.keys.pop(room)

    engine = FakeEngine()
    engine.backup = LinkedBackup(engine)
    service = ChatService(ChatConfig("http://hs", tenant="t1", bot_user_id=BOT), hs,
                          MemoryStorage(), clock=lambda: NOW, crypto=FakeProvider(engine))
    model = ChatViewModel(service, "sidebar", "event", "picnic", clock=Clock(lambda: NOW, 0))
    try:
        await service.login_password("alice_t1", "pw")
        await until(lambda: model.state.screen == CHAT)
        await until(lambda: model.state.key_backup is not None, what="the key asked for")

        def bodies():
            return [i.body for i in model.state.items if isinstance(i, MessageView)]
        assert model.state.key_backup.mode == "ask" and bodies() == [part.IN_BACKUP_TEXT]
        await model.enter_recovery_key("my password")
        await until(lambda: model.state.key_backup.error == kb.MALFORMED_KEY)
        model.lost_recovery_key()
        await until(lambda: model.state.key_backup.mode == "start_over")
        model.lost_recovery_key(confirmed=False)
        await until(lambda: model.state.key_backup.mode == "ask")
        await model.enter_recovery_key(first.recovery_key)
        await until(lambda: bodies() == ["the spot is by the oak"], what="healed by the backup")
        assert model.state.key_backup is None and backups.backup["version"] == "1"
    finally:
        model.close()
        await service.stop()
