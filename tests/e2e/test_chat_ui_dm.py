"""Direct messages and the member panel in Chromium against the real Synapse: Alice opens a DM
with Bob from the member panel, Bob gets an invitation (not an automatic join), accepts, they
exchange messages, and opening it again reuses the room (m.direct as the server stores it)."""

from __future__ import annotations

import json
import re
import secrets
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from pyapp.identity import BOT_LOCALPART
from tests.e2e.axe import assert_accessible
from tests.e2e.chat_ui_support import (BOOT_TIMEOUT_MS, LIVE_TIMEOUT_MS, chat, expect_message,
                                       make_room, open_and_sign_in, send, sign_in)
from tests.e2e.test_chat_ui_encryption import _wait, device_keys_uploaded, stored_event_json

pytestmark = pytest.mark.e2e


def m_direct(synapse, user: dict) -> dict:
    status, body = synapse.request(
        "GET", f"/_matrix/client/v3/user/{quote(user['user_id'])}/account_data/m.direct",
        token=user["access_token"])
    return body if status == 200 else {}


def room_state(synapse, user: dict, room_id: str, event_type: str) -> dict:
    """An event's state content; `event_type` may end in "/<state key>"."""
    path = event_type if "/" in event_type else f"{event_type}/"
    status, body = synapse.request(
        "GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/state/{path}",
        token=user["access_token"])
    assert status == 200, body
    return body


def member_state(synapse, user: dict, room_id: str, member: str) -> dict:
    return room_state(synapse, user, room_id, f"m.room.member/{quote(member)}")


def test_a_dm_from_the_member_panel_is_an_invitation_then_a_conversation_and_is_reused(
        synapse, web_server, new_page):
    suffix = secrets.token_hex(3)
    names = {k: f"{k}{suffix}" for k in ("ali", "bob", "eve")}
    pw = "pw-" + suffix
    ali = synapse.register_user(f"{names['ali']}_demo", pw, displayname=f"Ali {suffix}")
    bob = synapse.register_user(f"{names['bob']}_demo", pw, displayname=f"Bob {suffix}")
    eve = synapse.register_user(f"{names['eve']}_other", pw, displayname=f"Eve {suffix}")
    room_id = make_room(synapse, ali["access_token"], "event", "dm-" + suffix, [bob, eve],
                        name="Meetup " + suffix)
    bot = synapse.register_user(BOT_LOCALPART, "pw-bot")
    status, body = synapse.request(
        "PUT", f"/_matrix/client/v3/rooms/{quote(room_id)}/state/m.room.power_levels/",
        {"users": {ali["user_id"]: 75}, "users_default": 0},  # the bot created it: v12 creator
        token=bot["access_token"])
    assert status == 200, body

    alice = new_page()
    open_and_sign_in(alice, f"{web_server}/messages.html", f"{names['ali']}_demo", pw)
    panel = chat(alice).locator(".omc-members")
    bob_row = panel.locator(".omc-member", has_text=f"Bob {suffix}")
    expect(bob_row).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    # Roles from power levels in the platform's words; initials; the bot is not listed;
    # no "Message" for myself or for someone of another community.
    expect(panel.locator(".omc-member", has_text=f"Ali {suffix}").locator(".omc-role")
           ).to_have_text("host")
    expect(bob_row.locator(".omc-avatar")).to_have_text(("B" + suffix[0]).upper())
    expect(panel.locator(".omc-member", has_text="openmeet-bot")).to_have_count(0)
    expect(panel.locator(".omc-member", has_text=f"Eve {suffix}")).to_have_count(1)
    expect(panel.get_by_role("button", name=f"Message Eve {suffix}")).to_have_count(0)
    expect(panel.get_by_role("button", name=f"Message Ali {suffix}")).to_have_count(0)
    assert_accessible(alice, "the dashboard with its member panel", "om-chat")

    bob_row.get_by_role("button", name=f"Message Bob {suffix}").click()
    expect(chat(alice).locator(".omc-conv-title")).to_have_text(f"Bob {suffix}",
                                                                 timeout=LIVE_TIMEOUT_MS)
    dm_id = alice.evaluate("new URLSearchParams(location.search).get('room')")
    assert dm_id and dm_id != room_id
    # The standard way: listed in Alice's m.direct, Bob's invite says is_direct.
    assert m_direct(synapse, ali) == {bob["user_id"]: [dm_id]}
    invite = member_state(synapse, ali, dm_id, bob["user_id"])
    assert invite["membership"] == "invite" and invite.get("is_direct") is True
    dm_item = chat(alice).locator(".omc-room-btn", has_text=f"Bob {suffix}")
    expect(dm_item).to_have_count(1)

    bob_page = new_page()
    open_and_sign_in(bob_page, f"{web_server}/messages.html", f"{names['bob']}_demo", pw)
    invitation = chat(bob_page).locator(".omc-room-invite")
    expect(invitation).to_contain_text(f"Ali {suffix} wants to chat", timeout=LIVE_TIMEOUT_MS)
    expect(invitation).not_to_contain_text("outside")
    assert_accessible(bob_page, "the dashboard with an invitation", "om-chat")
    # Not joined by itself.
    assert member_state(synapse, ali, dm_id, bob["user_id"])["membership"] == "invite"
    invitation.get_by_role("button", name="Accept").click()
    expect(chat(bob_page).locator(".omc-conv-title")).to_have_text(f"Ali {suffix}",
                                                                    timeout=LIVE_TIMEOUT_MS)
    # Encrypted by default: megolm from the room's first event, the engine loaded in both
    # browsers (Bob's while he read the invitation, so his device had keys to receive).
    assert room_state(synapse, ali, dm_id, "m.room.encryption") == {
        "algorithm": "m.megolm.v1.aes-sha2"}
    _wait(bob_page, lambda: device_keys_uploaded(synapse, ali["access_token"], bob["user_id"]),
          "Bob's device keys on the server")
    send(alice, "Hi Bob, a word in private?")
    expect_message(bob_page, "Hi Bob, a word in private?")
    send(bob_page, "Sure")
    expect_message(alice, "Sure")
    for page in (alice, bob_page):
        expect(chat(page).locator(".omc-conv-head .omc-lock")).to_be_visible()
    stored = stored_event_json(synapse, dm_id)
    assert [e["type"] for e in stored if e["type"].startswith("m.room.message")
            or e["type"] == "m.room.encrypted"] == ["m.room.encrypted"] * 2
    assert not [e for e in stored if "private" in json.dumps(e) or "Sure" in json.dumps(e)]
    assert m_direct(synapse, bob) == {ali["user_id"]: [dm_id]}  # Bob's client listed it too

    # Back to the event's room: "Message" on Bob again opens the same DM.
    chat(alice).locator(".omc-room-btn", has_text="Meetup " + suffix).click()
    expect(chat(alice).locator(".omc-conv-title")).to_have_text("Meetup " + suffix)
    panel.get_by_role("button", name=f"Message Bob {suffix}").click()
    expect(chat(alice).locator(".omc-conv-title")).to_have_text(f"Bob {suffix}")
    expect(alice).to_have_url(re.compile(r"room=" + re.escape(quote(dm_id, safe=""))))
    assert m_direct(synapse, ali) == {bob["user_id"]: [dm_id]}
    expect(chat(alice).locator(".omc-room-btn", has_text=f"Bob {suffix}")).to_have_count(1)
    # Looking at another chat, Alice sees Bob's next message counted on the DM's line.
    chat(alice).locator(".omc-room-btn", has_text="Meetup " + suffix).click()
    send(bob_page, "One more thing")
    expect(dm_item.locator(".omc-unread")).to_have_text("1", timeout=LIVE_TIMEOUT_MS)
    expect(dm_item.locator(".omc-room-preview")).to_have_text(f"Bob {suffix}: One more thing")


def test_message_in_the_event_pages_attendee_list_opens_a_dm_sidebar(
        demo_stack, built_static, new_page):
    """The host page's "Message" opens <om-chat mode="sidebar" context="dm" slug="...">; the
    other person's DM sidebar shows the invitation to accept, then they talk."""
    from tests.e2e.test_attend_flow import platform_sign_in

    base = demo_stack.url
    demo_stack.run(demo_stack.orchestrator.drain())
    pages = {}
    for user in ("alice", "bob"):
        page = pages[user] = new_page()
        platform_sign_in(page, base, user)
        page.goto(base + "/event.html?slug=python-meetup")
        expect(chat(page).get_by_label("Username")).to_be_visible(timeout=60_000)
        chat(page).get_by_label("Username").fill(user)
        chat(page).get_by_label("Password").fill("demo-password")
        chat(page).get_by_role("button", name="Sign in").click()
        expect(chat(page).get_by_label("Message", exact=True)).to_be_enabled(timeout=60_000)
    alice, bob = pages["alice"], pages["bob"]
    attendees = alice.locator("#event-attendees")
    expect(attendees.get_by_role("button", name="Message Bob Example")).to_be_visible()
    expect(attendees.get_by_role("button", name="Message Alice Example")).to_have_count(0)
    assert_accessible(alice, "the attendee list", "#event-attendees")
    attendees.get_by_role("button", name="Message Bob Example").click()
    dm = alice.locator("#site-dm om-chat")
    expect(dm.locator(".omc-title")).to_have_text("Bob Example", timeout=LIVE_TIMEOUT_MS)
    expect(dm.get_by_label("Message", exact=True)).to_be_enabled(timeout=LIVE_TIMEOUT_MS)
    send(alice, "Hello from the event page", nth=1)
    expect_message(alice, "Hello from the event page", nth=1)

    bob.locator("#event-attendees").get_by_role("button", name="Message Alice Example").click()
    invitation = bob.locator("#site-dm om-chat .omc-invitation")
    expect(invitation).to_contain_text("Alice Example wants to chat", timeout=LIVE_TIMEOUT_MS)
    assert_accessible(bob, "the DM sidebar's invitation", "#site-dm")
    invitation.get_by_role("button", name="Accept").click()
    expect_message(bob, "Hello from the event page", nth=1)
    send(bob, "Hi Alice", nth=1)
    expect_message(alice, "Hi Alice", nth=1)
    bob_token = demo_stack.synapse.login("bob_demo", "demo-password")
    direct = m_direct(demo_stack.synapse, bob_token)
    assert direct.get("@alice_demo:localhost"), direct


def test_a_dm_invitation_from_another_tenant_is_marked_and_never_joined_by_itself(
        synapse, web_server, new_page):
    """Should a homeserver let one through (this one has no tenant guard), a DM invite from
    another tenant, sent by a plain matrix-nio client, waits for the user, marked as coming
    from outside the community."""
    from nio import AsyncClient, RoomCreateResponse, RoomPreset

    from tests.e2e.test_chat_ui_live import run_async

    suffix = secrets.token_hex(3)
    pw = "pw-" + suffix
    kim = synapse.register_user(f"kim{suffix}_demo", pw, displayname=f"Kim {suffix}")
    zed = synapse.register_user(f"zed{suffix}_other", pw, displayname=f"Zed {suffix}")

    async def invite_from_zed() -> str:
        client = AsyncClient(synapse.base_url, f"zed{suffix}_other")
        try:
            await client.login(pw)
            response = await client.room_create(preset=RoomPreset.trusted_private_chat,
                                                is_direct=True, invite=[kim["user_id"]])
            assert isinstance(response, RoomCreateResponse), response
            return response.room_id
        finally:
            await client.close()

    room_id = run_async(invite_from_zed())
    page = new_page()
    page.goto(f"{web_server}/messages.html")
    expect(chat(page).get_by_label("Username")).to_be_visible(timeout=BOOT_TIMEOUT_MS)
    sign_in(page, f"kim{suffix}_demo", pw)  # no chat to write in yet: only the invitation
    invitation = chat(page).locator(".omc-room-invite")
    expect(invitation).to_contain_text(f"Zed {suffix} wants to chat · from outside your "
                                       f"community", timeout=LIVE_TIMEOUT_MS)
    expect(invitation).to_have_class(re.compile("is-outside"))
    # The page has synced it and shown it, and has not joined it.
    assert member_state(synapse, zed, room_id, kim["user_id"])["membership"] == "invite"
    assert m_direct(synapse, kim) == {}


def test_the_tenant_guard_lets_dms_within_a_tenant_and_refuses_them_across(demo_stack):
    """The standard DM request (trusted_private_chat, is_direct; on room version 12 the invitee
    is also an additional creator) through the homeserver's tenant module: bob may start one
    with carol, who joins; dave of another tenant may not start one with alice, nor join a
    demo DM he is not invited to."""
    from pyapp.client.direct import create_body

    hs = demo_stack.synapse
    bob, carol = hs.login("bob_demo", "demo-password"), hs.login("carol_demo", "demo-password")
    dave, alice = hs.login("dave_other", "demo-password"), hs.login("alice_demo", "demo-password")
    status, room = hs.request("POST", "/_matrix/client/v3/createRoom",
                              create_body(carol["user_id"]), token=bob["access_token"])
    assert status == 200, room
    status, body = hs.request("POST", f"/_matrix/client/v3/join/{quote(room['room_id'])}", {},
                              token=carol["access_token"])
    assert status == 200, body
    status, body = hs.request("POST", "/_matrix/client/v3/createRoom",
                              create_body(alice["user_id"]), token=dave["access_token"])
    assert status == 403 and body["errcode"] == "M_FORBIDDEN", body
    status, body = hs.request("POST", f"/_matrix/client/v3/join/{quote(room['room_id'])}", {},
                              token=dave["access_token"])
    assert status == 403, body
