"""Two people chat through the page in each mode of the component, against a real Synapse."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.chat_ui_support import (chat, expect_message, make_room, open_and_sign_in, send)

pytestmark = pytest.mark.e2e


def test_two_attendees_chat_in_the_event_sidebar(synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    b_name, b_pw, b = make_user("bob")
    make_room(synapse, a["access_token"], "event", "meetup-sidebar", [b], name="Python Meetup")
    alice, bob = new_page(), new_page()
    open_and_sign_in(alice, f"{web_server}/event.html?slug=meetup-sidebar", a_name, a_pw)
    open_and_sign_in(bob, f"{web_server}/event.html?slug=meetup-sidebar", b_name, b_pw)
    expect(chat(alice).locator(".omc-title")).to_have_text("Python Meetup")
    expect(chat(alice).locator(".omc-conn")).to_have_text("Online")
    send(alice, "Hi Bob, see you tonight?")
    expect_message(bob, "Hi Bob, see you tonight?")
    send(bob, "Yes!\nI'll bring snacks")
    expect_message(alice, "Yes!\nI'll bring snacks")
