"""The homeserver's client API under the page's own origin.

A browser talking to a homeserver on another origin sends a CORS preflight (OPTIONS) before
every authenticated request whose URL it has not seen: every message send (each has a new
transaction id) and every sync (each has a new `since`). On loopback that preflight costs
about as much as the request itself. Served from the page's origin, the same requests need
no preflight. Deployments get the same by routing /_matrix on the site's domain to the
homeserver; this does it for the demo.

Only what pyapp.server.proxy_routes allows is forwarded, to the raw (still-encoded) path the
browser sent, with that route's body limit.

With Synapse workers the proxy also plays the deployment's reverse proxy: it sends what a
generic worker serves to the workers (pyapp.server.worker_routes) and the rest to the main
process.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp
from aiohttp import web
from yarl import URL

from pyapp.server import worker_routes
from pyapp.server.proxy_routes import DEFAULT_MAX_UPLOAD_SIZE, Route, classify

# Connection-level headers are the proxy's own business on each side.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
              "te", "trailer", "host", "content-length"}
PREFIXES = ("/_matrix/",)
SESSION = web.AppKey("matrix_proxy_session", aiohttp.ClientSession)


def forward_headers(headers) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}


def _error(status: int, errcode: str, message: str) -> web.Response:
    return web.json_response({"errcode": errcode, "error": message}, status=status)


def upstream_url(target: str, request: web.Request) -> URL:
    """`target` + the path and query exactly as the browser sent them (never re-encoded or
    normalised: what proxy_routes checked is what the homeserver sees)."""
    raw = request.rel_url.raw_path
    query = request.rel_url.raw_query_string
    return URL(target.rstrip("/") + raw + (f"?{query}" if query else ""), encoded=True)


async def read_body(request: web.Request, limit: int) -> bytes | None:
    """The request body, or None when it is larger than `limit` (checked before anything goes
    upstream, so a refused body never reaches the homeserver)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def forward(request: web.Request, target: str, session: aiohttp.ClientSession,
                  route: Route) -> web.StreamResponse:
    body = await read_body(request, route.max_body)
    if body is None:
        return _error(413, "M_TOO_LARGE", f"request body over {route.max_body} bytes")
    try:
        return await _relay(request, upstream_url(target, request), session, body)
    except (aiohttp.ClientError, TimeoutError) as e:
        # The homeserver is down or restarting: say so the way a gateway does, so the
        # client's sync loop backs off and retries.
        return _error(502, "M_UNKNOWN", f"homeserver unreachable: {type(e).__name__}")


async def _relay(request: web.Request, url: URL, session: aiohttp.ClientSession,
                 body: bytes) -> web.StreamResponse:
    async with session.request(request.method, url,
                               headers=forward_headers(request.headers), data=body or None,
                               allow_redirects=False, auto_decompress=False) as upstream:
        response = web.StreamResponse(status=upstream.status,
                                      headers=forward_headers(upstream.headers))
        try:
            await response.prepare(request)
            async for chunk in upstream.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
        except ConnectionResetError:
            pass  # the browser went away (reload, aborted long-poll): nobody to answer
        return response


def upstream_for(request: web.Request, target: str, workers: Sequence[str]) -> str:
    """The main process at `target`, or the worker that serves this request."""
    index = worker_routes.choose(request.method, request.rel_url.raw_path,
                                 request.headers.get("Authorization"), len(workers))
    return target if index is None else workers[index]


def add_matrix_proxy(app: web.Application, target: str,
                     max_upload_size: int = DEFAULT_MAX_UPLOAD_SIZE,
                     workers: Sequence[str] = ()) -> None:
    """Route the client and media APIs (/_matrix/client, /_matrix/media) of `app` to the
    homeserver at `target`, or to its generic workers at `workers` for what they serve;
    media uploads may be up to `max_upload_size` bytes (the homeserver's own limit, see
    Synapse.max_upload_size)."""
    workers = tuple(workers)

    async def start(app: web.Application):
        # Long-polls last 30 s; the client's own timeouts govern, not ours.
        app[SESSION] = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        yield
        await app[SESSION].close()

    async def handle(request: web.Request) -> web.StreamResponse:
        route = classify(request.method, request.rel_url.raw_path, max_upload_size)
        if route is None:
            return _error(404, "M_UNRECOGNIZED", "Unrecognized request")
        return await forward(request, upstream_for(request, target, workers),
                             request.app[SESSION], route)

    app.cleanup_ctx.append(start)
    for prefix in PREFIXES:
        app.router.add_route("*", prefix + "{tail:.*}", handle)
