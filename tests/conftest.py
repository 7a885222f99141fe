"""Shared fixtures: a real Synapse homeserver per test session (end-to-end tests only)."""

from __future__ import annotations

import itertools
import secrets
from pathlib import Path

import pytest

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
