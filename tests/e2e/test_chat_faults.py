"""Faults between the chat service and a real Synapse: nothing typed is lost, nothing is sent
twice, and the sync loop comes back by itself."""

from __future__ import annotations

import pytest

from pyapp.client.service import OFFLINE, ONLINE, ChatConfig, ChatService
from pyapp.client.storage import MemoryStorage
from pyapp.client.timeline import FAILED, SENT
from pyapp.client.transport import AiohttpTransport
from pyapp.server.synapse import Synapse, SynapseOptions, free_port
from tests.e2e.test_chat_service import make_room
from tests.support.waiting import until
from tests.support.fault_proxy import FaultProxy


@pytest.fixture
def proxy(synapse):
    p = FaultProxy(synapse.base_url).start()
    yield p
    p.stop()


async def service_for(base_url: str) -> ChatService:
    return ChatService(ChatConfig(homeserver=base_url), AiohttpTransport(), MemoryStorage())


def stored_bodies(synapse: Synapse, room_id: str, token: str) -> list[str]:
    status, body = synapse.request(
        "GET", f"/_matrix/client/v3/rooms/{room_id}/messages?dir=b&limit=100", token=token)
    assert status == 200, body
    return [e["content"].get("body") for e in body["chunk"] if e["type"] == "m.room.message"]


async def test_server_errors_during_sync_show_offline_then_recover(synapse, make_user, proxy):
    name, pw, user = make_user("ivy")
    room_id = make_room(synapse, user["access_token"], "flaky")
    svc = await service_for(proxy.base_url)
    try:
        await svc.login_password(name, pw)
        await until(lambda: svc.status == ONLINE and svc.room(room_id), what="online")
        proxy.error_status["/sync"] = 502
        # End the long-poll in flight now, so the next sync meets the fault.
        synapse.request("PUT", f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t-wake",
                        {"msgtype": "m.text", "body": "wake"}, token=user["access_token"])
        await until(lambda: svc.status == OFFLINE, what="offline after 502s")
        assert "problem" in svc.status_message
        proxy.error_status.clear()
        svc.retry_now()
        await until(lambda: svc.status == ONLINE, what="back online")
        synapse.request("PUT", f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t-after",
                        {"msgtype": "m.text", "body": "after the outage"}, token=user["access_token"])
        await until(lambda: any(m.body == "after the outage"
                                for m in svc.room(room_id).timeline.messages), what="new message")
    finally:
        await svc.stop()
        await svc.transport.close()


async def test_a_send_whose_answer_was_lost_is_retried_without_duplicating(synapse, make_user, proxy):
    name, pw, user = make_user("jon")
    room_id = make_room(synapse, user["access_token"], "lossy")
    svc = await service_for(proxy.base_url)
    try:
        await svc.login_password(name, pw)
        await until(lambda: svc.room(room_id) is not None, what="room")
        proxy.drop_after_forward.add(r"^PUT .*/send/m\.room\.message/")
        message = await svc.send_text(room_id, "exactly once")
        # The server stored it, but the client never heard back: it must look failed unless
        # the sync echo already confirmed it.
        was_failed = message.status == FAILED
        if was_failed:
            assert "no connection" in message.error
        await svc.retry(room_id, message.txn_id)
        await until(lambda: message.status == SENT, what="sent")
        # Two deliveries reached the server (ours, or the HTTP stack's own idempotent retry)...
        sends = [entry for entry in proxy.log if entry[0] == "PUT" and "/send/" in entry[1]]
        assert len(sends) == 2, (was_failed, sends)
        # ...and the room holds the message once: same transaction id, deduplicated.
        assert stored_bodies(synapse, room_id, user["access_token"]).count("exactly once") == 1
    finally:
        await svc.stop()
        await svc.transport.close()


async def test_homeserver_restart_mid_chat_keeps_pending_text_and_recovers(tmp_path, make_user):
    hs = Synapse(SynapseOptions(data_dir=tmp_path / "hs", port=free_port()))
    hs.start()
    svc = await service_for(hs.base_url)
    try:
        user = hs.register_user("kim", "pw-kim")
        room_id = make_room(hs, user["access_token"], "restart")
        await svc.login_password("kim", "pw-kim")
        await until(lambda: svc.status == ONLINE and svc.room(room_id), what="online")
        hs.stop()
        message = await svc.send_text(room_id, "typed while the server was down")
        assert message.status == FAILED and message.body == "typed while the server was down"
        await until(lambda: svc.status == OFFLINE, timeout=30, what="offline")
        hs.start()
        svc.retry_now()
        await until(lambda: svc.status == ONLINE, timeout=30, what="online again")
        await svc.retry(room_id, message.txn_id)
        await until(lambda: message.status == SENT, what="sent after restart")
        assert stored_bodies(hs, room_id, user["access_token"]).count(
            "typed while the server was down") == 1
    finally:
        await svc.stop()
        await svc.transport.close()
        hs.stop()


async def test_an_unreachable_homeserver_gives_a_readable_login_error():
    from pyapp.client.session import LoginError

    svc = await service_for(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    try:
        with pytest.raises(LoginError, match="Can't reach the homeserver"):
            await svc.login_password("someone", "secret")
        assert svc.session is None and svc.sessions.load() is None
    finally:
        await svc.transport.close()
