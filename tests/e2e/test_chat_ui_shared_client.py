"""Every chat component on a page shares one client: one sign-in, one sync loop, one room
cache. A message sent from one component shows in the other without a second request."""

from __future__ import annotations

import shutil
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import WEB_ROOT
from tests.e2e.chat_ui_support import (BOOT_TIMEOUT_MS, LIVE_TIMEOUT_MS, chat, expect_message,
                                       make_room, send, sign_in)

pytestmark = pytest.mark.e2e

HOST_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Two chats</title>
<script type="module" src="/chat/om-chat.js"></script></head><body>
<om-chat mode="sidebar" context="event" slug="shared-evt"></om-chat>
<om-chat mode="dashboard" context="all"></om-chat>
</body></html>"""


@pytest.fixture
def host_page(tmp_path, synapse, serve_app, built_static) -> str:
    """A host page of its own holding two components, served with the real web server."""
    from pyapp.server.web import make_app

    root = tmp_path / "web"
    root.mkdir()
    for part in ("chat", "css"):
        shutil.copytree(WEB_ROOT / part, root / part)
    (root / "two-chats.html").write_text(HOST_PAGE)
    return serve_app(make_app(root, built_static, {"homeserver": synapse.base_url})) \
        + "/two-chats.html"


def test_two_components_share_one_login_and_one_sync_loop(synapse, make_user, host_page,
                                                           new_page):
    a_name, a_pw, a = make_user("alice")
    make_room(synapse, a["access_token"], "event", "shared-evt", name="Shared Event")
    page = new_page()
    page.goto(host_page)
    expect(chat(page, 0).get_by_label("Username")).to_be_visible(timeout=BOOT_TIMEOUT_MS)
    sign_in(page, a_name, a_pw, nth=0)
    # Signing in once signs both in.
    expect(chat(page, 0).locator(".omc-conn")).to_have_text("Online", timeout=LIVE_TIMEOUT_MS)
    chat(page, 1).get_by_role("button", name="Shared Event").click(timeout=LIVE_TIMEOUT_MS)
    send(page, "said once, seen twice", nth=0)
    expect_message(page, "said once, seen twice", nth=0)
    expect_message(page, "said once, seen twice", nth=1)

    urls = list(page.requests)  # every URL the page asked for
    logins = [u for u in urls if u.endswith("/_matrix/client/v3/login")]
    assert len(logins) == 1, logins
    sends = [u for u in urls if "/send/m.room.message/" in u]
    assert len(sends) == 1, sends
    # Two sync loops would each poll from the same position; one loop never repeats one.
    since = [parse_qs(urlsplit(u).query).get("since", [None])[0] for u in urls
             if urlsplit(u).path.endswith("/_matrix/client/v3/sync")]
    assert len(since) >= 2 and len(since) == len(set(since)), since
