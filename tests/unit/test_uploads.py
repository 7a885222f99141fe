"""Sending files (pyapp.client.uploads) with the outbox and a fake uploader: checked against
the limit before anything is shown, pending at once with progress, cancel, failure and retry,
and what a reload makes of an unfinished upload."""

from __future__ import annotations

import asyncio

import pytest

from pyapp.client.outbox import SendRefused
from pyapp.client.storage import MemoryStorage
from pyapp.client.transport import TransportError
from pyapp.client.uploads import PendingFile, Uploads
from tests.unit.test_outbox import ALICE, Harness


class Files:
    def __init__(self, h: Harness, limit=1000):
        self.h = h
        self.limit = limit
        self.gate: asyncio.Event | None = None
        self.answer = None
        self.calls = 0
        self.uploads = Uploads(h.outbox, upload=self.upload, limit=self.get_limit,
                               clock=lambda: 1000.0)

    async def get_limit(self):
        return self.limit

    async def upload(self, file, on_progress):
        self.calls += 1
        on_progress(file.size // 2, file.size)
        if self.gate is not None:
            await self.gate.wait()
        if self.answer is not None:
            raise self.answer
        on_progress(file.size, file.size)
        return "mxc://hs/file1"


def file(size=100, name="cat.png", mimetype="image/png"):
    return PendingFile(name, mimetype, size, b"x" * size, 40, 30, "blob:local-1")


def make():
    h = Harness()
    h.outbox.restore(ALICE)
    return h, Files(h)


async def test_a_file_is_uploaded_then_sent_with_its_address():
    h, f = make()
    message = await f.uploads.send("!r", file())
    assert message.status == "sent" and message.event_id == "$e1"
    [(_, content, _)] = h.sent
    assert content == {"msgtype": "m.image", "body": "cat.png", "filename": "cat.png",
                       "url": "mxc://hs/file1",
                       "info": {"mimetype": "image/png", "size": 100, "w": 40, "h": 30}}
    assert message.media.mxc == "mxc://hs/file1"
    assert f.uploads.progress(message.txn_id) is None and h.stored() is None


@pytest.mark.parametrize("size,expected", [(0, "is empty"), (1001, "accepts files up to")])
async def test_an_empty_or_too_large_file_is_refused_before_anything_is_shown(size, expected):
    h, f = make()
    with pytest.raises(ValueError, match=expected):
        await f.uploads.send("!r", file(size))
    assert f.calls == 0 and not h.local() and not h.emitted


async def test_pending_at_once_with_progress_and_cancel_removes_it():
    h, f = make()
    f.gate = asyncio.Event()
    task = asyncio.ensure_future(f.uploads.send("!r", file()))
    await asyncio.sleep(0.01)
    [message] = h.local()
    assert message.status == "pending" and message.media.name == "cat.png"
    assert message.media.mxc is None and message.media.problem is None
    assert f.uploads.progress(message.txn_id) == 0.5
    assert f.uploads.previews[message.txn_id] == "blob:local-1"
    assert h.stored()["messages"][0]["txn_id"] == message.txn_id
    assert f.uploads.cancel("!r", message.txn_id)
    await task
    assert not h.local() and not h.sent and h.stored() is None
    assert message.txn_id not in f.uploads.previews


@pytest.mark.parametrize("error,shown", [
    (TransportError("down"), "Not sent: the upload failed (no connection)."),
    (SendRefused("the file is larger than the server accepts"),
     "Not sent: the file is larger than the server accepts."),
])
async def test_a_failed_upload_stays_failed_and_retry_uploads_again(error, shown):
    h, f = make()
    f.answer = error
    message = await f.uploads.send("!r", file())
    assert (message.status, message.error) == ("failed", shown)
    assert not h.sent
    await h.outbox.retry("!r", message.txn_id)  # the outbox never sends it without its file
    assert not h.sent
    f.answer = None
    await f.uploads.retry("!r", message.txn_id)
    assert message.status == "sent" and f.calls == 2
    assert h.sent[0][1]["url"] == "mxc://hs/file1"


async def test_after_a_reload_an_unfinished_upload_is_failed_not_sent():
    storage = MemoryStorage()
    h = Harness(storage)
    h.outbox.restore(ALICE)
    f = Files(h)
    f.gate = asyncio.Event()
    task = asyncio.ensure_future(f.uploads.send("!r", file()))
    await asyncio.sleep(0.01)
    task.cancel()  # the page closes
    again = Harness(storage)
    again.outbox.restore(ALICE)
    again.outbox.resend_restored()
    [message] = again.local()
    assert message.status == "failed" and "Attach the file again" in message.error
    await again.outbox.retry("!r", message.txn_id)
    await asyncio.sleep(0.01)
    assert not again.sent
    # It can be removed (nothing else could be done with it), and is gone from storage.
    assert Files(again).uploads.cancel("!r", message.txn_id)
    assert not again.local() and again.stored() is None


async def test_sign_out_stops_uploads():
    h, f = make()
    f.gate = asyncio.Event()
    task = asyncio.ensure_future(f.uploads.send("!r", file()))
    await asyncio.sleep(0.01)
    f.uploads.discard()
    h.outbox.discard()
    await task
    assert not h.sent and not h.local()


ENCRYPTION = {"v": "v2", "iv": "aXY", "hashes": {"sha256": "aGFzaA"},
              "key": {"kty": "oct", "alg": "A256CTR", "k": "a2V5", "ext": True,
                      "key_ops": ["encrypt", "decrypt"]}}


class FakeAttachments:
    """Stands in for the engine's attachment encryption (the real one is tested end to end)."""

    def __init__(self):
        self.decrypted = []

    async def encrypt_attachment(self, data):
        return b"cipher:" + bytes(reversed(data)), dict(ENCRYPTION)

    async def decrypt_attachment(self, data, file):
        from pyapp.client.crypto import EngineError

        self.decrypted.append(file)
        if file["key"]["k"] != ENCRYPTION["key"]["k"]:
            raise EngineError("hash mismatch")
        return bytes(reversed(data[len(b"cipher:"):]))


async def test_in_an_encrypted_room_the_file_goes_encrypted_and_is_sent_with_file_not_url():
    h = Harness()
    h.outbox.restore(ALICE)
    uploaded = []

    async def upload_encrypted(file, on_progress):
        uploaded.append(file.name)
        return "mxc://hs/enc1", dict(ENCRYPTION)

    async def plain(file, on_progress):
        raise AssertionError("a plain upload in an encrypted room")

    async def limit():
        return None

    uploads = Uploads(h.outbox, upload=plain, limit=limit, clock=lambda: 1000.0,
                      upload_encrypted=upload_encrypted)
    message = await uploads.send("!r", file(), encrypted=True)
    assert message.status == "sent" and uploaded == ["cat.png"]
    [(_, content, _)] = h.sent
    assert "url" not in content and content["file"] == {**ENCRYPTION, "url": "mxc://hs/enc1"}
    assert message.media.mxc == "mxc://hs/enc1" and message.media.problem is None
    assert message.media.file["key"]["k"] == "a2V5"
    # Without an encrypted uploader nothing is shown nor sent.
    with pytest.raises(ValueError, match="encrypted"):
        await Uploads(h.outbox, upload=plain, limit=limit, clock=lambda: 1.0).send(
            "!r", file(), encrypted=True)


async def test_no_file_goes_unencrypted_into_an_encrypted_room():
    """The service encrypts before the upload: the server gets only ciphertext, without the
    file's name or type; a download is decrypted with the message's key."""
    from pyapp.client.service import ChatConfig, ChatService, MediaUnavailable
    from pyapp.client.transport import HttpResponse

    service = ChatService(ChatConfig("http://hs"), None, MemoryStorage())
    service.session = object()
    service.is_encrypted = lambda room_id: True
    service.crypto = FakeAttachments()
    sent = []

    async def send(room_id, pending, encrypted=False):
        sent.append(encrypted)
        return await service._upload_encrypted_file(pending, lambda *a: None)
    service.uploads.send = send
    posted = []

    async def post(path, data, content_type, on_progress):
        posted.append((path, data, content_type))
        return "mxc://hs/enc1"
    service._post_upload = post
    mxc, encryption = await service.send_file("!r", file(4))
    assert sent == [True] and (mxc, encryption) == ("mxc://hs/enc1", ENCRYPTION)
    assert posted == [("/_matrix/media/v3/upload", b"cipher:xxxx", "application/octet-stream")]

    async def download(path):
        return HttpResponse(200, {}, b"cipher:" + b"gnp", "http://hs" + path)
    service.download = download
    answer = await service.download_decrypted("/p", ENCRYPTION, "image/png")
    assert answer.body == b"png" and answer.headers["content-type"] == "image/png"
    with pytest.raises(MediaUnavailable, match="could not be decrypted"):
        await service.download_decrypted("/p", {**ENCRYPTION, "key": {"k": "b3RoZXI"}}, None)
