"""Unit tests of the pure decisions (no network)."""

from __future__ import annotations

import random

import pytest

from pyapp.identity import (IdentityError, matrix_localpart, parse_user_id, room_alias,
                            should_auto_accept)
from pyapp.orchestrator.policy import (Action, Member, PowerPolicy, RoomState, desired_levels,
                                       plan_encryption, plan_memberships, plan_power_levels)
from pyapp.orchestrator.retry import (DONE, FAILED, PENDING, Backoff, ItemState, Outcome,
                                      classify, transition, unexpected)
from pyapp.platform.service import CrossTenant, Platform, check_password, hash_password

BOT = "@openmeet-bot:hs"
P = PowerPolicy()


def room(version="12", creators=(BOT,), users=None, members=None, meta=None) -> RoomState:
    return RoomState(version, frozenset(creators), {"users": dict(users or {}), "ban": 50},
                     dict(members or {}), meta)


def test_identity_names():
    assert matrix_localpart("Alice", "demo") == "alice_demo"
    assert room_alias("event", "js-101", "demo", "hs") == "#event-js-101-demo:hs"
    assert parse_user_id("@a.b-c_demo:hs") == ("a.b-c", "demo", "hs")
    assert parse_user_id("@openmeet-bot:hs") is None
    for bad in ("", "a_b", "-a", "a b", "é"):
        with pytest.raises(IdentityError):
            matrix_localpart(bad, "demo")
    with pytest.raises(IdentityError):
        matrix_localpart("a", "de-mo")  # would make aliases ambiguous


def test_auto_accept_only_bot_and_own_tenant():
    meta = {"entity_type": "event", "entity_slug": "x", "tenant_id": "demo"}
    me = "@bob_demo:hs"
    assert should_auto_accept(BOT, meta, me)
    assert not should_auto_accept("@eve_demo:hs", meta, me)
    assert not should_auto_accept(BOT, {**meta, "tenant_id": "other"}, me)
    assert not should_auto_accept(BOT, None, me)


def test_role_levels_and_config():
    assert P.level("event", "creator") == 75 and P.level("group", "admin") == 50
    assert P.level("group", "member") == 0 and P.level("event", "banned") is None
    assert P.level("event", "attendee", is_platform_admin=True) == 100
    with pytest.raises(ValueError):
        P.level("event", "owner")  # a group role
    custom = PowerPolicy.from_dict({"levels": {"event.organizer": 60}, "bot": 95})
    assert custom.level("event", "organizer") == 60 and custom.bot == 95
    assert custom.level("event", "creator") == 75


def test_power_levels_v12_creators_not_listed():
    st = room(users={"@a:hs": 75, "@old:hs": 50})
    new = plan_power_levels(st, {"@a:hs": 75, "@b:hs": 50}, BOT, P)
    assert new["users"] == {"@a:hs": 75, "@b:hs": 50}  # @old dropped, no bot entry
    assert new["ban"] == 50  # the rest of the event is kept
    assert plan_power_levels(room(users={"@a:hs": 75}), {"@a:hs": 75}, BOT, P) is None


def test_power_levels_scope_keeps_others():
    st = room(users={"@a:hs": 75, "@x:hs": 50})
    new = plan_power_levels(st, {"@a:hs": 75, "@b:hs": 50}, BOT, P, scope={"@b:hs"})
    assert new["users"] == {"@a:hs": 75, "@x:hs": 50, "@b:hs": 50}


def test_power_levels_legacy_version_bot_never_demoted():
    st = room(version="10", users={BOT: 100, "@a:hs": 75})
    assert plan_power_levels(st, {"@a:hs": 75}, BOT, P) is None
    st = room(version="10", creators=("@someone:hs",), users={"@someone:hs": 100})
    new = plan_power_levels(st, {}, BOT, P)
    assert new["users"] == {"@someone:hs": 100, BOT: 90}


def test_desired_levels_banned_and_admin():
    ms = [Member("@a:hs", "owner"), Member("@b:hs", "member"), Member("@c:hs", "banned"),
          Member("@d:hs", "member", is_platform_admin=True)]
    assert desired_levels("group", ms, P) == {"@a:hs": 75, "@d:hs": 100}


def test_membership_plan():
    members = {"@in:hs": Member("@in:hs", "member"), "@new:hs": Member("@new:hs", "member"),
               "@wait:hs": Member("@wait:hs", "member", matrix_ready=False),
               "@ban:hs": Member("@ban:hs", "banned"),
               "@left:hs": Member("@left:hs", "member"),
               "@unban:hs": Member("@unban:hs", "member")}
    st = room(members={"@in:hs": ("join", "@in:hs"), "@gone:hs": ("join", "@gone:hs"),
                       "@ban:hs": ("join", "@ban:hs"), "@left:hs": ("leave", "@left:hs"),
                       "@unban:hs": ("ban", BOT), BOT: ("join", BOT)})
    scope = set(members) | set(st.memberships)
    actions, waiting = plan_memberships(st, members, scope, BOT, full=True)
    assert set(actions) == {Action("invite", "@new:hs"), Action("kick", "@gone:hs"),
                            Action("ban", "@ban:hs"), Action("unban", "@unban:hs"),
                            Action("invite", "@unban:hs")}
    assert actions.index(Action("unban", "@unban:hs")) < actions.index(Action("invite", "@unban:hs"))
    assert waiting == ["@wait:hs"]
    # A per-user change (they attended again) re-invites someone who left on their own.
    actions, _ = plan_memberships(st, members, {"@left:hs"}, BOT, full=False)
    assert actions == [Action("invite", "@left:hs")]


def test_encryption_is_planned_only_to_turn_it_on():
    plain = RoomState.from_events([{"type": "m.room.create", "state_key": "", "sender": BOT,
                                    "content": {"room_version": "12"}}])
    encrypted = RoomState.from_events([{"type": "m.room.encryption", "state_key": "",
                                        "content": {"algorithm": "m.megolm.v1.aes-sha2"}}])
    assert plan_encryption(plain, True) == {"algorithm": "m.megolm.v1.aes-sha2"}
    assert plan_encryption(plain, False) is None
    assert plan_encryption(encrypted, True) is None
    assert plan_encryption(encrypted, False) is None  # one-way: never turned off


def test_classify():
    assert classify(200, {}).ok
    rl = classify(429, {"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 1500})
    assert rl.retryable and rl.retry_after == 1.5
    assert classify(429, {}, retry_after_header="3").retry_after == 3
    assert classify(502, {}).retryable and classify(502, {}).retry_after is None
    assert classify(None, network_error="refused").retryable
    refused = classify(403, {"errcode": "M_FORBIDDEN", "error": "no"})
    assert not refused.retryable and "M_FORBIDDEN" in refused.error


def test_backoff_grows_and_caps():
    b = Backoff(base=1, factor=2, cap=10, jitter=0)
    assert [b.delay(n) for n in (1, 2, 3, 4, 5, 9)] == [1, 2, 4, 8, 10, 10]
    j = Backoff(base=1, jitter=0.2)
    rng = random.Random(1)
    assert all(0.8 <= j.delay(1, rng) <= 1.2 for _ in range(50))


def test_outbox_state_machine():
    s = ItemState(PENDING, 0, 100.0)
    b = Backoff(base=1, jitter=0)
    s1 = transition(s, classify(None, network_error="down"), now=200, backoff=b)
    assert (s1.status, s1.attempts, s1.next_attempt_at) == (PENDING, 1, 201)
    s2 = transition(s1, classify(429, {"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 5000}),
                    now=300, backoff=b)
    assert (s2.status, s2.attempts, s2.next_attempt_at) == (PENDING, 2, 305)
    assert transition(s2, Outcome(True), now=400).status == DONE
    f = transition(s2, classify(403, {"errcode": "M_FORBIDDEN"}), now=400)
    assert f.status == FAILED and "M_FORBIDDEN" in f.last_error
    with pytest.raises(ValueError):
        transition(f, Outcome(True), now=500)


def test_passwords():
    h = hash_password("s3cret", rounds=1000)
    assert check_password("s3cret", h) and not check_password("other", h)
    assert not check_password("x", None) and not check_password("x", "garbage")


def test_tenant_checks_on_user_refs(store):
    p = Platform(store)
    assert p.resolve_user_ref("demo", "@bob_demo:hs") == "bob"
    assert p.resolve_user_ref("demo", "Bob") == "bob"
    with pytest.raises(CrossTenant):
        p.resolve_user_ref("demo", "@bob_other:hs")


def test_unexpected_errors_back_off_then_park_the_item():
    b = Backoff(base=1, factor=2, jitter=0, max_unexpected=3)
    bug = unexpected(KeyError("room_id"))
    assert bug.retryable and "KeyError" in bug.error
    s = ItemState(PENDING, 0, 0.0)
    seen = []
    for now in (10, 20, 30):
        s = transition(s, bug, now=now, backoff=b)
        seen.append((s.status, s.attempts, s.next_attempt_at))
    # Each one counts and waits longer; the third is the last: parked for the operator.
    assert seen[:2] == [(PENDING, 1, 11), (PENDING, 2, 22)]
    assert seen[2][:2] == (FAILED, 3) and "gave up after 3 attempts" in s.last_error
    # A transient homeserver fault after many attempts is still retried: only bugs give up.
    many = ItemState(PENDING, 50, 0.0)
    assert transition(many, classify(502, {}), now=1, backoff=b).status == PENDING
    assert transition(many, bug, now=1, backoff=b).status == FAILED
