"""pyapp.server.proxy_routes: the same-origin proxy forwards only the client and media APIs, on
paths that cannot be re-read as something else upstream, with a body limit per route."""

from __future__ import annotations

import pytest

from pyapp.server.proxy_routes import OTHER, SMALL_BODY, SYNC, UPLOAD, classify, parse_size

MAX_UPLOAD = 50 * 1024 * 1024


@pytest.mark.parametrize("method, path, kind", [
    ("GET", "/_matrix/client/versions", OTHER),
    ("GET", "/_matrix/client/v3/sync", SYNC),
    ("GET", "/_matrix/client/r0/sync", SYNC),
    ("PUT", "/_matrix/client/v3/rooms/%21abc%3Alocalhost/send/m.room.message/m1.2", OTHER),
    ("GET", "/_matrix/client/v3/directory/room/%23event-x-demo%3Alocalhost", OTHER),
    # Room version 3 event ids hold "/": encoded inside one segment, forwarded as sent.
    ("GET", "/_matrix/client/v3/rooms/%21a%3Ab/event/%24ab%2Fcd%2Bef", OTHER),
    ("GET", "/_matrix/client/v1/auth_metadata", OTHER),
    ("PUT", "/_matrix/client/v3/rooms/%21a%3Ab/state/m.room.name/", OTHER),
    ("POST", "/_matrix/media/v3/upload", UPLOAD),
    ("PUT", "/_matrix/media/v3/upload/localhost/abcdef", UPLOAD),
    ("GET", "/_matrix/media/v3/config", OTHER),
    ("GET", "/_matrix/client/v1/media/download/localhost/abcdef", OTHER),
    ("POST", "/_matrix/client/v3/sync", OTHER),  # not a long-poll
])
def test_client_and_media_api_are_forwarded(method, path, kind):
    route = classify(method, path, MAX_UPLOAD)
    assert route is not None and route.kind == kind


@pytest.mark.parametrize("path", [
    "/_synapse/admin/v1/server_version",
    "/_matrix/%2e%2e/_synapse/admin/v1/server_version",
    "/_matrix/%2E%2E/_synapse/admin/v1/server_version",
    "/_matrix/client/../../_synapse/mas/provision_user",
    "/_matrix/client/%2e./%2E%2e/_synapse/admin/v1/users",
    "/_matrix/client/v3/./sync",
    "/_matrix/client/v3/%252e%252e/%252e%252e/x",          # decoded twice by some hop
    "/_matrix/client/v3/%25252e%25252e/x",                 # three times
    "/_matrix/client%2F..%2F..%2F_synapse/admin/v1/users",  # encoded slash changes the prefix
    "/_matrix/%63lient/v3/sync",                            # the fixed part must be literal
    "/%5fmatrix/client/v3/sync",
    "/_matrix/federation/v1/version",
    "/_matrix/key/v2/server",
    "/_matrix/client/",
    "/_matrix/client",
    "/_matrix/",
    "/_matrix/client/v3/rooms/a\\..\\..\\x",               # not a URL character
    "/_matrix/client/v3/rooms/%zz",                        # broken escape
    "/_matrix/client/v3/rooms/%00/x",
    "/_matrix/client/v3/rooms/a b",
])
def test_everything_else_is_refused(path):
    assert classify("GET", path, MAX_UPLOAD) is None


def test_unusual_methods_are_refused():
    assert classify("TRACE", "/_matrix/client/versions") is None
    assert classify("CONNECT", "/_matrix/client/versions") is None


def test_only_uploads_take_large_bodies():
    assert classify("POST", "/_matrix/media/v3/upload", 8_000_000).max_body == 8_000_000
    assert classify("PUT", "/_matrix/client/v3/rooms/%21a%3Ab/send/m.room.message/t1",
                    8_000_000).max_body == SMALL_BODY
    assert classify("GET", "/_matrix/client/v3/sync", 8_000_000).max_body == SMALL_BODY
    # A download is not an upload, whatever its size.
    assert classify("GET", "/_matrix/media/v3/upload", 8_000_000).max_body == SMALL_BODY


@pytest.mark.parametrize("value, expected", [
    ("50M", 50 * 1024 * 1024), ("512K", 512 * 1024), ("1G", 1024 ** 3), ("100", 100), (4096, 4096),
])
def test_parse_size_reads_synapse_sizes(value, expected):
    assert parse_size(value) == expected


@pytest.mark.parametrize("value", ["", "M", "12X", None, True, 1.5])
def test_parse_size_refuses_nonsense(value):
    with pytest.raises((TypeError, ValueError)):
        parse_size(value)


def test_synapse_max_upload_size_follows_its_config(tmp_path):
    from pyapp.server.synapse import Synapse, SynapseOptions

    assert Synapse(SynapseOptions(data_dir=tmp_path)).max_upload_size() == 50 * 1024 * 1024
    configured = Synapse(SynapseOptions(data_dir=tmp_path, extra={"max_upload_size": "3M"}))
    assert configured.max_upload_size() == 3 * 1024 * 1024
