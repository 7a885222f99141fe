"""Gaps from last time, in Chromium against the real Synapse: the group tab's Sign out, the
platform's sign-out ending the chat's session too (now, or the next time the chat starts),
the dashboard's selected room in the URL (Back and reload keep it), and axe-core on the
dashboard, wide and at a phone's width."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.e2e.axe import assert_accessible, violations
from tests.e2e.chat_ui_support import (BOOT_TIMEOUT_MS, LIVE_TIMEOUT_MS, chat, expect_message,
                                         expect_ready, make_room, open_and_sign_in, send, sign_in)
from tests.e2e.test_attend_flow import platform_sign_in

pytestmark = pytest.mark.e2e

SESSION_KEY = "om-chat:om-chat.session"


def stored_token(page) -> str:
    raw = page.evaluate(f"localStorage.getItem({json.dumps(SESSION_KEY)})")
    assert raw, "no chat session stored"
    return json.loads(raw)["access_token"]


def token_works(hs, token: str) -> bool:
    status, _ = hs.request("GET", "/_matrix/client/v3/account/whoami", token=token)
    return status == 200


def test_the_group_tab_signs_out_of_the_chat(synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    make_room(synapse, a["access_token"], "group", "gaps-tab", name="Tab group")
    page = new_page()
    open_and_sign_in(page, f"{web_server}/group.html?slug=gaps-tab#discussion", a_name, a_pw)
    token = stored_token(page)
    expect(chat(page).locator(".omc-session-who")).to_contain_text(a_name)
    chat(page).get_by_role("button", name="Sign out of the chat").click()
    expect(chat(page).get_by_label("Username")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    assert not token_works(synapse, token)  # revoked on the server, not only forgotten


def test_the_dashboards_room_is_in_the_url_for_back_and_reload(synapse, make_user, web_server,
                                                               new_page):
    a_name, a_pw, a = make_user("alice")
    first = make_room(synapse, a["access_token"], "event", "gaps-url-1", name="First chat")
    second = make_room(synapse, a["access_token"], "group", "gaps-url-2", name="Second chat")
    page = new_page(viewport={"width": 1200, "height": 800})
    open_and_sign_in(page, f"{web_server}/messages.html", a_name, a_pw)
    title = chat(page).locator(".omc-conv-title")
    chat(page).get_by_role("button", name="First chat").click()
    expect(title).to_have_text("First chat")
    expect(page).to_have_url(f"{web_server}/messages.html?room={first.replace('!', '%21').replace(':', '%3A')}")
    send(page, "in the first")
    expect_message(page, "in the first")
    chat(page).get_by_role("button", name="Second chat").click()
    expect(title).to_have_text("Second chat")
    assert "room=" in page.url and second.split(":")[0][1:] in page.url
    page.go_back()
    expect(title).to_have_text("First chat")
    expect_message(page, "in the first")
    page.reload()
    expect_ready(page)
    expect(title).to_have_text("First chat")
    page.go_forward()
    expect(title).to_have_text("Second chat", timeout=BOOT_TIMEOUT_MS)
    assert_accessible(page, "the dashboard")
    page.set_viewport_size({"width": 390, "height": 780})  # a phone
    expect(chat(page).locator(".omc-back").first).to_be_visible()
    assert_accessible(page, "the dashboard at a phone's width (conversation)")
    chat(page).get_by_role("button", name="Back to chats").click()
    assert_accessible(page, "the dashboard at a phone's width (chats)")


def test_the_event_sidebar_at_a_phone_width_and_signed_out_is_accessible(web_server, new_page):
    page = new_page(viewport={"width": 390, "height": 780})
    page.goto(f"{web_server}/event.html?slug=gaps-none")
    expect(chat(page).get_by_label("Username")).to_be_visible(timeout=BOOT_TIMEOUT_MS)
    assert_accessible(page, "the sign-in form at a phone's width")
    # The check itself works: a button without a name is a critical violation.
    page.evaluate("document.body.append(document.createElement('button'))")
    assert "button-name" in [v["id"] for v in violations(page)]


def test_signing_out_of_the_platform_signs_out_of_the_chat(demo_stack, built_static, new_page):
    base, hs = demo_stack.url, demo_stack.synapse
    page = new_page()
    platform_sign_in(page, base, "bob")
    page.goto(base + "/messages.html")
    expect(chat(page).get_by_label("Username")).to_be_visible(timeout=BOOT_TIMEOUT_MS)
    sign_in(page, "bob", "demo-password")
    expect(chat(page).locator(".omc-list")).to_be_visible(timeout=BOOT_TIMEOUT_MS)
    token = stored_token(page)
    # Signed out on a page where the chat runs: its session ends at once.
    with page.expect_navigation(timeout=LIVE_TIMEOUT_MS):  # the host page reloads
        page.locator(".site-who").get_by_role("button", name="Sign out").click()
    expect(chat(page).get_by_label("Username")).to_be_visible(timeout=BOOT_TIMEOUT_MS)
    assert not token_works(hs, token)
    assert page.evaluate(f"localStorage.getItem({json.dumps(SESSION_KEY)})") is None

    # Signed out on a page without the chat: it ends the next time the chat starts.
    platform_sign_in(page, base, "bob")
    page.goto(base + "/messages.html")
    sign_in(page, "bob", "demo-password")
    expect(chat(page).locator(".omc-list")).to_be_visible(timeout=BOOT_TIMEOUT_MS)
    token = stored_token(page)
    page.goto(base + "/index.html")
    with page.expect_navigation(timeout=LIVE_TIMEOUT_MS):
        page.locator(".site-who").get_by_role("button", name="Sign out").click()
    expect(page.locator(".site-who")).not_to_contain_text("Bob", timeout=LIVE_TIMEOUT_MS)
    page.goto(base + "/messages.html")
    expect(chat(page).get_by_label("Username")).to_be_visible(timeout=BOOT_TIMEOUT_MS)
    assert not token_works(hs, token)
