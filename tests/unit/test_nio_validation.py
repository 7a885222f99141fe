from nio import RoomMessageText, SyncError, SyncResponse
from nio.events import BadEvent

import pyapp.client.nio_client  # noqa: F401  (installs the compiled validators)
from pyapp.client import nio_validation


def sync_body(event):
    return {"next_batch": "s1", "rooms": {"join": {"!r:hs": {
        "timeline": {"events": [event], "limited": False, "prev_batch": "p"},
        "state": {"events": []}}}, "invite": {}, "leave": {}}}


def test_compiled_validation_still_rejects_what_nio_rejects():
    assert nio_uses_compiled_validation()
    assert isinstance(SyncResponse.from_dict({"rooms": {}}), SyncError)
    bad = {"type": "m.room.message", "event_id": "$1", "sender": "not-a-user-id",
           "origin_server_ts": 1, "content": {"msgtype": "m.text", "body": "x"}}
    parsed = SyncResponse.from_dict(sync_body(bad))
    assert isinstance(parsed.rooms.join["!r:hs"].timeline.events[0], BadEvent)


def test_compiled_validation_accepts_valid_events():
    good = {"type": "m.room.message", "event_id": "$1", "sender": "@a:hs",
            "origin_server_ts": 1, "content": {"msgtype": "m.text", "body": "x"}}
    parsed = SyncResponse.from_dict(sync_body(good))
    assert isinstance(parsed.rooms.join["!r:hs"].timeline.events[0], RoomMessageText)


def nio_uses_compiled_validation():
    import nio.responses

    return nio.responses.validate_json is nio_validation.validate_json
