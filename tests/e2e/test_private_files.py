"""After the stack serve.py starts is up (OAuth mode: Synapse, the auth server, platform and
orchestrator), nothing in its data folder is readable or enterable by group or others: the
homeserver config, overrides (the MAS shared secret), signing key, databases, the appservice
registration, the auth server's config and every secret."""

from __future__ import annotations

import os
import stat

import pytest

from pyapp.server.stack import StackOptions
from tests.support.stack_thread import StackThread

pytestmark = pytest.mark.e2e


def test_a_running_stack_keeps_its_files_private(tmp_path):
    data = tmp_path / "stack"
    runner = StackThread(StackOptions.for_tests(data, auth="oauth"))
    runner.start()
    try:
        runner.call(runner.stack.orchestrator.drain())
        found, loose = [], []
        for dirpath, dirnames, filenames in os.walk(data):
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                found.append(os.path.relpath(path, data))
                if stat.S_IMODE(os.lstat(path).st_mode) & 0o077:
                    loose.append((found[-1], oct(stat.S_IMODE(os.lstat(path).st_mode))))
        assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
        for expected in ("synapse/homeserver.yaml", "synapse/overrides.yaml",
                         "synapse/localhost.signing.key", "synapse/homeserver.db",
                         "appservice.yaml", "mas-secret", "platform.sqlite3",
                         "authserver/authserver.json"):
            assert expected in found, (expected, sorted(found))
        assert loose == [], loose
    finally:
        runner.stop()
