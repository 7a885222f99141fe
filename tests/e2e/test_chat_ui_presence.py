"""Presence in the member panel where the server gives it: a Synapse with presence on (the
embedded one keeps it off: benchmarks/presence.py), Bob online then offline as his client says,
and Alice's dashboard showing the dot and its word, in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from pyapp.server.synapse import Synapse, SynapseOptions, free_port
from pyapp.server.web import make_app
from tests.e2e.chat_ui_support import LIVE_TIMEOUT_MS, chat, expect_message, make_room, \
    open_and_sign_in
from tests.e2e.conftest import WEB_ROOT

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def presence_synapse(tmp_path_factory):
    hs = Synapse(SynapseOptions(data_dir=tmp_path_factory.mktemp("synapse-presence"),
                                port=free_port(), extra={"presence": {"enabled": True}}))
    hs.start()
    yield hs
    hs.stop()


def test_the_member_panel_shows_who_is_online(presence_synapse, built_static, serve_app,
                                              new_page):
    hs = presence_synapse
    web = serve_app(make_app(WEB_ROOT, built_static, {"homeserver": hs.base_url}))
    a = hs.register_user("p_alice", "pw-alice", displayname="Alice")
    b = hs.register_user("p_bob", "pw-bob", displayname="Bob")
    room_id = make_room(hs, a["access_token"], "group", "presence", [b], name="Online group")
    hs.request("PUT", f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/p1",
               {"msgtype": "m.text", "body": "anyone here?"}, token=b["access_token"])
    status, body = hs.request("PUT", f"/_matrix/client/v3/presence/{b['user_id']}/status",
                              {"presence": "online"}, token=b["access_token"])
    assert status == 200, body

    page = new_page(viewport={"width": 1280, "height": 800})
    open_and_sign_in(page, f"{web}/messages.html?room={room_id}", "p_alice", "pw-alice")
    expect_message(page, "anyone here?")
    bob = chat(page).locator(f'.omc-member[data-user="{b["user_id"]}"]')
    expect(bob).to_have_class("omc-member is-online", timeout=LIVE_TIMEOUT_MS)
    expect(bob).to_contain_text("Bob (online)")  # the word read out beside the dot
    expect(bob.locator(".omc-presence")).to_be_visible()

    status, body = hs.request("PUT", f"/_matrix/client/v3/presence/{b['user_id']}/status",
                              {"presence": "offline"}, token=b["access_token"])
    assert status == 200, body
    expect(bob).to_have_class("omc-member is-offline", timeout=LIVE_TIMEOUT_MS)
    assert not page.page_errors
