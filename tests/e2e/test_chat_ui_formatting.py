"""Formatted messages in Chromium against the real Synapse: Markdown typed in our composer is
stored as body + formatted_body, formatted messages from another client show formatted, and a
corpus of hostile HTML sent by an independent client (raw HTTP from CPython) executes nothing
and loads nothing, while its text still shows as text."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.chat_ui_support import (LIVE_TIMEOUT_MS, chat, expect_message, make_room,
                                       open_and_sign_in, send)
from tests.support.waiting import page_until

pytestmark = pytest.mark.e2e

HTML = "org.matrix.custom.html"


def put_message(synapse, room_id: str, token: str, txn: str, content: dict) -> None:
    status, body = synapse.request(
        "PUT", f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/{txn}", content,
        token=token)
    assert status == 200, body


def stored_events(synapse, room_id: str, token: str) -> list[dict]:
    status, body = synapse.request(
        "GET", f"/_matrix/client/v3/rooms/{room_id}/messages?dir=f&limit=200", token=token)
    assert status == 200, body
    return [e for e in body["chunk"] if e["type"] == "m.room.message"]


def test_markdown_is_sent_formatted_and_formatted_messages_from_others_show_formatted(
        synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    b_name, b_pw, b = make_user("bob")
    room_id = make_room(synapse, a["access_token"], "event", "formatting", [b])
    page = new_page()
    open_and_sign_in(page, f"{web_server}/event.html?slug=formatting", a_name, a_pw)

    typed = "**Bold** and *soft*, `code` and [a link](https://example.org/docs)"
    send(page, typed)
    send(page, "just words")
    mine = chat(page).locator(".omc-msg.is-mine[data-status=sent] .omc-html")
    expect(mine).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    expect(mine.locator("strong")).to_have_text("Bold")
    expect(mine.locator("em")).to_have_text("soft")
    expect(mine.locator("code")).to_have_text("code")
    expect_message(page, "just words")
    page_until(page, "document.querySelectorAll('om-chat .omc-msg[data-status=sent]')"
                     ".length === 2", LIVE_TIMEOUT_MS, "both messages confirmed")
    stored = {e["content"]["body"]: e["content"]
              for e in stored_events(synapse, room_id, b["access_token"])}
    assert stored[typed]["format"] == HTML
    assert stored[typed]["formatted_body"] == (
        '<strong>Bold</strong> and <em>soft</em>, <code>code</code> and '
        '<a href="https://example.org/docs">a link</a>')
    assert stored["just words"] == {"msgtype": "m.text", "body": "just words"}

    put_message(synapse, room_id, b["access_token"], "f1", {
        "msgtype": "m.text", "body": "bold news: https://example.org/news",
        "format": HTML, "formatted_body":
            '<b>bold</b> news: <a href="https://example.org/news">the news</a>'
            '<ol start="3"><li>third</li></ol><pre><code class="language-py">x = 1</code></pre>'
            '<span data-mx-color="#ff0000">red</span>'})
    theirs = chat(page).locator(".omc-msg:not(.is-mine) .omc-html")
    expect(theirs).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    expect(theirs.locator("b")).to_have_text("bold")
    link = theirs.get_by_role("link", name="the news")
    expect(link).to_have_attribute("href", "https://example.org/news")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(link).to_have_attribute("target", "_blank")
    expect(theirs.locator("ol")).to_have_attribute("start", "3")
    expect(theirs.locator("code")).to_have_attribute("class", "language-py")
    expect(theirs.locator("span", has_text="red")).to_have_css("color", "rgb(255, 0, 0)")
    assert not page.page_errors


# Each payload tries to run code that sets window.__xss (or opens a dialog) or to load
# something; (visible text it must show, text it must not show).
FLAG = "window.__xss"
CORPUS = [
    ("<script>window.__xss='script'</script>after script", "after script", None),
    ("<img src=x onerror=\"window.__xss='img'\">img", "img", None),
    ("<svg onload=\"window.__xss='svg'\"><circle r=5></circle></svg>svg", "svg", None),
    ("<svg><script>window.__xss='svgscript'</script></svg>svg script", "svg script", None),
    ("<iframe src=\"javascript:parent.__xss='iframe'\"></iframe>iframe", "iframe", None),
    ("<iframe srcdoc=\"<script>parent.__xss='srcdoc'</script>\"></iframe>srcdoc", "srcdoc",
     None),
    ("<a href=\"javascript:window.__xss='link'\">js link</a>", "js link", None),
    ("<a href=\"JaVaScRiPt&colon;window.__xss='entity'\">entity link</a>", "entity link", None),
    ("<a href=\"data:text/html,<script>alert(1)</script>\">data link</a>", "data link", None),
    ("<a href=\"https://example.org/\" onclick=\"window.__xss='onclick'\">real link</a>",
     "real link", None),
    ("<div onmouseover=\"window.__xss='hover'\">hover me</div>", "hover me", None),
    ("<details open ontoggle=\"window.__xss='toggle'\"><summary>details</summary>x</details>",
     "details", None),
    ("<style>@import url('https://evil.example/x.css'); om-chat{display:none}</style>styled",
     "styled", "display:none"),
    ("<math><mtext><table><mglyph><style><img src=x onerror=\"window.__xss='mxss'\">"
     "</style></mglyph></table></mtext></math>mxss", "mxss", None),
    ("<object data=\"javascript:window.__xss='object'\"></object>"
     "<embed src=\"javascript:window.__xss='embed'\">object", "object", None),
    ("<form action=\"javascript:window.__xss='form'\"><button>go</button></form>form", "form",
     None),
    ("<body onload=\"window.__xss='body'\">body tag</body>", "body tag", None),
    ("<img src=\"mxc://elsewhere/abc\" alt=\"a cat\">", "[a cat]", None),
    ("<span data-mx-color=\"red;background:url(https://evil.example/y)\""
     " style=\"background:url(https://evil.example/z)\">colour</span>", "colour", None),
    ("<mx-reply><blockquote>quoted fallback</blockquote></mx-reply>real answer",
     "real answer", "quoted fallback"),
    ("<p onclick=alert(1)>dialog?</p><img src=x onerror=alert(2)>", "dialog?", None),
    ("<a href=\"vbscript:msgbox(1)\">vb link</a><meta http-equiv=refresh "
     "content=\"0;url=javascript:window.__xss='meta'\">", "vb link", None),
]
TEXT_ONLY = [
    # formatted_body without format: the body shows, as text.
    ({"msgtype": "m.text", "body": "no format <b>here</b>",
      "formatted_body": "<img src=x onerror=\"window.__xss='noformat'\">"},
     "no format <b>here</b>"),
    # an unknown format
    ({"msgtype": "m.text", "body": "other format", "format": "text/html",
      "formatted_body": "<img src=x onerror=\"window.__xss='otherformat'\">"}, "other format"),
    # (a formatted_body that is not a string fails the sync's validation: the event is
    # dropped before the timeline, see tests/unit/test_timeline_model.py for the model's part)
    # hostile text in a plain body
    ({"msgtype": "m.text", "body": "<img src=x onerror=\"window.__xss='body'\">"},
     "<img src=x onerror=\"window.__xss='body'\">"),
    # an unknown msgtype shows its body
    ({"msgtype": "org.example.custom", "body": "custom type body", "format": HTML,
      "formatted_body": "<i>custom</i> type <script>window.__xss='custom'</script>"},
     "custom type"),
    # only markup, nothing readable left once cleaned: the body shows
    ({"msgtype": "m.text", "body": "only a script", "format": HTML,
      "formatted_body": "<script>window.__xss='only'</script>"}, "only a script"),
]


def test_hostile_html_from_another_client_runs_nothing_loads_nothing_and_shows_its_text(
        synapse, make_user, web_server, new_page):
    a_name, a_pw, a = make_user("alice")
    m_name, m_pw, mallory = make_user("mallory")
    room_id = make_room(synapse, a["access_token"], "event", "xss-corpus", [mallory])
    # The page's CSP alone would stop inline scripts and handlers; with it bypassed, the
    # sanitizer is the only defence, which is what this test is about.
    page = new_page(bypass_csp=True)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_and_sign_in(page, f"{web_server}/event.html?slug=xss-corpus", a_name, a_pw)

    token = mallory["access_token"]
    for i, (html, _, _) in enumerate(CORPUS):
        put_message(synapse, room_id, token, f"x{i}", {
            "msgtype": "m.text", "body": f"payload {i}", "format": HTML, "formatted_body": html})
    for i, (content, _) in enumerate(TEXT_ONLY):
        put_message(synapse, room_id, token, f"t{i}", content)
    put_message(synapse, room_id, token, "end", {"msgtype": "m.text", "body": "end of corpus"})
    expect_message(page, "end of corpus")
    messages = chat(page).locator(".omc-msg:not(.is-mine)")
    expect(messages).to_have_count(len(CORPUS) + len(TEXT_ONLY) + 1)

    assert page.evaluate(FLAG) is None, page.evaluate(FLAG)
    assert dialogs == []
    # What a user would do with it: hover, click the links (none may navigate or run).
    chat(page).get_by_text("hover me").hover()
    for name in ("js link", "entity link", "data link", "vb link"):
        chat(page).get_by_text(name, exact=True).click()
    page.wait_for_timeout(300)  # a navigation or handler would have happened by now

    assert page.evaluate(FLAG) is None, page.evaluate(FLAG)
    assert dialogs == []
    assert page.url.endswith("/event.html?slug=xss-corpus")
    bodies = messages.locator(".omc-body")
    for i, (_, visible, hidden) in enumerate(CORPUS):
        expect(bodies.nth(i)).to_contain_text(visible)
        if hidden:
            expect(bodies.nth(i)).not_to_contain_text(hidden)
    for j, (_, visible) in enumerate(TEXT_ONLY):
        expect(bodies.nth(len(CORPUS) + j)).to_contain_text(visible)
    expect(chat(page)).to_be_visible()

    # Nothing that runs or loads survived in the DOM; every link is safe and opens a new tab.
    report = page.evaluate("""() => {
        const root = document.querySelector('om-chat .omc-messages');
        const bad = [...root.querySelectorAll(
            'script,iframe,svg,math,style,object,embed,form,img,meta,link,body,mx-reply')]
            .map(e => e.localName);
        const handlers = [...root.querySelectorAll('*')].flatMap(e => e.getAttributeNames()
            .filter(n => n.startsWith('on') || n === 'style' || n === 'srcdoc')
            .map(n => e.localName + '@' + n + '=' + e.getAttribute(n)));
        const links = [...root.querySelectorAll('.omc-html a')].map(a => [
            a.textContent, a.getAttribute('href'), a.getAttribute('rel'),
            a.getAttribute('target')]);
        return {bad, handlers, links};
    }""")
    assert report["bad"] == []
    assert report["handlers"] == []
    for text, href, rel, target in report["links"]:
        assert href is None or re.match(r"https?://", href), (text, href)
        assert (rel, target) == ("noopener noreferrer", "_blank"), text
    assert [h for _, h, _, _ in report["links"] if h] == ["https://example.org/"]
    loaded = [u for u in page.requests if u.endswith("/x") or "evil.example" in u
              or u.startswith("mxc:")]
    assert loaded == []
    assert not page.page_errors
