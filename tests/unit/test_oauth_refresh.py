"""OAuth refresh through the TokenManager: single flight in a page and across tabs."""

import asyncio
import contextlib

import pytest

from pyapp.auth import flow as F
from pyapp.auth.client import OAuthClient
from pyapp.client.session import SessionStore
from pyapp.client.storage import MemoryStorage
from pyapp.client.tokens import SessionExpired, TokenManager

from .oauth_fakes import HS, REDIRECT, FakeServers
from .test_oauth_flow import Clock, authorize


async def signed_in(servers=None, clock=None):
    servers = servers or FakeServers()
    clock = clock or Clock()
    client = OAuthClient(servers, MemoryStorage(), MemoryStorage(), homeserver=HS,
                         redirect_uri=REDIRECT, clock=clock)
    session, _ = await client.complete(F.callback_params(authorize(servers, await client.begin(REDIRECT))))
    return client, servers, session, clock


async def test_refresh_ahead_of_expiry_once_for_many_concurrent_callers():
    client, servers, session, clock = await signed_in()
    manager = TokenManager(session, client.refresh, clock=clock)
    assert await manager.fresh_token() == session.access_token  # 30 s left: nothing to do
    assert servers.refreshes == 0
    clock.now += 25  # inside the last fifth of the lifetime
    servers.refresh_delay = 0.05
    first = session.access_token
    tokens = await asyncio.gather(*(manager.fresh_token() for _ in range(8)))
    assert servers.refreshes == 1 and manager.refresh_count == 1
    assert len(set(tokens)) == 1 and tokens[0] != first


def tab(session_json_storage, client, clock, lock):
    store = SessionStore(session_json_storage)
    return TokenManager(store.load(), client.refresh, clock=clock, lock=lock,
                        reload=store.load, on_change=store.save)


async def test_two_tabs_refresh_once_and_adopt_each_others_tokens():
    client, servers, session, clock = await signed_in()
    shared = MemoryStorage()  # localStorage of the origin
    SessionStore(shared).save(session)
    web_lock = asyncio.Lock()  # stands in for navigator.locks: one holder across tabs

    @contextlib.asynccontextmanager
    async def lock():
        async with web_lock:
            yield

    a, b = tab(shared, client, clock, lock), tab(shared, client, clock, lock)
    servers.refresh_delay = 0.05
    for _ in range(5):  # many lifetimes
        clock.now += 26
        ta, tb = await asyncio.gather(a.fresh_token(), b.fresh_token())
        assert ta == tb
    assert servers.refreshes == 5
    assert a.refresh_count + b.refresh_count == 5
    # After a 401 in one tab, the other's fresh token is adopted without another refresh.
    stale = a.access_token
    clock.now += 26
    await b.fresh_token()
    assert await a.refresh(stale) == b.access_token
    assert servers.refreshes == 6


async def test_without_the_shared_lock_two_tabs_do_invalidate_each_other():
    """The bug the lock prevents: both tabs redeem the same refresh token; one loses."""
    client, servers, session, clock = await signed_in()
    shared = MemoryStorage()
    SessionStore(shared).save(session)
    a, b = tab(shared, client, clock, None), tab(shared, client, clock, None)
    a._reload = b._reload = None
    servers.refresh_delay = 0.05
    clock.now += 26
    results = await asyncio.gather(a.fresh_token(), b.fresh_token(), return_exceptions=True)
    assert any(isinstance(r, SessionExpired) for r in results)


async def test_revoked_refresh_token_ends_the_session_with_a_message():
    client, servers, session, clock = await signed_in()
    servers.refresh_tokens[session.refresh_token] = None
    manager = TokenManager(session, client.refresh, clock=clock)
    with pytest.raises(SessionExpired, match="sign in again"):
        await manager.refresh(session.access_token)


async def test_logout_revokes_refresh_and_access_token():
    client, servers, session, _ = await signed_in()
    assert await client.revoke(session)
    assert servers.revoked == [session.refresh_token, session.access_token]


async def test_a_lost_refresh_answer_is_retried_with_the_same_old_token():
    """The auth server may have rotated the token although its answer never arrived: the
    client re-sends the same old refresh token (valid until the new one is used, MAS's grace)
    instead of failing the refresh."""
    from pyapp.client.transport import TransportError

    client, servers, session, clock = await signed_in()
    client.refresh_retry_delays = (0, 0)
    sent = []
    real = servers.request

    async def losing_first_answer(method, url, headers, body=None, timeout=None):
        if "grant_type=refresh_token" in (body or ""):
            sent.append(body)
            if len(sent) == 1:
                raise TransportError("connection reset while reading the answer")
        return await real(method, url, headers, body, timeout)

    client.transport = type("T", (), {"request": staticmethod(losing_first_answer)})()
    manager = TokenManager(session, client.refresh, clock=clock)
    old = session.access_token
    assert await manager.refresh(old) != old
    assert len(sent) == 2 and sent[0] == sent[1]
    assert manager.refresh_count == 1
