"""Per-room notification levels as the user's push rules (the standard rule shapes)."""

import pytest

from pyapp.client import push_rules as pr

ROOM = "!r:hs"


def rules(override=(), room=()):
    return {"global": {"override": list(override), "room": list(room), "content": [],
                       "underride": []}}


MUTE_RULE = {"rule_id": ROOM, "enabled": True, "actions": [], "conditions": [
    {"kind": "event_match", "key": "room_id", "pattern": ROOM}]}
ROOM_RULE = {"rule_id": ROOM, "enabled": True, "actions": ["dont_notify"]}


def test_levels_are_read_from_rules():
    assert pr.level(rules(), ROOM) == pr.ALL
    assert pr.level(rules(override=[MUTE_RULE]), ROOM) == pr.MUTE
    assert pr.level(rules(room=[ROOM_RULE]), ROOM) == pr.MENTIONS
    assert pr.level(rules(override=[MUTE_RULE], room=[ROOM_RULE]), ROOM) == pr.MUTE
    assert pr.level(rules(override=[dict(MUTE_RULE, enabled=False)]), ROOM) == pr.ALL
    assert pr.level(rules(room=[dict(ROOM_RULE, actions=["notify"])]), ROOM) == pr.ALL
    assert pr.level(rules(override=[dict(MUTE_RULE, conditions=[])]), ROOM) == pr.ALL
    assert pr.level(None, ROOM) == pr.ALL
    assert pr.level({"global": {"override": "x"}}, ROOM) == pr.ALL
    assert pr.levels(rules(override=[MUTE_RULE], room=[ROOM_RULE,
                                                         dict(ROOM_RULE, rule_id="!b:hs")])) \
        == {ROOM: pr.MUTE, "!b:hs": pr.MENTIONS}


def test_changes_write_the_standard_rules():
    mute = pr.changes(ROOM, pr.MUTE)
    assert [(c.method, c.kind) for c in mute] == [("PUT", "override"), ("DELETE", "room")]
    assert mute[0].body == {"conditions": [{"kind": "event_match", "key": "room_id",
                                            "pattern": ROOM}], "actions": []}
    assert mute[0].path == "/_matrix/client/v3/pushrules/global/override/%21r%3Ahs"
    mentions = pr.changes(ROOM, pr.MENTIONS)
    assert [(c.method, c.kind, c.body) for c in mentions] == [
        ("PUT", "room", {"actions": []}), ("DELETE", "override", None)]
    assert [(c.method, c.kind) for c in pr.changes(ROOM, pr.ALL)] == [
        ("DELETE", "override"), ("DELETE", "room")]
    with pytest.raises(ValueError, match="unknown notification level"):
        pr.changes(ROOM, "loud")
    with pytest.raises(ValueError, match="not a room id"):
        pr.changes("#alias:hs", pr.MUTE)


def test_badge_follows_the_level():
    assert pr.badge(pr.ALL, 3, 1) == (3, 1)
    assert pr.badge(pr.MENTIONS, 3, 1) == (1, 1)
    assert pr.badge(pr.MUTE, 3, 1) == (0, 0)
