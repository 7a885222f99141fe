"""The sync kept in IndexedDB, in Chromium against the real Synapse: a returning page shows the
conversation from storage while its first /sync is still held back, that /sync is incremental
(`since=`), a message sent while the page was closed arrives, and signing out deletes the
stored sync."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.chat_ui_support import (BOOT_TIMEOUT_MS, LIVE_TIMEOUT_MS, chat, expect_message,
                                       expect_ready, make_room, open_and_sign_in)
from tests.support.waiting import page_until

pytestmark = pytest.mark.e2e

STORED_DATABASES = """async () => (await indexedDB.databases())
    .map(d => d.name).filter(n => n.startsWith('om-chat-sync:'))"""


def post(synapse, room_id, token, txn, text):
    status, body = synapse.request(
        "PUT", f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/{txn}",
        {"msgtype": "m.text", "body": text}, token=token)
    assert status == 200, body


def test_a_returning_page_shows_the_stored_chat_and_resumes_with_since(
        synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    b_name, b_pw, b = make_user("bob")
    room_id = make_room(synapse, a["access_token"], "event", "stored-sync", [b])
    url = f"{web_server}/event.html?slug=stored-sync"
    page = new_page()
    open_and_sign_in(page, url, a_name, a_pw)
    post(synapse, room_id, b["access_token"], "t1", "before closing")
    expect_message(page, "before closing")
    stored = page.evaluate(STORED_DATABASES)
    assert len(stored) == 1 and stored[0].startswith(f"om-chat-sync:{a['user_id']}/"), stored
    context = page.context
    page.close()
    post(synapse, room_id, b["access_token"], "t2", "while the page was closed")

    # The next visit: every /sync is held until the stored chat has been seen.
    held, syncs, holding = [], [], [True]

    def hold(route):
        syncs.append(route.request.url)
        if holding[0]:
            held.append(route)
        else:
            route.continue_()

    again = context.new_page()
    again.route("**/_matrix/client/v3/sync*", hold)
    again.goto(url)
    expect_ready(again)
    expect_message(again, "before closing", timeout=BOOT_TIMEOUT_MS)
    expect(chat(again).locator(".omc-body", has_text="while the page was closed")).to_have_count(0)
    waited = 0
    while not syncs and waited < LIVE_TIMEOUT_MS:  # the loop starts right after the restore
        again.wait_for_timeout(50)
        waited += 50
    since = parse_qs(urlsplit(syncs[0]).query).get("since")
    assert since and since[0], syncs[0]
    holding[0] = False
    for route in held:
        route.continue_()
    expect_message(again, "while the page was closed")
    expect_message(again, "before closing")

    chat(again).locator(".omc-header").get_by_role("button", name="Sign out").click()
    expect(chat(again).get_by_label("Username")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    page_until(again, STORED_DATABASES.replace("n.startsWith('om-chat-sync:'))",
                                               "n.startsWith('om-chat-sync:')).length === 0"),
               timeout_ms=LIVE_TIMEOUT_MS, what="the stored sync deleted")
