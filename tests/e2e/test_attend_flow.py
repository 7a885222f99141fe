"""The platform and the chat together, on the stack serve.py starts: attending an event puts
its chat on the page without a reload (orchestrator invite -> client auto-join), and
cancelling takes the room away again."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.chat_ui_support import BOOT_TIMEOUT_MS, LIVE_TIMEOUT_MS, chat, expect_message, send

pytestmark = pytest.mark.e2e


def platform_sign_in(page, base: str, user: str) -> None:
    page.goto(base + "/index.html")
    page.locator("#si-user").fill(user)
    page.locator("#si-pass").fill("demo-password")
    page.locator("form.site-signin button[type=submit]").click()
    expect(page.locator(".site-who")).to_contain_text(user.title(), timeout=LIVE_TIMEOUT_MS)


def room_members(stack, slug: str) -> set[str]:
    """Who has joined the event's room, as the homeserver stores it (asked as the bot)."""
    hs, token = stack.synapse, stack.orchestrator.config.as_token
    status, alias = hs.request(
        "GET", f"/_matrix/client/v3/directory/room/%23event-{slug}-demo%3Alocalhost", token=token)
    assert status == 200, alias
    status, body = hs.request("GET", f"/_matrix/client/v3/rooms/{alias['room_id']}/joined_members",
                              token=token)
    assert status == 200, body
    return set(body["joined"])


def test_attending_shows_the_chat_without_reload_and_cancelling_removes_access(
        demo_stack, built_static, new_page):
    base = demo_stack.url
    demo_stack.run(demo_stack.orchestrator.drain())
    page = new_page()
    platform_sign_in(page, base, "carol")
    page.goto(base + "/event.html?slug=python-meetup")
    banner = page.get_by_text("Attend this event to join the discussion")
    expect(banner).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(page.locator("om-chat")).to_have_count(0)

    page.get_by_role("button", name="Attend").click()
    # The chat appears in place; carol signs in to it once (password mode).
    expect(chat(page).get_by_label("Username")).to_be_visible(timeout=BOOT_TIMEOUT_MS)
    chat(page).get_by_label("Username").fill("carol")
    chat(page).get_by_label("Password").fill("demo-password")
    chat(page).get_by_role("button", name="Sign in").click()
    box = chat(page).get_by_label("Message", exact=True)
    expect(box).to_be_enabled(timeout=BOOT_TIMEOUT_MS)
    assert "@carol_demo:localhost" in room_members(demo_stack, "python-meetup")

    send(page, "Hi all, carol here")
    expect_message(page, "Hi all, carol here")
    expect(chat(page).locator(".omc-msg.is-mine[data-status=sent]")).to_have_count(
        1, timeout=LIVE_TIMEOUT_MS)

    status = page.evaluate("""async () => (await fetch('/api/events/python-meetup/cancel-attending',
                                {method: 'POST'})).status""")
    assert status in (200, 202)
    demo_stack.run(demo_stack.orchestrator.drain())
    assert "@carol_demo:localhost" not in room_members(demo_stack, "python-meetup")
    # Her chat loses the room: the sync reports it left, and the component says so.
    expect(chat(page)).to_contain_text("There is no chat for this event yet, or you have not "
                                       "been invited to it", timeout=LIVE_TIMEOUT_MS)
    expect(box).to_be_hidden()
