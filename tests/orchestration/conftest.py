"""Fixtures for orchestration tests: our own Synapse with the bot's application-service
registration (the shared session homeserver has none, and some tests stop ours), stores on
SQLite and on a throwaway PostgreSQL cluster."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time

import pytest

from pyapp.identity import bot_user_id
from pyapp.orchestrator.appservice import config_from_registration, ensure_registration
from pyapp.orchestrator.worker import Orchestrator
from pyapp.platform.store import Store
from pyapp.server.synapse import Synapse, SynapseOptions, free_port

from .pg import temporary_cluster


@pytest.fixture(scope="session")
def orch_synapse(tmp_path_factory):
    d = tmp_path_factory.mktemp("orch-synapse")
    reg_path = d / "appservice.yaml"
    reg = ensure_registration(reg_path, "localhost")
    # With the tenant guard, as deployed: the orchestrator's work must pass it.
    hs = Synapse(SynapseOptions(data_dir=d / "hs", port=free_port(), app_service_files=[reg_path],
                                access_token_lifetime=None,
                                tenant_guard_bot=bot_user_id("localhost", reg["sender_localpart"])))
    hs.start()
    hs.registration = reg
    admin = hs.register_user("orchadmin", "pw-" + secrets.token_hex(6), admin=True)
    hs.admin_token = admin["access_token"]
    yield hs
    hs.stop()


_tenants = itertools.count()


@pytest.fixture
def tenant() -> str:
    """A fresh tenant id per test so tests sharing one homeserver never collide."""
    return f"t{next(_tenants)}{secrets.token_hex(3)}"


def _orchestrator(store, hs, homeserver_url: str | None = None, **kw) -> Orchestrator:
    """``homeserver_url``: reach the homeserver another way (through a fault proxy)."""
    cfg = config_from_registration(hs.registration, homeserver_url or hs.base_url,
                                   hs.server_name, admin_token=hs.admin_token)
    kw.setdefault("poll_interval", 0.5)
    kw.setdefault("account_poll", 0.5)
    return Orchestrator(store, cfg, **kw)


@pytest.fixture
async def make_orchestrator(orch_synapse):
    made = []

    def make(store, **kw):
        o = _orchestrator(store, orch_synapse, **kw)
        made.append(o)
        return o

    yield make
    for o in made:
        await o.stop()


@pytest.fixture
def store(tmp_path) -> Store:
    s = Store.open(tmp_path / "platform.db")
    yield s
    s.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request) -> Store:
    """The same test on each database the platform supports."""
    return request.getfixturevalue("store" if request.param == "sqlite" else "pg_store")


@pytest.fixture(scope="session")
def pg_cluster(tmp_path_factory):
    """A real PostgreSQL server from Debian's packages, in a temporary directory."""
    with temporary_cluster("pyapp-orch-pg-") as cluster:
        yield cluster


@pytest.fixture
def pg_store(pg_cluster) -> Store:
    url = pg_cluster.create_database("t" + secrets.token_hex(4))
    s = Store.open(url)
    yield s
    s.close()


async def until(cond, timeout: float = 15.0, interval: float = 0.05, what: str = "condition"):
    """Poll an (async or sync) condition until it holds; fail with its last value otherwise."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = cond()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")
