"""Replies, reactions, edits and deletions in Chromium against the real Synapse: done in the UI
through the message menu (keyboard and mouse), checked in what the server stores and what
another client reads; done by an independent CPython client (as another Matrix client would)
and shown in the UI; deleting someone else's message as a moderator, and not as a member."""

from __future__ import annotations

import re
import time
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.e2e.axe import assert_accessible
from tests.e2e.chat_ui_support import (LIVE_TIMEOUT_MS, chat, expect_message, make_room,
                                       open_and_sign_in, send)
pytestmark = pytest.mark.e2e


def until(condition, timeout: float = 15):
    """Poll the server until `condition()` returns something truthy; return it."""
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        if time.monotonic() > deadline:
            raise AssertionError("the server did not store what was expected")
        time.sleep(0.1)
    return found


def events(synapse, room_id: str, token: str) -> list[dict]:
    status, body = synapse.request(
        "GET", f"/_matrix/client/v3/rooms/{room_id}/messages?dir=f&limit=200", token=token)
    assert status == 200, body
    return body["chunk"]


def post(synapse, room_id: str, token: str, event_type: str, content: dict) -> str:
    status, body = synapse.request(
        "POST", f"/_matrix/client/v3/rooms/{room_id}/send/{event_type}", content, token=token)
    assert status == 200, body
    return body["event_id"]


def event_id_of(synapse, room_id: str, token: str, body: str) -> str:
    return next(e["event_id"] for e in events(synapse, room_id, token)
                if e["type"] == "m.room.message" and e["content"].get("body") == body)


def message(page, text: str):
    return chat(page).locator(".omc-msg").filter(
        has=page.locator(".omc-body", has_text=re.compile("^" + re.escape(text) + "$")))


def open_menu(page, text: str):
    """Open a message's menu from the keyboard: focus its button, Enter."""
    button = message(page, text).get_by_role("button", name=re.compile("^Actions for"))
    button.focus()
    button.press("Enter")
    menu = chat(page).get_by_role("menu", name="Message actions")
    expect(menu).to_be_visible()
    return menu


def test_reply_react_edit_and_delete_in_the_ui_reach_the_server_and_another_client(
        synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    b_name, b_pw, b = make_user("bob")
    room_id = make_room(synapse, a["access_token"], "event", "actions-ui", [b])
    post(synapse, room_id, b["access_token"], "m.room.message",
         {"msgtype": "m.text", "body": "picnic at noon?"})
    page = new_page()
    open_and_sign_in(page, f"{web_server}/event.html?slug=actions-ui", a_name, a_pw)
    expect_message(page, "picnic at noon?")
    original_id = event_id_of(synapse, room_id, b["access_token"], "picnic at noon?")

    # Reply, all from the keyboard: the first item is Reply.
    menu = open_menu(page, "picnic at noon?")
    expect(menu.get_by_role("menuitem", name="Reply")).to_be_focused()
    expect(menu.get_by_role("menuitem", name="Edit")).to_have_count(0)  # not mine
    expect(menu.get_by_role("menuitem", name="Delete…")).to_have_count(0)  # not a moderator
    page.keyboard.press("ArrowDown")
    expect(menu.get_by_role("menuitem", name="React with 👍")).to_be_focused()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    expect(menu).to_be_hidden()
    box = chat(page).get_by_label("Message", exact=True)
    expect(box).to_be_focused()
    expect(chat(page).locator(".omc-target")).to_contain_text("Replying to")
    page.keyboard.type("yes!")
    page.keyboard.press("Enter")
    expect(message(page, "yes!").locator(".omc-reply")).to_contain_text("picnic at noon?")

    # React from the keyboard (Reply, then the default set: 🎉 is the fourth emoji), then with
    # any emoji typed in.
    menu = open_menu(page, "picnic at noon?")
    for _ in range(4):
        page.keyboard.press("ArrowDown")
    expect(menu.get_by_role("menuitem", name="React with 🎉")).to_be_focused()
    page.keyboard.press("Enter")
    expect(menu).to_be_hidden()
    menu = open_menu(page, "picnic at noon?")
    menu.get_by_role("menuitem", name="Other emoji…").click()
    chat(page).get_by_label("Emoji to react with").fill("🦆")
    chat(page).get_by_label("Emoji to react with").press("Enter")
    chips = message(page, "picnic at noon?").locator(".omc-reaction")
    expect(chips).to_have_count(2)
    expect(chips.first).to_have_attribute("aria-pressed", "true")
    expect(chips.first).to_have_accessible_name("🎉 1: you")
    open_menu(page, "picnic at noon?")  # a reply, reactions and an open menu: what axe sees
    assert_accessible(page, "conversation with the message menu open")
    page.keyboard.press("Escape")

    # Edit my last message: Up in the empty composer, Escape cancels, Up again, Enter sends.
    # (a message still on its way has no event id to edit yet)
    expect(chat(page).locator(".omc-msg[data-status=pending]")).to_have_count(0,
                                                                             timeout=LIVE_TIMEOUT_MS)
    box.focus()
    box.press("ArrowUp")
    expect(box).to_have_value("yes!")
    box.press("Escape")
    expect(box).to_have_value("")
    box.press("ArrowUp")
    box.fill("yes, at noon!")
    box.press("Enter")
    expect(message(page, "yes, at noon!").locator(".omc-edited")).to_have_text("(edited)")
    expect(message(page, "yes, at noon!").locator(".omc-reply")).to_contain_text("picnic")

    # Delete a message of mine, with a confirmation; cancelling first keeps it.
    send(page, "to be deleted")
    expect(chat(page).locator(".omc-msg[data-status=pending]")).to_have_count(0,
                                                                             timeout=LIVE_TIMEOUT_MS)
    menu = open_menu(page, "to be deleted")
    menu.get_by_role("menuitem", name="Delete…").click()
    question = chat(page).get_by_role("alertdialog", name="Delete this message for everyone?")
    expect(question.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(question).to_be_hidden()
    expect_message(page, "to be deleted")
    menu = open_menu(page, "to be deleted")
    menu.get_by_role("menuitem", name="Delete…").click()
    assert_accessible(page, "conversation asking to delete a message")
    question.get_by_role("button", name="Delete").click()
    expect_message(page, "Message deleted")

    # What the server stored, read by Bob (another client).
    def stored_all():
        found = events(synapse, room_id, b["access_token"])
        kinds = [e["type"] for e in found]
        return found if kinds.count("m.reaction") == 2 and "m.room.redaction" in kinds \
            and any("m.new_content" in e["content"] for e in found) else None

    found = until(stored_all)
    mine = [e for e in found if e["sender"] == a["user_id"]]
    reply = next(e for e in mine if e["type"] == "m.room.message"
                 and e["content"].get("body") == "yes!")
    assert reply["content"]["m.relates_to"] == {"m.in_reply_to": {"event_id": original_id}}
    assert reply["content"]["m.mentions"] == {"user_ids": [b["user_id"]]}
    keys = sorted(e["content"]["m.relates_to"]["key"] for e in mine if e["type"] == "m.reaction")
    assert keys == sorted(["🎉", "🦆"])
    assert all(e["content"]["m.relates_to"]["event_id"] == original_id
               for e in mine if e["type"] == "m.reaction")
    edit = next(e for e in mine if "m.new_content" in e["content"])
    assert edit["content"]["body"] == "* yes, at noon!"
    assert edit["content"]["m.new_content"] == {"msgtype": "m.text", "body": "yes, at noon!"}
    assert edit["content"]["m.relates_to"] == {"rel_type": "m.replace",
                                               "event_id": reply["event_id"]}
    redaction = next(e for e in mine if e["type"] == "m.room.redaction")
    deleted = next(e for e in found if e["event_id"] == redaction.get(
        "redacts", redaction["content"].get("redacts")))
    assert deleted["content"] == {} and deleted["sender"] == a["user_id"]

    # Clicking my reaction takes it back (a redaction of that reaction).
    chips.first.click()
    expect(chips).to_have_count(1)
    until(lambda: len([e for e in events(synapse, room_id, b["access_token"])
                       if e["type"] == "m.reaction" and e["content"]]) == 1)
    assert not page.page_errors


def test_replies_reactions_and_edits_from_another_client_show_in_the_ui(
        synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    b_name, b_pw, b = make_user("bob")
    room_id = make_room(synapse, a["access_token"], "event", "actions-other", [b])
    page = new_page()
    open_and_sign_in(page, f"{web_server}/event.html?slug=actions-other", a_name, a_pw)
    send(page, "who brings cake?")
    expect(chat(page).locator(".omc-msg[data-status=pending]")).to_have_count(0,
                                                                             timeout=LIVE_TIMEOUT_MS)
    mine = event_id_of(synapse, room_id, a["access_token"], "who brings cake?")
    bob_token = b["access_token"]
    helo = post(synapse, room_id, bob_token, "m.room.message", {"msgtype": "m.text",
                                                                "body": "helo"})
    post(synapse, room_id, bob_token, "m.room.message", {
        "msgtype": "m.text", "body": "* hello",
        "m.new_content": {"msgtype": "m.text", "body": "hello"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": helo}})
    post(synapse, room_id, bob_token, "m.reaction", {
        "m.relates_to": {"rel_type": "m.annotation", "event_id": mine, "key": "👍"}})
    # A reply the way older clients send it: with the quoted fallback, which is not shown.
    post(synapse, room_id, bob_token, "m.room.message", {
        "msgtype": "m.text", "body": f"> <{a['user_id']}> who brings cake?\n\nI do",
        "m.relates_to": {"m.in_reply_to": {"event_id": mine}}})
    # An edit of Alice's message by Bob is ignored (spec).
    post(synapse, room_id, bob_token, "m.room.message", {
        "msgtype": "m.text", "body": "* forged",
        "m.new_content": {"msgtype": "m.text", "body": "forged"},
        "m.relates_to": {"rel_type": "m.replace", "event_id": mine}})

    expect_message(page, "hello")
    expect(message(page, "hello").locator(".omc-edited")).to_have_text("(edited)")
    expect(chat(page).locator(".omc-body", has_text="helo")).to_have_count(0)
    expect_message(page, "I do")
    expect(message(page, "I do").locator(".omc-reply")).to_contain_text("who brings cake?")
    expect(message(page, "who brings cake?").locator(".omc-edited")).to_have_count(0)
    chip = message(page, "who brings cake?").locator(".omc-reaction")
    expect(chip).to_have_accessible_name(f"👍 1: {b_name}")  # who reacted, on focus
    expect(chip).to_have_attribute("title", b_name)  # and on hover
    expect(chip).to_have_attribute("aria-pressed", "false")
    # The reply's preview brings the original into view and focus.
    message(page, "I do").locator(".omc-reply").click()
    expect(message(page, "who brings cake?")).to_be_focused()
    assert not page.page_errors


def test_a_moderator_deletes_someone_elses_message_and_a_member_cannot(
        synapse, make_user, web_server, new_page):
    m_name, m_pw, mod = make_user("mod")
    b_name, b_pw, b = make_user("bob")
    c_name, c_pw, c = make_user("carol")
    room_id = make_room(synapse, mod["access_token"], "event", "actions-mod", [b, c])
    bot = synapse.register_user("openmeet-bot", "pw-bot")
    status, levels = synapse.request(
        "GET", f"/_matrix/client/v3/rooms/{room_id}/state/m.room.power_levels/",
        token=bot["access_token"])
    assert status == 200, levels
    levels["users"][mod["user_id"]] = 50
    status, body = synapse.request(
        "PUT", f"/_matrix/client/v3/rooms/{room_id}/state/m.room.power_levels/", levels,
        token=bot["access_token"])
    assert status == 200, body
    spam = post(synapse, room_id, b["access_token"], "m.room.message",
                {"msgtype": "m.text", "body": "buy cheap stuff"})

    carol = new_page()
    open_and_sign_in(carol, f"{web_server}/event.html?slug=actions-mod", c_name, c_pw)
    expect_message(carol, "buy cheap stuff")
    menu = open_menu(carol, "buy cheap stuff")
    expect(menu.get_by_role("menuitem", name="Reply")).to_be_visible()
    expect(menu.get_by_role("menuitem", name="Delete…")).to_have_count(0)
    carol.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    actions = message(carol, "buy cheap stuff").get_by_role(
        "button", name=re.compile("^Actions for"))
    expect(actions).to_be_focused()
    # Focus is visible: our focus ring (a solid outline), not Chromium's default "auto" one.
    expect(actions).to_have_css("outline-style", "solid")
    expect(actions).to_have_css("outline-width", "3px")
    # Nor would the server take it.
    status, body = synapse.request(
        "PUT", f"/_matrix/client/v3/rooms/{room_id}/redact/{quote(spam)}/t-carol", {},
        token=c["access_token"])
    assert status == 403, body

    moderator = new_page()
    open_and_sign_in(moderator, f"{web_server}/event.html?slug=actions-mod", m_name, m_pw)
    expect_message(moderator, "buy cheap stuff")
    menu = open_menu(moderator, "buy cheap stuff")
    expect(menu.get_by_role("menuitem", name="Edit")).to_have_count(0)
    # Deleting, all from the keyboard: End is the last item, the question starts on Cancel.
    moderator.keyboard.press("End")
    expect(menu.get_by_role("menuitem", name="Delete…")).to_be_focused()
    moderator.keyboard.press("Enter")
    expect(chat(moderator).get_by_role("button", name="Cancel")).to_be_focused()
    moderator.keyboard.press("Tab")
    expect(chat(moderator).get_by_role("button", name="Delete", exact=True)).to_be_focused()
    moderator.keyboard.press("Enter")
    expect_message(moderator, "Message deleted")
    expect_message(carol, "Message deleted")
    gone = next(e for e in events(synapse, room_id, c["access_token"]) if e["event_id"] == spam)
    assert gone["content"] == {}
    assert gone["unsigned"]["redacted_because"]["sender"] == mod["user_id"]
    assert not carol.page_errors and not moderator.page_errors


def test_a_reply_whose_original_is_not_loaded_loads_history_until_it_is_found(
        synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    b_name, b_pw, b = make_user("bob")
    room_id = make_room(synapse, a["access_token"], "event", "actions-far", [b])
    original = post(synapse, room_id, b["access_token"], "m.room.message",
                    {"msgtype": "m.text", "body": "the very first question"})
    for i in range(70):  # more than the first sync and one page of scroll-back bring
        post(synapse, room_id, b["access_token"], "m.room.message",
             {"msgtype": "m.text", "body": f"filler {i}"})
    post(synapse, room_id, b["access_token"], "m.room.message", {
        "msgtype": "m.text", "body": "answering it now",
        "m.relates_to": {"m.in_reply_to": {"event_id": original}}})
    page = new_page()
    open_and_sign_in(page, f"{web_server}/event.html?slug=actions-far", a_name, a_pw)
    expect_message(page, "answering it now")
    preview = message(page, "answering it now").locator(".omc-reply")
    expect(preview.locator(".omc-reply-text")).to_have_text("Original message not loaded")
    expect(chat(page).locator(".omc-body", has_text="the very first question")).to_have_count(0)
    preview.click()
    expect(message(page, "the very first question")).to_be_focused(timeout=LIVE_TIMEOUT_MS)
    expect(preview).to_contain_text("the very first question")
    assert not page.page_errors
