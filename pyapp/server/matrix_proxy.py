"""The homeserver's client API under the page's own origin.

A browser talking to a homeserver on another origin sends a CORS preflight (OPTIONS) before
every authenticated request whose URL it has not seen: every message send (each has a new
transaction id) and every sync (each has a new `since`). On loopback that preflight costs
about as much as the request itself. Served from the page's origin, the same requests need
no preflight. Deployments get the same by routing /_matrix on the site's domain to the
homeserver; this does it for the demo.
"""

from __future__ import annotations

import aiohttp
from aiohttp import web

# Connection-level headers are the proxy's own business on each side.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
              "te", "trailer", "host", "content-length"}
PREFIXES = ("/_matrix/",)
SESSION = web.AppKey("matrix_proxy_session", aiohttp.ClientSession)


def forward_headers(headers) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}


async def forward(request: web.Request, target: str, session: aiohttp.ClientSession
                  ) -> web.StreamResponse:
    body = await request.read()
    try:
        return await _relay(request, target, session, body)
    except (aiohttp.ClientError, TimeoutError) as e:
        # The homeserver is down or restarting: say so the way a gateway does, so the
        # client's sync loop backs off and retries.
        return web.json_response({"errcode": "M_UNKNOWN",
                                  "error": f"homeserver unreachable: {type(e).__name__}"},
                                 status=502)


async def _relay(request: web.Request, target: str, session: aiohttp.ClientSession,
                 body: bytes) -> web.StreamResponse:
    async with session.request(request.method, target.rstrip("/") + request.path_qs,
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


def add_matrix_proxy(app: web.Application, target: str) -> None:
    """Route the client API (/_matrix/...) of `app` to the homeserver at `target`."""

    async def start(app: web.Application):
        # Long-polls last 30 s; the client's own timeouts govern, not ours.
        app[SESSION] = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        yield
        await app[SESSION].close()

    async def handle(request: web.Request) -> web.StreamResponse:
        return await forward(request, target, request.app[SESSION])

    app.cleanup_ctx.append(start)
    for prefix in PREFIXES:
        app.router.add_route("*", prefix + "{tail:.*}", handle)
