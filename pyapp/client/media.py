"""Images and files in messages: what a media event's content says, checked; the names, sizes
and boxes the views show; and the content of what the user sends. Pure (no I/O).

Media content arrives from any client and any server, so none of it is believed as is:
- `url` must be an `mxc://server/media-id` address; anything else (an https URL would make
  the browser fetch from a third party, leaking who reads the room) is never fetched.
- `info` may be missing or hold anything: sizes and dimensions count only as positive
  integers within sane bounds, else they are unknown.
- The file name is the sender's choice: path separators, control and bidirectional override
  characters (which make "photo‮gpj.exe" read as "photoexe.jpg") are removed before it is
  shown or offered as a download name.
Downloads go through the authenticated media API (`/_matrix/client/v1/media/...`, the token
in the Authorization header, never in a URL); uploads are checked against the homeserver's
`m.upload.size` before a byte leaves.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

IMAGE, FILE, VIDEO, AUDIO = "m.image", "m.file", "m.video", "m.audio"
MEDIA_MSGTYPES = (IMAGE, FILE, VIDEO, AUDIO)
CONFIG_PATH = "/_matrix/client/v1/media/config"
UPLOAD_PATH = "/_matrix/media/v3/upload"  # uploads were not moved under /client/v1
MAX_DIMENSION = 16_384  # pixels; a larger claimed width or height is treated as unknown
MAX_NAME = 120  # characters of a shown / downloaded file name
# Thumbnails asked of the server: the box shown in the timeline, at twice its size for
# high-density screens (the server picks the nearest it makes).
BOX_WIDTH, BOX_HEIGHT = 320, 240
THUMB_WIDTH, THUMB_HEIGHT = 640, 480
# Image types a browser shows in <img> without running anything: the others are offered as
# files (an SVG is a document).
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# Video and audio a browser plays in <video>/<audio> (others are offered as files); whether
# this one file plays is known only once the browser tries (then it falls back to the file).
PLAYABLE_TYPES = {
    "m.video": frozenset({"video/mp4", "video/webm", "video/ogg", "video/quicktime"}),
    "m.audio": frozenset({"audio/mpeg", "audio/mp3", "audio/ogg", "audio/opus", "audio/wav",
                          "audio/x-wav", "audio/wave", "audio/webm", "audio/mp4", "audio/aac",
                          "audio/x-m4a", "audio/flac", "audio/x-flac"}),
}
# A player fetches the whole file at once (authenticated media cannot be streamed into
# <video> without a token in its URL): larger ones are offered as files to download.
MAX_PLAYER_BYTES = 16 * 1024 * 1024

_MXC = re.compile(r"^mxc://([A-Za-z0-9.\-]+(?::[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](?::[0-9]{1,5})?)"
                  r"/([A-Za-z0-9_\-]+)$")
# Bidirectional controls (embeddings, overrides, isolates, marks) and other invisible format
# characters: they let a name display differently from what it is.
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\u061c\ufeff]")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def parse_mxc(url: Any) -> tuple[str, str] | None:
    """(server name, media id) of an `mxc://` address, or None when `url` is not one."""
    match = _MXC.match(url) if isinstance(url, str) else None
    return (match.group(1), match.group(2)) if match else None


def download_path(mxc: str, filename: str | None = None) -> str | None:
    parsed = parse_mxc(mxc)
    if parsed is None:
        return None
    server, media_id = (quote(p, safe="") for p in parsed)
    path = f"/_matrix/client/v1/media/download/{server}/{media_id}"
    return path + (f"/{quote(filename, safe='')}" if filename else "")


def thumbnail_path(mxc: str, width: int = THUMB_WIDTH, height: int = THUMB_HEIGHT,
                   method: str = "scale") -> str | None:
    parsed = parse_mxc(mxc)
    if parsed is None:
        return None
    server, media_id = (quote(p, safe="") for p in parsed)
    query = urlencode({"width": width, "height": height, "method": method})
    return f"/_matrix/client/v1/media/thumbnail/{server}/{media_id}?{query}"


AVATAR_SIZE = 96  # pixels asked for (shown at 32, on screens up to three times as dense)


def avatar_path(url: Any) -> str | None:
    """The authenticated thumbnail of an avatar (a person's or a room's), None when the url
    is not an mxc:// address (then the initials stay)."""
    return thumbnail_path(url, AVATAR_SIZE, AVATAR_SIZE, "crop") if parse_mxc(url) else None


def safe_filename(name: Any, fallback: str = "file") -> str:
    """A name to show and to save under: the last path component, without control or
    bidirectional characters, not starting with a dot, at most MAX_NAME characters (the
    extension kept)."""
    text = name if isinstance(name, str) else ""
    text = _INVISIBLE.sub("", text)
    text = "".join(" " if c.isspace() else c for c in text
                   if c.isspace() or unicodedata.category(c)[0] != "C")
    text = re.split(r"[/\\]", text)[-1].strip().lstrip(".").strip()
    text = re.sub(r"\s+", " ", text)
    if len(text) > MAX_NAME:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 10 and stem:
            text = stem[:MAX_NAME - len(ext) - 2].rstrip() + "…." + ext
        else:
            text = text[:MAX_NAME - 1] + "…"
    return text or fallback


def size_text(size: int | None) -> str:
    """1023 bytes, 1.5 KB, 12 MB: for people, not exact."""
    if size is None:
        return ""
    if size < 1024:
        return f"{size} byte" + ("" if size == 1 else "s")
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            return f"{size:.1f} {unit}" if size < 10 else f"{size:.0f} {unit}"
    return ""  # not reached


def _dimension(value: Any) -> int | None:
    n = _int(value)
    return n if n is not None and 0 < n <= MAX_DIMENSION else None


def display_box(width: int | None, height: int | None, max_width: int = BOX_WIDTH,
                max_height: int = BOX_HEIGHT) -> tuple[int, int]:
    """The size an image is shown at in the timeline: its own, scaled down to fit the box,
    never thinner than a twelfth of the box; the box itself when the size is unknown."""
    if width is None or height is None:
        return max_width, max_height
    scale = min(1.0, max_width / width, max_height / height)
    shown_w = max(round(width * scale), max_width // 12)
    shown_h = max(round(height * scale), max_height // 12)
    return min(shown_w, max_width), min(shown_h, max_height)


@dataclass(frozen=True)
class Media:
    """What a media message shows. `mxc` is None when the content's address is unusable
    (`problem` says why) or not known yet (a local echo still uploading)."""
    kind: str  # IMAGE, FILE, VIDEO or AUDIO
    name: str  # safe to show and to save under
    mxc: str | None
    mimetype: str | None = None
    size: int | None = None
    width: int | None = None
    height: int | None = None
    thumbnail_mxc: str | None = None  # the sender's own thumbnail (info.thumbnail_url)
    problem: str | None = None
    # An encrypted attachment's key, iv and hash (the spec's EncryptedFile without its url):
    # what is downloaded from `mxc` is ciphertext, decrypted by the crypto engine.
    file: dict | None = None

    @property
    def inline_image(self) -> bool:
        """Shown as a picture (else as a file to download)."""
        if self.kind == IMAGE:
            return self.mimetype is None or self.mimetype in INLINE_IMAGE_TYPES
        return False

    @property
    def playable(self) -> bool:
        """Played inline (a video or audio of a type browsers play, not too large to fetch
        whole); else offered as a file."""
        types = PLAYABLE_TYPES.get(self.kind)
        return types is not None and self.mxc is not None and self.problem is None \
            and (self.mimetype is None or self.mimetype in types) \
            and (self.size is None or self.size <= MAX_PLAYER_BYTES)


def media_of(content: Any) -> Media | None:
    """The media of a message's content; None when it is not a media msgtype."""
    content = _dict(content)
    kind = content.get("msgtype")
    if kind not in MEDIA_MSGTYPES:
        return None
    info = _dict(content.get("info"))
    fallback = {IMAGE: "image", VIDEO: "video", AUDIO: "audio"}.get(kind, "file")
    # The file name is `filename` when the body is a caption (spec v1.10), else the body.
    name = safe_filename(content.get("filename") if isinstance(content.get("filename"), str)
                         else content.get("body"), fallback)
    mimetype = info.get("mimetype")
    mimetype = mimetype.strip().lower() if isinstance(mimetype, str) and mimetype.strip() \
        and len(mimetype) < 100 else None
    size = _int(info.get("size"))
    size = size if size is not None and size >= 0 else None
    width, height = _dimension(info.get("w")), _dimension(info.get("h"))
    if width is None or height is None:
        width = height = None
    thumb = info.get("thumbnail_url")
    thumb = thumb if parse_mxc(thumb) else None
    url = content.get("url")
    problem = None
    file = None
    if "url" not in content and "file" in content:
        file = encrypted_file(content.get("file"))
        url = file.pop("url") if file else None
        if file is None:
            problem = (f"This {_noun(kind)} cannot be shown: its encryption details are not "
                       f"valid.")
        thumb = None  # a server-side thumbnail of ciphertext would show nothing
    elif url is None and content.get("om.local"):
        pass  # our own upload, still on its way
    elif not parse_mxc(url):
        problem = f"This {_noun(kind)} cannot be shown: its address is not a Matrix media address."
        url = None
    return Media(kind, name, url, mimetype, size, width, height, thumb, problem, file)


_UNPADDED_B64 = re.compile(r"^[A-Za-z0-9+/_\-]+={0,2}$")


def encrypted_file(value: Any) -> dict | None:
    """The spec's EncryptedFile (an attachment in an encrypted room: url, key as a JWK,
    iv, sha256 hash, v2), checked and copied with only its known fields; None when it is
    not one. The engine checks the key and hash again when it decrypts."""
    value = _dict(value)
    key, hashes = _dict(value.get("key")), _dict(value.get("hashes"))
    fields = (key.get("k"), value.get("iv"), hashes.get("sha256"))
    if not parse_mxc(value.get("url")) or value.get("v") != "v2" \
            or key.get("kty") != "oct" or key.get("alg") != "A256CTR" \
            or not all(isinstance(f, str) and 0 < len(f) <= 200 and _UNPADDED_B64.match(f)
                       for f in fields):
        return None
    ops = key.get("key_ops")
    return {"url": value["url"], "v": "v2", "iv": value["iv"],
            "hashes": {"sha256": hashes["sha256"]},
            "key": {"kty": "oct", "alg": "A256CTR", "k": key["k"], "ext": True,
                    "key_ops": [o for o in ops if o in ("encrypt", "decrypt")]
                    if isinstance(ops, list) else ["encrypt", "decrypt"]}}


def _noun(kind: str) -> str:
    return {IMAGE: "image", VIDEO: "video", AUDIO: "audio"}.get(kind, "file")


def summary(media: Media) -> str:
    """One line for previews (room list, reply quotes): "Image: cat.png"."""
    return f"{_noun(media.kind).capitalize()}: {media.name}"


# -- sending --------------------------------------------------------------------------------
def msgtype_for(mimetype: str | None) -> str:
    major = (mimetype or "").split("/", 1)[0].lower()
    if (mimetype or "").lower() in INLINE_IMAGE_TYPES:
        return IMAGE
    return {"video": VIDEO, "audio": AUDIO}.get(major, FILE)


def upload_limit(config_body: Any) -> int | None:
    """`m.upload.size` of `/_matrix/client/v1/media/config`, when the server says one."""
    size = _int(_dict(config_body).get("m.upload.size"))
    return size if size is not None and size > 0 else None


def upload_problem(name: str, size: Any, limit: int | None) -> str | None:
    """Why a file cannot be sent, before anything is uploaded (None: it can)."""
    size = _int(size)
    if size is None:
        return f"“{name}” cannot be read."
    if size == 0:
        return f"“{name}” is empty: there is nothing to send."
    if limit is not None and size > limit:
        return (f"“{name}” is {size_text(size)}; this server accepts files up to "
                f"{size_text(limit)}.")
    return None


def upload_content(name: Any, mimetype: str | None, size: int, width: int | None = None,
                   height: int | None = None) -> dict:
    """The message content of a file the user sends, before its upload: the address is
    added when the server has it (`with_url`). `om.local` marks it as not uploaded yet (it is
    never sent)."""
    name = safe_filename(name)
    mimetype = (mimetype or "").strip().lower() or "application/octet-stream"
    kind = msgtype_for(mimetype)
    info: dict[str, Any] = {"mimetype": mimetype, "size": size}
    if kind == IMAGE and _dimension(width) and _dimension(height):
        info["w"], info["h"] = width, height
    return {"msgtype": kind, "body": name, "filename": name, "info": info, "om.local": True}


def with_url(content: dict, mxc: str) -> dict:
    sent = {k: v for k, v in content.items() if k != "om.local"}
    sent["url"] = mxc
    return sent


def with_file(content: dict, mxc: str, encryption: dict) -> dict:
    """The content of a file uploaded encrypted: `file` (its address with the engine's key,
    iv and hash) instead of `url`, as the spec has it for encrypted rooms."""
    sent = {k: v for k, v in content.items() if k != "om.local"}
    sent["file"] = {**encryption, "url": mxc}
    return sent


def needs_upload(content: Any) -> bool:
    """A local media echo whose file is not on the server yet: it must not be sent as is."""
    content = _dict(content)
    return content.get("msgtype") in MEDIA_MSGTYPES and "url" not in content \
        and "file" not in content and bool(content.get("om.local"))
