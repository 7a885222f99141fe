"""Platform sessions live in the store (SQLite and PostgreSQL): sign-out and expiry end them
server-side; cookies are HttpOnly, SameSite=Strict and Secure over HTTPS; state changes from
another origin or as form posts are refused."""

from __future__ import annotations

import shutil
import ssl
import subprocess

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from pyapp.platform.api import COOKIE, add_platform_routes
from pyapp.platform.service import Platform
from pyapp.platform.sessions import Sessions

PASSWORD = "right-password"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request):
    return request.getfixturevalue("store" if request.param == "sqlite" else "pg_store")


async def platform_client(store, tls: ssl.SSLContext | None = None,
                          **kw) -> tuple[Platform, TestClient]:
    p = Platform(store)
    p.create_tenant("demo")
    for slug in ("alice", "bob"):
        p.create_user("demo", slug, password=PASSWORD)
    p.create_entity("demo", "group", "g", "G", "alice")
    app = web.Application()
    add_platform_routes(app, p, secret="test-secret", **kw)
    server = TestServer(app)
    await server.start_server(ssl=tls)
    c = TestClient(server)
    await c.start_server()
    return p, c


async def sign_in(c: TestClient, slug: str = "bob", **headers) -> str:
    r = await c.post("/api/session", json={"tenant": "demo", "slug": slug, "password": PASSWORD},
                     headers=headers)
    assert r.status == 200, await r.text()
    return r.cookies[COOKIE].value


def test_sessions_expire_and_are_revoked(any_store):
    now = [1000.0]
    s = Sessions(any_store, b"k", ttl=60, clock=lambda: now[0])
    a, b = s.create("demo", "alice"), s.create("demo", "alice")
    assert s.lookup(a) == ("demo", "alice") and a != b
    assert Sessions(any_store, b"other-secret").lookup(a) is None
    assert s.lookup(a[:-1] + ("A" if a[-1] != "A" else "B")) is None
    assert s.lookup(None) is None and s.lookup("") is None and s.lookup("x" * 1000) is None
    s.revoke(a)
    assert s.lookup(a) is None and s.lookup(b) == ("demo", "alice")
    now[0] += 60
    assert s.lookup(b) is None
    s.create("demo", "bob")  # sweeps the expired rows
    assert any_store.one("SELECT COUNT(*) AS n FROM sessions")["n"] == 1
    # The token itself is never stored.
    assert not any_store.one("SELECT 1 AS x FROM sessions WHERE id = ?", (b,))
    assert s.revoke_user("demo", "bob") == 1


async def test_sign_out_revokes_the_session_on_the_server(any_store):
    _, c = await platform_client(any_store)
    try:
        other_device = await sign_in(c, "bob")
        token = await sign_in(c)
        r = await c.delete("/api/session")
        assert r.status == 200 and r.cookies[COOKIE].value == ""
        # A copy of the old cookie (another tab, a thief) no longer works...
        c.session.cookie_jar.clear()
        r = await c.get("/api/me", headers={"Cookie": f"{COOKIE}={token}"})
        assert r.status == 401 and (await r.json())["error"] == "unauthenticated"
        # ...while bob's other session is untouched.
        r = await c.get("/api/me", headers={"Cookie": f"{COOKIE}={other_device}"})
        assert r.status == 200 and (await r.json())["slug"] == "bob"
        # Expired in the store: refused as well.
        any_store.execute("UPDATE sessions SET expires_at = 0")
        r = await c.get("/api/me", headers={"Cookie": f"{COOKIE}={other_device}"})
        assert r.status == 401
    finally:
        await c.close()


async def test_cookie_flags_and_secure_only_over_https(store):
    _, c = await platform_client(store, session_ttl=3600)
    try:
        r = await c.post("/api/session", json={"tenant": "demo", "slug": "bob",
                                               "password": PASSWORD},
                         headers={"X-Forwarded-Proto": "https"})
        morsel = r.cookies[COOKIE]
        assert morsel["httponly"] and morsel["samesite"] == "Strict"
        assert morsel["max-age"] == "3600" and morsel["path"] == "/"
        assert not morsel["secure"]  # served over http; the header comes from no trusted proxy
    finally:
        await c.close()
    store.execute("DELETE FROM memberships")
    store.execute("DELETE FROM outbox")
    store.execute("DELETE FROM entities")
    store.execute("DELETE FROM users")
    store.execute("DELETE FROM tenants")
    _, c = await platform_client(store, trust_proxy=True)
    try:
        r = await c.post("/api/session", json={"tenant": "demo", "slug": "bob",
                                               "password": PASSWORD},
                         headers={"X-Forwarded-Proto": "https", "Origin": f"https://{c.host}:{c.port}"})
        assert r.status == 200 and r.cookies[COOKIE]["secure"]
    finally:
        await c.close()


async def test_the_cookie_is_secure_when_served_over_https(store, tmp_path):
    if not shutil.which("openssl"):
        pytest.fail("openssl is required (./run.sh test installs it)")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem")], check=True, capture_output=True)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    _, c = await platform_client(store, tls=tls)
    try:
        assert c.make_url("/").scheme == "https"
        r = await c.post("/api/session", json={"tenant": "demo", "slug": "bob",
                                               "password": PASSWORD},
                         headers={"Origin": f"https://{c.host}:{c.port}"}, ssl=False)
        assert r.status == 200, await r.text()
        assert r.cookies[COOKIE]["secure"] and r.cookies[COOKIE]["httponly"]
    finally:
        await c.close()


async def test_changes_from_another_origin_or_as_forms_are_refused(store):
    p, c = await platform_client(store)
    try:
        own = f"http://{c.host}:{c.port}"
        await sign_in(c, Origin=own)
        attacks = [
            {"headers": {"Origin": f"http://{c.host}:1"}},  # same site, another port
            {"headers": {"Origin": "https://evil.example"}},
            {"headers": {"Sec-Fetch-Site": "same-site"}},
            {"headers": {"Origin": own, "Content-Type": "text/plain"}, "data": '{"a": "b"}'},
            {"headers": {"Content-Type": "application/x-www-form-urlencoded"}, "data": "a=b"},
        ]
        for attack in attacks:
            r = await c.post("/api/groups/g/join", **attack)
            assert r.status == 403, attack
            assert (await r.json())["error"] == "cross_origin"
            assert p.role_of("demo", "group", "g", "bob") is None
        # Logging someone in (or out) from elsewhere is refused too.
        r = await c.post("/api/session", json={"tenant": "demo", "slug": "alice",
                                               "password": PASSWORD},
                         headers={"Origin": "https://evil.example"})
        assert r.status == 403
        assert (await c.delete("/api/session", headers={"Origin": "https://evil.example"})
                ).status == 403
        assert (await c.get("/api/me")).status == 200
        # The platform's own page: accepted.
        r = await c.post("/api/groups/g/join", headers={"Origin": own,
                                                        "Sec-Fetch-Site": "same-origin"})
        assert r.status in (200, 202), await r.text()
        assert p.role_of("demo", "group", "g", "bob") == "member"
    finally:
        await c.close()
