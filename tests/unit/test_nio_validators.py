"""The compiled schemas (pyapp.client.nio_validators) decide exactly as nio's jsonschema Validator.

Every schema of nio.schemas.Schemas is run, with both, over an instance built from the schema,
real events and sync answers, and mutations of all of them (each key removed, each value
replaced by values of every JSON type, unknown keys added): the same accept/reject decision,
the same exception where nio's raises something else, and the same instance afterwards (nio
writes defaults into what it validates).
"""

from __future__ import annotations

import copy
import json
import random
import re

import nio.schemas
import pytest
from jsonschema.exceptions import SchemaError, ValidationError
from nio import SyncResponse

from pyapp.build import schema_codegen
from pyapp.client import nio_validation, nio_validators

SCHEMAS = {name: value for name, value in vars(nio.schemas.Schemas).items()
           if not name.startswith("_") and isinstance(value, dict)}

WRONG_VALUES = [None, True, False, 0, -1, 7, 1.5, "", "x", "@u:hs", "!r:hs", "m.text",
                "https://x.org", [], ["x"], [1], {}, {"k": 1}, {"events": []}]
SAMPLE_KEYS = ["!r:hs", "@u:hs", "m.room.message", "ed25519:K", "signed_curve25519:K",
               "curve25519:K", "x", "AB+/=", "=a"]


def nio_outcome(schema, instance):
    instance = copy.deepcopy(instance)
    try:
        nio.schemas.Validator(schema, format_checker=nio.schemas.Checker).validate(instance)
    except (ValidationError, SchemaError):
        return "invalid", instance
    except Exception as e:  # noqa: BLE001  (the same crash is part of the same behaviour)
        return type(e).__name__, None
    return "valid", instance


def compiled_outcome(schema, instance):
    instance = copy.deepcopy(instance)
    try:
        nio_validation.validate_json(instance, schema)
    except (ValidationError, SchemaError):
        return "invalid", instance
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, None
    return "valid", instance


def jsonschema_validate(instance, schema):  # nio.schemas.validate_json as nio ships it
    nio.schemas.Validator(schema, format_checker=nio.schemas.Checker).validate(instance)


# -- corpus ---------------------------------------------------------------------------------
def example(schema, depth=0):
    """An instance the schema accepts (best effort: every property present)."""
    if not isinstance(schema, dict) or depth > 12:
        return None
    types = schema.get("type", "object")
    kind = types[0] if isinstance(types, list) else types
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        out = {}
        for prop, sub in schema.get("properties", {}).items():
            out[prop] = example(sub, depth + 1)
        for pattern, sub in schema.get("patternProperties", {}).items():
            key = next((k for k in SAMPLE_KEYS if re.search(pattern, k)), None)
            if key is not None:
                out[key] = example(sub, depth + 1)
        return out
    if kind == "array":
        items = schema.get("items")
        if isinstance(items, list):
            return [example(s, depth + 1) for s in items]
        return [example(items, depth + 1)] if isinstance(items, dict) else []
    if kind == "string":
        fmt = schema.get("format")
        return {"user_id": "@u:hs", "http_url": "https://x.org", "room_id": "!r:hs"}.get(
            fmt, "1" if "pattern" in schema else "s")
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    return None


def event(kind, content, **extra):
    return {"type": kind, "event_id": "$e1", "sender": "@alice:hs", "origin_server_ts": 1000,
            "unsigned": {"age": 5}, "content": content, **extra}


REAL = [
    event("m.room.message", {"msgtype": "m.text", "body": "hi"}),
    event("m.room.message", {"msgtype": "m.text", "body": "*hi*", "format":
                             "org.matrix.custom.html", "formatted_body": "<em>hi</em>"}),
    event("m.room.message", {"msgtype": "m.notice", "body": "n"}),
    event("m.room.message", {"msgtype": "m.emote", "body": "waves"}),
    event("m.room.message", {"msgtype": "m.image", "body": "a.png", "url": "mxc://hs/a",
                             "info": {"mimetype": "image/png", "size": 3, "w": 1, "h": 1}}),
    event("m.room.message", {"msgtype": "m.text", "body": "* fixed", "m.new_content":
                             {"msgtype": "m.text", "body": "fixed"},
                             "m.relates_to": {"rel_type": "m.replace", "event_id": "$e0"}}),
    event("m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$e0",
                                          "key": "+1"}}),
    event("m.room.redaction", {"reason": "spam"}, redacts="$e0"),
    event("m.room.member", {"membership": "join", "displayname": "Alice"},
          state_key="@alice:hs"),
    event("m.room.member", {"membership": "invite"}, state_key="@bob:hs"),
    event("m.room.name", {"name": "Room"}, state_key=""),
    event("m.room.topic", {"topic": "Topic"}, state_key=""),
    event("m.room.canonical_alias", {"alias": "#a:hs"}, state_key=""),
    event("m.room.create", {"creator": "@alice:hs", "room_version": "10"}, state_key=""),
    event("m.room.power_levels", {"users": {"@alice:hs": 100}, "events": {"m.room.name": 50},
                                  "users_default": 0}, state_key=""),
    event("m.room.join_rules", {"join_rule": "invite"}, state_key=""),
    event("m.room.history_visibility", {"history_visibility": "shared"}, state_key=""),
    event("m.room.guest_access", {"guest_access": "forbidden"}, state_key=""),
    event("m.room.avatar", {"url": "mxc://hs/a"}, state_key=""),
    event("m.room.encryption", {"algorithm": "m.megolm.v1.aes-sha2"}, state_key=""),
    event("m.sticker", {"body": "s", "url": "mxc://hs/s", "info": {}}),
    {"type": "m.typing", "content": {"user_ids": ["@alice:hs"]}},
    {"type": "m.receipt", "content": {"$e1": {"m.read": {"@alice:hs": {"ts": 1}}}}},
    {"type": "m.fully_read", "content": {"event_id": "$e1"}},
    {"type": "m.tag", "content": {"tags": {"u.work": {"order": 0.5}}}},
    {"type": "m.presence", "sender": "@alice:hs", "content": {"presence": "online"}},
]


def sync_answer(rooms=3, events=4):
    return {"next_batch": "s1", "rooms": {"join": {f"!r{r}:hs": {
        "timeline": {"events": [event("m.room.message", {"msgtype": "m.text", "body": f"m{i}"},
                                      event_id=f"$e{r}_{i}") for i in range(events)],
                     "limited": False, "prev_batch": "p"},
        "state": {"events": [REAL[10], REAL[8]]},
        "ephemeral": {"events": [REAL[21], REAL[22]]},
        "account_data": {"events": [REAL[24]]},
        "summary": {"m.heroes": ["@bob:hs"], "m.joined_member_count": 2},
        "unread_notifications": {"notification_count": 1, "highlight_count": 0}}
        for r in range(rooms)},
        "invite": {"!i:hs": {"invite_state": {"events": [REAL[9]]}}}, "leave": {}},
        "to_device": {"events": []}, "presence": {"events": [REAL[25]]},
        "device_lists": {"changed": ["@bob:hs"], "left": []},
        "device_one_time_keys_count": {"signed_curve25519": 50}}


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from paths(sub, prefix + (key,))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from paths(sub, prefix + (i,))


def mutations(instance):
    """The instance with one thing wrong, in every place and every way."""
    for path in paths(instance):
        if path:
            parent = instance
            for step in path[:-1]:
                parent = parent[step]
            if isinstance(parent, dict):
                removed = copy.deepcopy(instance)
                target = removed
                for step in path[:-1]:
                    target = target[step]
                del target[path[-1]]
                yield removed
        for wrong in WRONG_VALUES:
            changed = copy.deepcopy(wrong) if not path else copy.deepcopy(instance)
            if path:
                target = changed
                for step in path[:-1]:
                    target = target[step]
                target[path[-1]] = copy.deepcopy(wrong)
            yield changed
        added = copy.deepcopy(instance)
        target = added
        for step in path:
            target = target[step]
        if isinstance(target, dict):
            for key in SAMPLE_KEYS[:2] + ["unknown"]:
                target.setdefault(key, {"type": "x"})
            yield added


def assert_same(name, instance):
    schema = SCHEMAS[name]
    expected = nio_outcome(schema, instance)
    got = compiled_outcome(schema, instance)
    assert got == expected, (name, json.dumps(instance, default=repr)[:300])
    return expected[0]


# -- tests ----------------------------------------------------------------------------------
def test_the_shipped_module_is_generated_from_the_installed_nio():
    assert schema_codegen.generate() == schema_codegen.OUT.read_text(), (
        "nio's schemas changed: run python -m pyapp.build.schema_codegen")


def test_every_nio_schema_is_compiled_and_used():
    assert set(nio_validators.VALIDATORS) == set(SCHEMAS)
    assert all(nio_validation.COMPILED[id(s)][0] is s for s in SCHEMAS.values())


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_same_decisions_on_each_schema_its_example_and_mutations(name):
    base = example(SCHEMAS[name])
    decisions = {assert_same(name, base)}
    for instance in mutations(base):
        decisions.add(assert_same(name, instance))
    assert "invalid" in decisions or name in ("empty",), decisions


def test_same_decisions_for_real_events_and_their_mutations_under_every_schema():
    rng = random.Random(9)
    decisions = set()
    for real in REAL:
        corpus = [real] + rng.sample(list(mutations(real)), 20)
        for instance in corpus:
            for name in SCHEMAS:
                decisions.add(assert_same(name, instance))
    assert {"valid", "invalid"} <= decisions


def test_same_decisions_for_sync_answers_and_their_mutations():
    answer = sync_answer()
    assert assert_same("sync", answer) == "valid"
    decisions = {assert_same(name, answer) for name in SCHEMAS}
    for instance in random.Random(9).sample(list(mutations(sync_answer(rooms=2, events=2))), 300):
        decisions.add(assert_same("sync", instance))
        decisions.add(assert_same("room_timeline", instance))
    assert {"valid", "invalid"} <= decisions


def test_nio_parses_a_sync_the_same_with_either_validator():
    """Through nio's own parsing (which validates each event by its type): the same events
    come out bad, the same come out parsed."""
    def parse(validate, body):
        nio_validation.install()
        for module in (nio.schemas, nio.responses, nio.events.misc):
            module.validate_json = validate
        try:
            result = SyncResponse.from_dict(copy.deepcopy(body))
        except Exception as e:  # noqa: BLE001
            return type(e).__name__
        finally:
            nio_validation.install()
        if not isinstance(result, SyncResponse):
            return type(result).__name__
        rooms = result.rooms.join
        return {room_id: [type(e).__name__ for e in info.timeline.events + info.state]
                for room_id, info in rooms.items()}

    import nio.events.misc
    import nio.responses

    body = sync_answer(rooms=1, events=1)
    room = body["rooms"]["join"]["!r0:hs"]
    room["timeline"]["events"] = copy.deepcopy(REAL[:21])
    kinds = set()
    for instance in [body, *random.Random(9).sample(list(mutations(body)), 150)]:
        expected = parse(jsonschema_validate, instance)
        assert parse(nio_validation.validate_json, instance) == expected
        if isinstance(expected, dict):
            kinds.update(k for events in expected.values() for k in events)
    assert {"BadEvent", "RoomMessageText", "RoomMemberEvent"} <= kinds
