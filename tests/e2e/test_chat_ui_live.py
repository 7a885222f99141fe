"""The browser chat against other clients and across reloads: a plain CPython matrix-nio
client, typing notifications, a restored session."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time

import pytest
from nio import AsyncClient, RoomMessageText, SyncResponse
from playwright.sync_api import expect

from tests.e2e.chat_ui_support import (BOOT_TIMEOUT_MS, LIVE_TIMEOUT_MS, chat, expect_message,
                                       expect_ready, make_room, open_and_sign_in, send,
                                       stored_messages)

pytestmark = pytest.mark.e2e


def run_async(coro):
    """Playwright's sync API owns this thread's event loop; nio runs on its own thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def nio_send(base_url: str, user: str, password: str, room_id: str, text: str) -> None:
    client = AsyncClient(base_url, user)
    try:
        await client.login(password)
        response = await client.room_send(room_id, "m.room.message",
                                          {"msgtype": "m.text", "body": text})
        assert getattr(response, "event_id", None), response
    finally:
        await client.close()


async def nio_wait_for(base_url: str, user: str, password: str, room_id: str, text: str,
                       timeout: float = 15) -> str:
    client = AsyncClient(base_url, user)
    try:
        await client.login(password)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            response = await client.sync(timeout=2000)
            assert isinstance(response, SyncResponse), response
            room = response.rooms.join.get(room_id)
            for event in room.timeline.events if room else []:
                if isinstance(event, RoomMessageText) and event.body == text:
                    return event.sender
        raise AssertionError(f"{text!r} did not reach the nio client")
    finally:
        await client.close()


def test_messages_cross_between_the_browser_and_a_plain_nio_client(
        synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    n_name, n_pw, n = make_user("nio")
    room_id = make_room(synapse, a["access_token"], "event", "nio-crossing", [n])
    page = new_page()
    open_and_sign_in(page, f"{web_server}/event.html?slug=nio-crossing", a_name, a_pw)
    run_async(nio_send(synapse.base_url, n_name, n_pw, room_id, "hello from CPython"))
    expect_message(page, "hello from CPython")
    expect(chat(page).locator(".omc-msg", has_text="hello from CPython").locator(".omc-sender")
           ).to_have_text(n_name)
    send(page, "hello from the browser")
    sender = run_async(nio_wait_for(synapse.base_url, n_name, n_pw, room_id,
                                    "hello from the browser"))
    assert sender == a["user_id"]
    # pyapp/build/stdlib_core.txt holds every stdlib module signing in and sending imports
    assert not [u for u in page.requests if "python_stdlib_rest" in u]


def test_a_reload_restores_the_session_and_the_conversation(
        synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    make_room(synapse, a["access_token"], "event", "reload-me", [])
    page = new_page()
    open_and_sign_in(page, f"{web_server}/event.html?slug=reload-me", a_name, a_pw)
    send(page, "before the reload")
    expect(chat(page).locator(".omc-msg[data-status=sent]")).to_have_count(1,
                                                                          timeout=LIVE_TIMEOUT_MS)
    page.reload()
    expect_ready(page)
    expect_message(page, "before the reload", timeout=BOOT_TIMEOUT_MS)
    expect(chat(page).get_by_label("Password")).to_be_hidden()


def test_typing_reaches_the_other_user_and_stops_after_sending(
        synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    b_name, b_pw, b = make_user("bob")
    make_room(synapse, a["access_token"], "event", "typing-room", [b])
    alice, bob = new_page(), new_page()
    open_and_sign_in(alice, f"{web_server}/event.html?slug=typing-room", a_name, a_pw)
    open_and_sign_in(bob, f"{web_server}/event.html?slug=typing-room", b_name, b_pw)
    chat(alice).get_by_label("Message", exact=True).press_sequentially("on my w")
    expect(chat(bob).locator(".omc-typing")).to_have_text(f"{a_name} is typing…",
                                                          timeout=LIVE_TIMEOUT_MS)
    chat(alice).get_by_label("Message", exact=True).press("Enter")
    expect_message(bob, "on my w")
    expect(chat(bob).locator(".omc-typing")).to_have_text("", timeout=LIVE_TIMEOUT_MS)
    # Typing on at once (the server may still have her typing): shown again.
    chat(alice).get_by_label("Message", exact=True).press_sequentially("ay")
    expect(chat(bob).locator(".omc-typing")).to_have_text(f"{a_name} is typing…",
                                                          timeout=LIVE_TIMEOUT_MS)


def test_shift_enter_makes_a_new_line_and_blank_messages_are_not_sent(
        synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    room_id = make_room(synapse, a["access_token"], "event", "keys-room", [])
    page = new_page()
    open_and_sign_in(page, f"{web_server}/event.html?slug=keys-room", a_name, a_pw)
    box = chat(page).get_by_label("Message", exact=True)
    box.press("Enter")
    box.fill("   ")
    box.press("Enter")
    box.fill("")
    box.press_sequentially("line one")
    box.press("Shift+Enter")
    box.press_sequentially("line two")
    expect(box).to_have_value("line one\nline two")
    box.press("Enter")
    expect_message(page, "line one\nline two")
    expect(box).to_have_value("")
    expect(box).to_be_focused()
    expect(chat(page).locator(".omc-msg[data-status=sent]")).to_have_count(1,
                                                                          timeout=LIVE_TIMEOUT_MS)
    assert stored_messages(synapse, room_id, a["access_token"]) == ["line one\nline two"]
