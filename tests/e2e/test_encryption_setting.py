"""The "encrypted chat" setting in the demo pages, against the stack serve.py starts: the
event's organizer sees it, is told that turning it on is one-way, turns it on for the existing
room (the orchestrator's bot sends m.room.encryption); an attendee sees no setting, only the
lock; the messages that follow are stored encrypted by Synapse."""

from __future__ import annotations

import json
import secrets

import pytest
from playwright.sync_api import expect

from tests.e2e.chat_ui_support import BOOT_TIMEOUT_MS, LIVE_TIMEOUT_MS, chat, expect_message, send
from tests.e2e.test_attend_flow import platform_sign_in
from tests.e2e.test_chat_ui_encryption import _wait, device_keys_uploaded, stored_event_json

pytestmark = pytest.mark.e2e


def api(page, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    """The platform API as the page's signed-in user (its session cookie, its origin)."""
    return tuple(page.evaluate("""async ([method, path, body]) => {
        const r = await fetch('/api/' + path, {method, credentials: 'same-origin',
            headers: body ? {'Content-Type': 'application/json'} : {},
            body: body ? JSON.stringify(body) : undefined});
        return [r.status, await r.json()];
    }""", [method, path, body]))


def open_event_chat(page, base: str, slug: str, user: str) -> None:
    page.goto(f"{base}/event.html?slug={slug}")
    expect(chat(page).get_by_label("Username")).to_be_visible(timeout=BOOT_TIMEOUT_MS)
    chat(page).get_by_label("Username").fill(user)
    chat(page).get_by_label("Password").fill("demo-password")
    chat(page).get_by_role("button", name="Sign in").click()
    expect(chat(page).get_by_label("Message", exact=True)).to_be_enabled(timeout=BOOT_TIMEOUT_MS)


def test_the_organizer_turns_on_encryption_one_way_and_attendees_see_only_the_lock(
        demo_stack, built_static, new_page):
    base, hs = demo_stack.url, demo_stack.synapse
    slug = "quiet-" + secrets.token_hex(3)
    alice, bob = new_page(), new_page()
    platform_sign_in(alice, base, "alice")
    platform_sign_in(bob, base, "bob")
    status, event = api(alice, "POST", "events", {"slug": slug, "name": "Quiet talk"})
    assert status == 201, event
    assert event["encrypted"] is False
    status, body = api(bob, "POST", f"events/{slug}/attend")
    assert status == 200, body
    room_id = event["matrix_room_id"]

    open_event_chat(alice, base, slug, "alice")
    setting = alice.get_by_role("region", name="Chat encryption")
    expect(setting).to_contain_text("Off", timeout=LIVE_TIMEOUT_MS)
    expect(chat(alice).locator(".omc-lock")).to_be_hidden()
    setting.get_by_role("button", name="Turn on encryption…").click()
    # Said before it is done: one-way.
    expect(setting).to_contain_text("cannot be turned off for this chat")
    setting.get_by_role("button", name="Turn on for good").click()
    expect(setting.get_by_role("status")).to_have_text(
        "🔒 On: messages are end-to-end encrypted. This cannot be turned off.",
        timeout=LIVE_TIMEOUT_MS)
    expect(setting.get_by_role("button", name="Turn on encryption…")).to_be_hidden()
    status, state = hs.request(
        "GET", f"/_matrix/client/v3/rooms/{room_id}/state/m.room.encryption/",
        token=demo_stack.orchestrator.config.as_token)
    assert status == 200 and state == {"algorithm": "m.megolm.v1.aes-sha2"}, state
    # The open chat notices by itself: the lock, and its engine loads.
    expect(chat(alice).locator(".omc-header .omc-lock")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    # Reloaded, the page shows it on, with no way back.
    alice.reload()
    expect(setting.get_by_role("status")).to_contain_text("On", timeout=LIVE_TIMEOUT_MS)
    expect(setting.get_by_role("button")).to_have_count(0)

    token = hs.login("alice_demo", "demo-password")["access_token"]
    # Bob may have devices of earlier tests: this page's is the one that must appear.
    earlier = device_keys_uploaded(hs, token, "@bob_demo:localhost")
    open_event_chat(bob, base, slug, "bob")
    expect(chat(bob).locator(".omc-header .omc-lock")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(bob.get_by_role("region", name="Chat encryption")).to_have_count(0)
    status, body = api(bob, "PUT", f"events/{slug}/encryption", {"encrypted": True})
    assert status == 403, body
    _wait(bob, lambda: device_keys_uploaded(hs, token, "@bob_demo:localhost") - earlier,
          "the keys of Bob's device in this page on the server")

    expect(chat(alice).get_by_label("Message", exact=True)).to_be_enabled(timeout=BOOT_TIMEOUT_MS)
    send(alice, "only for those here")
    expect_message(bob, "only for those here", timeout=LIVE_TIMEOUT_MS)
    stored = stored_event_json(hs, room_id)
    assert stored[-1]["type"] == "m.room.encrypted"
    assert not [e for e in stored if "only for those" in json.dumps(e)]
