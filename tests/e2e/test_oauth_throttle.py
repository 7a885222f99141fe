"""The auth server's sign-in form under password guessing (issue 7, item 4), against the real
auth server and the real accounts endpoint over HTTP: failed sign-ins are limited per account
and per client address (429 with Retry-After and a message on the page, the password not even
checked while blocked), and a refused sign-in takes as long for an unknown user as for a known
one with a wrong password (no account enumeration by timing).

The platform's own login has its own limits (pyapp/platform); no homeserver is needed here.
"""

from __future__ import annotations

import re
import statistics
import time
from urllib.parse import urlencode, urljoin

import aiohttp
import pytest

from pyapp.auth.pkce import challenge_s256, new_verifier
from pyapp.server.accounts import MemoryDirectory
from pyapp.server.auth_server import AuthServer, AuthServerOptions, chat_client, new_shared_secret
from pyapp.server.synapse import free_port
from tests.support.oauth_stack import AccountsThread

pytestmark = pytest.mark.e2e

CALLBACK = "http://127.0.0.1:9/oauth/callback.html"  # never reached: redirects are not followed
FLOOR_MS = 300


@pytest.fixture
def auth(request, tmp_path):
    """A fresh auth server per test (the counters are per process) with small limits
    (overridden by an indirect parameter)."""
    directory = MemoryDirectory()
    accounts = AccountsThread(directory, new_shared_secret()).start()
    server = AuthServer(AuthServerOptions(
        data_dir=tmp_path / "auth", port=free_port(),
        synapse_url=f"http://127.0.0.1:{free_port()}", synapse_secret=new_shared_secret(),
        accounts_url=accounts.url, accounts_secret=accounts.secret,
        trusted_clients=[chat_client([CALLBACK])],
        login_throttle={"account_failures": 3, "account_window": 60,
                        "address_failures": 6, "address_window": 60,
                        "failure_floor_ms": FLOOR_MS, **getattr(request, "param", {})},
    )).start()
    server.directory = directory
    yield server
    server.stop()
    accounts.stop()


class Attempt:
    def __init__(self, status, headers, text, seconds):
        self.status, self.headers, self.text, self.seconds = status, headers, text, seconds

    @property
    def signed_in(self) -> bool:
        return self.status in (302, 303)

    @property
    def error(self) -> str:
        m = re.search(r'id="form-error">([^<]*)<', self.text)
        return m.group(1) if m else ""


async def attempt(auth, username, password) -> Attempt:
    """One sign-in from a fresh browser: open /authorize, submit the form once."""
    url = auth.issuer + "/authorize?" + urlencode({
        "response_type": "code", "client_id": "om-chat", "redirect_uri": CALLBACK,
        "scope": "openid urn:matrix:client:api:*", "state": "st",
        "code_challenge": challenge_s256(new_verifier()), "code_challenge_method": "S256"})
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(url) as r:
            page = await r.text()
            action = urljoin(str(r.url), re.search(r'action="([^"]+/login)"', page).group(1))
        t0 = time.monotonic()
        async with http.post(action, data={"username": username, "password": password},
                             allow_redirects=False) as r:
            return Attempt(r.status, r.headers, await r.text(), time.monotonic() - t0)


def user(auth, slug):
    auth.directory.add(slug, "acme", "right-" + slug)
    return f"{slug}@acme", "right-" + slug


async def test_guessing_one_accounts_password_is_stopped_with_429_and_retry_after(auth):
    alice, right = user(auth, "alice")
    for _ in range(3):
        a = await attempt(auth, alice, "guess")
        assert a.status == 200 and "Wrong username or password" in a.error
    # Blocked now, even with the right password (spelled differently): it is not even checked.
    for name, password in ((alice, "guess"), ("Alice@ACME", right)):
        a = await attempt(auth, name, password)
        assert a.status == 429, a.text[:500]
        assert 1 <= int(a.headers["Retry-After"]) <= 60
        assert "Too many failed sign-in attempts" in a.error and "try again" in a.error
        # The form is still there, for after the wait.
        assert 'id="password"' in a.text
    # Another account from the same address is not locked out by alice's attacker.
    bob, bob_pw = user(auth, "bob")
    assert (await attempt(auth, bob, bob_pw)).signed_in


async def test_spraying_many_accounts_from_one_address_is_stopped(auth):
    for i in range(6):
        a = await attempt(auth, f"nobody{i}@acme", "guess")
        assert a.status == 200, a.text[:300]
    carol, right = user(auth, "carol")
    a = await attempt(auth, carol, right)
    assert a.status == 429 and "Retry-After" in a.headers
    assert "Too many failed sign-in attempts" in a.error


@pytest.mark.parametrize("auth", [{"address_failures": 50}], indirect=True)
async def test_unknown_and_known_users_are_refused_in_the_same_time(auth):
    known = [user(auth, f"known{i}")[0] for i in range(4)]
    unknown = [f"ghost{i}@acme" for i in range(4)]
    times = {"known": [], "unknown": []}
    for k, u in zip(known, unknown):  # interleaved: load on the machine hits both alike
        a = await attempt(auth, k, "wrong-password")
        assert a.status == 200 and "Wrong username or password" in a.error
        times["known"].append(a.seconds)
        b = await attempt(auth, u, "wrong-password")
        assert b.status == 200 and b.error == a.error
        times["unknown"].append(b.seconds)
    known_ms = statistics.median(times["known"]) * 1000
    unknown_ms = statistics.median(times["unknown"]) * 1000
    print(f"\nrefused sign-in, median: known user {known_ms:.0f} ms, unknown user {unknown_ms:.0f} ms")
    assert min(times["unknown"]) * 1000 >= FLOOR_MS
    assert abs(known_ms - unknown_ms) < 60, times
