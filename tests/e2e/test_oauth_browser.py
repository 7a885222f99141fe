"""OAuth 2.0 login in real Chromium against the real auth server and a Synapse delegating to it:
the redirect login through the auth server's form and web/oauth/callback.html, refusals, logout,
and a 3-minute chat on 30-second access tokens with one user in two tabs.

The chat runs in the page through the embed loader; the tests drive pyapp.auth.browser with
omChat.runPython (the chat UI calls the same functions).
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import pytest

from tests.support.waiting import page_until
from tests.support.oauth_stack import OAuthStack
from pyapp.server.page_security import PageSecurity
from pyapp.server.web import make_app
from pyapp.server.auth_server import chat_client
from pyapp.server.synapse import free_port
from tests.e2e.conftest import WEB_ROOT, ServerThread, is_local

pytestmark = pytest.mark.e2e

PAGE = "/chat/embed-example.html"
BOOT_MS = 90_000
TTL = 30


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # The page's origin is the deployment's own chat: its client is trusted (no consent screen).
    port = free_port()
    client = chat_client([f"http://127.0.0.1:{port}/oauth/callback.html"])
    with OAuthStack(tmp_path_factory.mktemp("oauth-browser"), access_token_ttl=TTL,
                    trusted_clients=[client]) as s:
        s.app_port, s.chat_client = port, client
        KNOWN_CLIENT.update(client)
        yield s


@pytest.fixture(scope="module")
def app(stack, built_static):
    server = ServerThread(make_app(WEB_ROOT, built_static, {
        "homeserver": stack.synapse.base_url, "oauth_client": stack.chat_client,
        "debug_run_python": True}, PageSecurity(connect_origins=(stack.auth.issuer,))),
        port=stack.app_port).start()
    yield server.base_url
    server.stop()


@pytest.fixture
def contexts(browser):
    """Browser contexts (one per person; pages of one context are tabs sharing storage) whose
    every request URL is recorded in context.urls."""
    made = []

    def make():
        context = browser.new_context()
        context.urls = []
        context.on("request", lambda r: context.urls.append(r.url))
        made.append(context)
        return context

    yield make
    urls = [u for c in made for u in c.urls]
    for c in made:
        c.close()
    assert not [u for u in urls if not is_local(u)], "requests left this machine"


_n = iter(range(100_000))


def new_user(stack, prefix):
    slug = f"{prefix}{next(_n)}x{int(time.time() * 1000) % 100000}"
    localpart = stack.directory.add(slug, "acme", "pw-" + slug)
    return f"{slug}@acme", "pw-" + slug, f"@{localpart}:localhost"


def run(page, code: str):
    return page.evaluate("code => window.omChat.runPython(code)", code)


KNOWN_CLIENT: dict = {}  # the stack's trusted chat client, set by the stack fixture


def setup(page, homeserver: str) -> dict:
    """Boot the chat service with OAuth in the page and finish a sign-in that came back."""
    page_until(page, "window.omChat && ['mounted', 'failed'].includes(window.omChat.state)",
               timeout_ms=BOOT_MS)
    assert page.evaluate("window.omChat.state") == "mounted", page.evaluate("JSON.stringify(window.omChat.error)")
    return run(page, f"""
import asyncio, json
from pyapp.client.service import ChatService, ChatConfig, ONLINE
from pyapp.browser.fetch_transport import FetchTransport
from pyapp.browser.storage import LocalStorage
from pyapp.auth.browser import BrowserOAuth
HS = {homeserver!r}
svc = ChatService(ChatConfig(homeserver=HS, auth="oauth"), FetchTransport(), LocalStorage())
oauth = BrowserOAuth.create(svc, HS, known_client=json.loads({json.dumps(KNOWN_CLIENT)!r}))
online = asyncio.Event()
bad_statuses = []
seen_tokens = set()
def _on_change(change):
    if change.kind != "status":
        return
    if svc.status == ONLINE:
        online.set()
    elif online.is_set():
        bad_statuses.append((svc.status, svc.status_message))
svc.subscribe(_on_change)
error = await oauth.resume()
if error is None and svc.session is None:
    await svc.restore()
method = await oauth.method()
{{"error": error, "user_id": svc.user_id, "method": method}}
""")


def wait_online(page):
    run(page, "await asyncio.wait_for(online.wait(), 30); seen_tokens.add(svc.session.access_token); None")


def start_sign_in(page, prompt=None):
    # Not awaited: the page navigates away while the call runs.
    page.evaluate("code => { window.omChat.runPython(code); }",
                  f"asyncio.ensure_future(oauth.sign_in(prompt={prompt!r})); None")
    page.wait_for_url(re.compile(r".*/interaction/[^/]+$"))


def sign_in(page, app, stack, username, password) -> dict:
    page.goto(app + PAGE)
    assert setup(page, stack.synapse.base_url)["method"] == "oauth"
    t0 = time.monotonic()
    start_sign_in(page)
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#submit")
    page.wait_for_url(app + PAGE)
    result = setup(page, stack.synapse.base_url)
    assert result["error"] is None, result
    wait_online(page)
    result["seconds"] = time.monotonic() - t0
    return result


def whoami(stack, token):
    return stack.synapse.request("GET", "/_matrix/client/v3/account/whoami", token=token)


def stored_session(page) -> dict:
    return json.loads(page.evaluate("localStorage.getItem('om-chat:om-chat.session')") or "null")


# -- tests ------------------------------------------------------------------------------------

def test_redirect_login_in_the_browser_then_logout_revokes(stack, app, contexts):
    username, password, user_id = new_user(stack, "ann")
    context = contexts()
    page = context.new_page()
    result = sign_in(page, app, stack, username, password)
    assert result["user_id"] == user_id
    print(f"\nbrowser login, 'sign in' click to chat online (incl. 2nd Python boot): "
          f"{result['seconds']:.1f} s")
    session = stored_session(page)
    assert session["auth"] == "oauth" and session["device_id"]
    # The pending flow and the handed-over callback are gone; the URL has no code any more.
    assert page.evaluate("Object.keys(sessionStorage)") == []
    assert "code=" not in page.url
    # The callback page was left with replace(): it is not in the history.
    assert page.evaluate("history.length") <= 4
    token = session["access_token"]
    assert whoami(stack, token)[0] == 200

    run(page, "await svc.logout(); None")
    assert stored_session(page) is None
    status, body = whoami(stack, token)
    assert status == 401 and body["errcode"] == "M_UNKNOWN_TOKEN"
    for url in context.urls:
        assert token not in url and session["refresh_token"] not in url


def test_bad_state_and_replayed_callback_are_refused_with_a_message(stack, app, contexts):
    username, password, _ = new_user(stack, "bo")
    page = contexts().new_page()
    callbacks = []
    page.on("framenavigated", lambda f: callbacks.append(f.url) if "callback.html" in f.url else None)
    sign_in(page, app, stack, username, password)
    assert callbacks and "code=" in callbacks[0]

    # Replaying the callback (code and state) after it was used: the flow is gone.
    page.goto(callbacks[0])
    page.wait_for_url(re.compile(re.escape(app) + r"/(?!oauth/).*"))
    page.goto(app + PAGE)
    result = setup(page, stack.synapse.base_url)
    assert "unknown or reused state" in result["error"]

    # A forged state while a sign-in of this tab is pending (another browser, not signed in at
    # the auth server, so the sign-in form is showing).
    other = contexts().new_page()
    other.goto(app + PAGE)
    setup(other, stack.synapse.base_url)
    start_sign_in(other)
    other.goto(app + "/oauth/callback.html#" + urlencode({"code": "stolen", "state": "forged"}))
    other.wait_for_url(app + PAGE)
    result = setup(other, stack.synapse.base_url)
    assert "unknown or reused state" in result["error"] and result["user_id"] is None


def test_wrong_issuer_is_refused(stack, app, contexts):
    username, password, _ = new_user(stack, "cy")
    page = contexts().new_page()
    page.goto(app + PAGE)
    setup(page, stack.synapse.base_url)
    start_sign_in(page)

    def mix_up(route):
        # Follow the auth server's redirects outside the browser (same cookie jar), then send
        # the browser to our callback with another issuer, as a mix-up attack would.
        response = route.fetch(max_redirects=0)
        resume = urljoin(route.request.url, response.headers["location"])
        back = page.context.request.get(resume, max_redirects=0)
        parts = urlsplit(back.headers["location"])
        params = dict(parse_qsl(parts.fragment))
        assert params["iss"] == stack.auth.issuer and params["code"]
        params["iss"] = "http://127.0.0.1:1"
        route.fulfill(status=303, headers={"location": parts._replace(fragment=urlencode(params)).geturl()})

    page.route(re.compile(r".*/interaction/[^/]+/login$"), mix_up)
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#submit")
    page.wait_for_url(app + PAGE)
    result = setup(page, stack.synapse.base_url)
    assert result["error"] and "issuer mismatch" in result["error"]
    assert result["user_id"] is None


def test_revoked_refresh_token_returns_to_sign_in_keeping_the_message(stack, app, contexts):
    username, password, _ = new_user(stack, "di")
    page = contexts().new_page()
    sign_in(page, app, stack, username, password)
    room_id = run(page, "r = await svc.client.room_create(name='x'); r.room_id")
    session = stored_session(page)
    body = urlencode({"token": session["refresh_token"], "token_type_hint": "refresh_token",
                      "client_id": session["extra"]["client_id"]}).encode()
    with urllib.request.urlopen(urllib.request.Request(session["extra"]["revocation_endpoint"], body)) as r:
        assert r.status == 200
    state = run(page, f"""
from pyapp.client.timeline import Message
async def _send():
    while svc.room({room_id!r}) is None:
        await asyncio.sleep(0.05)
    m = await svc.send_text({room_id!r}, "typed before the end")
    return {{"status": svc.status, "message": svc.status_message, "msg": m.status,
             "kept": m in svc.room({room_id!r}).timeline.messages}}
await asyncio.wait_for(_send(), 30)
""")
    assert state["status"] == "signed_out" and "sign in again" in state["message"].lower()
    assert state["msg"] == "failed" and state["kept"]
    assert stored_session(page) is None
    outbox = json.loads(page.evaluate("localStorage.getItem('om-chat:om-chat.outbox')"))
    assert outbox["user_id"] == session["user_id"]
    assert [e["body"] for e in outbox["messages"]] == ["typed before the end"]


def test_three_minute_chat_on_30s_tokens_one_user_in_two_tabs(stack, app, contexts):
    """A chats from two tabs (one storage, Web Locks), B from another browser, for three
    minutes on 30-second access tokens: no error, no lost message, and about one refresh per
    token lifetime for both of A's tabs together (not one per tab)."""
    a_name, a_pw, a_id = new_user(stack, "tab")
    b_name, b_pw, b_id = new_user(stack, "peer")
    a_context, b_context = contexts(), contexts()
    a1 = a_context.new_page()
    sign_in(a1, app, stack, a_name, a_pw)
    b = b_context.new_page()
    sign_in(b, app, stack, b_name, b_pw)
    room_id = run(a1, f"r = await svc.client.room_create(invite=[{b_id!r}]); r.room_id")
    run(b, f"""
async def _join():
    while not await svc.join({room_id!r}):
        await asyncio.sleep(0.2)
await asyncio.wait_for(_join(), 20); None""")
    a2 = a_context.new_page()
    a2.goto(app + PAGE)
    assert setup(a2, stack.synapse.base_url)["user_id"] == a_id  # restored from localStorage
    wait_online(a2)

    duration = 180
    chat = f"""
import time
sent, failures = [], []
async def _chat(tag):
    while svc.room({room_id!r}) is None:
        await asyncio.sleep(0.1)
    end = time.monotonic() + {duration}
    i = 0
    while time.monotonic() < end:
        m = await svc.send_text({room_id!r}, f"{{tag}} {{i}}")
        sent.append(m.body)
        if m.status != "sent":
            failures.append((m.body, m.error))
        seen_tokens.add(svc.session.access_token)
        seen_tokens.add(svc.session.refresh_token)
        i += 1
        await asyncio.sleep(2)  # one message every ~2 s per tab: pacing, not synchronisation
    return True
chat_task = asyncio.ensure_future(_chat(TAG))
None"""
    t0 = time.monotonic()
    for page, tag in ((a1, "a1"), (a2, "a2"), (b, "b")):
        run(page, f"TAG = {tag!r}")
        run(page, chat)
    for page in (a1, a2, b):
        run(page, f"await asyncio.wait_for(chat_task, {duration + 60}); None")
    elapsed = time.monotonic() - t0

    stats = {}
    for name, page in (("a1", a1), ("a2", a2), ("b", b)):
        stats[name] = run(page, f"""
room = svc.room({room_id!r})
bodies = [m.body for m in room.timeline.messages]
{{"sent": list(sent), "failures": [list(f) for f in failures], "bad": [list(s) for s in bad_statuses],
  "refreshes": svc.tokens.refresh_count, "status": svc.status, "bodies": bodies,
  "tokens": sorted(t for t in seen_tokens if t)}}
""")
    for name, s in stats.items():
        assert s["failures"] == [], (name, s["failures"])
        assert s["bad"] == [], (name, s["bad"])
        assert s["status"] == "online", name
    # Everybody ends up with everybody's messages (B sees both of A's tabs and vice versa).
    everything = set(stats["a1"]["sent"]) | set(stats["a2"]["sent"]) | set(stats["b"]["sent"])
    for name, page in (("a1", a1), ("a2", a2), ("b", b)):
        run(page, f"""
import json
async def _all():
    want = set(json.loads({json.dumps(json.dumps(sorted(everything)))}))
    while not want <= {{m.body for m in svc.room({room_id!r}).timeline.messages}}:
        await asyncio.sleep(0.2)
await asyncio.wait_for(_all(), 30); None""")
    a_refreshes = stats["a1"]["refreshes"] + stats["a2"]["refreshes"]
    lifetimes = elapsed / TTL
    print(f"\n3-minute chat: {elapsed:.0f} s, {len(everything)} messages; refreshes A "
          f"{a_refreshes} (tab1 {stats['a1']['refreshes']}, tab2 {stats['a2']['refreshes']}), "
          f"B {stats['b']['refreshes']}; {lifetimes:.1f} token lifetimes")
    assert lifetimes * 0.6 <= a_refreshes <= lifetimes * 1.6, a_refreshes
    assert lifetimes * 0.6 <= stats["b"]["refreshes"] <= lifetimes * 1.6
    # No token in any URL any tab or browser requested.
    tokens = set(stats["a1"]["tokens"]) | set(stats["a2"]["tokens"]) | set(stats["b"]["tokens"])
    assert len(tokens) > 10
    urls = a_context.urls + b_context.urls
    assert any("/sync" in u for u in urls) and any("/oauth2/token" in u for u in urls)
    leaks = [u for u in urls for t in tokens if t in u]
    assert leaks == []
