"""pyapp.client.crypto: when the engine is loaded, what it is fed, what goes out, what heals
(with a fake engine: the cryptography itself is the engine's and is tested end to end)."""

from __future__ import annotations

import asyncio
import json

import pytest

from pyapp.client.crypto import (
    ENCRYPTED, UNREADABLE, KEYS_BACKUP, KEYS_CLAIM, ROOM_MESSAGE, TO_DEVICE, CryptoSession, EngineError,
    MAX_ROTATION_MS, MEGOLM, MAX_ROTATION_MSGS, EngineRequest, request_http, rotation_of,
)
from pyapp.client.timeline_model import UNDECRYPTED, WAITING_FOR_KEY, TimelineModel
from tests.unit.crypto_fakes import (
    FakeHttp, FakeProvider, encrypted_event, encryption_state, room_key, sync,
)

ROOM = "!r:x"
ME, BOB = "@me:x", "@bob:x"


def make(provider=None, members=None):
    provider = provider or FakeProvider()
    http = FakeHttp(members or {ROOM: [ME, BOB]})
    healed: list[tuple[str, list[dict]]] = []
    tasks: list[asyncio.Task] = []
    session = CryptoSession(http, lambda: provider.open(ME, "DEV"),
                            on_decrypted=lambda room, events: healed.append((room, events)),
                            spawn=lambda coro: tasks.append(asyncio.ensure_future(coro)))
    return session, provider, http, healed, tasks


async def settle(tasks):
    while tasks:
        await tasks.pop(0)


async def test_unencrypted_rooms_never_load_the_engine():
    session, provider, http, _, tasks = make()
    plain = {"type": "m.room.message", "event_id": "$1", "sender": BOB, "origin_server_ts": 1,
             "content": {"msgtype": "m.text", "body": "hello"}}
    await session.on_sync(sync({ROOM: [plain]}, otk={"signed_curve25519": 0}, changed=[BOB]))
    await settle(tasks)
    assert provider.opened == [] and http.calls == [] and not session.is_encrypted(ROOM)


async def test_an_encrypted_room_loads_the_engine_without_holding_up_the_sync():
    gate = asyncio.Event()
    session, provider, http, healed, tasks = make(FakeProvider(gate=gate))
    provider.engine.keys.add("s-old")
    body = sync({ROOM: [encrypted_event("$e", BOB, "s-old")]}, state={ROOM: [encryption_state(ROOM)]},
                otk={"signed_curve25519": 0})
    await asyncio.wait_for(session.on_sync(body), 1)  # returns while the engine loads
    assert session.is_encrypted(ROOM) and not session.ready
    assert body["rooms"]["join"][ROOM]["timeline"]["events"][0]["type"] == ENCRYPTED
    gate.set()
    await settle(tasks)
    assert session.ready
    # the sync's crypto parts were kept and fed once loaded; its device keys went out
    assert provider.engine.fed[0][3] == {"signed_curve25519": 0}
    assert "/_matrix/client/v3/keys/upload" in http.paths("POST")
    # the event shown as waiting is handed over decrypted
    assert [(room, [e["content"]["body"] for e in events]) for room, events in healed] \
        == [(ROOM, ["hi"])]


async def test_an_invitation_to_an_encrypted_room_loads_the_engine_before_the_join():
    """So this device's keys are on the server before the inviter's first message after the
    join is encrypted; an invitation to a plain room loads nothing."""
    session, provider, http, _, tasks = make()
    plain = {"type": "m.room.join_rules", "state_key": "", "sender": BOB,
             "content": {"join_rule": "invite"}}
    body = sync()
    body["rooms"]["invite"] = {"!plain:x": {"invite_state": {"events": [plain]}}}
    await session.on_sync(body)
    await settle(tasks)
    assert provider.opened == []
    stripped = {k: v for k, v in encryption_state("!dm:x").items()
                if k in ("type", "state_key", "sender", "content")}
    body = sync(batch="s2")
    body["rooms"]["invite"] = {"!dm:x": {"invite_state": {"events": [plain, stripped]}}}
    await session.on_sync(body)
    await settle(tasks)
    assert session.ready and "/_matrix/client/v3/keys/upload" in http.paths("POST")
    assert not session.is_encrypted("!dm:x")  # not joined yet: nothing to encrypt there


async def test_keys_in_a_sync_decrypt_its_events_in_place_keeping_the_servers_envelope():
    session, provider, http, _, tasks = make()
    await session.on_sync(sync(state={ROOM: [encryption_state(ROOM)]}))
    await settle(tasks)
    event = encrypted_event("$e", BOB, "s1", ts=42, unsigned={"transaction_id": "t1", "age": 5},
                            content={"msgtype": "m.text", "body": "secret"})
    body = sync({ROOM: [event]}, to_device=[room_key("s1")], batch="s2")
    await session.on_sync(body)
    clear = body["rooms"]["join"][ROOM]["timeline"]["events"][0]
    assert clear["type"] == "m.room.message" and clear["content"]["body"] == "secret"
    assert (clear["event_id"], clear["sender"], clear["origin_server_ts"]) == ("$e", BOB, 42)
    assert clear["unsigned"]["transaction_id"] == "t1"
    assert not session.pending


async def test_a_late_key_heals_the_waiting_event():
    session, provider, http, healed, tasks = make()
    await session.on_sync(sync(state={ROOM: [encryption_state(ROOM)]}))
    await settle(tasks)
    body = sync({ROOM: [encrypted_event("$late", BOB, "s9")]}, batch="s2")
    await session.on_sync(body)
    assert body["rooms"]["join"][ROOM]["timeline"]["events"][0]["type"] == ENCRYPTED
    assert "$late" in session.pending and healed == []
    await session.on_sync(sync(to_device=[room_key("s9")], batch="s3"))
    assert [e["event_id"] for e in healed[0][1]] == ["$late"] and not session.pending


async def test_encrypting_shares_the_room_key_with_every_member_first():
    session, provider, http, _, tasks = make()
    await session.on_sync(sync(state={ROOM: [encryption_state(ROOM)]}))
    await settle(tasks)
    content = await session.encrypt(ROOM, "m.room.message", {"msgtype": "m.text", "body": "psst"})
    assert "psst" not in json.dumps({k: v for k, v in content.items() if k != "ciphertext"})
    assert content["session_id"] in provider.engine.keys
    engine = provider.engine
    assert engine.tracked == {ME, BOB} and engine.sessions == {ME, BOB}
    assert engine.shared[ROOM] == {ME, BOB}
    puts = http.paths("PUT")
    assert len(puts) == 1 and puts[0].startswith(
        "/_matrix/client/v3/sendToDevice/m.room.encrypted/")
    assert {"KeysQuery", KEYS_CLAIM, TO_DEVICE} <= set(engine.marked)
    # the member list is fetched once, and again only after a membership change
    await session.encrypt(ROOM, "m.room.message", {"body": "again"})
    assert len([p for p in http.paths("GET") if p.endswith("/members")]) == 1
    leave = {"type": "m.room.member", "state_key": BOB, "sender": BOB, "event_id": "$l",
             "origin_server_ts": 2, "content": {"membership": "leave"}}
    http.members[ROOM] = [ME]
    await session.on_sync(sync({ROOM: [leave]}, batch="s3"))
    first_key = engine.session_of[ROOM]
    await session.encrypt(ROOM, "m.room.message", {"body": "after bob left"})
    assert len([p for p in http.paths("GET") if p.endswith("/members")]) == 2
    assert engine.shared[ROOM] == {ME} and engine.session_of[ROOM] != first_key


async def test_the_rooms_own_rotation_period_goes_to_the_engine_and_nonsense_is_ignored():
    session, provider, http, _, tasks = make()
    state = encryption_state(ROOM)
    state["content"] = {"algorithm": MEGOLM, "rotation_period_ms": 3_600_000,
                        "rotation_period_msgs": 10}
    await session.on_sync(sync(state={ROOM: [state]}))
    await settle(tasks)
    await session.encrypt(ROOM, "m.room.message", {"body": "x"})
    assert provider.engine.rotation[ROOM] == (3_600_000_000, 10)  # microseconds, messages

    assert rotation_of({"algorithm": MEGOLM}) == (None, None)  # the engine's defaults
    assert rotation_of({"rotation_period_ms": -5, "rotation_period_msgs": True}) == (None, None)
    assert rotation_of({"rotation_period_ms": "60000", "rotation_period_msgs": 0}) == (None, None)
    assert rotation_of({"rotation_period_ms": 10 ** 15, "rotation_period_msgs": 10 ** 9}) == (
        MAX_ROTATION_MS * 1000, MAX_ROTATION_MSGS)
    assert rotation_of(None) == (None, None)


async def test_an_engine_that_fails_to_load_refuses_sends_and_keeps_syncs_going():
    session, provider, http, healed, tasks = make(FakeProvider(error=RuntimeError("offline")))
    body = sync({ROOM: [encrypted_event("$e", BOB, "s1")]}, state={ROOM: [encryption_state(ROOM)]})
    await session.on_sync(body)
    await settle(tasks)
    assert session.load_error == "offline" and not session.ready
    with pytest.raises(EngineError, match="offline"):
        await session.encrypt(ROOM, "m.room.message", {"body": "x"})
    await session.on_sync(sync({ROOM: []}, batch="s2"))  # not tried again at once
    assert len(provider.opened) == 1 and "$e" in session.pending


async def test_a_history_page_is_decrypted_in_place():
    session, provider, http, _, tasks = make()
    await session.on_sync(sync(state={ROOM: [encryption_state(ROOM)]}))
    await settle(tasks)
    provider.engine.keys.add("s1")
    chunk = [encrypted_event("$a", BOB, "s1", content={"msgtype": "m.text", "body": "old"}),
             encrypted_event("$b", BOB, "unknown")]
    await session.decrypt_page(ROOM, chunk)
    assert chunk[0]["content"]["body"] == "old" and chunk[1]["type"] == ENCRYPTED
    assert "$b" in session.pending


async def test_a_pages_events_are_decrypted_together_not_one_after_the_other():
    """Each engine call waits on the browser's event loop: a page's calls overlap (with one
    call at a time, this engine, which answers only when all are asked, never would)."""
    session, provider, http, _, tasks = make()
    await session.on_sync(sync(state={ROOM: [encryption_state(ROOM)]}))
    await settle(tasks)
    engine = provider.engine
    engine.keys.add("s1")
    asked, everyone = [], asyncio.Event()
    plain_decrypt = engine.decrypt

    async def decrypt(room_id, event):
        asked.append(event["event_id"])
        if len(asked) == 3:
            everyone.set()
        await everyone.wait()
        return await plain_decrypt(room_id, event)
    engine.decrypt = decrypt
    chunk = [encrypted_event(f"${i}", BOB, "s1", content={"msgtype": "m.text", "body": str(i)})
             for i in range(3)]
    await asyncio.wait_for(session.decrypt_page(ROOM, chunk), 1)
    assert [e["content"]["body"] for e in chunk] == ["0", "1", "2"]  # in their places


async def test_closing_lets_go_of_the_engine():
    session, provider, http, _, tasks = make()
    await session.on_sync(sync(state={ROOM: [encryption_state(ROOM)]}))
    await settle(tasks)
    await session.close()
    assert provider.engine.closed and not session.ready


def test_engine_requests_map_to_the_spec_endpoints():
    def http_of(kind, **fields):
        return request_http(EngineRequest("1", kind, "{}", **fields))

    assert http_of("KeysUpload") == ("POST", "/_matrix/client/v3/keys/upload")
    assert http_of("KeysQuery") == ("POST", "/_matrix/client/v3/keys/query")
    assert http_of(KEYS_CLAIM) == ("POST", "/_matrix/client/v3/keys/claim")
    assert http_of("SignatureUpload") == ("POST", "/_matrix/client/v3/keys/signatures/upload")
    assert http_of(TO_DEVICE, event_type="m.room.encrypted", txn_id="t/1") == (
        "PUT", "/_matrix/client/v3/sendToDevice/m.room.encrypted/t%2F1")
    assert http_of(ROOM_MESSAGE, room_id="!a:b", event_type="m.key.verification.ready",
                   txn_id="t") == (
        "PUT", "/_matrix/client/v3/rooms/%21a%3Ab/send/m.key.verification.ready/t")
    assert http_of(KEYS_BACKUP, version="3") == ("PUT", "/_matrix/client/v3/room_keys/keys?version=3")
    with pytest.raises(EngineError):
        http_of("Nonsense")


# -- the timeline's side ----------------------------------------------------------------

def _placeholder_model():
    model = TimelineModel()
    model.apply_sync({"events": [
        {"type": "m.room.message", "event_id": "$0", "sender": BOB, "origin_server_ts": 1,
         "content": {"msgtype": "m.text", "body": "before"}},
        encrypted_event("$e", BOB, "s"),
        encrypted_event("$r", BOB, "s", event_type="m.reaction", content={
            "m.relates_to": {"rel_type": "m.annotation", "event_id": "$0", "key": "👍"}}),
    ]})
    return model


def test_an_encrypted_event_shows_as_waiting_for_its_key():
    model = _placeholder_model()
    shown = [(m.key, m.msgtype, m.body) for m in model.items() if hasattr(m, "body")]
    assert shown == [("$0", "m.text", "before"), ("$e", UNDECRYPTED, WAITING_FOR_KEY),
                     ("$r", UNDECRYPTED, WAITING_FOR_KEY)]


def test_decrypted_events_take_the_place_of_their_placeholders():
    model = _placeholder_model()
    changes = model.decrypted([
        {"type": "m.room.message", "event_id": "$e", "sender": BOB, "origin_server_ts": 2,
         "content": {"msgtype": "m.text", "body": "now readable"}},
        {"type": "m.reaction", "event_id": "$r", "sender": BOB, "origin_server_ts": 3,
         "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$0", "key": "👍"}}},
        {"type": "m.room.message", "event_id": "$unknown", "sender": BOB,
         "origin_server_ts": 3, "content": {"msgtype": "m.text", "body": "not held"}},
    ])
    items = model.items()
    assert [(m.key, m.body) for m in items if hasattr(m, "body")] == [
        ("$0", "before"), ("$e", "now readable")]
    assert [(r.key, r.senders) for r in items[1].reactions] == [("👍", [BOB])]
    assert "$e" in changes.changed and "$r" in changes.removed
    assert not model.decrypted([{"type": "m.room.message", "event_id": "$e", "sender": BOB,
                                 "content": {"msgtype": "m.text", "body": "replayed"}}])
    assert model.message("$e").body == "now readable"


async def test_a_message_that_can_never_be_read_says_why_and_the_server_cannot_choose_the_words():
    session, provider, http, _, tasks = make()
    await session.on_sync(sync(state={ROOM: [encryption_state(ROOM)]}))
    await settle(tasks)
    forged = encrypted_event("$f", BOB, "s-later", unsigned={"om_unreadable": "m.blacklisted"})
    body = sync({ROOM: [encrypted_event("$b", BOB, "broken"),
                        encrypted_event("$w", BOB, "withheld:m.unauthorised"),
                        encrypted_event("$x", BOB, "withheld:m.made-up"), forged]}, batch="s2")
    await session.on_sync(body)
    model = TimelineModel()
    model.apply_sync(body["rooms"]["join"][ROOM]["timeline"])
    assert [model.message(e).body for e in ("$b", "$w", "$x", "$f")] == [
        UNREADABLE["broken"], UNREADABLE["m.unauthorised"], UNREADABLE["broken"],
        WAITING_FOR_KEY]
    assert "$b" not in session.pending and "$w" in session.pending  # a key may still come


def invited_bob_without_devices_at_first():
    """A session whose room has Bob invited two seconds ago; his device keys appear on the
    third look. Returns the session, its provider, the looks at his keys and the tasks."""
    from pyapp.client.transport import HttpResponse

    session, provider, http, _, tasks = make()
    now = 1_000_000.0
    session._wall = lambda: now
    queries = []

    async def answer(method, path, body=None, headers=None, timeout=None, auth=True):
        if path.endswith("/members"):
            chunk = [{"type": "m.room.member", "state_key": ME, "origin_server_ts": 1,
                      "content": {"membership": "join"}},
                     {"type": "m.room.member", "state_key": BOB,
                      "origin_server_ts": int(now * 1000) - 2000,
                      "content": {"membership": "invite"}}]
            return HttpResponse(200, {}, json.dumps({"chunk": chunk}).encode())
        if path.endswith("/keys/query") and \
                json.loads(body)["device_keys"] == {BOB: []}:
            queries.append(path)
            devices = {"DEV": {}} if len(queries) >= 3 else {}
            return HttpResponse(200, {}, json.dumps({"device_keys": {BOB: devices}}).encode())
        return await http(method, path, body, headers, timeout, auth)
    session._http = answer
    return session, provider, queries, tasks


async def test_the_wait_holds_for_a_dm_made_after_the_engine_was_loaded():
    """The engine was already up for another encrypted room when the DM came: its members
    were never looked at before the first message, which must wait all the same (it did
    not: the first DM message then stayed unreadable to the other person, 1 run in 4)."""
    session, provider, queries, tasks = invited_bob_without_devices_at_first()
    await session.on_sync(sync(state={"!other:x": [encryption_state("!other:x")]}))
    await settle(tasks)
    await session.on_sync(sync(state={ROOM: [encryption_state(ROOM)]}, batch="s2"))
    await settle(tasks)
    await session.encrypt(ROOM, "m.room.message", {"body": "hi"})
    assert len(queries) == 3  # looked until Bob's device was there
    assert provider.engine.marked.count("KeysQuery") >= 1


async def test_the_first_message_to_someone_just_invited_waits_briefly_for_their_device():
    """A new DM: the other person's browser is loading the engine; the first message waits
    until their device keys are on the server (a room key shared before would never reach
    that device), once; someone invited long ago, or never coming, costs no more than that."""
    session, provider, queries, tasks = invited_bob_without_devices_at_first()
    await session.on_sync(sync(state={ROOM: [encryption_state(ROOM)]}))
    await settle(tasks)
    provider.engine.tracked.add(BOB)  # tracked already, with no devices then
    await session.encrypt(ROOM, "m.room.message", {"body": "hi"})
    assert len(queries) == 3  # looked until Bob's device was there
    assert provider.engine.marked.count("KeysQuery") >= 1  # and the engine asked again
    await session.encrypt(ROOM, "m.room.message", {"body": "again"})
    assert len(queries) == 3  # once per room
