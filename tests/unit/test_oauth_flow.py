"""The login flow's state machine against a scripted server (pyapp.auth.client + flow)."""

from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from pyapp.auth import flow as F
from pyapp.auth.client import OAuthClient
from pyapp.auth.login import login_method
from pyapp.client.storage import MemoryStorage

from .oauth_fakes import HS, ISSUER, METADATA, REDIRECT, FakeServers


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def make(servers=None, storage=None, flows=None, clock=None, redirect=REDIRECT):
    servers = servers or FakeServers()
    client = OAuthClient(servers, storage if storage is not None else MemoryStorage(),
                         flows if flows is not None else MemoryStorage(), homeserver=HS,
                         redirect_uri=redirect, clock=clock or Clock())
    return client, servers


def authorize(servers, url, **override):
    """What the auth server does after a successful sign-in: the redirect back to us."""
    q = dict(parse_qsl(urlsplit(url).query))
    code = servers.issue_code(q["code_challenge"], q["scope"].split(F.SCOPE_DEVICE_PREFIX)[1],
                              q["redirect_uri"])
    params = {"code": code, "state": q["state"], "iss": ISSUER, **override}
    params = {k: v for k, v in params.items() if v is not None}
    return q["redirect_uri"] + "#" + urlencode(params)


async def test_authorization_request_carries_pkce_state_scopes_and_fragment_mode():
    client, servers = make()
    url = await client.begin("https://chat.example/events/picnic")
    q = dict(parse_qsl(urlsplit(url).query))
    assert url.startswith(METADATA["authorization_endpoint"] + "?")
    assert q["response_type"] == "code" and q["response_mode"] == "fragment"
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert q["redirect_uri"] == REDIRECT and q["client_id"] == "client1"
    scopes = q["scope"].split()
    assert "urn:matrix:client:api:*" in scopes
    assert [s for s in scopes if s.startswith(F.SCOPE_DEVICE_PREFIX)] == [
        F.SCOPE_DEVICE_PREFIX + client.device_id()]
    assert "prompt" not in q
    # The verifier itself never travels in the URL; it waits in the flow storage.
    flow = F.PendingFlow.from_json(__import__("json").loads(
        client.flow_storage.get(F.FLOW_PREFIX + q["state"])))
    assert flow.verifier not in url and flow.return_to == "https://chat.example/events/picnic"


async def test_prompt_create_only_when_asked_and_advertised():
    client, _ = make()
    url = await client.begin(REDIRECT, prompt="create")
    assert dict(parse_qsl(urlsplit(url).query))["prompt"] == "create"
    servers = FakeServers()
    servers_meta = dict(METADATA, prompt_values_supported=[])
    client2, _ = make(servers)
    client2.metadata = __import__("pyapp.auth.metadata", fromlist=["x"]).parse_auth_metadata(servers_meta)
    url = await client2.begin(REDIRECT, prompt="create")
    assert "prompt" not in dict(parse_qsl(urlsplit(url).query))


async def test_client_registered_once_per_issuer_and_redirect_uri():
    storage = MemoryStorage()
    client, servers = make(storage=storage)
    await client.begin(REDIRECT)
    await client.begin(REDIRECT)
    again, _ = make(servers, storage=storage)
    await again.begin(REDIRECT)
    assert servers.registrations == 1
    other, _ = make(servers, storage=storage, redirect="https://chat.example/other-callback")
    await other.begin(REDIRECT)
    assert servers.registrations == 2


async def test_the_deployments_own_client_is_used_only_for_its_redirect_uris():
    known = {"client_id": "om-chat", "redirect_uris": [REDIRECT]}
    servers = FakeServers()
    own = OAuthClient(servers, MemoryStorage(), MemoryStorage(), homeserver=HS,
                      redirect_uri=REDIRECT, known_client=known)
    url = await own.begin(REDIRECT)
    assert dict(parse_qsl(urlsplit(url).query))["client_id"] == "om-chat"
    assert servers.registrations == 0
    # Embedded on another origin, the chat is a third-party client: it registers itself.
    elsewhere = OAuthClient(servers, MemoryStorage(), MemoryStorage(), homeserver=HS,
                            redirect_uri="https://other.example/oauth/callback.html",
                            known_client=known)
    url = await elsewhere.begin("https://other.example/")
    assert dict(parse_qsl(urlsplit(url).query))["client_id"] == "client1"
    assert servers.registrations == 1


async def test_callback_completes_once_and_the_flow_state_is_gone_afterwards():
    client, servers = make()
    url = await client.begin("https://chat.example/groups/hikers")
    callback = authorize(servers, url)
    session, back = await client.complete(F.callback_params(callback))
    assert session.auth == "oauth" and session.user_id == "@alice_acme:hs.example"
    assert session.device_id == client.device_id() and session.refresh_token
    assert session.extra["issuer"] == ISSUER and session.extra["client_id"] == "client1"
    assert session.expires_at == 1030.0 and session.lifetime == 30
    assert back == "https://chat.example/groups/hikers"
    assert client.flow_storage.data == {}
    # A replayed callback finds no flow: refused before the code is sent anywhere.
    sent = len(servers.requests)
    with pytest.raises(F.OAuthError, match="unknown or reused state"):
        await client.complete(F.callback_params(callback))
    assert len(servers.requests) == sent


async def test_wrong_state_is_refused():
    client, servers = make()
    url = await client.begin(REDIRECT)
    with pytest.raises(F.OAuthError, match="unknown or reused state"):
        await client.complete(F.callback_params(authorize(servers, url, state="forged")))


async def test_mismatching_issuer_is_refused_and_kills_the_flow():
    client, servers = make()
    url = await client.begin(REDIRECT)
    callback = authorize(servers, url, iss="https://evil.example/")
    with pytest.raises(F.OAuthError, match="issuer mismatch"):
        await client.complete(F.callback_params(callback))
    assert client.flow_storage.data == {}
    assert not any("token" in u for _, u, _, _ in servers.requests if "oauth2/token" in u)


async def test_missing_iss_is_refused_when_the_server_says_it_always_sends_it():
    from pyapp.auth.metadata import parse_auth_metadata

    client, servers = make()
    client.metadata = parse_auth_metadata(
        dict(METADATA, authorization_response_iss_parameter_supported=True))
    url = await client.begin(REDIRECT)
    # A response without iss did not come from this issuer (RFC 9207 mix-up defence).
    with pytest.raises(F.OAuthError, match="issuer mismatch"):
        await client.complete(F.callback_params(authorize(servers, url, iss=None)))
    assert client.flow_storage.data == {}
    url = await client.begin(REDIRECT)
    session, _ = await client.complete(F.callback_params(authorize(servers, url)))
    assert session.extra["issuer"] == ISSUER
    # A server that does not advertise it may leave iss out.
    plain, servers = make()
    url = await plain.begin(REDIRECT)
    session, _ = await plain.complete(F.callback_params(authorize(servers, url, iss=None)))
    assert session.user_id


def test_a_flow_stored_before_require_iss_existed_still_loads():
    stored = {k: "x" for k in F.PendingFlow.__dataclass_fields__ if k != "require_iss"}
    stored["created_at"] = 1.0
    flow = F.PendingFlow.from_json(stored)
    assert flow is not None and flow.require_iss is False
    assert F.PendingFlow.from_json({"state": "s"}) is None


async def test_code_refused_by_the_server_gives_a_clear_message():
    client, servers = make()
    url = await client.begin(REDIRECT)
    callback = authorize(servers, url)
    servers.codes.clear()  # e.g. already redeemed by someone else
    with pytest.raises(F.OAuthError, match="authorization code was refused"):
        await client.complete(F.callback_params(callback))


async def test_flow_expires():
    clock = Clock()
    client, servers = make(clock=clock)
    url = await client.begin(REDIRECT)
    clock.now += F.FLOW_TTL + 1
    with pytest.raises(F.OAuthError, match="expired"):
        await client.complete(F.callback_params(authorize(servers, url)))


async def test_cancelled_sign_in():
    client, servers = make()
    url = await client.begin(REDIRECT)
    callback = authorize(servers, url, code=None, error="access_denied")
    with pytest.raises(F.OAuthError, match="cancelled"):
        await client.complete(F.callback_params(callback))


async def test_relogin_reuses_the_device_id():
    storage = MemoryStorage()
    client, servers = make(storage=storage)
    first, _ = await client.complete(F.callback_params(authorize(servers, await client.begin(REDIRECT))))
    client2, _ = make(servers, storage=storage)
    second, _ = await client2.complete(F.callback_params(authorize(servers, await client2.begin(REDIRECT))))
    assert first.device_id == second.device_id


async def test_return_to_must_be_our_origin():
    client, servers = make()
    url = await client.begin("https://evil.example/steal")
    _, back = await client.complete(F.callback_params(authorize(servers, url)))
    assert back == "https://chat.example/"


async def test_query_response_mode_is_read_too():
    params = F.callback_params(REDIRECT + "?code=c&state=s&iss=x")
    assert params == {"code": "c", "state": "s", "iss": "x"}


async def test_discovery_falls_back_to_the_unstable_path_and_else_to_password():
    unstable = FakeServers(metadata_paths=("/_matrix/client/unstable/org.matrix.msc2965/auth_metadata",))
    client, _ = make(unstable)
    assert await login_method(client) == "oauth"
    assert [u for _, u, _, _ in unstable.requests] == [
        HS + "/_matrix/client/v1/auth_metadata",
        HS + "/_matrix/client/unstable/org.matrix.msc2965/auth_metadata"]
    none, _ = make(FakeServers(metadata_paths=()))
    assert await login_method(none) == "password"


async def test_no_token_ever_appears_in_a_url():
    client, servers = make()
    session, _ = await client.complete(F.callback_params(authorize(servers, await client.begin(REDIRECT))))
    session.refresh_token = (await client.refresh(session)).refresh_token
    await client.revoke(session)
    secrets_seen = {t for t in servers.refresh_tokens} | {f"at{i}" for i in range(1, servers.counter + 1)}
    for _, url, headers, _ in servers.requests:
        for s in secrets_seen:
            assert s not in urlsplit(url).query and s not in urlsplit(url).path
