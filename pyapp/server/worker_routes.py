"""Which Synapse process answers a client-API request when the homeserver runs with workers.

Synapse's worker documentation lists the endpoints a generic worker can serve; a reverse proxy
routes those to the workers and everything else to the main process. We route the sync group
and the client reads from that list (timelines, room state, members, keys lookups, profile and
directory reads), and leave every write to the main process, which persists events itself:
fewer moving parts, and a read that needs fresh data waits for replication on the worker.

With several workers the choice is sticky, as the docs ask: a user's /sync always goes to the
same worker (its caches stay warm) and a room's /messages pagination to one worker per room.
"""

from __future__ import annotations

import re
import zlib

_V = r"(?:api/v1|r0|v3|unstable)"
_CLIENT = "/_matrix/client/"

# Any method (Synapse's "Sync requests" group, and filters which sync clients create up front).
_ANY_METHOD = [re.compile("^" + _CLIENT + p + "$") for p in (
    r"(?:r0|v3)/sync",
    _V + r"/events",
    _V + r"/initialSync",
    _V + r"/rooms/[^/]+/initialSync",
    r"(?:r0|v3|unstable)/user/[^/]+/filter(?:/[^/]*)?",
)]

# GET and HEAD only: reads from the "Client API requests" and "Encryption requests" groups.
_READS = [re.compile("^" + _CLIENT + p + "$") for p in (
    r"versions",
    r"(?:r0|v3|unstable)/capabilities",
    _V + r"/joined_rooms",
    _V + r"/publicRooms",
    _V + r"/rooms/[^/]+/messages",
    _V + r"/rooms/[^/]+/state",
    _V + r"/rooms/[^/]+/state/.+",
    _V + r"/rooms/[^/]+/members",
    _V + r"/rooms/[^/]+/joined_members",
    _V + r"/rooms/[^/]+/context/.+",
    _V + r"/rooms/[^/]+/event/.+",
    _V + r"/rooms/[^/]+/aliases",
    r"(?:v1|unstable)/rooms/[^/]+/relations/.+",
    r"v1/rooms/[^/]+/threads",
    r"v1/rooms/[^/]+/hierarchy",
    r"v1/rooms/[^/]+/timestamp_to_event",
    _V + r"/directory/room/.+",
    _V + r"/profile/.+",
    r"(?:r0|v3|unstable)/account/whoami",
    r"(?:r0|v3|unstable)/devices",
    r"(?:r0|v3|unstable)/keys/changes",
    _V + r"/pushrules/.*",
    r"(?:r0|v3|unstable)/notifications",
)]
# POST-shaped reads (a query in the body, nothing written).
_POST_READS = [re.compile("^" + _CLIENT + p + "$") for p in (
    r"(?:r0|v3|unstable)/keys/query",
    _V + r"/search",
    r"(?:r0|v3|unstable)/user_directory/search",
)]
_ROOM = re.compile("^" + _CLIENT + r"[^/]+(?:/[^/]+)?/rooms/([^/]+)/")


def for_worker(method: str, path: str) -> bool:
    """Whether a generic worker can answer this request (path without the query string)."""
    if any(p.match(path) for p in _ANY_METHOD):
        return True
    method = method.upper()
    if method in ("GET", "HEAD"):
        return any(p.match(path) for p in _READS)
    if method == "POST":
        return any(p.match(path) for p in _POST_READS)
    return False


def choose(method: str, path: str, authorization: str | None, workers: int) -> int | None:
    """Index of the worker that answers, or None for the main process.

    Room requests stick to a worker chosen by room, the rest by the caller's credentials."""
    if workers <= 0 or not for_worker(method, path):
        return None
    if workers == 1:
        return 0
    room = _ROOM.match(path)
    key = room.group(1) if room else (authorization or "")
    return zlib.crc32(key.encode()) % workers
