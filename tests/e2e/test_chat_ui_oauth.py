"""The chat UI signs in through OAuth on the stack serve.py starts by default: real Synapse
delegating to the real auth server, the demo platform, real Chromium.

A platform user on the event page clicks Sign in in the chat, signs in on the auth server's
page (pre-filled with the platform user) and comes back to the same page with the chat ready;
on 20-second access tokens the chat goes through refreshes without a visible error; an ended
session returns to the Sign in button keeping the typed text across the redirect; Sign out
revokes the token at the homeserver.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from urllib.parse import urlencode

import pytest
from playwright.sync_api import expect

from pyapp.server.stack import StackOptions
from tests.e2e.chat_ui_support import (BOOT_TIMEOUT_MS, LIVE_TIMEOUT_MS, chat, expect_message,
                                         expect_ready, send)
from tests.e2e.conftest import is_local
from tests.support.stack_thread import StackThread

pytestmark = pytest.mark.e2e

TTL = 20  # seconds of access-token life: several refreshes within the module's run
EVENT = "/event.html?slug=python-meetup"
SESSION_KEY = "om-chat:om-chat.session"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, built_static):
    runner = StackThread(StackOptions.for_tests(tmp_path_factory.mktemp("oauth-ui"), auth="oauth",
                                                oauth_access_token_ttl=TTL,
                                                extra_config={"debug_run_python": True}))
    stack = runner.start()
    # The orchestrator's invites are out before anyone opens the chat.
    runner.call(stack.orchestrator.drain())
    yield stack
    runner.stop()


class Person:
    def __init__(self, slug, context, page):
        self.slug, self.context, self.page = slug, context, page
        self.sign_in_seconds: list[float] = []


@pytest.fixture(scope="module")
def people(stack, browser):
    """alice and bob, each in their own browser, signed in to the platform and to the chat on
    the event page. Every request URL of both browsers is kept in context.urls."""
    made = {}
    for slug in ("alice", "bob"):
        context = browser.new_context()
        context.urls = []
        context.on("request", lambda r, urls=context.urls: urls.append(r.url))
        person = made[slug] = Person(slug, context, context.new_page())
        platform_sign_in(person, stack.url)
        person.page.goto(stack.url + EVENT)
        sign_in_to_chat(person, stack.url)
    yield made
    urls = [u for p in made.values() for u in p.context.urls]
    for p in made.values():
        p.context.close()
    assert not [u for u in urls if not is_local(u)], "requests left this machine"


def platform_sign_in(person: Person, base: str) -> None:
    page = person.page
    page.goto(base + "/index.html")
    status = page.evaluate("""slug => fetch('/api/session', {method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({tenant: 'demo', slug, password: 'demo-password'})}).then(r => r.status)""",
                           person.slug)
    assert status == 200


def sign_in_to_chat(person: Person, base: str) -> None:
    """Sign in the way a user does: the chat's button, the auth server's form, back here."""
    page = person.page
    button = chat(page).get_by_role("button", name="Sign in", exact=True)
    expect(button).to_be_visible(timeout=BOOT_TIMEOUT_MS)
    here = page.url
    t0 = time.monotonic()
    button.click()
    page.wait_for_url(re.compile(r".*/interaction/[^/?]+(\?.*)?$"), timeout=LIVE_TIMEOUT_MS)
    # The host page knew the platform user: the auth server's form starts with it.
    expect(page.locator("#username")).to_have_value(f"{person.slug}@demo")
    page.fill("#password", "demo-password")
    page.click("#submit")
    page.wait_for_url(here, timeout=LIVE_TIMEOUT_MS)
    expect_ready(page)
    person.sign_in_seconds.append(time.monotonic() - t0)


def run(page, code: str):
    return page.evaluate("code => window.omChat.runPython(code)", code)


def stored_session(page) -> dict | None:
    return json.loads(page.evaluate(f"localStorage.getItem('{SESSION_KEY}')") or "null")


def whoami(stack, token: str):
    return stack.synapse.request("GET", "/_matrix/client/v3/account/whoami", token=token)


def expect_no_error_shown(page) -> None:
    c = chat(page)
    for selector in (".omc-banner", ".omc-oauth-error", ".omc-login-error",
                     ".omc-composer-error", ".omc-msg-status--failed"):
        expect(c.locator(selector + ":visible")).to_have_count(0)
    expect(c.locator(".omc-conn")).to_have_text("Online")


# -- tests ------------------------------------------------------------------------------------

def test_sign_in_returns_to_the_event_page_with_the_chat_ready_and_messages_flow(stack, people):
    alice, bob = people["alice"].page, people["bob"].page
    for person in people.values():
        assert person.page.url == stack.url + EVENT
        assert "code=" not in person.page.url
        print(f"\n{person.slug}: Sign in click -> chat ready {person.sign_in_seconds[0]:.1f} s")
    expect(chat(alice).locator(".omc-title")).to_have_text(re.compile("Python", re.I))
    send(alice, "Hello from OAuth alice")
    expect_message(bob, "Hello from OAuth alice")
    send(bob, "Hi alice, bob here")
    expect_message(alice, "Hi alice, bob here")
    assert stored_session(alice)["user_id"] == "@alice_demo:localhost"
    assert stored_session(alice)["auth"] == "oauth"


def test_a_reload_keeps_the_session_without_signing_in_again(stack, people):
    person = people["alice"]
    seen = len(person.context.urls)
    person.page.reload()
    expect_ready(person.page)
    expect_message(person.page, "Hi alice, bob here")
    after = person.context.urls[seen:]
    assert not [u for u in after if "/interaction/" in u or "/auth?" in u], after
    expect(chat(person.page).get_by_role("button", name="Sign in", exact=True)).to_have_count(0)


def test_the_chat_keeps_working_through_token_refreshes_without_a_visible_error(stack, people):
    alice, bob = people["alice"].page, people["bob"].page
    # Waits inside the page for the token manager's count (the long poll may hold the next
    # request for up to 30 s, so the first refresh comes within TTL + 30 s).
    refreshes = run(alice, f"""
import asyncio
from pyapp.client.service import ChatService
_svc = ChatService.shared()
async def _refreshed():
    while _svc.tokens.refresh_count == 0:
        await asyncio.sleep(0.1)
await asyncio.wait_for(_refreshed(), {TTL + 40})
_svc.tokens.refresh_count""")
    assert refreshes > 0
    send(alice, "still here after a refresh")
    expect_message(bob, "still here after a refresh")
    expect(chat(alice).locator(".omc-msg.is-mine[data-status=sent]",
                               has_text="still here after a refresh")).to_have_count(1)
    for page in (alice, bob):
        expect_no_error_shown(page)


def test_an_ended_session_returns_to_sign_in_and_keeps_the_typed_text(stack, people):
    bob = people["bob"]
    box = chat(bob.page).get_by_label("Message", exact=True)
    box.fill("half-written reply")
    session = stored_session(bob.page)
    body = urlencode({"token": session["refresh_token"], "token_type_hint": "refresh_token",
                      "client_id": session["extra"]["client_id"]}).encode()
    with urllib.request.urlopen(urllib.request.Request(
            session["extra"]["revocation_endpoint"], body)) as r:
        assert r.status == 200
    # A message wakes bob's long poll; his next request finds the session gone.
    send(people["alice"].page, "are you there, bob?")
    expect(chat(bob.page).locator(".omc-oauth-error")).to_have_text(
        "Your session has ended. Please sign in again.", timeout=LIVE_TIMEOUT_MS)
    sign_in_to_chat(bob, stack.url)
    expect(box).to_have_value("half-written reply")
    expect_message(bob.page, "are you there, bob?")
    print(f"\nbob: sign-in again after the session ended -> chat ready "
          f"{bob.sign_in_seconds[-1]:.1f} s")


def test_sign_out_revokes_the_token_at_the_homeserver(stack, people):
    alice = people["alice"]
    session = stored_session(alice.page)
    assert whoami(stack, session["access_token"])[0] == 200
    chat(alice.page).get_by_role("button", name="Sign out").click()
    expect(chat(alice.page).get_by_role("button", name="Sign in", exact=True)).to_be_visible(
        timeout=LIVE_TIMEOUT_MS)
    assert stored_session(alice.page) is None
    status, body = whoami(stack, session["access_token"])
    assert status == 401 and body["errcode"] == "M_UNKNOWN_TOKEN"
    urls = [u for p in people.values() for u in p.context.urls]
    assert any("/oauth2/token" in u for u in urls)
    assert [u for u in urls if session["access_token"] in u or session["refresh_token"] in u] == []
