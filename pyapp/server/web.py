"""HTTP server for the web pages (web/) and the built browser runtime (static/), on aiohttp.

make_app() returns a plain aiohttp Application: other route groups (platform API, auth) are added
with app.add_routes(...) or app.add_subapp(...) before it starts, in any order. web/ is served by
a middleware only for GET/HEAD requests no route matched, so it never shadows those routes.

Caching, so reloads are cheap and never stale:
- a URL with a 16-hex-digit path segment (content-addressed, see pyapp.build) is immutable;
- everything else must be revalidated (`no-cache`): ETag + Last-Modified make that a 304.
Compression: a precompressed `<file>.br` or `<file>.gz` (written by pyapp.build) is sent with
Content-Encoding: br (preferred) or gzip when the client accepts it, with Vary: Accept-Encoding;
aiohttp's FileResponse does the negotiation. Text files without such a sibling (the pages, the
embed loader and stylesheets in web/, which the build does not touch) are gzipped as they are
sent: they are part of every first visit (about 50 KB less). A content-addressed URL stays immutable whichever
encoding it was sent in (the decoded bytes are the same).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aiohttp import web

from pyapp.server.page_security import PageSecurity, security_headers

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".mjs": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".map": "application/json",
    ".py": "text/x-python; charset=utf-8",
}

# Compressed on the fly when no precompressed sibling exists (small files: a millisecond).
TEXT_SUFFIXES = frozenset({".html", ".js", ".mjs", ".css", ".json", ".svg", ".txt", ".map", ".py"})

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_HASHED_SEGMENT = re.compile(r"^[0-9a-f]{16}$")

CONFIG_KEY = web.AppKey("om_chat_config", dict)


def is_content_addressed(path: str) -> bool:
    return any(_HASHED_SEGMENT.match(part) for part in path.split("/"))


def _resolve(root: Path, rel: str) -> Path | None:
    """root/rel if it is a file inside root (index.html for folders), else None."""
    try:
        candidate = (root / rel.lstrip("/")).resolve()
    except (OSError, ValueError):
        return None
    if candidate != root and root not in candidate.parents:
        return None  # ../ escapes
    if candidate.is_dir():
        candidate = candidate / "index.html"
    if not candidate.is_file():
        return None
    return candidate


class _FileResponse(web.FileResponse):
    """FileResponse whose on-the-fly compression is gzip, and only of a body: aiohttp (3.14)
    would pick deflate first, and write a compressed empty body after a 304 header, which the
    client then reads as the start of the next response."""

    async def _start_compression(self, request: web.BaseRequest) -> None:
        accepted = request.headers.get("Accept-Encoding", "").lower()
        if self.status == 200 and request.method != "HEAD" and "gzip" in accepted:
            await self._do_start_compression(web.ContentCoding.gzip)


def _file_response(path: Path, url_path: str) -> web.FileResponse:
    headers = {
        "Cache-Control": IMMUTABLE if is_content_addressed(url_path) else REVALIDATE,
        # The loader is embedded by host pages on other origins: its module imports and
        # Pyodide's fetches of wasm/wheels are CORS requests. Nothing here is private.
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
    }
    content_type = CONTENT_TYPES.get(path.suffix)
    if content_type:
        headers["Content-Type"] = content_type
    response = _FileResponse(path, headers=headers)
    if path.suffix in TEXT_SUFFIXES:
        # FileResponse turns this off when it sends a precompressed sibling instead.
        response.headers["Vary"] = "Accept-Encoding"
        response.enable_compression()
    return response


def make_app(web_root: Path, static_root: Path, config: dict[str, Any],
             security: PageSecurity = PageSecurity()) -> web.Application:
    """web_root served at /, static_root at /static/, `config` as JSON at /config.json (what
    the browser code reads: homeserver URL etc.; it must hold nothing secret). Every response,
    those of routes added later included, gets the security headers of
    pyapp.server.page_security (a route that sets one itself keeps its own)."""
    web_root = Path(web_root).resolve()
    static_root = Path(static_root).resolve()
    app = web.Application()
    app[CONFIG_KEY] = dict(config)

    async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
        for name, value in security_headers(request.path, request.app[CONFIG_KEY].get("homeserver"),
                                            security).items():
            response.headers.setdefault(name, value)

    app.on_response_prepare.append(add_security_headers)

    async def config_json(request: web.Request) -> web.Response:
        body = json.dumps(request.app[CONFIG_KEY], separators=(",", ":"))
        # Read by the chat embedded in host pages of other origins.
        return web.Response(text=body, content_type="application/json",
                            headers={"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"})

    async def static_file(request: web.Request) -> web.StreamResponse:
        rel = request.match_info["path"]
        path = _resolve(static_root, rel)
        if path is None:
            raise web.HTTPNotFound()
        return _file_response(path, rel)

    @web.middleware
    async def web_root_fallback(request: web.Request, handler) -> web.StreamResponse:
        unmatched = getattr(request.match_info, "http_exception", None)
        if request.method not in ("GET", "HEAD") or unmatched is None or unmatched.status != 404:
            return await handler(request)
        rel = request.path.lstrip("/")
        if rel and (web_root / rel).is_dir() and not rel.endswith("/"):
            # Relative links in the folder's index.html need the trailing slash.
            raise web.HTTPMovedPermanently(request.path + "/")
        path = _resolve(web_root, rel)
        if path is None:
            raise web.HTTPNotFound()
        return _file_response(path, rel)

    app.middlewares.append(web_root_fallback)
    app.router.add_get("/config.json", config_json)
    app.router.add_get("/static/{path:.*}", static_file)
    return app
