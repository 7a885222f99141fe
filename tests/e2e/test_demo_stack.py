"""The stack serve.py starts: seeded rooms exist with their metadata, and the web server
hands the browser its configuration."""

import json
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
    invited = invite_sync["rooms"]["invite"].get(room_id) or invite_sync["rooms"]["join"].get(room_id)
    assert invited is not None
    state = invited.get("invite_state", invited.get("state", {}))["events"]
    meta = [e["content"] for e in state if e["type"] == ROOM_METADATA_TYPE]
    assert meta == [{"entity_type": "event", "entity_slug": "python-meetup",
                     "tenant_id": "demo", "created_by": "alice"}]


def test_config_json_points_the_browser_at_the_homeserver(demo_stack):
    with urllib.request.urlopen(demo_stack.url + "/config.json") as r:
        config = json.load(r)
    assert config["homeserver"] == demo_stack.synapse.base_url
    assert config["tenant"] == "demo" and config["bot_user_id"].startswith("@openmeet-bot:")
