"""pyapp.server.page_security and its use in pyapp.server.web: every response carries a strict
CSP (own scripts + WebAssembly only; fetches to the page, the homeserver and named origins),
frame-ancestors as configured, nosniff, and no referrer from the OAuth pages."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from pyapp.server.page_security import (PageSecurity, content_security_policy, frame_options,
                                        origin_of, security_headers)
from pyapp.server.web import make_app


def directives(csp: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in csp.split("; ")}


def test_policy_allows_own_scripts_wasm_and_the_homeserver_only():
    csp = directives(content_security_policy(
        "http://127.0.0.1:8008/", PageSecurity(connect_origins=("http://127.0.0.1:8009",))))
    assert csp["script-src"] == ["'self'", "'wasm-unsafe-eval'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'", "http://127.0.0.1:8008", "http://127.0.0.1:8009"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["media-src"] == ["'self'", "blob:"]  # players fed by authenticated downloads


def test_same_origin_homeserver_adds_nothing_and_framing_follows_the_config():
    csp = directives(content_security_policy(None, PageSecurity(frame_ancestors="'self'")))
    assert csp["connect-src"] == ["'self'"] and csp["frame-ancestors"] == ["'self'"]
    assert frame_options("'none'") == "DENY" and frame_options("'self'") == "SAMEORIGIN"
    assert frame_options("'self' https://portal.example") is None


@pytest.mark.parametrize("url, origin", [
    ("https://hs.example/path?q", "https://hs.example"),
    ("http://user:pw@127.0.0.1:8008", "http://127.0.0.1:8008"),
    ("javascript:alert(1)", None), ("", None), ("/relative", None),
])
def test_origin_of(url, origin):
    assert origin_of(url) == origin


def test_oauth_pages_send_no_referrer():
    assert security_headers("/oauth/callback.html", None, PageSecurity())["Referrer-Policy"] \
        == "no-referrer"
    assert security_headers("/event.html", None, PageSecurity())["Referrer-Policy"] == "same-origin"


@pytest.fixture
async def client(tmp_path):
    (tmp_path / "web").mkdir()
    (tmp_path / "static").mkdir()
    (tmp_path / "web" / "index.html").write_text("<h1>home</h1>")
    app = make_app(tmp_path / "web", tmp_path / "static", {"homeserver": "http://hs.example:8008"},
                   PageSecurity(frame_ancestors="'self'"))

    async def api(request):
        return web.json_response({"api": True})

    async def own_policy(request):
        return web.Response(text="x", headers={"Referrer-Policy": "origin"})

    app.router.add_get("/api", api)  # added after make_app
    app.router.add_get("/own", own_policy)
    async with TestClient(TestServer(app)) as c:
        yield c


async def test_every_response_gets_the_headers(client):
    for path in ("/", "/config.json", "/api", "/missing.html"):
        r = await client.get(path)
        csp = directives(r.headers["Content-Security-Policy"])
        assert csp["connect-src"] == ["'self'", "http://hs.example:8008"], path
        assert csp["frame-ancestors"] == ["'self'"] and r.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert r.headers["X-Content-Type-Options"] == "nosniff", path
    r = await client.get("/own")
    assert r.headers["Referrer-Policy"] == "origin"  # a route's own choice stands
