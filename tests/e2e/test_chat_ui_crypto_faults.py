"""Bad crypto input in the browser, against the real Synapse and the real wasm engine, with an
independent encrypted peer (tests/e2e/crypto_peer.py): a to-device event that is not Olm, a
megolm ciphertext that is not one, a megolm event whose session nobody shared and a replayed
megolm ciphertext each leave a clear text in the timeline; what a device that changed its keys
sends shows with a warning, and it is not sent to under its new keys. Afterwards the peer's
next message still decrypts and an unencrypted room beside it still sends and receives."""

from __future__ import annotations

import base64
import secrets
import uuid

import pytest
from playwright.sync_api import expect

from pyapp.client.crypto import UNREADABLE, WARNINGS
from pyapp.client.timeline_model import WAITING_FOR_KEY
from tests.e2e.chat_ui_support import (BOOT_TIMEOUT_MS, LIVE_TIMEOUT_MS, chat, expect_message,
                                       make_room, open_and_sign_in, send)
from tests.e2e.test_chat_ui_encryption import (_wait, device_keys,
                                               encrypt_room, known_to_peer, peer)

pytestmark = pytest.mark.e2e

__all__ = ["peer"]  # the fixture, imported to be used here

OLM = "m.olm.v1.curve25519-aes-sha2"


def _put(synapse, path: str, content: dict, token: str) -> dict:
    status, body = synapse.request("PUT", f"{path}/{uuid.uuid4().hex}", content, token=token)
    assert status == 200, body
    return body


def test_bad_olm_an_unknown_session_and_a_replay_leave_clear_messages_and_break_nothing(
        synapse, make_user, web_server, new_page, peer):
    a_name, a_pw, a = make_user("alice")
    nio, n = peer()
    room_id = make_room(synapse, a["access_token"], "event", "e2e-faults", [n])
    encrypt_room(synapse, room_id)
    plain_id = make_room(synapse, a["access_token"], "event", "plain-faults", [n])
    nio.wait_encrypted(room_id)
    page = new_page()
    open_and_sign_in(page, f"{web_server}/event.html?slug=e2e-faults", a_name, a_pw)
    device = known_to_peer(page, synapse, nio, n, a)
    browser_curve = device_keys(synapse, n["access_token"], a["user_id"])[device][
        f"curve25519:{device}"]
    peer_curve = device_keys(synapse, n["access_token"], n["user_id"])[nio.device_id][
        f"curve25519:{nio.device_id}"]
    nio.rotate(room_id)
    genuine_id = nio.send(room_id, "genuine one")
    expect_message(page, "genuine one", timeout=BOOT_TIMEOUT_MS)

    # 1. A to-device m.room.encrypted that is not Olm, straight to the browser's device.
    _put(synapse, "/_matrix/client/v3/sendToDevice/m.room.encrypted", {"messages": {
        a["user_id"]: {device: {"algorithm": OLM, "sender_key": peer_curve, "ciphertext": {
            browser_curve: {"type": 0, "body": "bm90IG9sbSBhdCBhbGw"}}}}}}, n["access_token"])

    status, original = synapse.request(
        "GET", f"/_matrix/client/v3/rooms/{room_id}/event/{genuine_id}", token=n["access_token"])
    assert status == 200 and original["type"] == "m.room.encrypted", original

    # 2. A megolm ciphertext that is not one: it can never be read, said so.
    _put(synapse, f"/_matrix/client/v3/rooms/{room_id}/send/m.room.encrypted", {
        **original["content"], "ciphertext": "AwgAEnBub3QgYSByZWFsIG1lZ29sbSBtZXNzYWdl"},
         n["access_token"])
    expect(chat(page).locator(".omc-msg", has_text=UNREADABLE["broken"])).to_have_count(
        1, timeout=LIVE_TIMEOUT_MS)

    # 3. A real megolm message under a session nobody shared: it waits for its key, said so.
    unknown = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    _put(synapse, f"/_matrix/client/v3/rooms/{room_id}/send/m.room.encrypted",
         {**original["content"], "session_id": unknown}, n["access_token"])
    expect(chat(page).locator(".omc-msg", has_text=WAITING_FOR_KEY)).to_have_count(
        1, timeout=LIVE_TIMEOUT_MS)

    # 4. The peer's genuine ciphertext sent again as a new event: the engine decrypts it
    # again, so the client itself says it is a copy instead of showing it twice.
    _put(synapse, f"/_matrix/client/v3/rooms/{room_id}/send/m.room.encrypted",
         original["content"], n["access_token"])
    expect(chat(page).locator(".omc-msg", has_text=UNREADABLE["replayed"])).to_have_count(
        1, timeout=LIVE_TIMEOUT_MS)
    expect(chat(page).locator(".omc-msg", has_text="genuine one")).to_have_count(1)

    # Nothing broke: the peer's next message, under a new room key that reaches the browser
    # over Olm after the junk, decrypts; the browser's reaches the peer.
    nio.rotate(room_id)
    nio.send(room_id, "genuine two")
    expect_message(page, "genuine two")
    # A known device that is merely not cross-signed (nio never is) gets no warning.
    expect(chat(page).locator(".omc-warning")).to_have_count(0)
    send(page, "browser after the faults")
    assert nio.wait_for("browser after the faults")[1] == a["user_id"]
    # The three bad events still say what they are, beside the genuine ones.
    for text in (UNREADABLE["broken"], WAITING_FOR_KEY, UNREADABLE["replayed"], "genuine one"):
        expect(chat(page).locator(".omc-msg", has_text=text)).to_have_count(1)

    # And the unencrypted room beside it sends and receives.
    page.goto(f"{web_server}/event.html?slug=plain-faults")
    send(page, "plain still sends")
    expect(chat(page).locator(".omc-msg[data-status=sent]", has_text="plain still sends")
           ).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    _put(synapse, f"/_matrix/client/v3/rooms/{plain_id}/send/m.room.message",
         {"msgtype": "m.text", "body": "plain still receives"}, n["access_token"])
    expect_message(page, "plain still receives")


# Once in a full clean-clone run (never in 3 runs of this test alone) the re-keyed nio peer had
# not reported the browser's message within a minute while its key uploads were being refused;
# cause not found. One more run for that wait only: an engine encrypting to the new keys would
# fail every run, so the rerun cannot hide it.
@pytest.mark.flaky(reruns=1, only_rerun=["timed out waiting for the re-keyed peer"])
def test_a_device_that_changes_its_keys_is_flagged_gets_nothing_and_breaks_nothing(
        synapse, make_user, web_server, new_page, tmp_path):
    from tests.e2e.crypto_peer import NioPeer

    a_name, a_pw, a = make_user("alice")
    n_name, n_pw, n = make_user("nio")
    for store in ("first", "again"):
        (tmp_path / store).mkdir()
    peers = [NioPeer(synapse.base_url, n["user_id"], n_pw, str(tmp_path / "first"))]
    try:
        nio = peers[0]
        room_id = make_room(synapse, a["access_token"], "event", "e2e-rekey", [n])
        encrypt_room(synapse, room_id)
        plain_id = make_room(synapse, a["access_token"], "event", "plain-rekey", [n])
        nio.wait_encrypted(room_id)
        page = new_page()
        open_and_sign_in(page, f"{web_server}/event.html?slug=e2e-rekey", a_name, a_pw)
        device = known_to_peer(page, synapse, nio, n, a)
        nio.rotate(room_id)
        nio.send(room_id, "before the change")
        expect_message(page, "before the change", timeout=BOOT_TIMEOUT_MS)
        before = device_keys(synapse, n["access_token"], n["user_id"])[nio.device_id]

        # The same device id logs in again with a new Olm account: new keys for it.
        device_id = nio.device_id
        nio.close()
        again = NioPeer(synapse.base_url, n["user_id"], n_pw, str(tmp_path / "again"),
                        device_id=device_id)
        peers.append(again)
        after = device_keys(synapse, n["access_token"], n["user_id"])[device_id]
        assert after != before  # Synapse took the new keys for the same device id
        again.wait_encrypted(room_id)
        _wait(page, lambda: again.knows_device(a["user_id"], device),
              "the re-keyed peer knowing the browser's device")
        again.send(room_id, "after the change")
        # It reads, with a warning beside it: the engine kept the keys it first saw for that
        # device id, so the new ones belong to no device it knows.
        expect(chat(page).locator(".omc-msg", has_text="after the change").locator(
            ".omc-warning")).to_have_text(WARNINGS["unknown_device"], timeout=LIVE_TIMEOUT_MS)
        expect(chat(page).locator(".omc-warning")).to_have_count(1)
        expect_message(page, "before the change")

        # The browser's next message is not encrypted to the new keys (the re-keyed device
        # cannot read it), and the browser's sync and sending carry on.
        send(page, "browser after the change")
        expect(chat(page).locator(".omc-msg[data-status=sent]",
                                  has_text="browser after the change")).to_have_count(
            1, timeout=LIVE_TIMEOUT_MS)
        status, body = synapse.request(
            "GET", f"/_matrix/client/v3/rooms/{room_id}/messages?dir=b&limit=5",
            token=n["access_token"])
        assert status == 200, body
        [mine] = [e["event_id"] for e in body["chunk"]
                  if e["sender"] == a["user_id"] and e["type"] == "m.room.encrypted"][:1]
        _wait(page, lambda: mine in again.undecrypted, "the re-keyed peer failing to decrypt")
        assert "browser after the change" not in [t for _, _, t in again.received]

        page.goto(f"{web_server}/event.html?slug=plain-rekey")
        send(page, "plain still sends")
        expect(chat(page).locator(".omc-msg[data-status=sent]", has_text="plain still sends")
               ).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
        _put(synapse, f"/_matrix/client/v3/rooms/{plain_id}/send/m.room.message",
             {"msgtype": "m.text", "body": "plain still receives"}, n["access_token"])
        expect_message(page, "plain still receives")
    finally:
        for p in peers[1:]:
            p.close()
