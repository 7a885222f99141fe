"""The auth server on PostgreSQL (authserver/pg_store.mjs): the real auth server, two instances
of it behind one issuer on one database, Synapse delegating to the first, a throwaway cluster.

Proves what several instances need: a sign-in survives a restart, a token issued by one
instance refreshes at the other, MAS's refresh grace holds across instances, and concurrent
redemptions of one token leave at most one winner. authserver/tests/pg_store.test.mjs drives
the store itself through the races step by step."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest

from pyapp.auth import flow as F
from pyapp.auth.client import OAuthClient
from pyapp.client.storage import MemoryStorage
from pyapp.client.transport import AiohttpTransport
from pyapp.server.auth_server import AuthServer
from pyapp.server.synapse import free_port
from tests.e2e.test_oauth_cpython import REDIRECT, new_user, sign_in, whoami
from tests.orchestration.pg import temporary_cluster
from tests.support.oauth_stack import OAuthStack, sign_in_over_http

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pg():
    with temporary_cluster("pyapp-authserver-pg-") as cluster:
        yield cluster


@pytest.fixture(scope="module")
def stack(pg, tmp_path_factory):
    """Instance one (Synapse introspects there) and instance two, same issuer, same database."""
    database = pg.create_database("authserver")
    base = tmp_path_factory.mktemp("authpg")
    with OAuthStack(base / "one", access_token_ttl=60, database=database) as s:
        s.other = AuthServer(dataclasses.replace(
            s.auth.options, data_dir=base / "two" / "authserver", port=free_port(),
            issuer=s.auth.issuer))
        with s.other:
            yield s


def at(server: AuthServer, url: str) -> str:
    """`url` (on the shared issuer) sent to this instance's own port."""
    p = urlsplit(url)
    return urlunsplit(p._replace(netloc=f"127.0.0.1:{server.options.port}"))


def post(url: str, body: dict, headers: dict | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, urlencode(body).encode(), headers or {})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def refresh(server: AuthServer, session, refresh_token: str) -> tuple[int, dict]:
    return post(at(server, session.extra["token_endpoint"]),
                F.refresh_body(session.extra["client_id"], refresh_token))


def introspect(stack, server: AuthServer, token: str) -> dict:
    status, body = post(at(server, server.issuer + "/oauth2/introspect"), {"token": token},
                        {"Authorization": f"Bearer {stack.secret}"})
    assert status == 200, body
    return body


def signed_in(stack, prefix: str, via: AuthServer | None = None):
    """A user signed in through the form (at `via` if given); the session's token endpoint is
    the shared issuer's, i.e. instance one."""
    username, password, _ = new_user(stack, prefix)

    async def run():
        oauth = OAuthClient(AiohttpTransport(), MemoryStorage(), MemoryStorage(),
                            homeserver=stack.synapse.base_url, redirect_uri=REDIRECT)
        try:
            if via is None:
                callback = await sign_in(oauth, username, password)
            else:
                url = at(via, await oauth.begin(REDIRECT))
                callback = await sign_in_over_http(url, REDIRECT, username, password)
            return (await oauth.complete(F.callback_params(callback)))[0]
        finally:
            await oauth.transport.close()

    return asyncio.run(run())


def test_pg_store_races_and_grace(pg):
    """The store's own tests (node --test) against this cluster."""
    database = pg.create_database("authserver_store")
    r = subprocess.run(["node", "--no-warnings", "--test",
                        str(ROOT / "authserver" / "tests" / "pg_store.test.mjs")],
                       cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "AUTHSERVER_TEST_DATABASE": database})
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert "# pass 9" in r.stdout, r.stdout[-2000:]


def test_a_sign_in_survives_a_restart_with_state_in_postgres(stack):
    session = signed_in(stack, "pgrestart")
    # Nothing in the data folder: grants and keys are in the database.
    assert not (stack.auth.data_dir / "state.json").exists()
    assert not (stack.auth.data_dir / "signing-keys.json").exists()

    stack.auth.stop()
    stack.auth.start()

    assert introspect(stack, stack.auth, session.access_token)["active"] is True
    status, body = refresh(stack.auth, session, session.refresh_token)
    assert status == 200, body
    status, me = whoami(stack, body["access_token"])  # a new token: Synapse introspects it
    assert status == 200 and me["device_id"] == session.device_id


def test_two_instances_share_grants_keys_and_sign_ins(stack):
    def kids(server):
        with urllib.request.urlopen(at(server, stack.auth.issuer + "/oauth2/keys.json"), timeout=10) as r:
            return [k["kid"] for k in json.loads(r.read())["keys"]]

    assert kids(stack.auth) == kids(stack.other)
    # Signed in at instance two, the code redeemed at instance one ...
    session = signed_in(stack, "pgshare", via=stack.other)
    assert whoami(stack, session.access_token)[0] == 200
    # ... refreshed at two, its access token accepted by Synapse (which asks instance one) ...
    status, second = refresh(stack.other, session, session.refresh_token)
    assert status == 200, second
    status, me = whoami(stack, second["access_token"])
    assert status == 200 and me["device_id"] == session.device_id
    assert introspect(stack, stack.other, second["access_token"])["active"] is True
    # ... and the newest refresh token works at one.
    status, third = refresh(stack.auth, session, second["refresh_token"])
    assert status == 200, third


def test_refresh_grace_holds_across_instances(stack):
    session = signed_in(stack, "pggrace")
    old = session.refresh_token
    status, lost = refresh(stack.auth, session, old)  # the answer never reached the client
    assert status == 200
    status, retried = refresh(stack.other, session, old)  # the retry lands at the other instance
    assert status == 200, retried
    assert retried["refresh_token"] != lost["refresh_token"]
    assert whoami(stack, retried["access_token"])[0] == 200
    # The pair nobody received is dropped; the retried one is live.
    assert refresh(stack.auth, session, lost["refresh_token"])[0] == 400
    status, newer = refresh(stack.auth, session, retried["refresh_token"])
    assert status == 200, newer
    # Once the new token was used, the old one is refused everywhere.
    status, body = refresh(stack.other, session, old)
    assert status == 400 and body["error"] == "invalid_grant"


def race(*calls):
    """Run the calls at the same instant on threads; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_concurrent_refreshes_through_two_instances_leave_at_most_one_winner(stack):
    for round_ in range(4):
        session = signed_in(stack, f"pgrace{round_}")
        old = session.refresh_token
        status, new = refresh(stack.auth, session, old)
        assert status == 200
        # The new token's first use at one and a retry of the old one at two, at once: only
        # one may succeed (both would leave two live token pairs for one sign-in).
        (s1, b1), (s2, b2) = race(lambda: refresh(stack.auth, session, new["refresh_token"]),
                                  lambda: refresh(stack.other, session, old))
        assert [s1, s2].count(200) <= 1, (b1, b2)
        assert 200 in (s1, s2) or all(b["error"] == "invalid_grant" for b in (b1, b2))

        # The same token at both instances at once: whatever each answered, at most one of
        # the refresh tokens handed out stays usable.
        session = signed_in(stack, f"pgtwin{round_}")
        answers = race(lambda: refresh(stack.auth, session, session.refresh_token),
                       lambda: refresh(stack.other, session, session.refresh_token))
        handed = [b["refresh_token"] for s, b in answers if s == 200]
        assert handed, answers
        usable = [t for t in handed if refresh(stack.auth, session, t)[0] == 200]
        assert len(usable) == 1, answers
