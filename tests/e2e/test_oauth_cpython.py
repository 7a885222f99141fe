"""OAuth 2.0 login against the real stack, driven from CPython: the auth server (oidc-provider in
MAS's role), Synapse delegating auth to it, and the same client code the browser runs.

The sign-in form is submitted over HTTP (tests.support.oauth_stack.sign_in_over_http); the browser
tests (test_oauth_browser.py) do the same through Chromium.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.request
from urllib.parse import urlencode, urlsplit

import pytest

from pyapp.auth import flow as F
from pyapp.auth.client import OAuthClient
from pyapp.auth.login import complete_login, install_oauth, login_method
from tests.support.oauth_stack import OAuthStack, sign_in_over_http
from pyapp.client.service import ONLINE, SIGNED_OUT, ChatConfig, ChatService
from pyapp.client.storage import MemoryStorage
from pyapp.client.timeline import FAILED, SENT
from pyapp.client.transport import AiohttpTransport
from tests.support.waiting import until

pytestmark = pytest.mark.e2e

TTL = 4  # seconds: short enough that a 12-second chat crosses several token lifetimes
APP = "http://127.0.0.1:8765"  # the chat page's origin (never contacted: the redirect ends here)
REDIRECT = APP + "/oauth/callback.html"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with OAuthStack(tmp_path_factory.mktemp("oauth"), access_token_ttl=TTL) as s:
        yield s


class RecordingTransport(AiohttpTransport):
    """Keeps every request (method, URL, headers) this client sends."""

    def __init__(self):
        super().__init__()
        self.log: list[tuple[str, str, dict]] = []

    async def request(self, method, url, headers, body=None, timeout=None):
        self.log.append((method, url, dict(headers)))
        return await super().request(method, url, headers, body, timeout)


_users = iter(range(10_000))


def new_user(stack, prefix="u"):
    slug = f"{prefix}{next(_users)}x{int(time.time() * 1000) % 100000}"
    password = "pw-" + slug
    localpart = stack.directory.add(slug, "acme", password, display_name=slug.title())
    return f"{slug}@acme", password, localpart


@pytest.fixture
async def clients():
    made = []

    def make(stack, storage=None, flows=None, transport=None):
        transport = transport or RecordingTransport()
        oauth = OAuthClient(transport, storage if storage is not None else MemoryStorage(),
                            flows if flows is not None else MemoryStorage(),
                            homeserver=stack.synapse.base_url, redirect_uri=REDIRECT)
        made.append(transport)
        return oauth

    yield make
    for t in made:
        await t.close()


async def sign_in(oauth, username, password, return_to=APP + "/chat/room.html"):
    url = await oauth.begin(return_to)
    return await sign_in_over_http(url, REDIRECT, username, password)


def whoami(stack, token):
    return stack.synapse.request("GET", "/_matrix/client/v3/account/whoami", token=token)


# -- login ------------------------------------------------------------------------------------

async def test_redirect_login_gives_a_working_matrix_session(stack, clients):
    username, password, localpart = new_user(stack, "alice")
    oauth = clients(stack)
    assert await login_method(oauth) == "oauth"
    t0 = time.monotonic()
    callback = await sign_in(oauth, username, password)
    session, back = await oauth.complete(F.callback_params(callback))
    elapsed = time.monotonic() - t0
    assert back == APP + "/chat/room.html"
    assert session.user_id == f"@{localpart}:localhost" and session.auth == "oauth"
    status, body = whoami(stack, session.access_token)
    assert status == 200 and body["device_id"] == session.device_id
    # The code came back in the fragment, never in a query a server would log.
    assert "code=" in urlsplit(callback).fragment and "code=" not in urlsplit(callback).query
    assert 0 < session.expires_at - time.time() <= TTL
    assert elapsed < 5, elapsed
    print(f"\nCPython redirect login (discovery..whoami): {elapsed * 1000:.0f} ms")


async def test_homeserver_without_oauth_falls_back_to_password(synapse, clients, stack):
    plain = OAuthClient(AiohttpTransport(), MemoryStorage(), MemoryStorage(),
                        homeserver=synapse.base_url, redirect_uri=REDIRECT)
    try:
        assert await login_method(plain) == "password"
    finally:
        await plain.transport.close()
    # And the delegating homeserver really has no password login left.
    status, _ = stack.synapse.request("POST", "/_matrix/client/v3/login", {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": "x"},
        "password": "y"})
    assert status == 404


async def test_wrong_password_stays_on_the_form_with_a_message(stack, clients):
    username, _, _ = new_user(stack, "mallory")
    oauth = clients(stack)
    with pytest.raises(AssertionError, match="Wrong username or password"):
        await sign_in(oauth, username, "not-the-password")


async def test_prompt_create_signs_up_a_new_account(stack, clients):
    oauth = clients(stack)
    url = await oauth.begin(APP + "/", prompt="create")
    assert "prompt=create" in url
    slug = f"newbie{int(time.time() * 1000) % 100000}"
    callback = await sign_in_over_http(url, REDIRECT, f"{slug}@acme", "a-long-password",
                                       create=True, display_name="Newbie")
    session, _ = await oauth.complete(F.callback_params(callback))
    assert session.user_id == f"@{slug}_acme:localhost"
    status, profile = stack.synapse.request(
        "GET", f"/_matrix/client/v3/profile/{session.user_id}", token=session.access_token)
    assert status == 200 and profile.get("displayname") == "Newbie"


async def test_relogin_reuses_the_device(stack, clients):
    username, password, _ = new_user(stack, "dora")
    storage = MemoryStorage()
    first = clients(stack, storage=storage)
    s1, _ = await first.complete(F.callback_params(await sign_in(first, username, password)))
    second = clients(stack, storage=storage)
    s2, _ = await second.complete(F.callback_params(await sign_in(second, username, password)))
    assert s1.device_id == s2.device_id
    assert whoami(stack, s2.access_token)[1]["device_id"] == s1.device_id
    # One registration for the issuer, reused by the second login.
    assert storage.get(F.CLIENT_PREFIX + first.metadata.issuer)


# -- refusals -------------------------------------------------------------------------------------

async def test_bad_state_is_refused_and_the_real_flow_still_completes(stack, clients):
    username, password, _ = new_user(stack)
    oauth = clients(stack)
    callback = await sign_in(oauth, username, password)
    params = F.callback_params(callback)
    with pytest.raises(F.OAuthError, match="unknown or reused state"):
        await oauth.complete({**params, "state": "forged-state"})
    session, _ = await oauth.complete(params)
    assert whoami(stack, session.access_token)[0] == 200


async def test_wrong_issuer_is_refused(stack, clients):
    username, password, _ = new_user(stack)
    oauth = clients(stack)
    params = F.callback_params(await sign_in(oauth, username, password))
    with pytest.raises(F.OAuthError, match="issuer mismatch"):
        await oauth.complete({**params, "iss": "http://127.0.0.1:1/"})
    # The flow is gone: even the genuine answer cannot be used any more.
    with pytest.raises(F.OAuthError, match="unknown or reused state"):
        await oauth.complete(params)


async def test_replayed_code_is_refused_by_the_client_and_the_server(stack, clients):
    username, password, _ = new_user(stack)
    flows = MemoryStorage()
    oauth = clients(stack, flows=flows)
    url = await oauth.begin(APP + "/")
    pending = dict(flows.data)  # what an attacker replaying the callback would need
    callback = await sign_in_over_http(url, REDIRECT, username, password)
    params = F.callback_params(callback)
    session, _ = await oauth.complete(params)
    # Replaying the callback in the page: the flow was consumed.
    with pytest.raises(F.OAuthError, match="unknown or reused state"):
        await oauth.complete(params)
    # Replaying it with the stolen flow state too: the auth server refuses the used code...
    flows.data.update(pending)
    with pytest.raises(F.OAuthError, match="authorization code was refused"):
        await oauth.complete(params)
    # ...and, as RFC 6749 asks, revokes what the code had produced: its device is gone at once.
    status, body = whoami(stack, session.access_token)
    assert status == 401 and body["errcode"] == "M_UNKNOWN_TOKEN"


# -- the chat service on OAuth tokens ---------------------------------------------------------

@contextlib.asynccontextmanager
async def chat_service(stack, oauth, storage, lock=None):
    svc = ChatService(ChatConfig(homeserver=stack.synapse.base_url, auth="oauth"),
                      oauth.transport, storage, token_lock=lock)
    install_oauth(svc, oauth)
    try:
        yield svc
    finally:
        await svc.stop()


async def test_two_tabs_chat_through_many_refreshes_and_logout_revokes(stack, clients):
    """Two services share one storage (two tabs of one origin) and one lock (the Web Lock):
    they chat for three access-token lifetimes; refresh tokens rotate and reuse would revoke
    the whole grant, so a single double refresh would end the session."""
    a_name, a_pw, _ = new_user(stack, "tabs")
    b_name, b_pw, _ = new_user(stack, "peer")
    shared = MemoryStorage()
    web_lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def lock():
        async with web_lock:
            yield

    tab1_oauth = clients(stack, storage=shared)
    params = F.callback_params(await sign_in(tab1_oauth, a_name, a_pw))
    peer_oauth = clients(stack)
    peer_session, _ = await peer_oauth.complete(F.callback_params(await sign_in(peer_oauth, b_name, b_pw)))

    async with chat_service(stack, tab1_oauth, shared, lock) as tab1:
        await complete_login(tab1, tab1_oauth, params)
        await until(lambda: tab1.status == ONLINE, what="tab 1 online")
        status, room = stack.synapse.request("POST", "/_matrix/client/v3/createRoom", {
            "preset": "private_chat", "invite": [peer_session.user_id]}, token=tab1.session.access_token)
        assert status == 200, room
        room_id = room["room_id"]
        stack.synapse.request("POST", f"/_matrix/client/v3/join/{room_id}", {},
                              token=peer_session.access_token)

        tab2_oauth = clients(stack, storage=shared)
        async with chat_service(stack, tab2_oauth, shared, lock) as tab2:
            assert await tab2.restore()  # the second tab starts from the stored session
            await until(lambda: tab1.room(room_id) and tab2.room(room_id), what="both tabs see the room")
            sent = []
            deadline = time.monotonic() + 3 * TTL
            i = 0
            while time.monotonic() < deadline:
                for tab in (tab1, tab2):
                    sent.append(await tab.send_text(room_id, f"msg {i}"))
                    i += 1
                await asyncio.sleep(0.25)  # a person typing, not a synchronisation
            assert all(m.status == SENT for m in sent), [m.error for m in sent if m.status != SENT]
            assert tab1.status == ONLINE and tab2.status == ONLINE
            refreshes = tab1.tokens.refresh_count + tab2.tokens.refresh_count
            # Each lifetime is renewed about once in all (not once per tab).
            assert 3 <= refreshes <= 6, refreshes
            print(f"\ntwo tabs, {3 * TTL} s, {len(sent)} messages: {refreshes} refreshes "
                  f"(tab1 {tab1.tokens.refresh_count}, tab2 {tab2.tokens.refresh_count})")
            # Both tabs hold the same, current token.
            await tab2.tokens.fresh_token()
            assert tab1.tokens.session.device_id == tab2.tokens.session.device_id

        token = tab1.tokens.access_token
        assert whoami(stack, token)[0] == 200
        await tab1.logout()
        assert tab1.status == SIGNED_OUT and shared.get("om-chat.session") is None
        status, body = whoami(stack, token)
        assert status == 401 and body["errcode"] == "M_UNKNOWN_TOKEN"


async def test_revoked_refresh_token_leads_back_to_sign_in_keeping_unsent_messages(stack, clients):
    username, password, _ = new_user(stack, "eve")
    storage = MemoryStorage()
    oauth = clients(stack, storage=storage)
    params = F.callback_params(await sign_in(oauth, username, password))
    async with chat_service(stack, oauth, storage) as svc:
        await complete_login(svc, oauth, params)
        await until(lambda: svc.status == ONLINE, what="online")
        status, room = stack.synapse.request("POST", "/_matrix/client/v3/createRoom",
                                             {"preset": "private_chat"}, token=svc.session.access_token)
        await until(lambda: svc.room(room["room_id"]) is not None, what="room synced")
        # Revoked elsewhere (e.g. "sign out everywhere" on the account page).
        revoked = dict(svc.session.extra)
        body = urlencode({"token": svc.session.refresh_token, "token_type_hint": "refresh_token",
                          "client_id": revoked["client_id"]}).encode()
        with urllib.request.urlopen(urllib.request.Request(revoked["revocation_endpoint"], body)) as r:
            assert r.status == 200
        message = await svc.send_text(room["room_id"], "typed before the session ended")
        assert svc.status == SIGNED_OUT and "sign in again" in (svc.status_message or "").lower()
        assert message.status == FAILED
        # The message is still on screen and in the outbox, to be retried after signing in.
        assert message in svc.room(room["room_id"]).timeline.messages
        outbox = json.loads(storage.get("om-chat.outbox"))
        assert outbox["user_id"] == svc.session.user_id
        assert [e["body"] for e in outbox["messages"]] == ["typed before the session ended"]
        assert storage.get("om-chat.session") is None


async def test_no_token_in_any_url_or_server_log(stack, clients):
    """Every request of a login + chat + refresh + logout, from the client's side and in
    Synapse's and the auth server's logs: no access or refresh token in a URL."""
    username, password, _ = new_user(stack, "log")
    storage = MemoryStorage()
    oauth = clients(stack, storage=storage)
    params = F.callback_params(await sign_in(oauth, username, password))
    seen_tokens = set()
    async with chat_service(stack, oauth, storage) as svc:
        await complete_login(svc, oauth, params)
        await until(lambda: svc.status == ONLINE, what="online")
        seen_tokens |= {svc.session.access_token, svc.session.refresh_token}
        for _ in range(2):
            old = svc.tokens.access_token
            await svc.tokens.refresh(old)
            seen_tokens |= {svc.session.access_token, svc.session.refresh_token}
        await svc.client.joined_rooms()
        await svc.logout()
    assert len(seen_tokens) == 6
    urls = [url for _, url, _ in oauth.transport.log]
    assert any("/sync" in u for u in urls) and any("oauth2/token" in u for u in urls)
    for url in urls:
        for token in seen_tokens:
            assert token not in url, url
    logs = (stack.synapse.data_dir / "homeserver.log").read_text(errors="replace") \
        + stack.auth.log_path.read_text(errors="replace")
    for token in seen_tokens:
        assert token not in logs


# -- refresh-token grace and a restarting auth server (issue 7, items 9 and 10) ----------------

class LosingTransport(RecordingTransport):
    """Delivers the first refresh request to the auth server, then loses its answer (as a
    dropped connection or a timeout would)."""

    def __init__(self):
        super().__init__()
        self.lost = 0

    async def request(self, method, url, headers, body=None, timeout=None):
        response = await super().request(method, url, headers, body, timeout)
        if "grant_type=refresh_token" in (body or "") and not self.lost:
            self.lost += 1
            raise TimeoutError("the refresh answer was lost")
        return response


def refresh_raw(session, refresh_token):
    body = urlencode(F.refresh_body(session.extra["client_id"], refresh_token)).encode()
    req = urllib.request.Request(session.extra["token_endpoint"], body)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


async def test_a_lost_refresh_answer_does_not_sign_the_user_out(stack, clients):
    username, password, _ = new_user(stack, "lost")
    oauth = clients(stack, transport=LosingTransport())
    oauth.refresh_retry_delays = (0.1,)
    session, _ = await oauth.complete(F.callback_params(await sign_in(oauth, username, password)))
    old_refresh = session.refresh_token
    # The server rotated the token, the client never heard: it retries with the old one.
    tokens = await oauth.refresh(session)
    assert oauth.transport.lost == 1
    sent = [u for _, u, _ in oauth.transport.log if u.endswith("/oauth2/token")]
    assert len(sent) == 3  # the code exchange, the lost refresh, the retry
    assert tokens.refresh_token != old_refresh
    status, body = whoami(stack, tokens.access_token)
    assert status == 200 and body["device_id"] == session.device_id
    # The grant lives on: the new refresh token works ...
    status, newer = refresh_raw(session, tokens.refresh_token)
    assert status == 200, newer
    # ... and once the new one was used, the old one is spent.
    status, body = refresh_raw(session, old_refresh)
    assert status == 400 and body["error"] == "invalid_grant"


async def test_the_old_refresh_token_works_until_the_new_one_is_used(stack, clients):
    username, password, _ = new_user(stack, "grace")
    oauth = clients(stack)
    session, _ = await oauth.complete(F.callback_params(await sign_in(oauth, username, password)))
    a = session.refresh_token
    status, first = refresh_raw(session, a)  # answer "lost"
    assert status == 200
    status, second = refresh_raw(session, a)  # the retry
    assert status == 200, second
    assert second["refresh_token"] != first["refresh_token"]
    # The pair nobody received is dropped; the retried one is the live one.
    assert refresh_raw(session, first["refresh_token"])[0] == 400
    status, third = refresh_raw(session, second["refresh_token"])
    assert status == 200, third
    assert whoami(stack, third["access_token"])[0] == 200


def test_auth_server_restart_keeps_users_signed_in_with_persisted_keys(stack, tmp_path):
    username, password, _ = new_user(stack, "restart")
    oauth = OAuthClient(AiohttpTransport(), MemoryStorage(), MemoryStorage(),
                        homeserver=stack.synapse.base_url, redirect_uri=REDIRECT)

    async def sign_in_fully():
        try:
            params = F.callback_params(await sign_in(oauth, username, password))
            return (await oauth.complete(params))[0]
        finally:
            await oauth.transport.close()

    session = asyncio.run(sign_in_fully())
    keys_file = stack.auth.data_dir / "signing-keys.json"
    state_file = stack.auth.data_dir / "state.json"
    for f in (keys_file, state_file):
        assert f.stat().st_mode & 0o777 == 0o600, f
    assert stack.auth.data_dir.stat().st_mode & 0o077 == 0
    keys = json.loads(keys_file.read_text())["keys"]

    def served_kids():
        with urllib.request.urlopen(stack.auth.issuer + "/oauth2/keys.json", timeout=10) as r:
            return [k["kid"] for k in json.loads(r.read())["keys"]]

    assert served_kids() == [k["kid"] for k in keys]

    stack.auth.stop()
    stack.auth.start()

    # The same key signs ID tokens after the restart ...
    assert served_kids() == [k["kid"] for k in keys]
    assert json.loads(keys_file.read_text())["keys"] == keys
    # ... the refresh token still works, for the same device ...
    status, body = refresh_raw(session, session.refresh_token)
    assert status == 200, body
    status, me = whoami(stack, body["access_token"])
    assert status == 200 and me["device_id"] == session.device_id
    # ... and logging out after the restart still deletes that device in the homeserver.
    revoke = urlencode(F.revoke_body(session.extra["client_id"], body["refresh_token"],
                                     "refresh_token")).encode()
    with urllib.request.urlopen(urllib.request.Request(session.extra["revocation_endpoint"], revoke)) as r:
        assert r.status == 200
    status, err = whoami(stack, body["access_token"])
    assert status == 401 and err["errcode"] == "M_UNKNOWN_TOKEN"
