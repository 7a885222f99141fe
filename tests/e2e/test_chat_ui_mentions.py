"""Mentions and notifications in Chromium against the real Synapse: Bob mentions Alice with
the @ picker (keyboard) → the stored event names her (m.mentions, matrix.to link), and still
does once he edits it (without telling her again); her
timeline highlights it, the homeserver's highlight count shows in her chat's header and on
the host page's navigation (om-chat:unread), and with her page hidden a browser notification
is raised, whose click brings the chat back; permission is asked only after her gesture.
A muted room is stored as her push rule on the server and its unread badge stops."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.e2e.axe import assert_accessible
from tests.e2e.chat_ui_support import (LIVE_TIMEOUT_MS, chat, expect_message, make_room,
                                       open_and_sign_in, send)
from tests.support.waiting import page_until

pytestmark = pytest.mark.e2e

# The page's visibility is ours to set (a headless page is always "visible"), and
# Notification is observed: a stand-in records what the chat shows and asks, with the
# permission the user would give on the browser's prompt.
PAGE_SPY = """
(() => {
  let hidden = false;
  Object.defineProperty(Document.prototype, "visibilityState",
    { configurable: true, get() { return hidden ? "hidden" : "visible"; } });
  Object.defineProperty(Document.prototype, "hidden",
    { configurable: true, get() { return hidden; } });
  window.__setHidden = (value) => {
    hidden = value; document.dispatchEvent(new Event("visibilitychange"));
  };
  window.__notes = [];
  window.__asked = 0;
  window.__unread = [];
  window.addEventListener("om-chat:unread", (e) => window.__unread.push(e.detail));
  class SpyNotification extends EventTarget {
    constructor(title, options) {
      super();
      this.title = title; this.body = (options || {}).body; this.tag = (options || {}).tag;
      this.closed = false;
      window.__notes.push(this);
    }
    close() { this.closed = true; }
    static requestPermission() {
      window.__asked += 1;
      SpyNotification.permission = "granted";
      return Promise.resolve("granted");
    }
  }
  SpyNotification.permission = "default";
  window.Notification = SpyNotification;
})();
"""


def spied_page(new_page):
    page = new_page()
    page.add_init_script(PAGE_SPY)
    return page


def test_bob_mentions_alice_highlight_count_nav_badge_and_notification(
        synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    b_name, b_pw, b = make_user("bob")
    synapse.request("PUT", f"/_matrix/client/v3/profile/{a['user_id']}/displayname",
                    {"displayname": "Alice Liddell"}, token=a["access_token"])
    room_id = make_room(synapse, a["access_token"], "event", "mentions", [b])

    alice = spied_page(new_page)
    open_and_sign_in(alice, f"{web_server}/event.html?slug=mentions", a_name, a_pw)
    assert alice.evaluate("window.__asked") == 0  # never at load
    send(alice, "hello all")  # a gesture: now the permission may be asked, once
    expect_message(alice, "hello all")
    page_until(alice, "window.__asked === 1", LIVE_TIMEOUT_MS, "the permission question")

    bob = new_page()
    open_and_sign_in(bob, f"{web_server}/event.html?slug=mentions", b_name, b_pw)
    expect_message(bob, "hello all")
    alice.evaluate("window.__setHidden(true)")  # Alice looks at another tab

    box = chat(bob).get_by_label("Message", exact=True)
    options = chat(bob).get_by_role("listbox", name="Mention someone").get_by_role("option")
    box.press_sequentially("@Ali")  # the mouse: a click on a suggestion inserts it
    options.filter(has_text="Alice Liddell").click()
    expect(box).to_have_value("@Alice Liddell ")
    expect(box).to_be_focused()
    box.press("Escape")
    box.fill("")
    box.press_sequentially("look @lid")
    expect(options).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    expect(options.first).to_contain_text("Alice Liddell")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", options.first.get_attribute("id"))
    assert_accessible(bob, "the mention suggestions open", "om-chat")
    box.press("Enter")  # inserts the pill, does not send
    expect(box).to_have_value("look @Alice Liddell ")
    expect(options).to_have_count(0)
    pill = chat(bob).locator(".omc-pill")  # drawn behind the text, where the name is
    expect(pill).to_have_text("@Alice Liddell")
    box.press_sequentially("there")
    box.press("Enter")
    expect_message(bob, "look Alice Liddell there")  # the pill: a link named Alice Liddell
    expect(chat(bob).locator(".omc-msg.is-mine[data-status=sent]")).to_have_count(
        1, timeout=LIVE_TIMEOUT_MS)

    status, body = synapse.request(
        "GET", f"/_matrix/client/v3/rooms/{room_id}/messages?dir=b&limit=5",
        token=a["access_token"])
    assert status == 200, body
    event = next(e for e in body["chunk"] if e["content"].get("body", "").startswith("look"))
    assert event["content"]["m.mentions"] == {"user_ids": [a["user_id"]]}
    assert f'<a href="https://matrix.to/#/{a["user_id"]}">Alice Liddell</a>' in \
        event["content"]["formatted_body"]

    # Edited (ArrowUp in the empty composer), the pill stays a pill and the message a mention.
    box.press("ArrowUp")
    expect(box).to_have_value("look @Alice Liddell there")
    expect(pill).to_have_text("@Alice Liddell")
    box.fill("look @Alice Liddell, over there")
    box.press("Enter")
    expect_message(bob, "look Alice Liddell, over there")
    # in Alice's view (so stored), still a mention
    expect(chat(alice).locator(".omc-msg.is-mention", has_text="Liddell, over there")
           ).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    edited = synapse.request(
        "GET", f"/_matrix/client/v3/rooms/{room_id}/messages?dir=b&limit=5",
        token=a["access_token"])[1]["chunk"]
    edit = next(e["content"] for e in edited
                if e["content"].get("m.relates_to", {}).get("rel_type") == "m.replace")
    assert edit["m.new_content"]["m.mentions"] == {"user_ids": [a["user_id"]]}
    assert f'<a href="https://matrix.to/#/{a["user_id"]}">Alice Liddell</a>, over there' in \
        edit["m.new_content"]["formatted_body"]
    assert edit["m.mentions"] == {"user_ids": []}  # she was told once, not again

    mention = chat(alice).locator(".omc-msg.is-mention")
    expect(mention).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    expect(mention.locator("a")).to_have_text("Alice Liddell")
    expect(chat(alice).locator(".omc-msg:not(.is-mention)")).to_have_count(1)
    # The homeserver's highlight count: in the chat's header, and on the host's navigation.
    header = chat(alice).locator(".omc-header-mentions")
    expect(header).to_have_text("@1", timeout=LIVE_TIMEOUT_MS)
    expect(header).to_have_attribute("aria-label", "1 unread mention")
    nav_badge = alice.locator(".site-nav a", has_text="Messages").locator(".site-badge")
    expect(nav_badge).to_have_text("@1", timeout=LIVE_TIMEOUT_MS)
    assert alice.evaluate("window.__unread.at(-1).mentions") == 1

    page_until(alice, "window.__notes.length === 1", LIVE_TIMEOUT_MS, "the notification")
    note = alice.evaluate("({title: __notes[0].title, body: __notes[0].body})")
    assert note["title"].startswith("bob") and "mentioned you" in note["title"], note
    assert note["body"] == "look @Alice Liddell there"
    # A message that does not mention her raises nothing (a group chat, not a DM).
    send(bob, "no mention here")
    expect_message(alice, "no mention here")

    alice.evaluate("window.__setHidden(false)")
    alice.evaluate("window.__notes[0].dispatchEvent(new Event('click'))")
    page_until(alice, "document.activeElement && document.activeElement.matches("
                      "'om-chat textarea')", LIVE_TIMEOUT_MS, "the chat focused")
    assert alice.evaluate("window.__notes[0].closed")
    # Shown again, the messages are read: the count goes, here and on the host's badge.
    expect(header).to_be_hidden(timeout=LIVE_TIMEOUT_MS)
    expect(nav_badge).to_be_hidden(timeout=LIVE_TIMEOUT_MS)
    assert alice.evaluate("window.__notes.length") == 1
    assert not alice.page_errors and not bob.page_errors


def server_unread(synapse, token, room_id) -> int:
    """The homeserver's notification count of one room for this user."""
    flt = json.dumps({"room": {"rooms": [room_id], "timeline": {"limit": 1}}})
    status, body = synapse.request("GET", f"/_matrix/client/v3/sync?filter={quote(flt)}",
                                   token=token)
    assert status == 200, body
    return body["rooms"]["join"][room_id]["unread_notifications"]["notification_count"]


def pushrules(synapse, token):
    status, body = synapse.request("GET", "/_matrix/client/v3/pushrules/", token=token)
    assert status == 200, body
    return body["global"]


def test_mute_is_stored_as_a_push_rule_and_the_unread_badge_stops(
        synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    b_name, b_pw, b = make_user("bob")
    quiet = make_room(synapse, a["access_token"], "group", "mute-me", [b], name="Quiet group")
    busy = make_room(synapse, a["access_token"], "group", "keep-me", [b], name="Busy group")
    send_as(synapse, b, quiet, "first in quiet")
    send_as(synapse, b, busy, "first in busy")

    alice = spied_page(new_page)
    open_and_sign_in(alice, f"{web_server}/messages.html?room={busy}", a_name, a_pw)
    rooms = chat(alice).locator(".omc-rooms")
    quiet_item = rooms.locator("li", has_text="Quiet group")
    # The badge shows the homeserver's count (one message; Synapse has counted two under
    # heavy load, which any client would show too).
    expect(quiet_item.locator(".omc-unread")).to_have_text(re.compile(r"^[1-9]$"),
                                                           timeout=LIVE_TIMEOUT_MS)
    badge = quiet_item.locator(".omc-unread")
    deadline_ms = LIVE_TIMEOUT_MS
    while badge.inner_text() != str(server_unread(synapse, a["access_token"], quiet)):
        assert deadline_ms > 0, "the quiet group's badge never showed the server's count"
        alice.wait_for_timeout(100)
        deadline_ms -= 100
    nav_badge = alice.locator(".site-nav a", has_text="Messages").locator(".site-badge")
    expect(nav_badge).to_have_text(badge.inner_text(), timeout=LIVE_TIMEOUT_MS)

    quiet_item.get_by_role("button").click()
    expect_message(alice, "first in quiet")
    expect(quiet_item.locator(".omc-unread")).to_have_count(0, timeout=LIVE_TIMEOUT_MS)
    chat(alice).locator(".omc-info").get_by_label("Notifications").select_option("Mute")
    assert alice.evaluate("window.__asked") == 0  # muting asks for nothing

    def stored_mute():
        return [r for r in pushrules(synapse, a["access_token"])["override"]
                if r["rule_id"] == quiet]

    deadline_ms = LIVE_TIMEOUT_MS
    while not stored_mute() and deadline_ms > 0:
        alice.wait_for_timeout(100)
        deadline_ms -= 100
    rule = stored_mute()
    assert rule and rule[0]["actions"] == [] and rule[0]["enabled"], rule
    assert rule[0]["conditions"] == [{"kind": "event_match", "key": "room_id",
                                      "pattern": quiet}]

    busy_item = rooms.locator("li", has_text="Busy group")
    busy_item.get_by_role("button").click()
    expect_message(alice, "first in busy")
    send_as(synapse, b, quiet, "second in quiet")
    send_as(synapse, b, busy, "only busy counts")  # after it: the quiet one has arrived too
    expect(quiet_item.locator(".omc-room-preview")).to_contain_text(
        "second in quiet", timeout=LIVE_TIMEOUT_MS)
    expect_message(alice, "only busy counts")
    expect(quiet_item.locator(".omc-unread")).to_have_count(0)
    expect(nav_badge).to_be_hidden()

    # Page hidden, permission given earlier: a mention in the muted room raises nothing and
    # counts nothing; one in the other room is counted apart in the list and notified.
    alice.evaluate("Notification.permission = 'granted'; window.__setHidden(true)")
    mention = {"msgtype": "m.text", "m.mentions": {"user_ids": [a["user_id"]]}}
    send_as(synapse, b, quiet, "psst in quiet", mention)
    send_as(synapse, b, busy, "psst in busy", mention)
    expect(busy_item.locator(".omc-mention-count")).to_have_text("@1", timeout=LIVE_TIMEOUT_MS)
    expect(busy_item.locator(".omc-mention-count")).to_have_attribute("aria-label", "1 mention")
    assert_accessible(alice, "the dashboard with a mention count and notification settings")
    expect(quiet_item.locator(".omc-room-preview")).to_contain_text("psst in quiet")
    expect(quiet_item.locator(".omc-mention-count")).to_have_count(0)
    expect(nav_badge).to_have_text("@1", timeout=LIVE_TIMEOUT_MS)
    page_until(alice, "window.__notes.length >= 1", LIVE_TIMEOUT_MS, "a notification")
    assert alice.evaluate("window.__notes.map(n => n.body)") == ["psst in busy"]
    alice.evaluate("window.__setHidden(false)")
    # The setting is the server's: a reload reads it back from the push rules.
    alice.reload()
    select = chat(alice).locator(".omc-info").get_by_label("Notifications")
    quiet_item.get_by_role("button").click(timeout=60_000)
    expect(select).to_have_value("mute", timeout=LIVE_TIMEOUT_MS)
    assert busy_item.count() == 1
    assert not alice.page_errors


def send_as(synapse, user, room_id, text, content=None):
    status, body = synapse.request(
        "PUT", f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/"
               f"{re.sub(r'[^a-z]', '', text)}",
        {"msgtype": "m.text", **(content or {}), "body": text}, token=user["access_token"])
    assert status == 200, body


def test_a_dm_while_hidden_notifies_and_the_click_opens_it_in_the_dashboard(
        synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    b_name, b_pw, b = make_user("bob")
    group = make_room(synapse, a["access_token"], "group", "dm-notify", [b], name="A group")
    status, body = synapse.request("POST", "/_matrix/client/v3/createRoom", {
        "preset": "trusted_private_chat", "is_direct": True, "invite": [a["user_id"]]},
        token=b["access_token"])
    assert status == 200, body
    dm = body["room_id"]
    assert synapse.request("POST", f"/_matrix/client/v3/join/{dm}", {},
                           token=a["access_token"])[0] == 200
    assert synapse.request(
        "PUT", f"/_matrix/client/v3/user/{a['user_id']}/account_data/m.direct",
        {b["user_id"]: [dm]}, token=a["access_token"])[0] == 200

    alice = spied_page(new_page)
    open_and_sign_in(alice, f"{web_server}/messages.html?room={group}", a_name, a_pw)
    expect(chat(alice).locator(".omc-rooms li")).to_have_count(2, timeout=LIVE_TIMEOUT_MS)
    alice.evaluate("Notification.permission = 'granted'; window.__setHidden(true)")
    send_as(synapse, b, group, "group chatter")  # not a DM, no mention: quiet
    send_as(synapse, b, dm, "are you there?")
    page_until(alice, "window.__notes.length >= 1", LIVE_TIMEOUT_MS, "the DM's notification")
    notes = alice.evaluate("window.__notes.map(n => [n.title, n.body])")
    assert notes == [[b_name, "are you there?"]], notes

    alice.evaluate("window.__setHidden(false)")
    alice.evaluate("window.__notes[0].dispatchEvent(new Event('click'))")
    selected = chat(alice).locator(".omc-room-btn.is-selected")
    expect(selected).to_contain_text(b_name, timeout=LIVE_TIMEOUT_MS)
    expect_message(alice, "are you there?")
    page_until(alice, "document.activeElement && document.activeElement.matches("
                      "'om-chat textarea')", LIVE_TIMEOUT_MS, "the composer focused")
    assert not alice.page_errors


def test_a_new_dm_invitation_while_hidden_notifies_and_the_click_offers_accept(
        synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    b_name, b_pw, b = make_user("bob")
    make_room(synapse, a["access_token"], "group", "invite-notify", [b], name="A group")
    alice = spied_page(new_page)
    open_and_sign_in(alice, f"{web_server}/messages.html", a_name, a_pw)
    alice.evaluate("Notification.permission = 'granted'; window.__setHidden(true)")
    status, body = synapse.request("POST", "/_matrix/client/v3/createRoom", {
        "preset": "trusted_private_chat", "is_direct": True, "invite": [a["user_id"]]},
        token=b["access_token"])
    assert status == 200, body
    dm = body["room_id"]
    page_until(alice, "window.__notes.length >= 1", LIVE_TIMEOUT_MS, "the invitation's notice")
    notes = alice.evaluate("window.__notes.map(n => [n.title, n.body])")
    assert notes == [[f"{b_name} wants to chat", "Open the chat to accept or decline."]], notes
    alice.evaluate("window.__setHidden(false)")
    alice.evaluate("window.__notes[0].dispatchEvent(new Event('click'))")
    page_until(alice, "document.activeElement && document.activeElement.matches("
                      f"'[data-action=\"join-room\"][data-room=\"{dm}\"]')", LIVE_TIMEOUT_MS,
               "Accept focused")
    assert not alice.page_errors
