"""Token phishing through the real sign-in page (issue 7, item 1), in real Chromium against the
real auth server: a stranger registers a client that calls itself "Community chat" with a
redirect URI of their own and sends the victim a link to the real /authorize. The auth server
must put a consent screen naming the stranger's host between sign-in and the redirect, send no
code before Allow, and answer Deny with access_denied; the deployment's own (trusted) chat
client keeps its one-step sign-in.

The stranger's site is never contacted: Playwright answers its URLs in the browser and records
what reached them. No homeserver is needed: nothing here redeems a code.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from pyapp.auth.pkce import challenge_s256, new_verifier
from pyapp.server.accounts import MemoryDirectory
from pyapp.server.auth_server import AuthServer, AuthServerOptions, chat_client, new_shared_secret
from pyapp.server.synapse import free_port
from tests.support.oauth_stack import AccountsThread

pytestmark = pytest.mark.e2e

CHAT = "http://127.0.0.1:9"  # the deployment's chat origin (answered by Playwright, never reached)
CHAT_CALLBACK = CHAT + "/oauth/callback.html"
EVIL = "https://evil.example"
EVIL_CALLBACK = EVIL + "/steal"
SCOPE = "openid urn:matrix:client:api:* urn:matrix:client:device:PHISHED1"


@pytest.fixture(scope="module")
def auth(tmp_path_factory):
    directory = MemoryDirectory()
    accounts = AccountsThread(directory, new_shared_secret()).start()
    server = AuthServer(AuthServerOptions(
        data_dir=tmp_path_factory.mktemp("consent"), port=free_port(),
        # Nothing here issues tokens, so the homeserver is never called.
        synapse_url=f"http://127.0.0.1:{free_port()}", synapse_secret=new_shared_secret(),
        accounts_url=accounts.url, accounts_secret=accounts.secret,
        trusted_clients=[chat_client([CHAT_CALLBACK])],
    )).start()
    server.directory = directory
    yield server
    server.stop()
    accounts.stop()


def http(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        **({"Content-Type": "application/json"} if body is not None else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def register_stranger(auth) -> str:
    status, _, body = http("POST", auth.issuer + "/oauth2/registration", {
        "client_name": "Community chat", "client_uri": EVIL + "/",
        "redirect_uris": [EVIL_CALLBACK], "application_type": "web",
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    })
    assert status == 201, body
    return json.loads(body)["client_id"]


def authorize_url(auth, client_id, redirect_uri) -> str:
    return auth.issuer + "/authorize?" + urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
        "scope": SCOPE, "state": "s" + str(time.monotonic_ns()),
        "code_challenge": challenge_s256(new_verifier()), "code_challenge_method": "S256"})


@pytest.fixture
def victim(browser):
    """A browser whose visits to the chat's callback and the stranger's site are answered
    locally and recorded in context.reached."""
    context = browser.new_context()
    context.reached = []

    def answer(route):
        context.reached.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<p>landed</p>")

    context.route(re.compile(r"^(https://evil\.example|http://127\.0\.0\.1:9)/.*"), answer)
    yield context
    context.close()


def new_user(auth, prefix):
    slug = f"{prefix}{time.monotonic_ns() % 10**9}"
    auth.directory.add(slug, "acme", "pw-" + slug)
    return f"{slug}@acme", "pw-" + slug


def sign_in_form(page, username, password):
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#submit")


def test_first_party_chat_signs_in_in_one_step(auth, victim):
    page = victim.new_page()
    page.goto(authorize_url(auth, "om-chat", CHAT_CALLBACK))
    sign_in_form(page, *new_user(auth, "fp"))
    page.wait_for_url(CHAT_CALLBACK + "?*")
    assert "code" in parse_qs(urlsplit(page.url).query)
    assert victim.reached == [page.url]


def test_stranger_client_gets_consent_naming_its_host_and_deny_sends_no_code(auth, victim):
    stranger = register_stranger(auth)
    page = victim.new_page()
    # The victim follows the stranger's link to the real sign-in page and signs in.
    page.goto(authorize_url(auth, stranger, EVIL_CALLBACK))
    sign_in_form(page, *new_user(auth, "vic"))
    page.wait_for_selector("#allow")
    assert page.text_content("#redirect-host") == "evil.example"
    assert page.text_content("#client-name") == "Community chat"
    assert "send messages" in page.text_content("#scopes")
    assert victim.reached == [], "the stranger heard from the browser before Allow"

    page.click("#deny")
    page.wait_for_url(EVIL_CALLBACK + "?*")
    query = parse_qs(urlsplit(page.url).query)
    assert query["error"] == ["access_denied"] and "code" not in query
    assert not any("code=" in u for u in victim.reached)


def test_signed_in_victim_gets_consent_and_the_code_only_after_allow(auth, victim):
    page = victim.new_page()
    # Signed in at the auth server through the real chat first (one step, no consent) ...
    page.goto(authorize_url(auth, "om-chat", CHAT_CALLBACK))
    sign_in_form(page, *new_user(auth, "sig"))
    page.wait_for_url(CHAT_CALLBACK + "?*")
    # ... the stranger's link no longer shows a form: the live session must not be enough.
    stranger = register_stranger(auth)
    page.goto(authorize_url(auth, stranger, EVIL_CALLBACK))
    page.wait_for_selector("#allow")
    assert page.text_content("#redirect-host") == "evil.example"
    assert not [u for u in victim.reached if u.startswith(EVIL)]

    page.click("#allow")
    page.wait_for_url(EVIL_CALLBACK + "?*")
    assert "code" in parse_qs(urlsplit(page.url).query)


def test_pages_cannot_be_framed_or_read_cross_origin(auth):
    stranger = register_stranger(auth)
    # Follow the redirect to the sign-in page with the interaction cookie, as a browser does.
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with opener.open(urllib.request.Request(authorize_url(auth, stranger, EVIL_CALLBACK),
                                            headers={"Origin": EVIL}), timeout=10) as r:
        status, headers = r.status, dict(r.headers)
        assert "/interaction/" in r.url
    assert status == 200
    assert headers.get("X-Frame-Options") == "DENY"
    assert "frame-ancestors 'none'" in headers.get("Content-Security-Policy", "")
    assert "Access-Control-Allow-Origin" not in headers
    # The token endpoint answers browsers only from the client's own redirect origin.
    form = urlencode({"grant_type": "refresh_token", "refresh_token": "x", "client_id": "om-chat"})
    for origin, allowed in ((CHAT, True), (EVIL, False)):
        req = urllib.request.Request(auth.issuer + "/oauth2/token", data=form.encode(), headers={
            "Content-Type": "application/x-www-form-urlencoded", "Origin": origin})
        try:
            urllib.request.urlopen(req, timeout=10)
        except urllib.error.HTTPError as e:
            got = e.headers.get("Access-Control-Allow-Origin")
        assert (got == origin) is allowed, (origin, got)
    # Discovery stays open to browser clients on any origin.
    _, headers, _ = http("GET", auth.issuer + "/.well-known/openid-configuration",
                         headers={"Origin": EVIL})
    assert headers.get("Access-Control-Allow-Origin") in ("*", EVIL)
