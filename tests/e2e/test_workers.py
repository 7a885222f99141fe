"""The stack on Synapse's scale-out layout: main process + one generic worker on PostgreSQL,
Redis carrying replication, the same-origin proxy routing by path, sign-in delegated to the
auth server (the worker checks tokens there too). Two CPython clients sign in with OAuth and
chat through the web origin; each Synapse process's own request counters show the worker
served the syncs and timeline reads and the main process the writes."""

from __future__ import annotations

import re
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from nio import AsyncClient, JoinError, RoomMessagesError, RoomMessageText, SyncError

from pyapp.auth import flow as F
from pyapp.auth.client import OAuthClient
from pyapp.client.storage import MemoryStorage
from pyapp.client.transport import AiohttpTransport
from pyapp.platform.demo import DEMO_PASSWORD
from pyapp.server.stack import StackOptions
from tests.orchestration.pg import PostgresCluster, find_pg_bin
from tests.support.oauth_stack import sign_in_over_http
from tests.support.redis_server import RedisServer, find_redis_server
from tests.support.stack_thread import StackThread

pytestmark = pytest.mark.e2e

ROOM_ALIAS = "#event-python-meetup-demo:localhost"


def _missing(what: str):
    pytest.fail(f"{what} is required (./run.sh test installs it)")


@pytest.fixture(scope="module")
def worker_stack(tmp_path_factory):
    if find_pg_bin() is None:
        _missing("PostgreSQL")
    if find_redis_server() is None:
        _missing("redis-server")
    import psycopg

    base = tmp_path_factory.mktemp("workers")
    # Not under pytest's temp tree: the cluster runs as the postgres account when we are root,
    # and any pytest starting meanwhile on this machine makes /tmp/pytest-of-<user> private again.
    pg_base = Path(tempfile.mkdtemp(prefix="pyapp-workers-pg-"))
    pg = PostgresCluster(pg_base)
    redis = RedisServer(base / "redis")
    runner = None
    try:
        pg.start()
        redis.start()
        with psycopg.connect(pg.url(), autocommit=True) as c:
            # Synapse insists on C collation (its sort order must match Python's).
            c.execute("CREATE DATABASE synapse TEMPLATE template0 ENCODING 'UTF8' "
                      "LC_COLLATE 'C' LC_CTYPE 'C'")
            c.execute("CREATE DATABASE platform")
        # The production layout: the platform (and with it the auth server) on PostgreSQL too.
        runner = StackThread(StackOptions.for_tests(
            base / "stack", synapse_database=pg.url("synapse"), database=pg.url("platform"),
            synapse_workers=1, redis_url=redis.url))
        stack = runner.start()
        stack.run = runner.call
        stack.run(stack.orchestrator.drain())
        yield stack
    finally:
        if runner is not None:
            runner.stop()
        redis.stop()
        pg.stop()
        shutil.rmtree(pg_base, ignore_errors=True)


def served(metrics_url: str, servlet: str, method: str | None = None) -> float:
    """Requests one Synapse process received for a servlet, from its Prometheus counters."""
    with urllib.request.urlopen(metrics_url, timeout=10) as r:
        text = r.read().decode()
    total = 0.0
    for line in text.splitlines():
        if not line.startswith("synapse_http_server_requests_received_total{"):
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
        if labels.get("servlet") == servlet and method in (None, labels.get("method")):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def signed_in(url: str, login: str) -> AsyncClient:
    """A matrix-nio client holding the session the app's OAuth sign-in gives `login`."""
    transport = AiohttpTransport()
    try:
        oauth = OAuthClient(transport, MemoryStorage(), MemoryStorage(), homeserver=url,
                            redirect_uri=url + "/oauth/callback.html")
        callback = await sign_in_over_http(await oauth.begin(url + "/"),
                                           url + "/oauth/callback.html", login, DEMO_PASSWORD)
        session, _ = await oauth.complete(F.callback_params(callback))
    finally:
        await transport.close()
    client = AsyncClient(url, session.user_id, device_id=session.device_id)
    client.restore_login(session.user_id, session.device_id, session.access_token)
    return client


async def until_message(client: AsyncClient, room_id: str, body: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = await client.sync(timeout=1000)
        assert not isinstance(resp, SyncError), resp
        room = resp.rooms.join.get(room_id)
        if room and any(isinstance(e, RoomMessageText) and e.body == body
                        for e in room.timeline.events):
            return
    raise AssertionError(f"{body!r} did not reach {client.user_id}")


async def test_worker_serves_sync_and_reads_while_messages_flow(worker_stack):
    hs = worker_stack.synapse
    main, worker = hs.metrics_url(), hs.metrics_url(0)
    main_syncs = served(main, "SyncRestServlet")
    alice = await signed_in(worker_stack.url, "alice@demo")
    bob = await signed_in(worker_stack.url, "bob@demo")
    try:
        resolved = await alice.room_resolve_alias(ROOM_ALIAS)
        room_id = resolved.room_id
        for c in (alice, bob):
            await c.sync(timeout=0)
            assert not isinstance(await c.join(room_id), JoinError)
            await c.sync(timeout=0)

        await alice.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": "hi bob"})
        await until_message(bob, room_id, "hi bob")
        await bob.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": "hi alice"})
        await until_message(alice, room_id, "hi alice")

        history = await bob.room_messages(room_id, start="", limit=20)
        assert not isinstance(history, RoomMessagesError), history
        bodies = [e.body for e in history.chunk if isinstance(e, RoomMessageText)]
        assert bodies[:2] == ["hi alice", "hi bob"]
    finally:
        await alice.close()
        await bob.close()

    # The worker answered every sync and the timeline read; the main process no sync at all,
    # and it persisted the messages and the joins.
    assert served(worker, "SyncRestServlet") >= 6
    assert served(main, "SyncRestServlet") == main_syncs
    assert served(worker, "RoomMessageListRestServlet") >= 1
    assert served(worker, "ClientDirectoryServer") >= 1
    assert served(main, "RoomSendEventRestServlet") >= 2
    assert served(main, "JoinRoomAliasServlet") >= 2
    assert served(worker, "RoomSendEventRestServlet") == 0


async def test_the_auth_server_keeps_its_state_in_the_platform_database(worker_stack):
    import psycopg

    carol = await signed_in(worker_stack.url, "carol@demo")
    await carol.close()
    # The sign-in's grant and tokens are rows beside the platform's, not a file.
    assert not (worker_stack.auth_server.data_dir / "state.json").exists()
    with psycopg.connect(worker_stack.options.database) as c:
        models = {m for (m,) in c.execute("SELECT DISTINCT model FROM authserver_entries")}
        keys = c.execute("SELECT count(*) FROM authserver_secrets WHERE name = 'signing-keys'").fetchone()
    assert {"Grant", "RefreshToken", "AccessToken", "Session"} <= models
    assert keys == (1,)
