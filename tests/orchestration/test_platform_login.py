"""Platform sign-in under attack, over HTTP against the platform's aiohttp app: throttled with
429 + Retry-After, password hashing off the event loop, unknown users as slow as known ones."""

from __future__ import annotations

import asyncio
import statistics
import time

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from pyapp.platform.api import add_platform_routes
from pyapp.platform.service import Platform, check_password
from pyapp.platform.throttle import Limit, LoginThrottle

PASSWORD = "right-password"
LOOSE = LoginThrottle(per_account=Limit(1000, 60), per_address=Limit(1000, 60))


async def platform_client(store, **kw) -> TestClient:
    p = Platform(store)
    p.create_tenant("demo")
    for slug in ("alice", "bob"):
        p.create_user("demo", slug, password=PASSWORD)
    app = web.Application()
    add_platform_routes(app, p, secret="test-secret", **kw)
    c = TestClient(TestServer(app))
    await c.start_server()
    return c


async def login(c: TestClient, slug: str, password: str, **headers):
    r = await c.post("/api/session", json={"tenant": "demo", "slug": slug, "password": password},
                     headers=headers)
    await r.read()
    return r


async def test_repeated_bad_logins_get_429_with_retry_after_until_the_window_passes(store):
    now = [1000.0]
    c = await platform_client(store, clock=lambda: now[0], login_throttle=LoginThrottle(
        per_account=Limit(3, 60), per_address=Limit(5, 60)))
    try:
        for _ in range(3):
            assert (await login(c, "alice", "guess")).status == 401
            now[0] += 1
        r = await login(c, "alice", PASSWORD)  # even the right password: no oracle
        assert r.status == 429 and r.headers["Retry-After"] == "57"
        assert (await r.json())["error"] == "too_many_attempts"
        assert (await c.get("/api/me")).status == 401  # and no session
        # Another account from the same address: 2 attempts left there, then refused too.
        assert (await login(c, "bob", PASSWORD)).status == 200  # a success is not counted
        assert (await login(c, "bob", "guess")).status == 401
        assert (await login(c, "nobody", "guess")).status == 401
        r = await login(c, "bob", "guess")
        assert r.status == 429 and int(r.headers["Retry-After"]) > 0
        now[0] += 60
        assert (await login(c, "alice", PASSWORD)).status == 200
    finally:
        await c.close()


async def test_the_client_address_comes_from_the_proxy_only_when_trusted(store):
    for trusted in (False, True):
        c = await platform_client(store, trust_proxy=trusted, login_throttle=LoginThrottle(
            per_account=Limit(100, 60), per_address=Limit(2, 60)))
        try:
            for i in range(3):
                r = await login(c, "alice", "guess", **{"X-Forwarded-For": f"10.0.0.{i}"})
            # Trusted: three addresses, none over its limit. Untrusted: one address (the
            # socket's), so a client cannot dodge the limit by making the header up.
            assert r.status == (401 if trusted else 429)
        finally:
            await c.close()
        store.execute("DELETE FROM users")
        store.execute("DELETE FROM tenants")


async def test_a_burst_of_logins_does_not_stall_other_requests(store):
    """Hashing on the loop blocks every other request for a hash's time per try; off the loop,
    requests during a burst answer much faster than one hash takes. (The test server shares
    the test's loop, so a blocked loop delays the probes as it would a real server's.)"""
    c = await platform_client(store, login_throttle=LOOSE)
    try:
        encoded = store.one("SELECT password_hash FROM users")["password_hash"]
        t0 = time.perf_counter()
        check_password("guess", encoded)
        hash_time = time.perf_counter() - t0

        burst = [asyncio.create_task(login(c, "alice", f"guess-{i}")) for i in range(16)]
        probes = []
        while not all(t.done() for t in burst):
            t0 = time.perf_counter()
            r = await c.get("/api/me")
            await r.read()
            probes.append(time.perf_counter() - t0)
            assert r.status == 401
        assert [t.result().status for t in burst] == [401] * 16
        # The mean, not the median: on the loop, the first probe waits for the whole burst and
        # the few after it (started as the last answers were on their way) are quick.
        assert statistics.mean(probes) < hash_time / 2, (hash_time, probes)
    finally:
        await c.close()


async def test_an_unknown_user_takes_as_long_as_a_wrong_password(store):
    c = await platform_client(store, login_throttle=LOOSE)
    try:
        known, unknown = [], []
        for i in range(8):  # interleaved, so load on the machine hits both alike
            for slug, times in (("alice", known), (f"nobody{i}", unknown)):
                t0 = time.perf_counter()
                assert (await login(c, slug, "guess")).status == 401
                times.append(time.perf_counter() - t0)
        ratio = statistics.median(unknown) / statistics.median(known)
        assert 0.6 < ratio < 1.6, (known, unknown)
    finally:
        await c.close()
