"""Which requests the same-origin homeserver proxy (pyapp.server.matrix_proxy) forwards, and with
what body limit. Pure: the proxy asks classify() before it reads a body or opens a connection.

Only the client-server and media APIs the chat uses are forwarded; everything else the homeserver
serves on the same port (/_synapse/admin, /_synapse/mas, federation, keys) must stay unreachable
through the web origin. The decision is made on the raw, still-encoded path, which is also what
is sent upstream unchanged: Synapse routes on the raw path too, so what was checked here is what
runs there. A path is refused when any segment decodes to `.` or `..` (`%2e%2e`, `.%2E`, and
double encodings), because some hop (a URL library, a front proxy) may normalise it away.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

SYNC = "sync"      # long-polls: held open up to the client's timeout (30 s)
UPLOAD = "upload"  # media uploads: bodies up to the homeserver's max_upload_size
OTHER = "other"    # every other client/media request: small JSON bodies

# The largest JSON body a chat request needs (to-device bursts, key uploads).
SMALL_BODY = 1024 * 1024
# Synapse's own default for max_upload_size.
DEFAULT_MAX_UPLOAD_SIZE = 50 * 1024 * 1024

METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"}
APIS = {"client", "media"}
# RFC 3986 path characters: unreserved, sub-delims, ":", "@", "/" and well-formed %XX escapes.
_RAW_PATH = re.compile(r"^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*$")
_DOT_SEGMENTS = {".", ".."}
_DECODE_ROUNDS = 3


@dataclass(frozen=True)
class Route:
    kind: str      # SYNC, UPLOAD or OTHER
    max_body: int  # bytes; a larger request body is answered 413


def _is_dot_segment(segment: str) -> bool:
    for _ in range(_DECODE_ROUNDS):
        if segment in _DOT_SEGMENTS:
            return True
        decoded = unquote(segment)
        if decoded == segment:
            return False
        segment = decoded
    return True  # still decoding after several rounds: nobody legitimate nests escapes so deep


def classify(method: str, raw_path: str, max_upload_size: int = DEFAULT_MAX_UPLOAD_SIZE,
             small_body: int = SMALL_BODY) -> Route | None:
    """The route for a request, or None: answer 404 without contacting the homeserver.

    `raw_path` is the path exactly as the client sent it (no query string), still percent-encoded.
    """
    if method not in METHODS or not _RAW_PATH.match(raw_path):
        return None
    segments = raw_path.split("/")
    # ["", "_matrix", api, version-or-more, ...]: the fixed part must be literal, not encoded.
    if len(segments) < 4 or segments[0] != "" or segments[1] != "_matrix" \
            or segments[2] not in APIS or segments[3] == "":
        return None
    if any("\x00" in unquote(s) or _is_dot_segment(s) for s in segments[1:]):
        return None
    api, rest = segments[2], segments[3:]
    if api == "client" and method == "GET" and len(rest) == 2 and rest[1] in ("sync", "events"):
        return Route(SYNC, small_body)
    if api == "media" and method in ("POST", "PUT") and len(rest) >= 2 and rest[1] == "upload":
        return Route(UPLOAD, max(max_upload_size, small_body))
    return Route(OTHER, small_body)


def parse_size(value: str | int) -> int:
    """A size in Synapse's config syntax ("50M", "512K", 1048576) as bytes."""
    if isinstance(value, bool):
        raise TypeError(f"bad byte size {value!r}")
    if isinstance(value, int):
        return value
    if not isinstance(value, str) or not value.strip():
        raise TypeError(f"bad byte size {value!r}")
    value = value.strip()
    units = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}
    if value[-1] in units:
        return int(value[:-1]) * units[value[-1]]
    return int(value)
