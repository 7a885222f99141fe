"""The chat service (the same code the browser runs) against a real Synapse, under CPython."""

from __future__ import annotations

import pytest

from pyapp.client.service import ONLINE, ChatConfig, ChatService
from pyapp.client.session import LoginError
from pyapp.client.storage import MemoryStorage
from pyapp.client.timeline import SENT
from pyapp.client.transport import AiohttpTransport
from pyapp.identity import ROOM_METADATA_TYPE as METADATA
from tests.support.waiting import until


def make_room(synapse, creator_token, slug, invite=(), entity_type="event", tenant="demo"):
    status, body = synapse.request("POST", "/_matrix/client/v3/createRoom", {
        "name": f"Room {slug}", "preset": "private_chat", "invite": list(invite),
        "initial_state": [{"type": METADATA, "state_key": "", "content": {
            "entity_type": entity_type, "entity_slug": slug, "tenant_id": tenant,
            "created_by": "test"}}],
    }, token=creator_token)
    assert status == 200, body
    return body["room_id"]


@pytest.fixture
async def services():
    made = []

    async def make(synapse, storage=None):
        svc = ChatService(ChatConfig(homeserver=synapse.base_url, tenant="demo"),
                          AiohttpTransport(), storage or MemoryStorage())
        made.append(svc)
        return svc

    yield make
    for svc in made:
        await svc.stop()
        await svc.transport.close()


async def test_two_users_exchange_messages_with_local_echo_confirmed_once(synapse, make_user, services):
    a_name, a_pw, a = make_user("alice")
    b_name, b_pw, b = make_user("bob")
    # The platform's bot makes the room: the client believes room metadata only from it.
    bot = synapse.register_user("openmeet-bot", "pw-bot")
    room_id = make_room(synapse, bot["access_token"], "meetup", invite=[a["user_id"], b["user_id"]])
    for user in (a, b):
        synapse.request("POST", f"/_matrix/client/v3/join/{room_id}", {}, token=user["access_token"])

    alice, bob = await services(synapse), await services(synapse)
    await alice.login_password(a_name, a_pw)
    await bob.login_password(b_name, b_pw)
    await until(lambda: alice.rooms.find("event", "meetup", "demo") and bob.rooms.find("event", "meetup"),
                what="both see the room by its metadata")
    assert alice.status == ONLINE

    msg = await alice.send_text(room_id, "hello bob")
    room_a = alice.room(room_id)
    await until(lambda: any(m.body == "hello bob" for m in bob.room(room_id).timeline.messages),
                what="bob receives")
    await until(lambda: msg.status == SENT and msg in room_a.timeline.confirmed, what="echo confirmed")
    assert [m.body for m in room_a.timeline.messages].count("hello bob") == 1


async def test_wrong_password_is_a_readable_error(synapse, make_user, services):
    name, _, _ = make_user("carol")
    svc = await services(synapse)
    with pytest.raises(LoginError, match="Wrong username or password"):
        await svc.login_password(name, "not-the-password")


async def test_session_restores_from_storage_without_logging_in(synapse, make_user, services):
    name, pw, created = make_user("dave")
    storage = MemoryStorage()
    first = await services(synapse, storage)
    await first.login_password(name, pw)
    await until(lambda: first.status == ONLINE, what="online")
    await first.stop()
    second = await services(synapse, storage)
    assert await second.restore()
    await until(lambda: second.status == ONLINE, what="restored session online")
    assert second.user_id == created["user_id"]


async def test_rejected_access_token_is_refreshed_and_the_request_retried(synapse, make_user, services):
    name, pw, _ = make_user("erin")
    storage = MemoryStorage()
    svc = await services(synapse, storage)
    await svc.login_password(name, pw)
    await until(lambda: svc.status == ONLINE, what="online")
    first_refresh = svc.session.refresh_token
    # As if the token had expired server-side, in memory and in the shared storage alike.
    svc.tokens.session.access_token = "syt_not_a_valid_token"
    svc.sessions.save(svc.tokens.session)
    response = await svc.client.whoami()
    assert getattr(response, "user_id", None) == svc.user_id
    assert svc.tokens.refresh_count == 1
    stored = svc.sessions.load()
    assert stored.refresh_token != first_refresh and stored.access_token == svc.session.access_token


async def test_typing_receipts_and_unread_counts_reach_the_other_user(synapse, make_user, services):
    a_name, a_pw, a = make_user("fay")
    b_name, b_pw, b = make_user("gus")
    room_id = make_room(synapse, a["access_token"], "typing", invite=[b["user_id"]])
    synapse.request("POST", f"/_matrix/client/v3/join/{room_id}", {}, token=b["access_token"])
    fay, gus = await services(synapse), await services(synapse)
    await fay.login_password(a_name, a_pw)
    await gus.login_password(b_name, b_pw)
    await until(lambda: fay.room(room_id) and gus.room(room_id), what="room synced")

    await fay.set_typing(room_id, True)
    await until(lambda: gus.room(room_id).typing == [a["user_id"]], what="typing shown")
    await fay.set_typing(room_id, False)
    await until(lambda: gus.room(room_id).typing == [], what="typing cleared")

    await fay.send_text(room_id, "one")
    await fay.send_text(room_id, "two")
    await until(lambda: gus.room(room_id).unread == 2, what="unread count 2")
    await until(lambda: len(gus.room(room_id).timeline.confirmed) == 2, what="gus has both")
    await gus.mark_read(room_id)
    await until(lambda: gus.room(room_id).unread == 0, what="unread cleared")
    last = gus.room(room_id).timeline.last_event_id()
    await until(lambda: fay.room(room_id).receipts.get(b["user_id"]) == last, what="receipt seen")


async def test_reading_a_room_whose_last_message_i_sent_from_another_device_clears_its_count(
        synapse, make_user, services):
    """Synapse keeps counting what came before my own message until I send a receipt: a reply
    from my phone leaves the room unread in this browser until it is marked read here."""
    a_name, a_pw, a = make_user("jan")
    b_name, b_pw, b = make_user("kim")
    room_id = make_room(synapse, a["access_token"], "otherdevice", invite=[b["user_id"]])
    synapse.request("POST", f"/_matrix/client/v3/join/{room_id}", {}, token=b["access_token"])
    kim = await services(synapse)
    await kim.login_password(b_name, b_pw)
    await until(lambda: kim.room(room_id), what="room synced")
    status, _ = synapse.request("POST", f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message",
                                {"msgtype": "m.text", "body": "lunch?"}, token=a["access_token"])
    assert status == 200
    status, _ = synapse.request("POST", f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message",
                                {"msgtype": "m.text", "body": "yes"}, token=b["access_token"])
    assert status == 200  # kim answers from another device (another access token)
    await until(lambda: [e.body for e in kim.room(room_id).timeline.confirmed][-2:]
                == ["lunch?", "yes"], what="kim's client has both")
    assert kim.room(room_id).unread == 1
    await kim.mark_read(room_id)
    await until(lambda: kim.room(room_id).unread == 0, what="unread cleared")


async def test_bot_invites_for_our_tenant_are_accepted_and_others_are_left(synapse, services):
    bot = synapse.register_user("openmeet-bot", "pw-bot")
    user = synapse.register_user("hal_demo", "pw-hal")
    stranger = synapse.register_user("ida_demo", "pw-ida")
    ours = make_room(synapse, bot["access_token"], "ours", invite=[user["user_id"]])
    theirs = make_room(synapse, bot["access_token"], "theirs", invite=[user["user_id"]],
                       tenant="other")
    personal = make_room(synapse, stranger["access_token"], "personal", invite=[user["user_id"]])
    svc = await services(synapse)
    svc.config.bot_user_id = bot["user_id"]
    await svc.login_password("hal_demo", "pw-hal")
    await until(lambda: svc.rooms.find("event", "ours", "demo"), what="auto-joined")
    assert svc.room(ours).membership == "join"
    await until(lambda: svc.room(personal) is not None, what="stranger's invite seen")
    assert svc.room(theirs).membership == "invite"
    assert svc.room(personal).membership == "invite"
    assert svc.rooms.find_invite("event", "theirs", "other") is not None
