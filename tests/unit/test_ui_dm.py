"""Direct messages through the view model and a real ChatService on the in-memory
homeserver: made the standard way, reused, offered only inside my community, invitations
accepted or declined by hand, and the DM sidebar (context="dm")."""

from __future__ import annotations

from pyapp.client.service import ChatConfig, ChatService
from pyapp.client.storage import MemoryStorage
from pyapp.ui.viewmodel import CHAT, INVITED, JOINING, NOT_FOUND

from .test_ui_viewmodel import BOT, NOW, signed_in, until, world  # noqa: F401  (fixture)

DM_BODY = {"preset": "trusted_private_chat", "is_direct": True, "invite": ["@bob_t1:localhost"],
           "initial_state": [{"type": "m.room.encryption", "state_key": "",
                              "content": {"algorithm": "m.megolm.v1.aes-sha2"}}]}


async def test_message_from_the_member_panel_makes_a_dm_once_then_reuses_it(world):
    hs = world.hs
    model = world.vm("dashboard", "all", None)
    await signed_in(world, model)
    await until(lambda: model.state.info and "Bob" in model.state.info.member_names)
    bob_row = next(m for m in model.state.info.members if m.name == "Bob")
    assert bob_row.can_message
    await model.message_member(world.bob)
    await until(lambda: model.state.title == "Bob")
    dm = model.state.room_id
    assert dm != world.room and hs.created == [DM_BODY]
    assert hs.account[world.alice]["m.direct"][1] == {world.bob: [dm]}
    assert [(r.name, r.dm) for r in model.state.rooms if r.room_id == dm] == [("Bob", True)]
    assert model.state.info.dm and not any(m.can_message for m in model.state.info.members)
    model.select_room(world.room)
    await model.message_member(world.bob)
    await until(lambda: model.state.room_id == dm)
    assert len(hs.created) == 1  # reused


async def test_the_dm_is_reused_from_the_servers_m_direct_even_before_the_sync_says_so(world):
    hs = world.hs
    made_elsewhere = hs.create_room("", world.alice)
    hs.invite(made_elsewhere, world.bob, world.alice, is_direct=True)
    model = world.vm("dashboard", "all", None)
    await signed_in(world, model)
    await until(lambda: world.service.room(made_elsewhere) is not None)
    hs.account[world.alice] = {"m.direct": (0, {world.bob: [made_elsewhere]})}  # not synced
    assert await world.service.open_dm(world.bob) == made_elsewhere
    assert hs.created == []


async def test_no_dm_is_offered_or_attempted_outside_my_community(world):
    hs = world.hs
    dave = hs.add_user("dave_other")
    hs.join(world.room, dave)
    model = world.vm("dashboard", "all", None)
    await signed_in(world, model)
    await until(lambda: model.state.info and "Dave" in model.state.info.member_names)
    rows = {m.name: m.can_message for m in model.state.info.members}
    assert rows == {"Alice": False, "Bob": True, "Dave": False}
    assert model.message_member(dave) is None
    try:
        await world.service.open_dm(dave)
    except ValueError as e:
        assert "your own community" in str(e)
    else:
        raise AssertionError("a DM with another tenant was attempted")
    assert hs.created == [] and world.alice not in hs.account


async def test_an_invitation_waits_for_the_user_and_accepting_lists_the_dm(world):
    hs = world.hs
    dm = hs.create_room("", world.bob)
    hs.invite(dm, world.alice, world.bob, is_direct=True)
    dave = hs.add_user("dave_other")
    foreign = hs.create_room("", dave)
    hs.invite(foreign, world.alice, dave, is_direct=True)
    model = world.vm("dashboard", "all", None)
    await signed_in(world, model)
    await until(lambda: len([r for r in model.state.rooms if r.invite]) == 2)
    invites = {r.room_id: r for r in model.state.rooms if r.invite}
    assert invites[dm].preview == "Bob wants to chat" and not invites[dm].outside
    assert invites[foreign].outside and "outside your community" in invites[foreign].preview
    assert hs.rooms[dm].members[world.alice] == "invite"  # never joined by itself
    assert hs.rooms[foreign].members[world.alice] == "invite"
    await model.accept_invite(dm)
    await until(lambda: model.state.room_id == dm)
    await until(lambda: model.state.title == "Bob")  # once its members are known
    await until(lambda: world.alice in hs.account)
    assert hs.account[world.alice]["m.direct"][1] == {world.bob: [dm]}
    await model.decline_invite(foreign)
    await until(lambda: foreign not in {r.room_id for r in model.state.rooms})
    assert hs.rooms[foreign].members[world.alice] == "leave"


async def test_the_dm_sidebar_opens_by_slug_in_my_own_tenant(world):
    hs = world.hs
    model = world.vm("sidebar", "dm", "bob")
    await world.service.login_password("alice_t1", "pw")
    await until(lambda: model.state.screen in (JOINING, CHAT))
    await until(lambda: model.state.screen == CHAT)
    assert model.state.title == "Bob" and hs.created == [DM_BODY]
    other = world.vm("sidebar", "dm", "bob")  # a second one: the same room
    await until(lambda: other.state.screen == CHAT)
    assert other.state.room_id == model.state.room_id and len(hs.created) == 1
    for slug, text in (("bob_other", "no one called"), ("alice", "This is you")):
        odd = world.vm("sidebar", "dm", slug)
        await until(lambda: odd.state.screen == NOT_FOUND)
        assert text in odd.state.notice
    assert len(hs.created) == 1


async def test_the_dm_sidebar_shows_their_invitation_instead_of_making_another_room(world):
    hs = world.hs
    dm = hs.create_room("", world.bob)
    hs.invite(dm, world.alice, world.bob, is_direct=True)
    model = world.vm("sidebar", "dm", "bob")
    await world.service.login_password("alice_t1", "pw")
    await until(lambda: model.state.screen == INVITED)
    assert model.state.invitation.text == "Bob wants to chat"
    assert model.state.invitation.room_id == dm and hs.created == []
    await model.accept_invite(dm)
    await until(lambda: model.state.screen == CHAT and model.state.room_id == dm)


async def test_a_dm_that_cannot_be_made_says_why_and_is_tried_again(world):
    from .test_ui_viewmodel import ManualTimers

    hs, timers = world.hs, ManualTimers()
    model = world.vm("sidebar", "dm", "bob", timer=timers)
    hs.create_down = True
    await world.service.login_password("alice_t1", "pw")
    await until(lambda: model.state.screen == NOT_FOUND)
    assert "could not be started" in model.state.notice and hs.created == []
    hs.create_down = False
    timers.fire_all()
    await until(lambda: model.state.screen == CHAT)
    assert len(hs.created) == 1


async def test_a_dm_they_left_is_not_reused(world):
    hs = world.hs
    model = world.vm("dashboard", "all", None)
    await signed_in(world, model)
    first = await world.service.open_dm(world.bob)
    hs.join(first, world.bob)
    hs.leave(first, world.bob)
    await until(lambda: world.bob not in world.service.rooms._states[first].members)
    second = await world.service.open_dm(world.bob)
    assert second != first and len(hs.created) == 2
    assert hs.account[world.alice]["m.direct"][1] == {world.bob: [second, first]}


async def test_an_invitation_that_cannot_be_answered_says_so(world):
    hs = world.hs
    dm = hs.create_room("", world.bob)
    hs.invite(dm, world.alice, world.bob, is_direct=True)
    model = world.vm("sidebar", "dm", "bob")
    await world.service.login_password("alice_t1", "pw")
    await until(lambda: model.state.screen == INVITED)
    hs.down = True
    await model.accept_invite(dm)
    await until(lambda: "could not be accepted" in (model.state.composer_error or ""))
    await model.decline_invite(dm)
    await until(lambda: "could not be declined" in (model.state.composer_error or ""))
    hs.down = False
    await model.accept_invite(dm)
    await until(lambda: model.state.screen == CHAT)
    assert model.state.composer_error is None


async def test_the_member_panel_shows_who_is_online_where_the_server_says(world):
    """m.presence from the sync answer: a dot per member (online / away / offline); a server
    with presence off sends none and the panel shows none."""
    hs = world.hs
    model = world.vm("dashboard", "all", None)
    await signed_in(world, model)
    await until(lambda: model.state.info and "Bob" in model.state.info.member_names)
    assert {m.presence for m in model.state.info.members} == {None}

    def with_presence(body):
        body["presence"] = {"events": [
            {"type": "m.presence", "sender": world.bob, "content": {"presence": "online"}},
            {"type": "m.presence", "sender": world.alice, "content": {"presence": "unavailable"}},
            {"type": "m.presence", "sender": "@x:localhost", "content": {"presence": "busy?"}},
            {"type": "m.presence", "sender": 7, "content": {"presence": "online"}},
            {"type": "m.typing", "sender": world.bob, "content": {"presence": "offline"}}]}
        return body
    hs.sync_rewrite = with_presence
    hs.post(world.room, world.bob, "hello")
    await until(lambda: {m.name: m.presence for m in model.state.info.members}.get("Bob")
                == "online")
    shown = {m.user_id: m.presence for m in model.state.info.members}
    assert shown[world.alice] == "away" and world.service.presence == {
        world.bob: "online", world.alice: "unavailable"}

    hs.sync_rewrite = lambda body: {**body, "presence": {"events": [
        {"type": "m.presence", "sender": world.bob, "content": {"presence": "offline"}}]}}
    hs.post(world.room, world.bob, "bye")
    await until(lambda: {m.name: m.presence for m in model.state.info.members}.get("Bob")
                == "offline")
