"""Where the stack's auth server keeps its state: in the platform's PostgreSQL database when the
platform runs on one (several instances can share it), else in files in its data folder."""

from __future__ import annotations

import json

import pytest

from pyapp.server.auth_server import AuthServer, AuthServerOptions
from pyapp.server.stack import Stack, StackOptions

PG = "postgresql://chat:pw@db.internal:5432/platform"


@pytest.mark.parametrize("database, expected", [
    (PG, PG),
    ("postgres://db.internal/platform", "postgres://db.internal/platform"),
    (None, None),
    ("/var/lib/chat/platform.sqlite3", None),
    ("sqlite:///var/lib/chat/platform.sqlite3", None),
])
def test_the_auth_server_follows_the_platform_database(tmp_path, database, expected):
    stack = Stack(StackOptions.for_tests(tmp_path, database=database))
    options = stack.auth_server_options()
    assert options.database == expected
    assert json.loads(json.dumps(AuthServer(options).config()))["database"] == expected


def test_an_auth_server_database_that_is_not_postgresql_is_refused(tmp_path):
    options = AuthServerOptions(data_dir=tmp_path, port=1, synapse_url="http://x",
                                synapse_secret="s", database="mysql://db/x")
    with pytest.raises(ValueError, match="postgresql://"):
        AuthServer(options).start()
