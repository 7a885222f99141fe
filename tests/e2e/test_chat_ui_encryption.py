"""End-to-end encryption in the browser against the real Synapse, with an independent encrypted
peer (CPython matrix-nio + vodozemac, tests/e2e/crypto_peer.py): messages cross both ways in a
megolm room and show as text; what Synapse stores holds no plaintext; a reload decrypts again as
the same device and sign-out deletes the keys; a later member reads what follows their join and
the key rotates when they leave; a blocked engine fails sends clearly; the engine is not loaded
for a user without encrypted rooms."""

from __future__ import annotations

import json
import sqlite3

import pytest
from playwright.sync_api import expect

from pyapp.client.timeline_model import WAITING_FOR_KEY
from pyapp.identity import BOT_LOCALPART
from tests.e2e.chat_ui_support import (BOOT_TIMEOUT_MS, LIVE_TIMEOUT_MS, chat, expect_message,
                                       make_room, open_and_sign_in, send)
from tests.e2e.crypto_peer import NioPeer
from tests.support.waiting import page_until

pytestmark = pytest.mark.e2e

ENGINE = "matrix_sdk_crypto_wasm_bg.wasm"
MEGOLM = "m.megolm.v1.aes-sha2"


def encrypt_room(synapse, room_id: str, **settings) -> None:
    bot = synapse.register_user(BOT_LOCALPART, "pw-bot")
    status, body = synapse.request(
        "PUT", f"/_matrix/client/v3/rooms/{room_id}/state/m.room.encryption/",
        {"algorithm": MEGOLM, **settings}, token=bot["access_token"])
    assert status == 200, body


def device_keys_uploaded(synapse, token: str, user_id: str) -> set[str]:
    status, body = synapse.request("POST", "/_matrix/client/v3/keys/query",
                                   {"device_keys": {user_id: []}}, token=token)
    assert status == 200, body
    return set(body["device_keys"].get(user_id, {}))


def device_keys(synapse, token: str, user_id: str) -> dict:
    status, body = synapse.request("POST", "/_matrix/client/v3/keys/query",
                                   {"device_keys": {user_id: []}}, token=token)
    assert status == 200, body
    return {d: k["keys"] for d, k in body["device_keys"].get(user_id, {}).items()}


def stored_event_json(synapse, room_id: str) -> list[dict]:
    """The room's events as Synapse stored them (its SQLite database, not an API view)."""
    [database] = synapse.data_dir.glob("*.db")
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT j.json FROM event_json j JOIN events e USING (event_id) "
                          "WHERE j.room_id = ? ORDER BY e.stream_ordering", (room_id,)).fetchall()
    return [json.loads(row[0]) for row in rows]


@pytest.fixture
def peer(synapse, make_user, tmp_path):
    peers = []

    def make():
        name, password, login = make_user("nio")
        p = NioPeer(synapse.base_url, login["user_id"], password, str(tmp_path))
        peers.append(p)
        return p, login

    yield make
    for p in peers:
        p.close()


def test_messages_cross_encrypted_between_the_browser_and_a_nio_peer_and_the_server_sees_no_plaintext(
        synapse, make_user, web_server, new_page, peer):
    a_name, a_pw, a = make_user("alice")
    nio, n = peer()
    room_id = make_room(synapse, a["access_token"], "event", "e2e-crossing", [n])
    # The room asks for a new room key every two messages (the browser follows it).
    encrypt_room(synapse, room_id, rotation_period_msgs=2)
    nio.wait_encrypted(room_id)
    # Sent before the browser's device existed: its key was never shared with it.
    nio.send(room_id, "secret before this browser")
    page = new_page()
    open_and_sign_in(page, f"{web_server}/event.html?slug=e2e-crossing", a_name, a_pw)
    expect_message(page, WAITING_FOR_KEY, timeout=BOOT_TIMEOUT_MS)
    # The browser's device keys reach the server once the engine has loaded, by itself.
    known_to_peer(page, synapse, nio, n, a)

    nio.rotate(room_id)
    nio.send(room_id, "secret from nio")
    expect_message(page, "secret from nio", timeout=BOOT_TIMEOUT_MS)

    send(page, "secret from the browser")
    expect(chat(page).locator(".omc-msg[data-status=sent]", has_text="secret from the browser")
           ).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    room, sender, _ = nio.wait_for("secret from the browser")
    assert (room, sender) == (room_id, a["user_id"])
    for text in ("second secret", "third secret"):
        send(page, text)
        expect(chat(page).locator(".omc-msg[data-status=sent]", has_text=text)
               ).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    nio.wait_for("third secret")

    expect(chat(page).locator(".omc-header .omc-lock")).to_be_visible()

    stored = stored_event_json(synapse, room_id)
    assert {e["type"] for e in stored} >= {"m.room.encrypted"}
    assert not [e for e in stored if e["type"] == "m.room.message"]
    assert not [e for e in stored if "secret" in json.dumps(e)]
    mine = [e["content"]["session_id"] for e in stored
            if e["type"] == "m.room.encrypted" and e["sender"] == a["user_id"]]
    assert len(mine) == 3 and mine[0] == mine[1] != mine[2], mine  # rotated after two

    # A reload decrypts the earlier messages again, as the same device with the same keys
    # (the engine's IndexedDB store, opened with its wrapped store key).
    keys_before = device_keys(synapse, n["access_token"], a["user_id"])
    page.reload()
    expect_message(page, "secret from nio", timeout=BOOT_TIMEOUT_MS)
    expect_message(page, "secret from the browser")
    assert device_keys(synapse, n["access_token"], a["user_id"]) == keys_before
    print("crypto engine timings (ms):", page.evaluate(
        "window.omChat.runPython('from pyapp.browser import crypto_engine as c; c.timings')"))
    assert "om-chat-crypto" not in page.evaluate("JSON.stringify(localStorage)")

    # Signing out deletes the engine's store and its key from this browser.
    names = "indexedDB.databases().then(l => l.map(d => d.name).join(' '))"
    assert "om-chat-crypto:" in page.evaluate(names)
    chat(page).locator(".omc-header").get_by_role("button", name="Sign out").click()
    expect(chat(page).get_by_label("Username")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    assert "om-chat-crypto:" not in page.evaluate(names)


def test_an_unencrypted_room_never_loads_the_engine(synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    make_room(synapse, a["access_token"], "event", "plain-room", [])
    page = new_page()
    open_and_sign_in(page, f"{web_server}/event.html?slug=plain-room", a_name, a_pw)
    send(page, "plain words")
    expect(chat(page).locator(".omc-msg[data-status=sent]")).to_have_count(1,
                                                                          timeout=LIVE_TIMEOUT_MS)
    assert not [u for u in page.requests if ENGINE in u or "matrix-sdk-crypto" in u]


def known_to_peer(page, synapse, nio, n: dict, a: dict) -> str:
    """Wait until the browser's device keys are on the server and the nio peer knows that
    device (so what it sends next is shared with it); the device's id."""
    _wait(page, lambda: device_keys_uploaded(synapse, n["access_token"], a["user_id"]),
          "the browser's device keys on the server")
    [device] = device_keys_uploaded(synapse, n["access_token"], a["user_id"])
    _wait(page, lambda: nio.knows_device(a["user_id"], device),
          "the nio peer knowing the browser's device")
    return device


def _wait(page, predicate, what: str, timeout_ms: int = BOOT_TIMEOUT_MS) -> None:
    """Poll a condition outside the page, letting the page run in between."""
    import time

    deadline = time.monotonic() + timeout_ms / 1000
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        page.wait_for_timeout(100)


def test_a_later_member_reads_what_follows_their_join_and_the_key_rotates_when_they_leave(
        synapse, make_user, web_server, new_page, peer):
    a_name, a_pw, a = make_user("alice")
    room_id = make_room(synapse, a["access_token"], "event", "e2e-late", [])
    encrypt_room(synapse, room_id)
    page = new_page()
    open_and_sign_in(page, f"{web_server}/event.html?slug=e2e-late", a_name, a_pw)
    send(page, "only me so far")
    expect(chat(page).locator(".omc-msg[data-status=sent]", has_text="only me so far")
           ).to_have_count(1, timeout=LIVE_TIMEOUT_MS)

    late, n = peer()
    bot = synapse.register_user(BOT_LOCALPART, "pw-bot")
    status, body = synapse.request("POST", f"/_matrix/client/v3/rooms/{room_id}/invite",
                                   {"user_id": n["user_id"]}, token=bot["access_token"])
    assert status == 200, body
    late.join(room_id)
    late.wait_encrypted(room_id)
    _wait(page, lambda: _browser_sees(page, room_id, n["user_id"], "join"), "the join in the browser")
    send(page, "welcome, late one")
    assert late.wait_for("welcome, late one")[1] == a["user_id"]

    status, body = synapse.request("POST", f"/_matrix/client/v3/rooms/{room_id}/leave", {},
                                   token=n["access_token"])
    assert status == 200, body
    _wait(page, lambda: _browser_sees(page, room_id, n["user_id"], "leave"), "the leave in the browser")
    send(page, "after the late one left")
    expect(chat(page).locator(".omc-msg[data-status=sent]", has_text="after the late one left")
           ).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    sessions = [e["content"]["session_id"] for e in stored_event_json(synapse, room_id)
                if e["type"] == "m.room.encrypted"]
    assert len(sessions) == 3 and sessions[1] != sessions[2], sessions  # a new room key
    assert not [t for _, _, t in late.received if t == "after the late one left"]


def _browser_sees(page, room_id: str, user_id: str, membership: str) -> bool:
    return page.evaluate("(c) => window.omChat.runPython(c)", f"""
from pyapp.client.service import ChatService
from pyapp.client.timeline_model import MemberChange
room = ChatService._shared.room({room_id!r})
any(isinstance(i, MemberChange) and i.user_id == {user_id!r} and i.membership == {membership!r}
    for i in (room.timeline.items() if room else []))
""")


def test_when_the_engine_cannot_load_encrypted_rooms_say_so_and_plain_rooms_work(
        synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    room_id = make_room(synapse, a["access_token"], "event", "e2e-blocked", [])
    encrypt_room(synapse, room_id)
    make_room(synapse, a["access_token"], "event", "plain-beside", [])
    page = new_page()
    page.route(f"**/{ENGINE}", lambda route: route.abort())  # offline, or blocked
    open_and_sign_in(page, f"{web_server}/event.html?slug=e2e-blocked", a_name, a_pw)
    send(page, "must not go out in the clear")
    expect(chat(page).locator(".omc-msg[data-status=failed]")).to_contain_text(
        "Encryption is not available", timeout=LIVE_TIMEOUT_MS)
    assert not [e for e in stored_event_json(synapse, room_id)
                if "in the clear" in json.dumps(e)]
    page.goto(f"{web_server}/event.html?slug=plain-beside")
    send(page, "plain still works")
    expect(chat(page).locator(".omc-msg[data-status=sent]", has_text="plain still works")
           ).to_have_count(1, timeout=LIVE_TIMEOUT_MS)


def test_files_in_an_encrypted_room_are_encrypted_both_ways_and_the_server_stores_no_plaintext(
        synapse, make_user, web_server, new_page, peer, tmp_path):
    """The browser encrypts a picture with the engine's attachment encryption before it
    leaves (the message carries `file` with its key, not `url`); the nio peer decrypts it with
    nio's own code; a picture nio encrypts shows decrypted in the browser."""
    from tests.e2e.test_chat_ui_media import png

    a_name, a_pw, a = make_user("alice")
    nio, n = peer()
    room_id = make_room(synapse, a["access_token"], "event", "e2e-media", [n])
    encrypt_room(synapse, room_id)
    nio.wait_encrypted(room_id)
    page = new_page()
    open_and_sign_in(page, f"{web_server}/event.html?slug=e2e-media", a_name, a_pw)
    known_to_peer(page, synapse, nio, n, a)

    picture = png(64, 48, noise=True)
    (tmp_path / "secret-cat.png").write_bytes(picture)
    chat(page).locator("input[type=file]").set_input_files(str(tmp_path / "secret-cat.png"))
    expect(chat(page).locator(".omc-msg.is-mine[data-status=sent]")).to_have_count(
        1, timeout=LIVE_TIMEOUT_MS)
    assert nio.wait_for_file("secret-cat.png") == picture
    [event] = [e for e in nio.files if e.body == "secret-cat.png"]
    assert event.source["content"]["msgtype"] == "m.image" \
        and "url" not in event.source["content"]

    # What Synapse keeps: an encrypted event, and media bytes that are not the picture.
    stored = stored_event_json(synapse, room_id)
    assert not [e for e in stored if "secret-cat" in json.dumps(e)]
    server, media_id = event.url[len("mxc://"):].split("/", 1)
    on_disk = (synapse.data_dir / "media_store" / "local_content" / media_id[:2]
               / media_id[2:4] / media_id[4:]).read_bytes()
    assert len(on_disk) == len(picture) and on_disk != picture and picture[:8] not in on_disk

    # nio's encrypted picture shows decrypted in the browser (a blob: URL of the clear file).
    nio.send_file(room_id, png(30, 20), "from-nio.png", "image/png", info={"w": 30, "h": 20})
    expect(chat(page).get_by_role("button", name="Image from-nio.png: open full size")
           ).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    page_until(page, "[...document.querySelectorAll('om-chat .omc-picture-img')]"
                     ".some(i => i.complete && i.naturalWidth === 30)", LIVE_TIMEOUT_MS,
               "nio's picture decrypted and shown")
    # And a file from nio downloads decrypted, under its own name.
    nio.send_file(room_id, b"%PDF-1.4 secret\n" * 50, "plan.pdf", "application/pdf",
                  msgtype="m.file")
    button = chat(page).get_by_role("button", name="Download plan.pdf")
    expect(button).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    with page.expect_download() as got:
        button.click()
    assert got.value.suggested_filename == "plan.pdf"
    assert open(got.value.path(), "rb").read() == b"%PDF-1.4 secret\n" * 50
