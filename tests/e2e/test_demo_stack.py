"""The stack serve.py starts: seeded rooms exist with their metadata, and the web server
hands the browser its configuration."""

import json
import urllib.error
import urllib.request

from pyapp.identity import ROOM_METADATA_TYPE


def test_seeded_event_room_exists_with_metadata_and_attendee_invited(demo_stack):
    demo_stack.run(demo_stack.orchestrator.drain())
    hs = demo_stack.synapse
    bob = hs.login("bob_demo", "demo-password")
    status, room = hs.request("GET", "/_matrix/client/v3/directory/room/"
                              "%23event-python-meetup-demo%3Alocalhost", token=bob["access_token"])
    assert status == 200, room
    room_id = room["room_id"]
    status, invite_sync = hs.request("GET", "/_matrix/client/v3/sync", token=bob["access_token"])
    # Synapse leaves out empty sections: whether bob is still invited or has already joined
    # depends on which tests used the shared stack before this one.
    rooms = invite_sync["rooms"]
    invited = rooms.get("invite", {}).get(room_id)
    if invited is not None:
        state = invited["invite_state"]["events"]
    else:
        # Already joined: the room's full state, since a sync's state section holds only changes.
        assert room_id in rooms.get("join", {}), rooms
        status, state = hs.request("GET", f"/_matrix/client/v3/rooms/{room_id}/state",
                                   token=bob["access_token"])
        assert status == 200, state
    meta = [e["content"] for e in state if e["type"] == ROOM_METADATA_TYPE]
    assert meta == [{"entity_type": "event", "entity_slug": "python-meetup",
                     "tenant_id": "demo", "created_by": "alice"}]


def test_the_browser_reaches_the_homeserver_under_the_page_origin(demo_stack):
    with urllib.request.urlopen(demo_stack.url + "/config.json") as r:
        config = json.load(r)
    assert config["homeserver"] == demo_stack.url
    assert config["tenant"] == "demo" and config["bot_user_id"].startswith("@openmeet-bot:")
    # The client API answers through the page's origin, authenticated requests included.
    token = demo_stack.synapse.login("bob_demo", "demo-password")["access_token"]
    req = urllib.request.Request(demo_stack.url + "/_matrix/client/v3/account/whoami",
                                 headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req) as r:
        assert json.load(r)["user_id"] == "@bob_demo:localhost"
    req = urllib.request.Request(demo_stack.url + "/_matrix/client/v3/account/whoami",
                                 headers={"Authorization": "Bearer wrong"})
    try:
        urllib.request.urlopen(req)
        raise AssertionError("a wrong token must be refused")
    except urllib.error.HTTPError as e:
        assert e.code == 401 and json.load(e)["errcode"] == "M_UNKNOWN_TOKEN"
