"""The tenant boundary in the real homeserver (pyapp.server.tenant_guard loaded by the stack
serve.py starts) and in the client: a user of tenant `other` cannot reach `demo` users or
their rooms with any client, while same-tenant invites and the platform's own invites work."""

from __future__ import annotations

import secrets
from urllib.parse import quote

import pytest

from pyapp.client.service import ChatConfig, ChatService
from pyapp.client.storage import MemoryStorage
from pyapp.client.transport import AiohttpTransport
from pyapp.identity import ROOM_METADATA_TYPE, room_alias
from pyapp.platform.service import Platform
from tests.support.waiting import until

pytestmark = pytest.mark.e2e
PW = "demo-password"
META = {"entity_type": "event", "entity_slug": "python-meetup", "tenant_id": "demo",
        "created_by": "alice"}


def login(stack, slug: str, tenant: str = "demo") -> dict:
    return stack.synapse.login(f"{slug}_{tenant}", PW)


def call(stack, user: dict | str, method: str, path: str, body=None):
    token = user if isinstance(user, str) else user["access_token"]
    return stack.synapse.request(method, path, body, token=token)


def create_room(stack, user, **body):
    return call(stack, user, "POST", "/_matrix/client/v3/createRoom",
                {"preset": "private_chat", **body})


def invite(stack, user, room_id: str, invitee: str):
    return call(stack, user, "POST", f"/_matrix/client/v3/rooms/{quote(room_id)}/invite",
                {"user_id": invitee})


def join(stack, user, room_id: str):
    return call(stack, user, "POST", f"/_matrix/client/v3/join/{quote(room_id)}", {})


def membership(stack, room_id: str, user_id: str) -> str | None:
    """As the homeserver stores it, asked as the bot (which is in every platform room)."""
    status, body = call(stack, stack.orchestrator.config.as_token, "GET",
                        f"/_matrix/client/v3/rooms/{quote(room_id)}/state/m.room.member/"
                        f"{quote(user_id)}")
    return body.get("membership") if status == 200 else None


def invites_from(stack, user, inviter: str) -> list[str]:
    """The rooms ``user`` has a pending invite to from ``inviter``, as their sync shows."""
    status, body = call(stack, user, "GET", "/_matrix/client/v3/sync?timeout=0")
    assert status == 200, body
    return [room_id for room_id, data in body.get("rooms", {}).get("invite", {}).items()
            if any(e["type"] == "m.room.member" and e.get("state_key") == user["user_id"]
                   and e.get("sender") == inviter for e in data["invite_state"]["events"])]


def test_another_tenants_user_cannot_invite_a_demo_user(demo_stack):
    dave, alice = login(demo_stack, "dave", "other"), login(demo_stack, "alice")
    status, room = create_room(demo_stack, dave, name="Dave's corner")
    assert status == 200, room  # rooms of one's own are fine
    status, body = invite(demo_stack, dave, room["room_id"], alice["user_id"])
    assert status == 403 and body["errcode"] == "M_FORBIDDEN", body
    # Inviting while creating the room is refused the same way.
    status, body = create_room(demo_stack, dave, name="Another", invite=[alice["user_id"]])
    assert status == 403, body
    assert invites_from(demo_stack, alice, dave["user_id"]) == []


def test_a_spoofed_platform_room_cannot_be_made(demo_stack):
    dave = login(demo_stack, "dave", "other")
    spoof = [{"type": ROOM_METADATA_TYPE, "state_key": "", "content": META}]
    status, body = create_room(demo_stack, dave, name="Python Meetup", initial_state=spoof)
    assert status == 403, body
    status, body = create_room(demo_stack, dave, name="x", room_alias_name="event-python-demo")
    assert status in (400, 403), body  # the alias namespace is the bot's
    status, room = create_room(demo_stack, dave, name="Python Meetup")
    assert status == 200, room
    status, body = call(demo_stack, dave, "PUT", f"/_matrix/client/v3/rooms/"
                        f"{quote(room['room_id'])}/state/{ROOM_METADATA_TYPE}/", META)
    assert status == 403, body


def test_only_the_platform_brings_people_into_its_rooms(demo_stack):
    """Alice, platform admin (power 100) in her event's room, cannot invite anyone; the
    orchestrator's bot still invites attendees, who join; a user of another tenant the bot
    let in by mistake still cannot join."""
    slug = "guard-" + secrets.token_hex(3)
    carol, dave = login(demo_stack, "carol"), login(demo_stack, "dave", "other")

    async def create_event():
        p = Platform(demo_stack.store)
        p.create_entity("demo", "event", slug, "Guarded", "alice")
        await demo_stack.orchestrator.drain()
        return p.entity("demo", "event", slug)["matrix_room_id"]

    room_id = demo_stack.run(create_event())
    assert room_id
    alice = login(demo_stack, "alice")
    status, body = join(demo_stack, alice, room_id)
    assert status == 200, body  # the bot's invite to its own tenant's user
    status, body = invite(demo_stack, alice, room_id, carol["user_id"])
    assert status == 403, body
    assert membership(demo_stack, room_id, carol["user_id"]) is None

    async def attend():
        Platform(demo_stack.store).join("demo", "event", slug, "carol")
        await demo_stack.orchestrator.drain()

    demo_stack.run(attend())
    assert membership(demo_stack, room_id, carol["user_id"]) == "invite"
    status, body = join(demo_stack, carol, room_id)
    assert status == 200, body

    bot = demo_stack.orchestrator.config.as_token
    status, body = invite(demo_stack, bot, room_id, dave["user_id"])
    assert status == 200, body
    status, body = join(demo_stack, dave, room_id)
    assert status == 403 and body["errcode"] == "M_FORBIDDEN", body
    assert membership(demo_stack, room_id, dave["user_id"]) == "invite"
    alias = room_alias("event", slug, "demo", "localhost")
    status, body = join(demo_stack, dave, alias)
    assert status == 403, body


def test_same_tenant_invites_still_work(demo_stack):
    alice, bob = login(demo_stack, "alice"), login(demo_stack, "bob")
    status, room = create_room(demo_stack, alice, name="Alice and Bob", invite=[bob["user_id"]])
    assert status == 200, room
    status, body = join(demo_stack, bob, room["room_id"])
    assert status == 200, body
    status, room2 = create_room(demo_stack, alice, name="Later")
    assert invite(demo_stack, alice, room2["room_id"], bob["user_id"])[0] == 200


async def test_the_client_ignores_metadata_not_sent_by_the_bot(synapse):
    """Where a homeserver lets a spoof through (this one has no tenant guard), the client still
    does not take it for the platform's room, even when it is older than the real one."""
    suffix = secrets.token_hex(2)
    bot = synapse.register_user("openmeet-bot", "pw-bot")
    me = synapse.register_user(f"kit{suffix}_demo", "pw-kit")
    spoofer = synapse.register_user(f"eve{suffix}_other", "pw-eve")
    slug = "spoofed-" + suffix
    meta = [{"type": ROOM_METADATA_TYPE, "state_key": "",
             "content": {**META, "entity_slug": slug}}]

    def room(creator, name):
        status, body = synapse.request("POST", "/_matrix/client/v3/createRoom", {
            "name": name, "preset": "private_chat", "invite": [me["user_id"]],
            "initial_state": meta}, token=creator["access_token"])
        assert status == 200, body
        return body["room_id"]

    spoof_joined, spoof_invite = room(spoofer, "Joined spoof"), room(spoofer, "Invite spoof")
    real = room(bot, "Real")
    synapse.request("POST", f"/_matrix/client/v3/join/{quote(spoof_joined)}", {},
                    token=me["access_token"])  # say the user was lured into one
    svc = ChatService(ChatConfig(homeserver=synapse.base_url, tenant="demo",
                                 bot_user_id=bot["user_id"]), AiohttpTransport(), MemoryStorage())
    try:
        await svc.login_password(f"kit{suffix}_demo", "pw-kit")
        await until(lambda: svc.rooms.find("event", slug, "demo") is not None,
                    what="the bot's room auto-joined")
        assert svc.rooms.find("event", slug, "demo").room_id == real
        await until(lambda: svc.room(spoof_invite) is not None, what="the spoof's invite seen")
        assert svc.room(spoof_joined).metadata is None and svc.room(spoof_invite).metadata is None
        assert svc.room(spoof_invite).membership == "invite"
        assert svc.rooms.find_invite("event", slug, "demo") is None
    finally:
        await svc.stop()
        await svc.transport.close()
