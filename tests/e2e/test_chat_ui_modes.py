"""Two people chat through the page in each mode of the component, against a real Synapse."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.chat_ui_support import (LIVE_TIMEOUT_MS, chat, expect_message, make_room,
                                         open_and_sign_in, send)

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


def test_group_members_chat_in_the_discussion_tab(synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    b_name, b_pw, b = make_user("bob")
    make_room(synapse, a["access_token"], "group", "hikers-tab", [b], name="Hikers")
    alice, bob = new_page(), new_page()
    open_and_sign_in(alice, f"{web_server}/group.html?slug=hikers-tab#discussion", a_name, a_pw)
    open_and_sign_in(bob, f"{web_server}/group.html?slug=hikers-tab#discussion", b_name, b_pw)
    expect(alice.get_by_role("tab", name="Discussion")).to_have_attribute("aria-selected", "true")
    expect(chat(alice).locator(".omc-header")).to_have_count(0)  # tab mode has no header
    expect(chat(alice).locator(".omc-empty")).to_contain_text("No messages yet")
    send(alice, "Saturday walk at 9?")
    expect_message(bob, "Saturday walk at 9?")
    send(bob, "Count me in")
    expect_message(alice, "Count me in")
    # Bob has the conversation on screen, so Alice learns he read her message.
    expect(chat(alice).locator(".omc-seen")).to_have_text(f"Seen by {b_name}",
                                                          timeout=LIVE_TIMEOUT_MS)


def test_the_dashboard_lists_chats_with_unread_counts_and_switches_conversations(
        synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    b_name, b_pw, b = make_user("bob")
    make_room(synapse, a["access_token"], "event", "dash-event", [b], name="Board games night",
              topic="Bring your favourite game")
    make_room(synapse, a["access_token"], "group", "dash-group", [b], name="Board gamers")
    alice, bob = new_page(), new_page()
    open_and_sign_in(alice, f"{web_server}/messages.html", a_name, a_pw)
    open_and_sign_in(bob, f"{web_server}/messages.html", b_name, b_pw)
    rooms = chat(bob).locator(".omc-room-btn")
    expect(rooms).to_have_count(2)
    chat(alice).get_by_role("button", name="Board games night").click()
    expect(chat(alice).locator(".omc-conv-title")).to_have_text("Board games night")
    expect(chat(alice).locator(".omc-info-topic")).to_have_text("Bring your favourite game")
    expect(chat(alice).locator(".omc-members")).to_contain_text(b_name)
    chat(bob).get_by_role("button", name="Board gamers").click()
    expect(chat(bob).locator(".omc-conv-title")).to_have_text("Board gamers")
    send(alice, "Who brings Catan?")
    # Bob looks at the other chat: the message shows up as unread with its preview.
    night = chat(bob).locator(".omc-room-btn", has_text="Board games night")
    expect(night.locator(".omc-unread")).to_have_text("1", timeout=LIVE_TIMEOUT_MS)
    expect(night.locator(".omc-room-preview")).to_have_text(f"{a_name}: Who brings Catan?")
    night.click()
    expect_message(bob, "Who brings Catan?")
    expect(night.locator(".omc-unread")).to_have_count(0, timeout=LIVE_TIMEOUT_MS)
    send(bob, "I do")
    expect_message(alice, "I do")
