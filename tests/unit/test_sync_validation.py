"""nio's schemas still decide what of a sync answer reaches the rooms (pyapp.client.sync_validation):
events they reject are dropped one by one, an answer they reject is not applied."""

from __future__ import annotations

import copy

import pytest

from pyapp.client.sync_loop import SyncRefused
from pyapp.client.sync_validation import check_sync
from pyapp.ui.viewmodel import CHAT

from .test_sync_faults import bodies, odd_event, until, world  # noqa: F401  (fixture)

# Each passes the envelope checks of sync_events.clean_sync; nio's schemas reject it.
NIO_REJECTS = {
    "sender without a server name": odd_event(1, sender="@mallory"),
    "message carrying a state key": odd_event(2, state_key=""),
    "formatted body a number": odd_event(3, content={"msgtype": "m.text", "body": "odd",
                                                     "format": "x", "formatted_body": 5}),
    "image without a url": odd_event(4, content={"msgtype": "m.image", "body": "odd"}),
}


@pytest.mark.parametrize("odd", NIO_REJECTS.values(), ids=NIO_REJECTS.keys())
async def test_an_event_nio_rejects_is_not_shown_and_the_rest_of_its_sync_is(world, odd):  # noqa: F811
    model = world.vm()
    await until(lambda: model.state.screen == CHAT)

    def inject(body):
        body["rooms"]["join"][world.room]["timeline"]["events"].append(odd)
        return body

    world.hs.sync_rewrite = inject
    world.hs.post(world.room, world.bob, "beside the odd one")
    await until(lambda: world.hs.sync_rewrite is None)
    world.hs.post(world.room, world.bob, "after the odd one")
    await until(lambda: "after the odd one" in bodies(model))
    assert bodies(model) == ["beside the odd one", "after the odd one"]
    assert model.state.status_text == "Online"


async def test_an_answer_nio_rejects_is_not_applied_and_the_next_one_is(world):  # noqa: F811
    model = world.vm()
    await until(lambda: model.state.screen == CHAT)

    def inject(body):
        room = body["rooms"]["join"][world.room]
        room["summary"] = {"m.joined_member_count": "two"}  # nio: not an integer
        room["timeline"]["events"].append(odd_event(5, sender="@bob_t1:localhost",
                                                    content={"msgtype": "m.text",
                                                             "body": "in the refused answer"}))
        return body

    world.hs.sync_rewrite = inject
    world.hs.post(world.room, world.bob, "sent")
    await until(lambda: world.hs.sync_rewrite is None)
    await until(lambda: "sent" in bodies(model))
    assert "in the refused answer" not in bodies(model)
    assert model.state.status_text == "Online"


def test_check_sync_says_what_it_dropped_and_fills_nio_defaults():
    good = odd_event(6, sender="@a:hs")
    body = {"next_batch": "s", "rooms": {"join": {"!r:hs": {
        "timeline": {"events": [good, odd_event(7, sender="@a")]},
        "ephemeral": {"events": [{"type": "m.typing", "content": {"user_ids": [1]}},
                                 {"type": "org.example", "content": {}}]}}}}}
    dropped = check_sync(body)
    room = body["rooms"]["join"]["!r:hs"]
    assert room["timeline"]["events"] == [good]
    assert room["ephemeral"]["events"] == [{"type": "org.example", "content": {}}]
    assert dropped == ["!r:hs timeline: m.room.message event fails nio's schema ($odd7)",
                       "!r:hs ephemeral: m.typing event fails nio's schema"]
    assert body["rooms"]["invite"] == {} and body["to_device"] == {"events": []}
    with pytest.raises(SyncRefused):
        check_sync({"next_batch": "s", "rooms": {"join": {"!r:hs": {"timeline": []}}}})


def test_checking_an_answer_leaves_the_events_it_keeps_whole():
    """nio's parsers pop `content` from the member events of invite_state and from account
    data; the check must not take it from what the rooms read (who invited me, is_direct,
    m.direct)."""
    member = {"type": "m.room.member", "state_key": "@b:hs", "sender": "@a:hs",
              "content": {"membership": "invite", "is_direct": True, "displayname": "B"}}
    direct = {"type": "m.direct", "content": {"@a:hs": ["!r:hs"]}}
    body = {"next_batch": "s1", "account_data": {"events": [direct]},
            "rooms": {"invite": {"!r:hs": {"invite_state": {"events": [member]}}}}}
    wanted = copy.deepcopy(body)
    assert check_sync(body) == []
    assert body["account_data"] == wanted["account_data"]
    assert body["rooms"]["invite"] == wanted["rooms"]["invite"]
