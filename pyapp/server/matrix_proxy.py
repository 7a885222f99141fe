"""The homeserver's client API under the page's own origin.

A browser talking to a homeserver on another origin sends a CORS preflight (OPTIONS) before
every authenticated request whose URL it has not seen: every message send (each has a new
transaction id) and every sync (each has a new `since`). On loopback that preflight costs
about as much as the request itself. Served from the page's origin, the same requests need
no preflight. Deployments get the same by routing /_matrix on the site's domain to the
homeserver; this does it for the demo.

Only what pyapp.server.proxy_routes allows is forwarded, to the raw (still-encoded) path the
browser sent, with that route's body limit. Long-polls, uploads and the other requests each
have their own bounded connection pool and in-flight budget (pyapp.server.proxy_budget), so
that many syncs cannot starve sends, and an exhausted budget is answered at once.

With Synapse workers the proxy also plays the deployment's reverse proxy: it sends what a
generic worker serves to the workers (pyapp.server.worker_routes) and the rest to the main
process.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Sequence

import aiohttp
from aiohttp import web
from yarl import URL

from pyapp.server import worker_routes
from pyapp.server.proxy_budget import Budget, ProxyLimits, Refusal, user_key
from pyapp.server.proxy_routes import DEFAULT_MAX_UPLOAD_SIZE, OTHER, SYNC, UPLOAD, Route, classify

# Connection-level headers are the proxy's own business on each side.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
              "te", "trailer", "host", "content-length"}
PREFIXES = ("/_matrix/",)
PROXY = web.AppKey("matrix_proxy", object)


# The web origin's cookies (the platform session) are no business of the homeserver's, and a
# cookie the homeserver sets must not land on the platform's origin.
REQUEST_ONLY_OURS = HOP_BY_HOP | {"cookie"}
RESPONSE_ONLY_OURS = HOP_BY_HOP | {"set-cookie"}


def request_headers(headers) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in REQUEST_ONLY_OURS}


def response_headers(headers) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers.items() if k.lower() not in RESPONSE_ONLY_OURS]


def _error(status: int, errcode: str, message: str, retry_after: int | None = None
           ) -> web.Response:
    body = {"errcode": errcode, "error": message}
    headers = {}
    if retry_after is not None:
        body["retry_after_ms"] = retry_after * 1000
        headers["Retry-After"] = str(retry_after)
    return web.json_response(body, status=status, headers=headers)


class _Upstream:
    """One connection pool per kind of route, and the budget that admits requests to them."""

    def __init__(self, limits: ProxyLimits):
        self.limits = limits
        self.budget = Budget(limits)
        self._waiters: dict[str, collections.deque[asyncio.Future]] = {
            kind: collections.deque() for kind in (SYNC, OTHER, UPLOAD)}
        # Long-polls last 30 s; the client's own timeouts govern, not ours. The pools are as
        # large as the budgets, so an admitted request never waits for a connection.
        self.sessions = {
            kind: aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=limits.total(kind),
                                               limit_per_host=limits.total(kind)),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
            for kind in (SYNC, OTHER, UPLOAD)}

    async def close(self) -> None:
        for session in self.sessions.values():
            await session.close()

    async def admit(self, kind: str, user: str | None) -> Refusal | None:
        """None once admitted (then call release()). Syncs and a user's own cap are refused at
        once; short requests may wait up to queue_seconds for a slot."""
        refusal = self.budget.enter(kind, user)
        if refusal is None or kind == SYNC or refusal.status == 429:
            return refusal
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.limits.queue_seconds
        while (refusal := self.budget.enter(kind, user)) is not None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return refusal
            waiter = loop.create_future()
            self._waiters[kind].append(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except TimeoutError:
                pass  # enter() is tried once more, then the deadline ends the wait
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake(kind)  # woken but leaving: the slot is someone else's
                raise
            finally:
                with contextlib.suppress(ValueError):
                    self._waiters[kind].remove(waiter)
        return None

    def release(self, kind: str, user: str | None) -> None:
        self.budget.leave(kind, user)
        self._wake(kind)

    def _wake(self, kind: str) -> None:
        waiters = self._waiters[kind]
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return


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


async def forward(request: web.Request, target: str, upstream: _Upstream,
                  route: Route) -> web.StreamResponse:
    user = user_key(request.headers.get("Authorization"), request.query.get("access_token"))
    refusal = await upstream.admit(route.kind, user)
    if refusal is not None:
        return _error(refusal.status, refusal.errcode, refusal.message, refusal.retry_after)
    try:
        return await _forward(request, target, upstream.sessions[route.kind], route)
    finally:
        upstream.release(route.kind, user)


async def _forward(request: web.Request, target: str, session: aiohttp.ClientSession,
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
                               headers=request_headers(request.headers), data=body or None,
                               allow_redirects=False, auto_decompress=False) as upstream:
        response = web.StreamResponse(status=upstream.status,
                                      headers=response_headers(upstream.headers))
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
                     workers: Sequence[str] = (),
                     limits: ProxyLimits = ProxyLimits()) -> None:
    """Route the client and media APIs (/_matrix/client, /_matrix/media) of `app` to the
    homeserver at `target`, or to its generic workers at `workers` for what they serve;
    media uploads may be up to `max_upload_size` bytes (the homeserver's own limit, see
    Synapse.max_upload_size). `limits` bound what is in flight (pyapp.server.proxy_budget)."""
    workers = tuple(workers)

    async def start(app: web.Application):
        app[PROXY] = _Upstream(limits)
        yield
        await app[PROXY].close()

    async def handle(request: web.Request) -> web.StreamResponse:
        route = classify(request.method, request.rel_url.raw_path, max_upload_size)
        if route is None:
            return _error(404, "M_UNRECOGNIZED", "Unrecognized request")
        return await forward(request, upstream_for(request, target, workers),
                             request.app[PROXY], route)

    app.cleanup_ctx.append(start)
    for prefix in PREFIXES:
        app.router.add_route("*", prefix + "{tail:.*}", handle)
