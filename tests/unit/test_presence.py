"""Presence read from sync answers (pyapp.client.presence), as pure functions."""

from pyapp.client import presence


def test_updates_take_the_last_word_per_person_and_ignore_the_odd():
    body = {"presence": {"events": [
        {"type": "m.presence", "sender": "@a:hs", "content": {"presence": "online"}},
        {"type": "m.presence", "sender": "@a:hs", "content": {"presence": "offline"}},
        {"type": "m.presence", "sender": "@b:hs", "content": {"presence": "unavailable"}},
        {"type": "m.presence", "sender": "@c:hs", "content": {"presence": "dancing"}},
        {"type": "m.presence", "sender": "c", "content": {"presence": "online"}},
        {"type": "m.presence", "sender": "@d:hs", "content": []},
        {"type": "m.receipt", "sender": "@e:hs", "content": {"presence": "online"}}, "x"]}}
    assert presence.updates(body) == {"@a:hs": "offline", "@b:hs": "unavailable"}
    for odd in (None, [], {}, {"presence": []}, {"presence": {"events": {}}}):
        assert presence.updates(odd) == {}


def test_apply_says_whether_anything_changed_and_keeps_a_bounded_record(monkeypatch):
    known: dict[str, str] = {}
    online = {"presence": {"events": [
        {"type": "m.presence", "sender": "@a:hs", "content": {"presence": "online"}}]}}
    assert presence.apply(known, online) and known == {"@a:hs": "online"}
    assert not presence.apply(known, online)
    monkeypatch.setattr(presence, "MAX_KNOWN", 2)
    for user in ("@b:hs", "@c:hs"):
        presence.apply(known, {"presence": {"events": [
            {"type": "m.presence", "sender": user, "content": {"presence": "offline"}}]}})
    assert list(known) == ["@b:hs", "@c:hs"]
