"""Each mode is usable at 375 px and on a desktop. Screenshots of each run land in the test's
temporary folder, to look at when it fails (the README's come from docs/make_screenshots.py)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.chat_ui_support import (LIVE_TIMEOUT_MS, chat, expect_message, make_room,
                                       open_and_sign_in, send)

pytestmark = pytest.mark.e2e

SIZES = {"desktop": {"width": 1280, "height": 800}, "mobile": {"width": 375, "height": 740}}
PAGES = {"sidebar": "event.html?slug=shot-event#", "tab": "group.html?slug=shot-group#discussion",
         "dashboard": "messages.html"}


@pytest.fixture(scope="module")
def conversation(synapse):
    a = synapse.register_user("shot_alice", "shot-pw", displayname="Alice")
    b = synapse.register_user("shot_bob", "shot-pw", displayname="Bob")
    event = make_room(synapse, a["access_token"], "event", "shot-event", [b],
                      name="Python Meetup", topic="Monthly meetup: Python in the browser")
    group = make_room(synapse, a["access_token"], "group", "shot-group", [b],
                      name="Pythonistas", topic="People who like Python")
    for room, text in ((event, "Hi all! Doors open at 18:30."),
                       (event, "Is there a talk on PyScript?"),
                       (group, "Anyone up for a sprint next weekend?")):
        synapse.request("POST", f"/_matrix/client/v3/rooms/{room}/send/m.room.message",
                        {"msgtype": "m.text", "body": text}, token=b["access_token"])
    return a


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("mode", list(PAGES))
def test_each_mode_fits_the_screen_and_works(conversation, web_server, new_page, mode, size,
                                             tmp_path):
    page = new_page(viewport=SIZES[size])
    open_and_sign_in(page, f"{web_server}/{PAGES[mode]}", "shot_alice", "shot-pw")
    if mode == "dashboard" and size == "mobile":
        # One pane at a time on a phone: the list first, then the conversation.
        expect(chat(page).locator(".omc-conv")).to_be_hidden()
        chat(page).get_by_role("button", name="Python Meetup").click()
    elif mode == "dashboard":
        chat(page).get_by_role("button", name="Python Meetup").click()
    expect_message(page, "Hi all! Doors open at 18:30." if mode != "tab"
                   else "Anyone up for a sprint next weekend?")
    send(page, f"Sounds good ({mode}, {size})")
    expect_message(page, f"Sounds good ({mode}, {size})")
    expect(chat(page).locator(".omc-msg.is-mine[data-status=sent]").last).to_be_visible(
        timeout=LIVE_TIMEOUT_MS)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"
    composer = chat(page).locator(".omc-composer").bounding_box()
    assert composer["x"] >= 0 and composer["x"] + composer["width"] <= SIZES[size]["width"]
    chat(page).scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / f"{mode}-{size}.png"), full_page=size == "mobile")
