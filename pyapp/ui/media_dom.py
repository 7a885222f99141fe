"""Images and files in the page (browser only: uses `js`): pictures and file cards of media
messages, their authenticated downloads into blob: URLs, the full-size viewer, saving a file
under its own name, and turning what the user chose, pasted or dropped into files to send.

A picture's box has its size before it loads, so the conversation does not jump; a picture
that cannot be loaded says so in its box, with the file still offered to download.
"""

from __future__ import annotations

import asyncio
import logging

import js
from pyodide.ffi import create_once_callable

from pyapp.client.media import INLINE_IMAGE_TYPES, MAX_DIMENSION, avatar_path
from pyapp.client.service import MediaUnavailable
from pyapp.client.uploads import PendingFile

from .dom import h
from .parts.media import PLAY_FAILED, THUMBNAIL_FAILED, MediaView

log = logging.getLogger(__name__)

EMPTY_PASTE = "There is nothing to paste: the clipboard holds no text and no file."
NOT_A_FILE = "Only files can be dropped here."
MAX_BLOBS = 200  # downloaded pictures kept as blob: URLs (then the oldest are revoked)


class MediaLoader:
    """Authenticated downloads, each once: media path -> blob: URL."""

    def __init__(self, service):
        self.service = service
        self._urls: dict[str, asyncio.Future] = {}
        # Encrypted attachments' paths -> (key/iv/hash, type): downloaded, then decrypted.
        self._encrypted: dict[str, tuple[dict, str | None]] = {}

    def know(self, item: MediaView) -> None:
        """Note that `item`'s download is ciphertext (before any of its paths is loaded)."""
        if item.file and item.download:
            self._encrypted[item.download] = (item.file, item.mimetype)

    def url(self, path: str) -> asyncio.Future:
        future = self._urls.get(path)
        if future is None or (future.done() and (future.cancelled()
                                                 or future.exception() is not None)):
            future = self._urls[path] = asyncio.ensure_future(self._fetch(path))
            self._trim()
        return future

    async def _fetch(self, path: str) -> str:
        encrypted = self._encrypted.get(path)
        response = await (self.service.download_decrypted(path, *encrypted) if encrypted
                          else self.service.download(path))
        blob_url = getattr(response, "blob_url", None)
        if not blob_url:
            raise MediaUnavailable("It could not be loaded.")
        return blob_url

    def _trim(self) -> None:
        while len(self._urls) > MAX_BLOBS:
            path = next(iter(self._urls))
            future = self._urls.pop(path)
            self._encrypted.pop(path, None)
            if future.done() and not future.cancelled() and future.exception() is None:
                js.URL.revokeObjectURL(future.result())

    def show(self, img, path: str, on_fail) -> None:
        """Load `path` into `img`; `on_fail(text)` when it cannot be shown."""
        def failed(*_):
            on_fail(THUMBNAIL_FAILED)

        img.addEventListener("error", create_once_callable(failed))
        future = self.url(path)

        def done(f: asyncio.Future) -> None:
            if f.cancelled() or f.exception() is not None:
                on_fail(THUMBNAIL_FAILED)
            else:
                img.src = f.result()
        future.add_done_callback(done)

    async def save(self, path: str, name: str) -> None:
        """Download a file and hand it to the browser under its own (safe) name."""
        url = await self.url(path)
        link = h("a", href=url, download=name)
        link.hidden = True
        js.document.body.append(link)
        link.click()
        link.remove()


def media_element(item: MediaView, key: str, loader: MediaLoader):
    """The body of a media message."""
    loader.know(item)
    box = h("div", f"omc-media omc-media--{item.kind.split('.')[-1]}")
    if item.problem:
        box.append(h("p", "omc-media-problem", item.problem),
                   h("span", "omc-file-name", item.name))
    elif item.player:
        box.append(_player(item, key, loader))
    elif item.picture:
        box.append(_picture(item, key, loader, box))
    else:
        box.append(_file_card(item, key))
    if item.progress is not None:
        bar = h("div", "omc-upload")
        label = f"Uploading {item.name}"
        bar.append(h("progress", "omc-upload-bar", max="100",
                     value=str(item.progress_percent), aria_label=label),
                   h("span", "omc-upload-text", f"{item.progress_percent}%"),
                   h("button", "omc-btn omc-btn--small", "Cancel", type="button",
                     data_action="cancel-upload", data_key=key,
                     aria_label=f"Cancel the upload of {item.name}"))
        box.append(bar)
    return box


def _picture(item: MediaView, key: str, loader: MediaLoader, box):
    button = h("button", "omc-picture", type="button", data_action="open-media",
               data_key=key, aria_label=f"{item.label} {item.name}: open full size")
    button.style.width = f"{item.width}px"
    button.style.height = f"{item.height}px"
    img = h("img", "omc-picture-img", alt=item.name, width=item.width, height=item.height,
            decoding="async")
    button.append(img)
    if item.local_url:
        img.src = item.local_url
        return button

    def failed(text: str) -> None:
        if button.isConnected:
            button.replaceWith(_failed(item, key, text))

    loader.show(img, item.thumbnail, failed)
    return button


def _failed(item: MediaView, key: str, text: str):
    """In place of a picture or player that cannot be shown: why, and the file to download."""
    notice = h("div", "omc-media-failed")
    notice.append(h("p", "omc-media-problem", text), h("span", "omc-file-name", item.name))
    if item.download:
        notice.append(h("button", "omc-btn omc-btn--small", "Download", type="button",
                        data_action="download-media", data_key=key,
                        aria_label=f"Download {item.name}"))
    return notice


def _player(item: MediaView, key: str, loader: MediaLoader):
    """<video>/<audio> with controls, fed the whole file as a blob: URL once downloaded (the
    token stays in a header); a file the browser cannot play falls back to its download."""
    player = h(item.player, f"omc-player omc-player--{item.player}", controls="",
               preload="metadata", aria_label=f"{item.label} {item.name}")
    if item.player == "video":
        player.setAttribute("playsinline", "")
        player.style.width = f"{item.width}px"
        player.style.height = f"{item.height}px"

    wrap = h("div", "omc-player-wrap")
    wrap.append(player, h("span", "omc-file-name", item.name))

    def failed(*_):
        if wrap.isConnected:
            wrap.replaceWith(_failed(item, key, PLAY_FAILED[item.kind]))

    player.addEventListener("error", create_once_callable(failed))

    def done(f: asyncio.Future) -> None:
        if f.cancelled() or f.exception() is not None:
            failed()
        else:
            player.src = f.result()
    loader.url(item.download).add_done_callback(done)
    if item.poster:
        def poster(f: asyncio.Future) -> None:  # without it the first frame shows
            if not f.cancelled() and f.exception() is None:
                player.poster = f.result()
        loader.url(item.poster).add_done_callback(poster)
    return wrap


def _file_card(item: MediaView, key: str):
    card = h("div", "omc-file")
    card.append(h("span", "omc-file-kind", item.label),
                h("span", "omc-file-name", item.name),
                h("span", "omc-file-size", item.size_text))
    if item.download:
        card.append(h("button", "omc-btn omc-btn--small", "Download", type="button",
                      data_action="download-media", data_key=key,
                      aria_label=f"Download {item.name}"))
    return card


class Lightbox:
    """The full-size picture over the conversation; Escape, Close or a click outside it
    closes it and gives focus back."""

    def __init__(self, on):
        self.el = h("div", "omc-lightbox", role="dialog", aria_modal="true",
                    aria_label="Image")
        self.el.hidden = True
        self.img = h("img", "omc-lightbox-img", alt="")
        self.status = h("p", "omc-lightbox-status", role="status")
        self.save = h("button", "omc-btn omc-btn--small", "Download", type="button",
                      data_action="download-media")
        self.close_button = h("button", "omc-btn omc-btn--small", "Close", type="button",
                              data_action="close-media")
        bar = h("div", "omc-lightbox-bar")
        bar.append(self.status, self.save, self.close_button)
        self.el.append(self.img, bar)
        self._return_to = None
        on(self.el, "keydown", self._on_key)

    def open(self, key: str, item: MediaView, loader: MediaLoader, return_to) -> None:
        self._return_to = return_to
        self.el.setAttribute("aria-label", f"{item.label} {item.name}")
        self.img.alt = item.name
        self.img.removeAttribute("src")
        self.save.dataset.key = key
        self.save.hidden = not item.download
        self.status.textContent = "Loading…"
        self.el.hidden = False
        self.close_button.focus()
        path = item.download or item.thumbnail
        loader.know(item)
        if item.local_url and not item.download:
            self.img.src, self.status.textContent = item.local_url, ""
            return
        future = loader.url(path)

        def done(f):
            if f.cancelled() or f.exception() is not None:
                self.status.textContent = THUMBNAIL_FAILED
            else:
                self.img.src, self.status.textContent = f.result(), ""
        future.add_done_callback(done)

    def close(self) -> None:
        if self.el.hidden:
            return
        self.el.hidden = True
        self.img.removeAttribute("src")
        if self._return_to is not None and self._return_to.isConnected:
            self._return_to.focus()
        self._return_to = None

    def _on_key(self, event) -> None:
        if event.key == "Escape":
            event.preventDefault()
            self.close()


async def pending_file(file) -> PendingFile:
    """A browser File as a file to send: its picture (a blob: URL) and dimensions when it
    is an image the page can show."""
    mimetype = str(file.type or "") or None
    width = height = preview = None
    if mimetype in INLINE_IMAGE_TYPES and int(file.size) > 0:
        try:
            bitmap = await js.createImageBitmap(file)
            width, height = int(bitmap.width), int(bitmap.height)
            bitmap.close()
            if not (0 < width <= MAX_DIMENSION and 0 < height <= MAX_DIMENSION):
                width = height = None
            preview = str(js.URL.createObjectURL(file))
        except Exception:  # noqa: BLE001  (not decodable: sent as it is, without a picture)
            width = height = None
    return PendingFile(str(file.name or ""), mimetype, int(file.size), file, width, height,
                       preview)


def files_of(data_transfer) -> list:
    """The files of a paste or a drop (a JS DataTransfer)."""
    if not data_transfer:
        return []
    files = data_transfer.files
    return [files.item(i) for i in range(int(files.length))] if files else []


def fill_avatars(root, service, loader: MediaLoader, room_id: str | None) -> None:
    """Put people's and rooms' pictures into the avatars drawn since the last render
    (`data-avatar-user` / `data-avatar-room`): fetched as authenticated thumbnails, shown over
    the initials once loaded; without one, or when it fails, the initials stay."""
    rooms = getattr(service, "rooms", None)
    if rooms is None:
        return
    for el in root.querySelectorAll(".omc-avatar:not([data-avatar-done])"):
        el.setAttribute("data-avatar-done", "")
        user_id, room = el.getAttribute("data-avatar-user"), el.getAttribute("data-avatar-room")
        if user_id:
            url = rooms.avatar_of(str(user_id), room_id)
        elif room:
            found = rooms.rooms.get(str(room))
            url = found.avatar_url if found is not None else None
        else:
            continue
        path = avatar_path(url)
        if path is None:
            continue
        img = h("img", "omc-avatar-img", alt="")
        img.hidden = True

        def loaded(*_, img=img):
            img.hidden = False

        def failed(_text, img=img):
            img.remove()  # the initials stay

        img.addEventListener("load", create_once_callable(loaded))
        el.append(img)
        loader.show(img, path, failed)
