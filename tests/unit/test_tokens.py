import asyncio

import pytest

from pyapp.client.http import MatrixHttp, strip_token_from_query
from pyapp.client.session import Session
from pyapp.client.tokens import SessionExpired, TokenManager, Tokens, refresh_margin
from pyapp.client.transport import HttpResponse


def session(**kw):
    base = dict(homeserver="http://hs", user_id="@a:hs", device_id="D", access_token="t0",
                refresh_token="r0", expires_at=100.0, lifetime=30.0)
    base.update(kw)
    return Session(**base)


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def counting_refresher(delay=0.0):
    calls = []

    async def refresh(s):
        calls.append(s.refresh_token)
        await asyncio.sleep(delay)
        n = len(calls)
        return Tokens(f"t{n}", f"r{n}", 30.0)

    return refresh, calls


def test_margin_scales_with_lifetime():
    assert refresh_margin(30) == 6
    assert refresh_margin(300) == 60
    assert refresh_margin(None) == 60


async def test_token_is_refreshed_ahead_of_expiry_not_before():
    refresh, calls = counting_refresher()
    clock = Clock(90.0)
    tm = TokenManager(session(), refresh, clock=clock)
    assert await tm.fresh_token() == "t0" and calls == []
    clock.now = 95.0  # 5 s left of a 30 s token: inside the 6 s margin
    assert await tm.fresh_token() == "t1"
    assert tm.session.refresh_token == "r1" and tm.session.expires_at == 125.0


async def test_concurrent_refreshes_of_the_same_token_make_one_request():
    refresh, calls = counting_refresher(delay=0.01)
    tm = TokenManager(session(), refresh, clock=Clock(0.0))
    results = await asyncio.gather(*(tm.refresh("t0") for _ in range(5)))
    assert calls == ["r0"] and set(results) == {"t1"}


async def test_tokens_refreshed_by_another_tab_are_adopted_instead_of_refreshing_again():
    refresh, calls = counting_refresher()
    shared = {"s": session(access_token="t-other", refresh_token="r-other", expires_at=200.0)}
    changes = []
    tm = TokenManager(session(), refresh, clock=Clock(0.0), reload=lambda: shared["s"],
                      on_change=changes.append)
    assert await tm.refresh("t0") == "t-other"
    assert calls == [] and tm.session.refresh_token == "r-other" and changes


async def test_without_refresh_token_a_refresh_means_sign_in_again():
    tm = TokenManager(session(refresh_token=None), None, clock=Clock(0.0))
    with pytest.raises(SessionExpired):
        await tm.refresh("t0")


class ScriptedTransport:
    def __init__(self, *responses):
        self.responses = list(responses)
        self.requests = []

    async def request(self, method, url, headers, body=None, timeout=None):
        self.requests.append((method, url, dict(headers)))
        return self.responses.pop(0)


def unknown_token():
    return HttpResponse(401, {"content-type": "application/json"},
                        b'{"errcode":"M_UNKNOWN_TOKEN","error":"expired","soft_logout":true}')


async def test_a_401_unknown_token_refreshes_and_retries_once_with_the_new_token():
    refresh, calls = counting_refresher()
    transport = ScriptedTransport(unknown_token(), HttpResponse(200, {}, b"{}"))
    http = MatrixHttp(transport, "http://hs", TokenManager(session(), refresh, clock=Clock(0.0)))
    response = await http.request("GET", "/_matrix/client/v3/sync?access_token=t0&since=s1")
    assert response.status == 200 and calls == ["r0"]
    (_, url1, h1), (_, url2, h2) = transport.requests
    assert h1["Authorization"] == "Bearer t0" and h2["Authorization"] == "Bearer t1"
    assert "access_token" not in url1 and "since=s1" in url2


def test_tokens_are_stripped_from_query_strings():
    assert strip_token_from_query("/x?access_token=abc&a=1") == "/x?a=1"
    assert strip_token_from_query("/x?a=1") == "/x?a=1"
