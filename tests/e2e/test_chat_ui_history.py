"""The conversation's history in Chromium against the real Synapse: scrolling back to the
room's beginning with the reading position kept, a long time offline filled in rather than
skipped, "Jump to latest" with a count, membership noise collapsed, the bot's own events
hidden, and the timeline a live log that axe-core finds no serious problem with."""

from __future__ import annotations

import re
import secrets
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.e2e.axe import assert_accessible
from tests.e2e.chat_ui_support import (LIVE_TIMEOUT_MS, chat, expect_message, make_room,
                                         open_and_sign_in)
from tests.support.waiting import page_until

pytestmark = pytest.mark.e2e

SCROLL = "om-chat .omc-scroll"


def post(synapse, token: str, room_id: str, body: str) -> str:
    status, answer = synapse.request(
        "PUT", f"/_matrix/client/v3/rooms/{quote(room_id)}/send/m.room.message/"
               f"t{secrets.token_hex(6)}", {"msgtype": "m.text", "body": body}, token=token)
    assert status == 200, answer
    return answer["event_id"]


def bodies(page) -> list[str]:
    return page.locator("om-chat .omc-body").all_inner_texts()


def top_visible_message(page) -> tuple[str, float]:
    """The first message whose top is inside the log's box, and that top's offset."""
    return page.evaluate("""(sel) => {
        const log = document.querySelector(sel), box = log.getBoundingClientRect();
        for (const li of log.querySelectorAll('.omc-msg')) {
            const top = li.getBoundingClientRect().top - box.top;
            if (top >= 0) return [li.querySelector('.omc-body').textContent, top];
        }
        return null;
    }""", SCROLL)


def is_in_view(page, text: str) -> bool:
    return page.evaluate("""([sel, text]) => {
        const log = document.querySelector(sel), box = log.getBoundingClientRect();
        const li = [...log.querySelectorAll('.omc-msg')].find(
            (m) => m.querySelector('.omc-body').textContent === text);
        if (!li) return false;
        const r = li.getBoundingClientRect();
        return r.bottom > box.top && r.top < box.bottom;
    }""", [SCROLL, text])


def scroll_to_top(page) -> None:
    page.evaluate("(sel) => { document.querySelector(sel).scrollTop = 0; }", SCROLL)


def test_scrolling_up_loads_the_history_to_its_beginning_keeping_the_place(
        synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    b_name, b_pw, b = make_user("bob")
    room_id = make_room(synapse, a["access_token"], "event", "history-120", [b], name="History")
    sent = [f"message {n:03d}" for n in range(1, 121)]
    for text in sent:
        post(synapse, b["access_token"], room_id, text)
    page = new_page(viewport={"width": 1100, "height": 800})
    # Each /messages answer waits until the test has seen the loading state.
    held = []
    page.route(re.compile(r".*/messages\?.*"), lambda route: held.append(route))
    open_and_sign_in(page, f"{web_server}/event.html?slug=history-120", a_name, a_pw)
    expect_message(page, "message 120")
    first_shown = len(bodies(page))
    assert first_shown < 60, "the first sync already brought the history"
    log = chat(page).locator(".omc-scroll")
    expect(log).to_have_attribute("role", "log")
    expect(log).to_have_attribute("aria-live", "polite")

    pages = 0
    while not chat(page).get_by_text("This is the beginning of the conversation").count():
        scroll_to_top(page)
        page_until(page, "true")  # let the scroll event run
        expect(chat(page).get_by_text("Loading earlier messages…")).to_be_visible(
            timeout=LIVE_TIMEOUT_MS)
        expect(log).to_have_attribute("aria-busy", "true")
        before = bodies(page)
        # The reading position: what is at the top of the log now stays in sight.
        page.evaluate("(sel) => { document.querySelector(sel).scrollTop = 150; }", SCROLL)
        anchor, offset = top_visible_message(page)
        page_until(page, "true")
        while not held:
            page.wait_for_timeout(20)
        held.pop(0).continue_()
        pages += 1
        expect(chat(page).get_by_text("Loading earlier messages…")).to_have_count(
            0, timeout=LIVE_TIMEOUT_MS)
        assert len(bodies(page)) > len(before) or chat(page).get_by_text(
            "This is the beginning of the conversation").count()
        assert is_in_view(page, anchor), f"{anchor} left the view when earlier ones came"
        _, now_offset = top_visible_message(page) if top_visible_message(page)[0] == anchor \
            else (anchor, None)
        assert now_offset is not None and abs(now_offset - offset) < 4, (offset, now_offset)
        assert pages < 6, "the beginning never came"
    page.unroute(re.compile(r".*/messages\?.*"))
    for route in held:
        route.continue_()
    assert bodies(page) == sent  # all of them, once, in order
    expect(chat(page).locator(".omc-start")).to_have_count(1)
    assert pages >= 2  # 50 per page: more than one page of history was loaded
    assert_accessible(page, "the event sidebar with a long history")


def test_new_messages_while_scrolled_up_offer_jump_to_latest_with_a_count(
        synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    b_name, b_pw, b = make_user("bob")
    room_id = make_room(synapse, a["access_token"], "event", "history-jump", [b])
    for n in range(40):
        post(synapse, b["access_token"], room_id, f"old {n}")
    page = new_page(viewport={"width": 1100, "height": 700})
    open_and_sign_in(page, f"{web_server}/event.html?slug=history-jump", a_name, a_pw)
    expect_message(page, "old 39")
    page.evaluate("(sel) => { document.querySelector(sel).scrollTop = 200; }", SCROLL)
    jump = chat(page).locator(".omc-jump")
    page.evaluate("(sel) => { window.__nodes = [...document.querySelectorAll(sel + ' .omc-messages > li.omc-msg')]; }",
                  SCROLL)
    for n in range(3):
        post(synapse, b["access_token"], room_id, f"new {n}")
    expect_message(page, "new 2")
    # A keyed update: every item shown before is still the same DOM node, in the same order
    # (earlier history may have come in above them meanwhile).
    moved = page.evaluate("""(sel) => {
        const now = [...document.querySelectorAll(sel + ' .omc-messages > li.omc-msg')];
        const at = window.__nodes.map((node) => now.indexOf(node));
        return window.__nodes.filter((node, n) => at[n] < 0 || (n > 0 && at[n] <= at[n - 1]))
            .map((node) => node.textContent);
    }""", SCROLL)
    assert page.evaluate("window.__nodes.length") >= 30 and moved == []
    expect(jump).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    expect(jump).to_have_text("↓ 3 new messages")
    assert not is_in_view(page, "new 2")  # nothing moved under the reader
    jump.click()
    expect(jump).to_be_hidden()
    page_until(page, f"""(() => {{ const l = document.querySelector('{SCROLL}');
        return l.scrollHeight - l.scrollTop - l.clientHeight < 50; }})()""")
    assert is_in_view(page, "new 2")
    post(synapse, b["access_token"], room_id, "new 3")
    expect_message(page, "new 3")
    assert is_in_view(page, "new 3")  # at the bottom, the log follows
    expect(jump).to_be_hidden()


def test_a_long_time_offline_is_filled_in_not_skipped(synapse, make_user, web_server,
                                                      new_page):
    a_name, a_pw, a = make_user("alice")
    b_name, b_pw, b = make_user("bob")
    room_id = make_room(synapse, a["access_token"], "event", "history-gap", [b])
    post(synapse, b["access_token"], room_id, "before the gap")
    page = new_page()
    open_and_sign_in(page, f"{web_server}/event.html?slug=history-gap", a_name, a_pw)
    expect_message(page, "before the gap")
    page.context.set_offline(True)
    expect(chat(page).locator(".omc-conn")).not_to_have_text("Online", timeout=60_000)
    missed = [f"missed {n:02d}" for n in range(45)]  # more than a sync's 30: a limited sync
    for text in missed:
        post(synapse, b["access_token"], room_id, text)
    page.context.set_offline(False)
    expect(chat(page).locator(".omc-conn")).to_have_text("Online", timeout=60_000)
    expect_message(page, "missed 44")
    page_until(page, f"""[...document.querySelectorAll('om-chat .omc-body')]
        .some((b) => b.textContent === 'missed 00')""", timeout_ms=LIVE_TIMEOUT_MS,
               what="the messages of the limited sync's gap")
    shown = bodies(page)
    assert shown[shown.index("before the gap"):] == ["before the gap", *missed]
    expect(chat(page).locator(".omc-gap.is-missing")).to_have_count(0)


def test_joins_collapse_into_one_line_and_the_bots_events_are_not_shown(
        synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    others = [make_user(name)[2] for name in ("bob", "carol", "dave")]
    make_room(synapse, a["access_token"], "group", "history-noise", others, name="Noise")
    page = new_page()
    open_and_sign_in(page, f"{web_server}/group.html?slug=history-noise#discussion", a_name, a_pw)
    lines = chat(page).locator(".omc-members-line")
    expect(lines).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    expect(lines).to_have_text("4 people joined")  # alice and three others; not the bot
    expect(chat(page).locator(".omc-start")).to_have_count(1)
    expect(chat(page)).not_to_contain_text("openmeet-bot")
    assert_accessible(page, "the group's Discussion tab")
