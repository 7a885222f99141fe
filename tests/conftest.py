"""Shared fixtures: a real Synapse homeserver per test session (end-to-end tests only)."""

from __future__ import annotations

import itertools
import secrets
from pathlib import Path

import pytest

from pyapp.server.stack import Stack, StackOptions
from pyapp.server.synapse import Synapse, SynapseOptions, free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def synapse(tmp_path_factory) -> Synapse:
    """A fresh homeserver on a free port, shared by the session's end-to-end tests."""
    hs = Synapse(SynapseOptions(data_dir=tmp_path_factory.mktemp("synapse"), port=free_port()))
    hs.start()
    yield hs
    hs.stop()


_counter = itertools.count()


@pytest.fixture
def make_user(synapse):
    """Create a distinct user for one test: returns (localpart, password, login response)."""

    def make(prefix: str = "user") -> tuple[str, str, dict]:
        localpart = f"{prefix}{next(_counter)}{secrets.token_hex(2)}"
        password = "pw-" + secrets.token_hex(6)
        return localpart, password, synapse.register_user(localpart, password)

    return make


@pytest.fixture(scope="session")
def demo_stack(tmp_path_factory) -> Stack:
    """What `serve.py --auth password` starts (own Synapse, seeded demo platform, orchestrator, web server) on
    free ports. Demo users alice, bob, carol (tenant demo) and dave (tenant other), password
    `demo-password`; the event python-meetup and group pythonistas have rooms, with alice and
    bob in them and carol outside."""
    from tests.support.stack_thread import StackThread

    runner = StackThread(StackOptions.for_tests(tmp_path_factory.mktemp("stack"), auth="password"))
    stack = runner.start()
    stack.run = runner.call  # run a coroutine on the stack's loop (e.g. orchestrator.drain())
    yield stack
    runner.stop()
