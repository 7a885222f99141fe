"""The same-origin homeserver proxy (pyapp.server.matrix_proxy) against a real Synapse: the
admin and MAS APIs Synapse serves on the same port stay out of reach through the web origin,
and bodies are limited per route (uploads as large as the homeserver takes, the rest small)."""

from __future__ import annotations

import http.client
import json
import os
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from pyapp.server.matrix_proxy import add_matrix_proxy

pytestmark = pytest.mark.e2e

ADMIN = "/_synapse/admin/v1/server_version"


def request(base: str, method: str, path: str, body: bytes | None = None,
            headers: dict | None = None) -> tuple[int, bytes]:
    """Sends `path` byte for byte (no client-side normalisation of `..` or escapes)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def proxy(serve_app, synapse) -> str:
    app = web.Application()
    add_matrix_proxy(app, synapse.base_url, max_upload_size=synapse.max_upload_size())
    return serve_app(app)


@pytest.fixture(scope="module")
def small_upload_proxy(serve_app, synapse) -> str:
    app = web.Application()
    add_matrix_proxy(app, synapse.base_url, max_upload_size=3 * 1024 * 1024)
    return serve_app(app)


@pytest.mark.parametrize("path", [
    "/_matrix/%2e%2e/_synapse/admin/v1/server_version",
    "/_matrix/client/../../_synapse/admin/v1/server_version",
    "/_matrix/client/%2e%2e/%2e%2e/_synapse/admin/v1/server_version",
])
def test_paths_escaping_matrix_do_not_reach_synapse_admin(synapse, proxy, path):
    # The target is real: Synapse itself answers it without authentication.
    status, body = request(synapse.base_url, "GET", ADMIN)
    assert status == 200 and "server_version" in json.loads(body)
    status, body = request(proxy, "GET", path)
    assert status == 404, body
    assert json.loads(body)["errcode"] == "M_UNRECOGNIZED"


def test_mas_api_is_out_of_reach(proxy):
    status, _ = request(proxy, "POST", "/_matrix/client/../../_synapse/mas/provision_user",
                        b"{}", {"Content-Type": "application/json"})
    assert status == 404


def test_client_api_still_answers_with_encoded_ids(synapse, proxy, make_user):
    _, _, login = make_user("proxy")
    auth = {"Authorization": f"Bearer {login['access_token']}"}
    status, body = request(proxy, "GET", "/_matrix/client/v3/account/whoami", headers=auth)
    assert status == 200 and json.loads(body)["user_id"] == login["user_id"]
    status, body = request(proxy, "POST", "/_matrix/client/v3/createRoom", b"{}",
                           {**auth, "Content-Type": "application/json"})
    room_id = json.loads(body)["room_id"]
    encoded = room_id.replace("!", "%21").replace(":", "%3A")
    status, body = request(proxy, "PUT", f"/_matrix/client/v3/rooms/{encoded}/send/m.room.message/t1",
                           json.dumps({"msgtype": "m.text", "body": "hi"}).encode(),
                           {**auth, "Content-Type": "application/json"})
    assert status == 200 and json.loads(body)["event_id"].startswith("$")


def test_a_2_mib_media_upload_goes_through(proxy, make_user):
    _, _, login = make_user("upload")
    auth = {"Authorization": f"Bearer {login['access_token']}"}
    data = os.urandom(2 * 1024 * 1024)
    status, body = request(proxy, "POST", "/_matrix/media/v3/upload?filename=big.bin", data,
                           {**auth, "Content-Type": "application/octet-stream"})
    assert status == 200, body
    server, media_id = json.loads(body)["content_uri"].removeprefix("mxc://").split("/")
    status, downloaded = request(proxy, "GET",
                                 f"/_matrix/client/v1/media/download/{server}/{media_id}",
                                 headers=auth)
    assert status == 200 and downloaded == data


def test_bodies_over_the_route_limit_get_413(small_upload_proxy, make_user):
    _, _, login = make_user("limit")
    auth = {"Authorization": f"Bearer {login['access_token']}"}
    status, body = request(small_upload_proxy, "POST", "/_matrix/media/v3/upload",
                           os.urandom(4 * 1024 * 1024),
                           {**auth, "Content-Type": "application/octet-stream"})
    assert status == 413 and json.loads(body)["errcode"] == "M_TOO_LARGE"
    big_json = json.dumps({"msgtype": "m.text", "body": "x" * (2 * 1024 * 1024)}).encode()
    status, body = request(small_upload_proxy, "PUT",
                           "/_matrix/client/v3/rooms/%21nowhere%3Alocalhost/send/m.room.message/t1",
                           big_json, {**auth, "Content-Type": "application/json"})
    assert status == 413 and json.loads(body)["errcode"] == "M_TOO_LARGE"
