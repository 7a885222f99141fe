"""How a media message shows (pure): a picture in a box of known size with its thumbnail's
address, a video or audio player fed from the whole file's address, or a file card with its
safe name and size to download; while my own file uploads, its local picture and the
progress; for content that cannot be used, why."""

from __future__ import annotations

from dataclasses import dataclass

from pyapp.client import media
from pyapp.client.media import AUDIO, IMAGE, VIDEO, Media

THUMBNAIL_FAILED = "The image could not be loaded."
PLAY_FAILED = {VIDEO: "This video cannot be played here.",
               AUDIO: "This audio cannot be played here."}
KIND_LABEL = {IMAGE: "Image", VIDEO: "Video", AUDIO: "Audio", media.FILE: "File"}


@dataclass(frozen=True)
class MediaView:
    kind: str  # m.image, m.file, m.video, m.audio
    label: str  # "Image", "File", …
    name: str  # safe to show and to save under
    size_text: str
    picture: bool  # shown as a picture (else as a file card)
    width: int  # the box it is shown in (pictures)
    height: int
    thumbnail: str | None = None  # authenticated media path of the picture to show
    download: str | None = None  # authenticated media path of the whole file
    local_url: str | None = None  # my file's own picture while it uploads (blob: URL)
    progress: float | None = None  # 0..1 while uploading
    problem: str | None = None  # why it cannot be shown or downloaded
    player: str | None = None  # "video" | "audio": played inline from `download`
    poster: str | None = None  # a video's picture before it plays (its sender's thumbnail)
    # Encrypted attachment: what `download` gives is decrypted with this (key, iv, hash) into
    # a file of `mimetype`; the picture is the whole file (the server cannot make thumbnails).
    file: dict | None = None
    mimetype: str | None = None

    @property
    def progress_percent(self) -> int | None:
        return None if self.progress is None else round(self.progress * 100)


def media_view(item: Media, progress: float | None = None,
               local_url: str | None = None) -> MediaView:
    width, height = media.display_box(item.width, item.height)
    picture = item.inline_image and item.problem is None
    download = media.download_path(item.mxc, item.name) if item.mxc else None
    thumbnail = player = poster = None
    video_thumb = media.thumbnail_path(item.thumbnail_mxc) \
        if item.kind == VIDEO and item.thumbnail_mxc else None
    if picture and item.mxc:
        thumbnail = download if item.file else media.thumbnail_path(item.mxc)
    elif item.playable and download:
        player, poster = ("video", video_thumb) if item.kind == VIDEO else ("audio", None)
    elif video_thumb:  # a video not to play here: its picture, the file to download
        thumbnail, picture = video_thumb, True
    return MediaView(item.kind, KIND_LABEL.get(item.kind, "File"), item.name,
                     media.size_text(item.size), picture and (thumbnail or local_url) is not None,
                     width, height, thumbnail, download, local_url if picture else None,
                     progress, item.problem, player, poster, item.file, item.mimetype)
