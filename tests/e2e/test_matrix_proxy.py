"""The same-origin homeserver proxy (pyapp.server.matrix_proxy) against a real Synapse: the
admin and MAS APIs Synapse serves on the same port stay out of reach through the web origin,
bodies are limited per route (uploads as large as the homeserver takes, the rest small), and
long-polling syncs cannot starve sends."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import time
from urllib.parse import urlsplit

import aiohttp
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
    status, body = request(proxy, "PUT",
                           f"/_matrix/client/v3/rooms/{encoded}/send/m.room.message/t1",
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


async def test_120_long_polls_of_one_user_leave_sends_prompt(proxy, make_user):
    _, _, login = make_user("poller")
    auth = {"Authorization": f"Bearer {login['access_token']}"}
    async with aiohttp.ClientSession(base_url=proxy, headers=auth,
                                     connector=aiohttp.TCPConnector(limit=0)) as client:
        async with client.post("/_matrix/client/v3/createRoom", json={}) as r:
            room = (await r.json())["room_id"]
        async with client.get("/_matrix/client/v3/sync") as r:
            since = (await r.json())["next_batch"]

        async def long_poll():
            async with client.get("/_matrix/client/v3/sync",
                                  params={"since": since, "timeout": "30000"}) as r:
                await r.read()
                return r.status

        polls = [asyncio.create_task(long_poll()) for _ in range(120)]
        await asyncio.sleep(0)
        deadline = time.monotonic() + 10
        while sum(p.done() for p in polls) < 100 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        started = time.monotonic()
        async with client.put(f"/_matrix/client/v3/rooms/{room}/send/m.room.message/t1",
                              json={"msgtype": "m.text", "body": "still here"},
                              timeout=aiohttp.ClientTimeout(total=10)) as r:
            assert r.status == 200, await r.text()
        assert time.monotonic() - started < 3.0
        # The message wakes the long-polls that were let through; the rest were told to wait.
        statuses = await asyncio.wait_for(asyncio.gather(*polls), 30)
        assert statuses.count(200) >= 1 and set(statuses) <= {200, 429}
