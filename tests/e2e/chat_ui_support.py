"""Helpers for the chat UI end-to-end tests: rooms made through the real homeserver API, and
what a user does in the page (sign in, type, send), asserted through what the page shows."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from pyapp.identity import BOT_LOCALPART, ROOM_METADATA_TYPE

BOOT_TIMEOUT_MS = 60_000  # first Python boot in a fresh browser profile (2 cores)
LIVE_TIMEOUT_MS = 15_000  # a message, a typing notice or a receipt reaching the other page


def make_room(synapse, creator_token: str, kind: str, slug: str, members=(), name=None,
              topic=None, tenant: str = "demo") -> str:
    """A room the way the platform makes one: created by the platform's bot (the client
    believes room metadata only from it) with metadata state naming its entity; the creator
    and the members invited and joined."""
    bot = synapse.register_user(BOT_LOCALPART, "pw-bot")
    status, creator = synapse.request("GET", "/_matrix/client/v3/account/whoami",
                                      token=creator_token)
    assert status == 200, creator
    people = [{"user_id": creator["user_id"], "access_token": creator_token}, *members]
    status, body = synapse.request("POST", "/_matrix/client/v3/createRoom", {
        "name": name or f"{kind.title()} {slug}", "topic": topic or "", "preset": "private_chat",
        "invite": [m["user_id"] for m in people],
        "initial_state": [{"type": ROOM_METADATA_TYPE, "state_key": "", "content": {
            "entity_type": kind, "entity_slug": slug, "tenant_id": tenant,
            "created_by": "test"}}],
    }, token=bot["access_token"])
    assert status == 200, body
    room_id = body["room_id"]
    for member in people:
        status, body = synapse.request("POST", f"/_matrix/client/v3/join/{room_id}", {},
                                       token=member["access_token"])
        assert status == 200, body
    return room_id


def stored_messages(synapse, room_id: str, token: str) -> list[str]:
    status, body = synapse.request(
        "GET", f"/_matrix/client/v3/rooms/{room_id}/messages?dir=f&limit=200", token=token)
    assert status == 200, body
    return [e["content"].get("body") for e in body["chunk"] if e["type"] == "m.room.message"]


def chat(page: Page, nth: int = 0):
    return page.locator("om-chat").nth(nth)


def sign_in(page: Page, username: str, password: str, nth: int = 0) -> None:
    c = chat(page, nth)
    c.get_by_label("Username").fill(username)
    c.get_by_label("Password").fill(password)
    c.get_by_role("button", name="Sign in").click()


def open_and_sign_in(page: Page, url: str, username: str, password: str) -> None:
    page.goto(url)
    expect(chat(page).get_by_label("Username")).to_be_visible(timeout=BOOT_TIMEOUT_MS)
    sign_in(page, username, password)
    expect_ready(page)


def expect_ready(page: Page, nth: int = 0) -> None:
    expect(chat(page, nth).get_by_label("Message", exact=True)).to_be_enabled(timeout=BOOT_TIMEOUT_MS)


def send(page: Page, text: str, nth: int = 0) -> None:
    box = chat(page, nth).get_by_label("Message", exact=True)
    box.fill(text)
    box.press("Enter")


def expect_message(page: Page, text: str, nth: int = 0, timeout: int = LIVE_TIMEOUT_MS) -> None:
    expect(chat(page, nth).locator(".omc-body", has_text=re.compile("^" + re.escape(text) + "$"))
           ).to_have_count(1, timeout=timeout)
