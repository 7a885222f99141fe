"""Images and files in Chromium against the real Synapse, through the same-origin homeserver
proxy (pyapp.server.matrix_proxy) the deployment uses: a picture attached in browser A shows
in browser B and opens full size, a file downloads under its own name, an upload can be
cancelled while its progress shows, and what the client refuses before uploading (over the
server's limit, an empty paste) is said under the composer. Odd media events, sent by an
independent client (raw HTTP from CPython), each show a contained result: no request outside
this machine, no token in any URL, and the conversation around them still shows."""

from __future__ import annotations

import base64
import io
import json
import math
import os
import re
import struct
import urllib.request
import wave
import zlib

import pytest
from playwright.sync_api import expect

from pyapp.identity import BOT_LOCALPART
from pyapp.server.matrix_proxy import add_matrix_proxy
from pyapp.server.web import CONFIG_KEY, make_app
from tests.e2e.chat_ui_support import (LIVE_TIMEOUT_MS, chat, expect_message, make_room,
                                       open_and_sign_in, send)
from tests.e2e.conftest import WEB_ROOT
from tests.support.waiting import page_until

pytestmark = pytest.mark.e2e


def png(width: int, height: int, noise: bool = False) -> bytes:
    """A valid PNG; with noise it does not compress (its size is about width*height*3)."""
    rows = b"".join(b"\x00" + (os.urandom(width * 3) if noise else bytes([200, 80, 40]) * width)
                    for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                              0, 0, 0)) \
        + chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def proxied_web(built_static, serve_app, synapse) -> str:
    """The demo's web server with the homeserver behind its own origin."""
    app = make_app(WEB_ROOT, built_static, {"homeserver": "", "debug_run_python": True})
    add_matrix_proxy(app, synapse.base_url, max_upload_size=synapse.max_upload_size())
    base = serve_app(app)
    app[CONFIG_KEY]["homeserver"] = base
    return base


def upload(synapse, token: str, data: bytes, content_type: str, name: str) -> str:
    req = urllib.request.Request(f"{synapse.base_url}/_matrix/media/v3/upload?filename={name}",
                                 data=data, method="POST")
    req.add_header("Content-Type", content_type)
    req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["content_uri"]


def put(synapse, room_id: str, token: str, txn: str, content: dict) -> None:
    status, body = synapse.request(
        "PUT", f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/{txn}", content,
        token=token)
    assert status == 200, body


def stored_media(synapse, room_id: str, token: str) -> list[dict]:
    status, body = synapse.request(
        "GET", f"/_matrix/client/v3/rooms/{room_id}/messages?dir=f&limit=100", token=token)
    assert status == 200, body
    return [e["content"] for e in body["chunk"] if e["type"] == "m.room.message"
            and e["content"].get("msgtype") in ("m.image", "m.file", "m.video", "m.audio")]


def no_token_in_urls(page) -> None:
    leaked = [u for u in page.requests if "access_token" in u]
    assert not leaked, leaked


def test_a_picture_from_a_shows_in_b_opens_full_size_and_a_file_downloads_by_name(
        synapse, make_user, proxied_web, new_page, tmp_path):
    a_name, a_pw, a = make_user("alice")
    b_name, b_pw, b = make_user("bob")
    room_id = make_room(synapse, a["access_token"], "event", "media-ab", [b])
    page_a, page_b = new_page(), new_page()
    url = f"{proxied_web}/event.html?slug=media-ab"
    open_and_sign_in(page_a, url, a_name, a_pw)
    open_and_sign_in(page_b, url, b_name, b_pw)

    picture = png(700, 700, noise=True)  # about 1.4 MiB: more than the proxy's small-body limit
    assert len(picture) > 1024 * 1024
    path = tmp_path / "holiday.png"
    path.write_bytes(picture)
    with page_a.expect_file_chooser() as chooser:
        chat(page_a).get_by_role("button", name="Attach a file").click()
    chooser.value.set_files(str(path))
    # A sees it at once (its own picture), then sent.
    expect(chat(page_a).locator(".omc-msg.is-mine .omc-picture-img")).to_have_count(
        1, timeout=LIVE_TIMEOUT_MS)
    expect(chat(page_a).locator(".omc-msg.is-mine[data-status=sent]")).to_have_count(
        1, timeout=60_000)

    # B: the thumbnail is fetched (authenticated) and shown in its box.
    img = chat(page_b).get_by_role("button", name="Image holiday.png: open full size")
    expect(img).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    page_until(page_b, "(() => { const i = document.querySelector('om-chat .omc-picture-img');"
                       " return i && i.complete && i.naturalWidth > 0 })()", LIVE_TIMEOUT_MS,
               "the thumbnail to load in B")
    assert page_b.evaluate("document.querySelector('om-chat .omc-picture-img').src"
                           ).startswith("blob:")
    img.click()
    dialog = chat(page_b).get_by_role("dialog", name="Image holiday.png")
    expect(dialog).to_be_visible()
    page_until(page_b, "(() => { const i = document.querySelector('om-chat .omc-lightbox-img');"
                       " return i && i.complete && i.naturalWidth === 700 })()",
               LIVE_TIMEOUT_MS, "the full-size picture")
    dialog.press("Escape")
    expect(dialog).to_be_hidden()

    [stored] = stored_media(synapse, room_id, b["access_token"])
    assert stored["msgtype"] == "m.image" and stored["url"].startswith("mxc://")
    assert stored["info"] == {"mimetype": "image/png", "size": len(picture), "w": 700, "h": 700}

    # A file, downloaded by B under its own name with its bytes.
    report = tmp_path / "report 2026.pdf"
    report.write_bytes(b"%PDF-1.4 not really\n" * 100)
    chat(page_a).locator("input[type=file]").set_input_files(str(report))
    download_button = chat(page_b).get_by_role("button", name="Download report 2026.pdf")
    expect(download_button).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    with page_b.expect_download() as got:
        download_button.click()
    assert got.value.suggested_filename == "report 2026.pdf"
    assert open(got.value.path(), "rb").read() == report.read_bytes()
    no_token_in_urls(page_a)
    no_token_in_urls(page_b)


def test_upload_progress_cancel_limit_and_empty_paste(synapse, make_user, proxied_web,
                                                      new_page, tmp_path):
    a_name, a_pw, a = make_user("alice")
    room_id = make_room(synapse, a["access_token"], "event", "media-cancel")
    page = new_page()
    open_and_sign_in(page, f"{proxied_web}/event.html?slug=media-cancel", a_name, a_pw)

    # A slow link: the upload shows its progress and can be cancelled.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1,
        "uploadThroughput": 100 * 1024})
    big = tmp_path / "slow.png"
    big.write_bytes(png(500, 500, noise=True))
    chat(page).locator("input[type=file]").set_input_files(str(big))
    bar = chat(page).get_by_role("progressbar", name="Uploading slow.png")
    expect(bar).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    chat(page).get_by_role("button", name="Cancel the upload of slow.png").click()
    expect(chat(page).locator(".omc-msg")).to_have_count(0)
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})

    # Offline: the upload fails, stays as a failed message, and Retry sends it once online;
    # another failed one can be removed instead.
    def offline(flag: bool) -> None:
        cdp.send("Network.emulateNetworkConditions", {
            "offline": flag, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})

    for name in ("retried.png", "removed.png"):
        (tmp_path / name).write_bytes(png(30, 20))
    offline(True)
    chat(page).locator("input[type=file]").set_input_files(str(tmp_path / "retried.png"))
    failed = chat(page).locator(".omc-msg[data-status=failed]")
    expect(failed).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    expect(failed.locator(".omc-msg-error")).to_have_text(
        "Not sent: the upload failed (no connection).")
    chat(page).locator("input[type=file]").set_input_files(str(tmp_path / "removed.png"))
    expect(failed).to_have_count(2, timeout=LIVE_TIMEOUT_MS)
    offline(False)
    chat(page).get_by_role("button", name="Remove the unsent removed.png").click()
    expect(failed).to_have_count(1)
    failed.get_by_role("button", name="Retry").click()
    expect(chat(page).locator(".omc-msg.is-mine[data-status=sent]")).to_have_count(
        1, timeout=60_000)
    [retried] = stored_media(synapse, room_id, a["access_token"])
    assert retried["body"] == "retried.png" and retried["url"].startswith("mxc://")

    # Over the server's limit (m.upload.size): refused before a byte is uploaded.
    status, config = synapse.request("GET", "/_matrix/client/v1/media/config",
                                     token=a["access_token"])
    assert status == 200, config
    limit = config["m.upload.size"]
    uploads_before = sum("/media/v3/upload" in u for u in page.requests)
    huge = tmp_path / "huge.bin"
    with open(huge, "wb") as f:
        f.truncate(limit + 1)  # sparse: nothing is written
    chat(page).locator("input[type=file]").set_input_files(str(huge))
    expect(chat(page).locator(".omc-composer .omc-composer-error")).to_contain_text(
        "“huge.bin” is 50 MB; this server accepts files up to 50 MB.", timeout=LIVE_TIMEOUT_MS)
    expect(chat(page).locator(".omc-msg")).to_have_count(1)  # the retried picture only

    # An empty file and an empty paste: said, nothing sent.
    chat(page).locator("input[type=file]").set_input_files(
        {"name": "empty.txt", "mimeType": "text/plain", "buffer": b""})
    expect(chat(page).locator(".omc-composer .omc-composer-error")).to_contain_text(
        "“empty.txt” is empty", timeout=LIVE_TIMEOUT_MS)
    box = chat(page).get_by_label("Message", exact=True)
    box.focus()
    page.evaluate("""() => {
        const box = document.querySelector('om-chat textarea');
        box.dispatchEvent(new ClipboardEvent('paste', {clipboardData: new DataTransfer(),
                                                       bubbles: true, cancelable: true}));
    }""")
    expect(chat(page).locator(".omc-composer .omc-composer-error")).to_have_text(
        "There is nothing to paste: the clipboard holds no text and no file.")
    assert sum("/media/v3/upload" in u for u in page.requests) == uploads_before
    send(page, "still here")
    expect_message(page, "still here")
    assert [m["body"] for m in stored_media(synapse, room_id, a["access_token"])] == \
        ["retried.png"]
    no_token_in_urls(page)


def test_odd_media_events_from_another_client_each_show_a_contained_result(
        synapse, make_user, proxied_web, new_page):
    a_name, a_pw, a = make_user("alice")
    _, _, c = make_user("carol")
    room_id = make_room(synapse, a["access_token"], "event", "media-odd", [c])
    token = c["access_token"]
    good = upload(synapse, token, png(40, 30), "image/png", "good.png")
    not_an_image = upload(synapse, token, b"this is text, not a picture", "image/png",
                          "broken.png")
    doc = upload(synapse, token, b"hello file", "application/octet-stream", "x.bin")
    events = [
        {"msgtype": "m.image", "body": "remote.png", "url": "https://evil.example/remote.png",
         "info": {"mimetype": "image/png", "w": 10, "h": 10}},
        {"msgtype": "m.image", "body": "noinfo.png", "url": good},
        {"msgtype": "m.image", "body": "zero.png", "url": good,
         "info": {"w": 0, "h": 0, "mimetype": "image/png"}},
        {"msgtype": "m.image", "body": "giant.png", "url": good,
         "info": {"w": 100000, "h": 100000, "mimetype": "image/png", "size": 10 ** 12}},
        {"msgtype": "m.image", "body": "broken.png", "url": not_an_image,
         "info": {"mimetype": "image/png", "w": 40, "h": 30}},
        {"msgtype": "m.file", "body": "../../etc/pass\u202egpj.exe", "url": doc,
         "info": {"size": 10}},
        {"msgtype": "m.video", "body": "clip.mp4", "url": doc, "info": {"mimetype": "video/mp4"}},
        {"msgtype": "m.audio", "body": "voice.ogg", "url": doc, "info": {"mimetype": "audio/ogg"}},
        {"msgtype": "m.text", "body": "after the odd ones"},
    ]
    for n, content in enumerate(events):
        put(synapse, room_id, token, f"odd{n}", content)
    page = new_page()
    open_and_sign_in(page, f"{proxied_web}/event.html?slug=media-odd", a_name, a_pw)
    expect_message(page, "after the odd ones")
    c_ = chat(page)
    expect(c_.locator(".omc-media-problem", has_text="not a Matrix media address")
           ).to_have_count(1)
    for name in ("noinfo.png", "zero.png", "giant.png"):
        button = c_.get_by_role("button", name=f"Image {name}: open full size")
        expect(button).to_be_visible()
        box = button.bounding_box()
        assert box["width"] <= 320 and box["height"] <= 240, (name, box)
    page_until(page, "[...document.querySelectorAll('om-chat .omc-picture-img')]"
                     ".filter(i => i.complete && i.naturalWidth === 40).length === 3",
               LIVE_TIMEOUT_MS, "the three good thumbnails")
    broken = c_.locator(".omc-media-failed", has_text="The image could not be loaded.")
    expect(broken).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    expect(broken.get_by_role("button", name="Download broken.png")).to_be_visible()
    # The file's name is the safe one, shown and saved.
    expect(c_.locator(".omc-file-name", has_text="passgpj.exe")).to_have_count(1)
    with page.expect_download() as got:
        c_.get_by_role("button", name="Download passgpj.exe").click()
    assert got.value.suggested_filename == "passgpj.exe"
    assert open(got.value.path(), "rb").read() == b"hello file"
    # A video and an audio whose files are not media: the player gives way to the download.
    for kind, name in (("video", "clip.mp4"), ("audio", "voice.ogg")):
        failed = c_.locator(".omc-media-failed", has_text=name)
        expect(failed.locator(".omc-media-problem")).to_have_text(
            f"This {kind} cannot be played here.", timeout=LIVE_TIMEOUT_MS)
        expect(failed.get_by_role("button", name=f"Download {name}")).to_be_visible()
    assert not any("evil.example" in u for u in page.requests)
    no_token_in_urls(page)


# A short WebM recorded by the browser itself (no video tool on the machine): a canvas
# changing colour, through MediaRecorder; base64 back to the test.
RECORD_WEBM = """async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 160; canvas.height = 120;
    const g = canvas.getContext('2d');
    const paint = i => { g.fillStyle = `hsl(${i * 40}, 80%, 50%)`; g.fillRect(0, 0, 160, 120); };
    paint(0);
    const recorder = new MediaRecorder(canvas.captureStream(10), {mimeType: 'video/webm'});
    const chunks = [];
    recorder.ondataavailable = e => { if (e.data.size) chunks.push(e.data); };
    const stopped = new Promise(resolve => recorder.onstop = resolve);
    recorder.start(100);  // data every 100 ms: a slow machine still gets frames in
    const size = () => chunks.reduce((n, c) => n + c.size, 0);
    for (let i = 1; i < 60 && (i < 9 || size() < 2000); i++) {
        paint(i);
        await new Promise(resolve => setTimeout(resolve, 60));
    }
    recorder.stop();
    await stopped;
    const bytes = new Uint8Array(await new Blob(chunks).arrayBuffer());
    let text = '';
    for (const b of bytes) text += String.fromCharCode(b);
    return btoa(text);
}"""


def wav(seconds: float, rate: int = 8000) -> bytes:
    """A sine tone as 16-bit mono PCM WAV."""
    frames = b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * 440 * n / rate)))
                      for n in range(int(seconds * rate)))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


def test_video_and_audio_from_another_client_play_inline(synapse, make_user, proxied_web,
                                                          new_page):
    a_name, a_pw, a = make_user("alice")
    _, _, c = make_user("carol")
    room_id = make_room(synapse, a["access_token"], "event", "media-play", [c])
    page = new_page()
    webm = base64.b64decode(page.evaluate(RECORD_WEBM))
    assert webm[:4] == b"\x1aE\xdf\xa3", webm[:8]  # an EBML (WebM) file
    token = c["access_token"]
    clip = upload(synapse, token, webm, "video/webm", "clip.webm")
    tone = upload(synapse, token, wav(0.5), "audio/wav", "tone.wav")
    put(synapse, room_id, token, "play0", {
        "msgtype": "m.video", "body": "clip.webm", "url": clip,
        "info": {"mimetype": "video/webm", "w": 160, "h": 120, "size": len(webm)}})
    put(synapse, room_id, token, "play1", {
        "msgtype": "m.audio", "body": "tone.wav", "url": tone, "info": {"mimetype": "audio/wav"}})
    put(synapse, room_id, token, "play2", {"msgtype": "m.text", "body": "after the players"})

    open_and_sign_in(page, f"{proxied_web}/event.html?slug=media-play", a_name, a_pw)
    expect_message(page, "after the players")
    c_ = chat(page)
    video, audio = c_.get_by_label("Video clip.webm"), c_.get_by_label("Audio tone.wav")
    for player, tag in ((video, "VIDEO"), (audio, "AUDIO")):
        expect(player).to_have_attribute("src", re.compile("^blob:"), timeout=LIVE_TIMEOUT_MS)
        expect(player).to_have_attribute("controls", "")
        assert player.evaluate("e => e.tagName") == tag
    # Both played by the browser: their metadata read from the downloaded files.
    page_until(page, "(() => { const v = document.querySelector('om-chat video.omc-player');"
                     " return v && v.readyState >= 1 && v.videoWidth === 160; })()",
               LIVE_TIMEOUT_MS, "the video's metadata")
    page_until(page, "(() => { const a = document.querySelector('om-chat audio.omc-player');"
                     " return a && a.readyState >= 1 && Math.abs(a.duration - 0.5) < 0.05; })()",
               LIVE_TIMEOUT_MS, "the audio's metadata")
    box = video.bounding_box()
    assert box["width"] <= 320 and box["height"] <= 240, box
    expect(c_.locator(".omc-media-failed")).to_have_count(0)
    no_token_in_urls(page)
    assert not page.page_errors


def test_avatars_of_people_and_rooms_show_over_their_initials(synapse, make_user, proxied_web,
                                                              new_page):
    a_name, a_pw, a = make_user("alice")
    _, _, b = make_user("bob")
    _, _, c = make_user("carol")
    room_id = make_room(synapse, a["access_token"], "group", "media-avatars", [b, c],
                        name="Avatars")
    bob_pic = upload(synapse, b["access_token"], png(64, 64), "image/png", "bob.png")
    room_pic = upload(synapse, a["access_token"], png(48, 48), "image/png", "room.png")
    status, body = synapse.request(
        "PUT", f"/_matrix/client/v3/profile/{b['user_id']}/avatar_url", {"avatar_url": bob_pic},
        token=b["access_token"])
    assert status == 200, body
    # Carol's avatar is not a Matrix media address: never fetched, her initials stay.
    status, body = synapse.request(
        "PUT", f"/_matrix/client/v3/rooms/{room_id}/state/m.room.member/{c['user_id']}",
        {"membership": "join", "avatar_url": "https://evil.example/carol.png"},
        token=c["access_token"])
    assert status == 200, body
    bot = synapse.register_user(BOT_LOCALPART, "pw-bot")  # the room's creator (make_room)
    status, body = synapse.request(
        "PUT", f"/_matrix/client/v3/rooms/{room_id}/state/m.room.avatar/", {"url": room_pic},
        token=bot["access_token"])
    assert status == 200, body
    put(synapse, room_id, b["access_token"], "hi-b", {"msgtype": "m.text", "body": "from bob"})
    put(synapse, room_id, c["access_token"], "hi-c", {"msgtype": "m.text", "body": "from carol"})

    page = new_page()
    open_and_sign_in(page, f"{proxied_web}/messages.html", a_name, a_pw)
    expect_message(page, "from carol")
    loaded = ("(sel) => [...document.querySelectorAll(sel)].filter(i => !i.hidden && i.complete"
              " && i.naturalWidth > 0).length")

    def count(selector: str) -> int:
        return page.evaluate(f"({loaded})({json.dumps(selector)})")

    room_avatar = f'om-chat .omc-rooms [data-avatar-room="{room_id}"] img'
    bob_in_timeline = f'om-chat .omc-msg [data-avatar-user="{b["user_id"]}"] img'
    page_until(page, f"({loaded})({json.dumps(room_avatar)}) === 1", LIVE_TIMEOUT_MS,
               "the room's picture in the room list")
    page_until(page, f"({loaded})({json.dumps(bob_in_timeline)}) === 1", LIVE_TIMEOUT_MS,
               "Bob's picture beside his message")
    bob_in_panel = f'om-chat .omc-members [data-avatar-user="{b["user_id"]}"] img'
    page_until(page, f"({loaded})({json.dumps(bob_in_panel)}) === 1", LIVE_TIMEOUT_MS,
               "Bob's picture in the member panel")
    carol = f'om-chat [data-avatar-user="{c["user_id"]}"]'
    assert page.locator(carol).count() >= 1
    assert count(carol + " img") == 0 and page.locator(carol + " img").count() == 0
    assert page.evaluate(f"document.querySelector({json.dumps(room_avatar)}).src"
                         ).startswith("blob:")
    assert not any("evil.example" in u for u in page.requests)
    no_token_in_urls(page)
