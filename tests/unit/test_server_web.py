"""pyapp.server.web: files with the right types, cheap revalidation, long-lived caching only
for content-addressed URLs, gzip when precompressed, config.json, and routes others add win."""

from __future__ import annotations

import gzip

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from pyapp.server.web import make_app


@pytest.fixture
def roots(tmp_path):
    web_root, static = tmp_path / "web", tmp_path / "static"
    (web_root / "chat").mkdir(parents=True)
    (web_root / "index.html").write_text("<h1>home</h1>")
    (web_root / "chat" / "index.html").write_text("<h1>chat</h1>")
    (web_root / "chat" / "om-chat.js").write_text("console.log(1)")
    (static / "pyodide" / "wheels" / "0123456789abcdef").mkdir(parents=True)
    (static / "pyodide" / "pyodide.asm.wasm").write_bytes(b"\0asm" + b"\0" * 5000)
    (static / "pyodide" / "pyodide.asm.wasm.gz").write_bytes(gzip.compress(b"\0asm" + b"\0" * 5000))
    (static / "pyodide" / "pyodide.asm.wasm.br").write_bytes(b"brotli stand-in")
    (static / "pyodide" / "pyodide.mjs").write_text("export {}")
    (static / "pyodide" / "pyodide-lock.json").write_text("{}")
    (static / "pyodide" / "wheels" / "0123456789abcdef" / "x-1.0-py3-none-any.whl").write_bytes(b"PK")
    (tmp_path / "secret.txt").write_text("no")
    return web_root, static


@pytest.fixture
async def client(roots):
    app = make_app(*roots, {"homeserver": "http://hs.example"})

    async def api(request):
        return web.json_response({"api": True})

    app.router.add_get("/chat/api", api)  # added after make_app, inside a served folder
    async with TestClient(TestServer(app)) as c:
        yield c


async def test_content_types_match_what_browsers_require(client):
    for path, expected in (("/static/pyodide/pyodide.mjs", "application/javascript"),
                           ("/chat/om-chat.js", "application/javascript"),
                           ("/static/pyodide/pyodide.asm.wasm", "application/wasm"),
                           ("/static/pyodide/pyodide-lock.json", "application/json"),
                           ("/static/pyodide/wheels/0123456789abcdef/x-1.0-py3-none-any.whl", "application/zip"),
                           ("/", "text/html")):
        r = await client.get(path)
        assert r.status == 200, path
        assert r.content_type == expected, path


async def test_only_content_addressed_files_are_immutable(client):
    r = await client.get("/static/pyodide/wheels/0123456789abcdef/x-1.0-py3-none-any.whl")
    assert "immutable" in r.headers["Cache-Control"]
    for path in ("/static/pyodide/pyodide.mjs", "/static/pyodide/pyodide-lock.json", "/chat/"):
        r = await client.get(path)
        assert r.headers["Cache-Control"] == "no-cache", path


async def test_revalidation_answers_304(client):
    r = await client.get("/static/pyodide/pyodide.mjs")
    etag = r.headers["ETag"]
    assert r.headers["Last-Modified"]
    again = await client.get("/static/pyodide/pyodide.mjs", headers={"If-None-Match": etag})
    assert again.status == 304


async def test_precompressed_gzip_is_served_to_clients_that_accept_it(client):
    r = await client.get("/static/pyodide/pyodide.asm.wasm",
                         headers={"Accept-Encoding": "gzip, deflate"}, auto_decompress=False)
    assert r.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(await r.read())[:4] == b"\0asm"
    plain = await client.get("/static/pyodide/pyodide.asm.wasm", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers


async def test_precompressed_brotli_is_preferred_when_the_client_accepts_it(client):
    # what Chromium sends, on http://127.0.0.1 too
    r = await client.get("/static/pyodide/pyodide.asm.wasm",
                         headers={"Accept-Encoding": "gzip, deflate, br, zstd"},
                         auto_decompress=False)
    assert r.headers["Content-Encoding"] == "br"
    assert r.headers["Vary"] == "Accept-Encoding"
    assert r.headers["Content-Type"] == "application/wasm"
    assert await r.read() == b"brotli stand-in"


async def test_text_files_without_a_precompressed_sibling_are_gzipped_as_sent(client):
    # web/'s loader, pages and stylesheets are part of every first visit
    r = await client.get("/chat/om-chat.js", headers={"Accept-Encoding": "gzip, deflate, br, zstd"},
                         auto_decompress=False)
    assert r.headers["Content-Encoding"] == "gzip"
    assert r.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(await r.read()) == b"console.log(1)"
    plain = await client.get("/chat/om-chat.js", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert await plain.read() == b"console.log(1)"
    # a precompressed sibling is sent as it is, not compressed twice
    wasm = await client.get("/static/pyodide/pyodide.asm.wasm",
                            headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert gzip.decompress(await wasm.read())[:4] == b"\0asm"


async def test_folders_serve_index_html_and_redirect_without_slash(client):
    assert "chat" in await (await client.get("/chat/")).text()
    r = await client.get("/chat", allow_redirects=False)
    assert r.status == 301 and r.headers["Location"] == "/chat/"


async def test_paths_outside_the_roots_are_not_served(client):
    for path in ("/static/../secret.txt", "/static/%2e%2e/secret.txt", "/../secret.txt", "/missing.js"):
        r = await client.get(path)
        assert r.status == 404, path


async def test_config_json_is_served_uncached(client):
    r = await client.get("/config.json")
    assert await r.json() == {"homeserver": "http://hs.example"}
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Access-Control-Allow-Origin"] == "*"


async def test_runtime_files_can_be_loaded_by_host_pages_of_other_origins(client):
    r = await client.get("/static/pyodide/pyodide.mjs", headers={"Origin": "https://host.example"})
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Cross-Origin-Resource-Policy"] == "cross-origin"


async def test_routes_added_later_are_not_shadowed_by_files(client):
    r = await client.get("/chat/api")
    assert await r.json() == {"api": True}
    post = await client.post("/chat/om-chat.js")
    assert post.status in (404, 405)
