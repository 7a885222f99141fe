"""Sending images and files: checked against the server's limit, shown at once as a pending
message (with the picture itself, from the user's own file), uploaded with progress and a way
to cancel, then sent as a message through the outbox like typed text.

A failed upload stays as a failed message to retry (the file is still held); a cancelled one
goes. The file itself is not kept across a reload (it may be large): a message whose upload
had not finished comes back failed, saying to attach the file again.

The network comes in as callbacks: `upload(file, on_progress)` returns the file's `mxc://`
address (raising SendRefused, SessionExpired or a network error; cancelling the awaiting task
aborts it), `limit()` the server's upload limit in bytes or None when unknown.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from . import media
from .crypto import EngineError
from .outbox import Outbox, SendRefused
from .session import new_transaction_id
from .timeline import Message
from .tokens import SessionExpired
from .transport import NETWORK_ERRORS

PROGRESS_STEP = 0.02  # a render per 2 % of an upload, not per network chunk


@dataclass
class PendingFile:
    """A file the user chose; `data` is whatever the upload callback sends (a browser Blob,
    bytes under CPython)."""
    name: str
    mimetype: str | None
    size: int
    data: Any = None
    width: int | None = None
    height: int | None = None
    preview_url: str | None = None  # the picture shown while it uploads (a blob: URL)


@dataclass
class Upload:
    txn_id: str
    room_id: str
    file: PendingFile
    content: dict
    progress: float = 0.0
    task: asyncio.Future | None = None
    encrypted: bool = False  # uploaded encrypted, sent with `file` instead of `url`


Uploader = Callable[[PendingFile, Callable[[int, int], None]], Awaitable[str]]
# An encrypted upload: (mxc, the EncryptedFile's key, iv and hash).
EncryptedUploader = Callable[[PendingFile, Callable[[int, int], None]],
                             Awaitable[tuple[str, dict]]]


class Uploads:
    def __init__(self, outbox: Outbox, *, upload: Uploader,
                 limit: Callable[[], Awaitable[int | None]], clock: Callable[[], float],
                 upload_encrypted: EncryptedUploader | None = None):
        self.outbox = outbox
        self._upload = upload
        self._upload_encrypted = upload_encrypted
        self._limit = limit
        self._clock = clock
        self._uploads: dict[str, Upload] = {}  # txn id -> upload not finished (or failed)
        self.previews: dict[str, str] = {}  # txn id -> the local picture, while it is shown

    def progress(self, txn_id: str | None) -> float | None:
        """How much of a message's file is uploaded (0..1), None when it is not uploading."""
        upload = self._uploads.get(txn_id or "")
        return upload.progress if upload is not None and upload.task is not None else None

    def owns(self, txn_id: str) -> bool:
        return txn_id in self._uploads

    async def send(self, room_id: str, file: PendingFile, encrypted: bool = False) -> Message:
        """Check, show and upload a file (`encrypted`: for an encrypted room, the file is
        encrypted before it leaves); ValueError (nothing shown) when it cannot be sent."""
        if encrypted and self._upload_encrypted is None:
            raise ValueError("Files cannot be sent encrypted here.")
        outbox = self.outbox
        room = outbox._room(room_id)
        if room is None or outbox.user_id is None:
            raise ValueError("This conversation is not available.")
        name = media.safe_filename(file.name)
        try:
            limit = await self._limit()
        except (SessionExpired, *NETWORK_ERRORS):
            limit = None  # the server still refuses what is too large (413)
        problem = media.upload_problem(name, file.size, limit)
        if problem:
            raise ValueError(problem)
        txn_id = new_transaction_id()
        content = media.upload_content(name, file.mimetype, file.size, file.width, file.height)
        room.timeline.add_local_echo(txn_id, content, outbox.user_id, int(self._clock() * 1000))
        upload = self._uploads[txn_id] = Upload(txn_id, room_id, file, content,
                                                encrypted=encrypted)
        if file.preview_url:
            self.previews[txn_id] = file.preview_url
        outbox._save()
        outbox._emit(room_id)
        await self._run(upload)
        return room.timeline.item(txn_id)

    async def retry(self, room_id: str, txn_id: str) -> None:
        upload = self._uploads.get(txn_id)
        room = self.outbox._room(room_id)
        if upload is None or room is None or upload.task is not None \
                or not room.timeline.echo_retry(txn_id):
            return
        upload.progress = 0.0
        self.outbox._emit(room_id)
        await self._run(upload)

    def cancel(self, room_id: str, txn_id: str) -> bool:
        """Stop an upload (or drop a failed one): the message goes."""
        upload = self._uploads.pop(txn_id, None)
        if upload is None:
            return self._drop_restored(room_id, txn_id)
        if upload.room_id != room_id:
            self._uploads[txn_id] = upload
            return False
        if upload.task is not None:
            upload.task.cancel()
        room = self.outbox._room(room_id)
        if room is not None:
            room.timeline.discard_echo(txn_id)
        self.previews.pop(txn_id, None)
        self.outbox._save()
        self.outbox._emit(room_id)
        return True

    def _drop_restored(self, room_id: str, txn_id: str) -> bool:
        """A file message that came back from before a reload without its file: it can only
        go (the user attaches the file again)."""
        room = self.outbox._room(room_id)
        if room is None or not media.needs_upload(room.timeline.echo_content(txn_id)):
            return False
        room.timeline.discard_echo(txn_id)
        self.outbox._save()
        self.outbox._emit(room_id)
        return True

    def discard(self) -> None:
        """Sign-out: every upload stops, nothing of them is kept."""
        uploads, self._uploads = self._uploads, {}
        for upload in uploads.values():
            if upload.task is not None:
                upload.task.cancel()
        self.previews.clear()

    async def _run(self, upload: Upload) -> None:
        outbox, txn_id, room_id = self.outbox, upload.txn_id, upload.room_id

        def on_progress(sent: int, total: int) -> None:
            fraction = min(1.0, sent / total) if total > 0 else 0.0
            if fraction - upload.progress >= PROGRESS_STEP or fraction == 1.0 != upload.progress:
                upload.progress = fraction
                outbox._emit(room_id)

        upload.task = asyncio.ensure_future(
            self._upload_encrypted(upload.file, on_progress) if upload.encrypted
            else self._upload(upload.file, on_progress))
        error = None
        encryption = None
        try:
            mxc = await upload.task
            if upload.encrypted:
                mxc, encryption = mxc
        except asyncio.CancelledError:
            if self._uploads.get(txn_id) is upload:
                raise  # not cancelled by the user or a sign-out: our caller was
            return
        except SessionExpired as e:
            error = "Not sent: sign in again, then retry."
            outbox._on_expired(str(e))
        except NETWORK_ERRORS:
            error = "Not sent: the upload failed (no connection)."
        except SendRefused as e:
            error = f"Not sent: {e}."
        except EngineError as e:
            error = f"Not sent: {e}."
        finally:
            upload.task = None
        if self._uploads.get(txn_id) is not upload:
            return  # cancelled or signed out meanwhile
        room = outbox._room(room_id)
        if room is None:
            return
        if error is not None:
            room.timeline.echo_failed(txn_id, error)
            outbox._save()
            outbox._emit(room_id)
            return
        if not media.parse_mxc(mxc):
            room.timeline.echo_failed(txn_id, "Not sent: the server gave no address for it.")
            outbox._emit(room_id)
            return
        del self._uploads[txn_id]
        room.timeline.echo_update_content(
            txn_id, media.with_file(upload.content, mxc, encryption) if upload.encrypted
            else media.with_url(upload.content, mxc))
        outbox._save()
        await outbox.deliver(room_id, txn_id)
