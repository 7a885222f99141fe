"""The platform's sign-in and sessions on the stack serve.py starts (real web server, real
Synapse behind it), with real Chromium: guessing is throttled, sign-out ends the session on
the server, and another origin of the same site cannot make a signed-in user's browser change
anything."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from aiohttp import web
from playwright.sync_api import expect

from pyapp.platform.service import Platform

from tests.e2e.chat_ui_support import LIVE_TIMEOUT_MS

pytestmark = pytest.mark.e2e


def call(base: str, method: str, path: str, body: dict | None = None,
         headers: dict | None = None) -> tuple[int, dict, dict]:
    """(status, JSON body, headers) of one request to the platform API."""
    data = json.dumps(body).encode() if body is not None else None
    h = {"Content-Type": "application/json"} if body is not None else {}
    req = urllib.request.Request(base + path, data=data, method=method, headers={**h, **(headers or {})})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.load(r), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e), dict(e.headers)


def test_guessing_a_password_is_throttled_with_retry_after(demo_stack):
    guess = {"tenant": "demo", "slug": "mallory", "password": "guess"}
    statuses = [call(demo_stack.url, "POST", "/api/session", guess)[0] for _ in range(5)]
    assert statuses == [401] * 5
    status, body, headers = call(demo_stack.url, "POST", "/api/session", guess)
    assert status == 429 and body["error"] == "too_many_attempts"
    assert 0 < int(headers["Retry-After"]) <= 300
    # The limit is the account's: the demo users still sign in from this address.
    status, me, _ = call(demo_stack.url, "POST", "/api/session",
                         {"tenant": "demo", "slug": "bob", "password": "demo-password"})
    assert status == 200 and me["slug"] == "bob"


def test_a_copied_session_cookie_is_dead_after_sign_out(demo_stack):
    status, _, headers = call(demo_stack.url, "POST", "/api/session",
                              {"tenant": "demo", "slug": "bob", "password": "demo-password"})
    assert status == 200
    cookie = headers["Set-Cookie"].split(";")[0]
    assert call(demo_stack.url, "GET", "/api/me", headers={"Cookie": cookie})[0] == 200
    assert call(demo_stack.url, "DELETE", "/api/session", headers={"Cookie": cookie})[0] == 200
    status, body, _ = call(demo_stack.url, "GET", "/api/me", headers={"Cookie": cookie})
    assert status == 401 and body["error"] == "unauthenticated"
    assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
    assert "Secure" not in headers["Set-Cookie"]  # plain http here: a Secure cookie would be lost


def attacker_app(target: str) -> web.Application:
    """A page on another port of the same host: the same *site* as the platform, so SameSite
    cookies go along with its requests; only the platform's origin check can stop them."""
    page = f"""<!doctype html><title>Win a prize</title>
<form id="f" method="POST" enctype="text/plain" action="{target}/api/groups/pythonistas/join">
<input type="hidden" name='{{"x":"' value='"}}'></form>
<script>
fetch("{target}/api/groups/pythonistas/join", {{method: "POST", mode: "no-cors",
      credentials: "include", body: "{{}}"}})
  .finally(() => document.getElementById("f").submit());
</script>"""

    async def index(request):
        return web.Response(text=page, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", index)
    return app


def test_another_origin_of_the_same_site_cannot_act_for_a_signed_in_user(
        demo_stack, serve_app, new_page):
    from tests.e2e.test_attend_flow import platform_sign_in

    platform = Platform(demo_stack.store)
    assert platform.role_of("demo", "group", "pythonistas", "carol") is None
    page = new_page()
    platform_sign_in(page, demo_stack.url, "carol")
    evil = serve_app(attacker_app(demo_stack.url))
    assert evil.split(":")[1] == demo_stack.url.split(":")[1]  # same host, so same site
    page.goto(evil + "/")
    # The form's answer is the API's refusal, shown in place of the page.
    expect(page.locator("body")).to_contain_text("cross_origin", timeout=LIVE_TIMEOUT_MS)
    assert platform.role_of("demo", "group", "pythonistas", "carol") is None
    # The platform's own page still works for the same user.
    page.goto(demo_stack.url + "/group.html?slug=pythonistas")
    result = page.evaluate("site.api('POST', 'groups/pythonistas/join')")
    assert result["ok"], result
    assert platform.role_of("demo", "group", "pythonistas", "carol") == "member"
    result = page.evaluate("site.api('DELETE', 'groups/pythonistas/leave')")
    assert result["ok"], result
