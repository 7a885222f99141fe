"""The pages' security headers in real Chromium: the chat boots and works under the strict
Content-Security-Policy with no violation reported, no other site can frame the pages, and
window.omChat.runPython exists only when the deployment switches it on."""

from __future__ import annotations

import time
import urllib.request

import pytest
from aiohttp import web
from playwright.sync_api import expect

from pyapp.server.web import make_app
from tests.support.waiting import page_until
from tests.e2e.chat_ui_support import (BOOT_TIMEOUT_MS, chat, expect_message, expect_ready,
                                       make_room, send, sign_in, stored_messages)
from tests.e2e.conftest import WEB_ROOT

pytestmark = pytest.mark.e2e

PYTHON_READY = "['python-ready', 'mounted'].includes(window.omChat.state)"
# Records every CSP violation the page reports, from before its first script runs.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
    (e) => window.__csp.push(`${e.effectiveDirective} ${e.blockedURI}`));
"""


def violations(page) -> list[str]:
    reported = page.evaluate("window.__csp")
    console = [m for m in page.console_messages if "Content Security Policy" in m]
    return reported + console


def test_pages_send_a_strict_policy(web_server):
    for path in ("/event.html", "/messages.html", "/oauth/callback.html",
                 "/chat/embed-example.html"):
        with urllib.request.urlopen(web_server + path) as r:
            csp = r.headers["Content-Security-Policy"]
            assert "script-src 'self' 'wasm-unsafe-eval';" in csp, path
            assert "unsafe-inline" not in csp and "'unsafe-eval'" not in csp, path
            assert "frame-ancestors 'none'" in csp and r.headers["X-Frame-Options"] == "DENY"
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            expected = "no-referrer" if path.startswith("/oauth/") else "same-origin"
            assert r.headers["Referrer-Policy"] == expected, path


def test_the_chat_boots_and_sends_under_the_policy_without_violations(
        synapse, make_user, web_server, new_page):
    name, password, me = make_user("csp")
    room = make_room(synapse, me["access_token"], "event", "csp-evt", name="CSP meetup")
    page = new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(f"{web_server}/event.html?slug=csp-evt")
    expect(chat(page).get_by_label("Username")).to_be_visible(timeout=BOOT_TIMEOUT_MS)
    sign_in(page, name, password)
    expect_ready(page)
    send(page, "sent under a strict CSP")
    expect_message(page, "sent under a strict CSP")
    deadline = time.monotonic() + 15
    while "sent under a strict CSP" not in stored_messages(synapse, room, me["access_token"]):
        assert time.monotonic() < deadline, "the message never reached the homeserver"
        page.wait_for_timeout(100)
    # The page's own scripts ran too (the event page filled in its title from the slug).
    expect(page.locator("#event-name")).to_have_text("csp evt")
    assert violations(page) == []
    assert page.page_errors == []


def test_a_page_of_another_origin_cannot_frame_the_pages(web_server, serve_app, new_page):
    framer = web.Application()

    async def host(request):
        return web.Response(content_type="text/html", text=(
            f'<!doctype html><iframe id="f" src="{web_server}/event.html"></iframe>'))

    framer.router.add_get("/", host)
    other_origin = serve_app(framer)
    page = new_page()
    page.goto(other_origin + "/")
    deadline = time.monotonic() + 10
    while not any("frame-ancestors" in m for m in page.console_messages):
        assert time.monotonic() < deadline, f"the frame was not refused: {page.console_messages}"
        page.wait_for_timeout(50)  # lets Playwright deliver console events
    expect(page.frame_locator("#f").locator("#event-name")).to_have_count(0)

def test_run_python_exists_only_with_the_switch(synapse, serve_app, built_static, new_page,
                                                web_server):
    plain = serve_app(make_app(WEB_ROOT, built_static, {"homeserver": synapse.base_url}))
    page = new_page()
    page.goto(plain + "/chat/embed-example.html")
    page_until(page, PYTHON_READY, timeout_ms=BOOT_TIMEOUT_MS)
    assert page.evaluate("typeof window.omChat.runPython") == "undefined"
    # The test deployment (web_server) switches it on.
    page = new_page()
    page.goto(web_server + "/chat/embed-example.html")
    page_until(page, PYTHON_READY, timeout_ms=BOOT_TIMEOUT_MS)
    assert page.evaluate("window.omChat.runPython('6 * 7')") == 42
