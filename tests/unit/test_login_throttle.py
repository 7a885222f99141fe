"""The platform's login throttle (pyapp.platform.throttle), driven with a hand-held clock."""

from __future__ import annotations

import pytest

from pyapp.platform.throttle import Limit, LoginThrottle, SlidingWindow, Throttled


def test_window_refuses_over_the_limit_until_the_oldest_attempt_expires():
    w = SlidingWindow(Limit(3, 60))
    for t in (0, 10, 20):
        assert w.retry_after("k", t) == 0
        w.hit("k", t)
    assert w.retry_after("k", 30) == 30  # the attempt at 0 leaves the window at 60
    assert w.retry_after("k", 59.5) == 0.5
    assert w.retry_after("k", 60) == 0
    w.hit("k", 60)
    assert w.retry_after("k", 61) == 9  # now the attempt at 10 must go
    assert w.retry_after("other", 61) == 0


def test_given_back_attempts_do_not_count():
    w = SlidingWindow(Limit(2, 60))
    w.hit("k", 1)
    w.hit("k", 2)
    assert w.retry_after("k", 3) > 0
    w.give_back("k", 2)
    assert w.retry_after("k", 3) == 0
    w.give_back("k", 99)  # unknown time or key: nothing happens
    w.give_back("nobody", 1)


def test_keys_are_bounded_and_expired_ones_go_first():
    w = SlidingWindow(Limit(1, 10), max_keys=3)
    w.hit("old", 0)
    w.hit("a", 5)
    w.hit("b", 6)
    w.hit("c", 12)  # full: "old" has expired and is dropped
    assert len(w) == 3 and w.retry_after("a", 12) > 0 and w.retry_after("c", 12) > 0
    w.hit("d", 13)  # full of live keys: the least recently used ("a") goes
    assert len(w) == 3 and w.retry_after("a", 13) == 0 and w.retry_after("b", 13) > 0


def test_login_throttle_limits_the_account_and_the_address_separately():
    t = LoginThrottle(per_account=Limit(3, 300), per_address=Limit(5, 300))
    for i in range(3):
        t.begin("demo/alice", "10.0.0.1", i)
    with pytest.raises(Throttled) as e:
        t.begin("demo/alice", "10.0.0.2", 3)  # another address does not help
    assert e.value.scope == "account" and e.value.retry_after == 297
    # The refused attempt was not counted: the address has 3 of its 5.
    t.begin("demo/bob", "10.0.0.1", 4)
    t.begin("demo/carol", "10.0.0.1", 5)
    with pytest.raises(Throttled) as e:
        t.begin("demo/dave", "10.0.0.1", 6)  # many accounts from one address
    assert e.value.scope == "address" and e.value.retry_after == 294


def test_a_success_is_given_back_but_earlier_failures_stay():
    t = LoginThrottle(per_account=Limit(2, 60), per_address=Limit(100, 60))
    t.begin("demo/alice", "a", 0)  # a failure
    for i in range(1, 10):  # the right password, many times: never throttled
        t.succeeded(t.begin("demo/alice", "a", i))
    t.begin("demo/alice", "a", 10)  # a second failure
    with pytest.raises(Throttled):
        t.begin("demo/alice", "a", 11)


def test_concurrent_attempts_count_before_their_outcome_is_known():
    t = LoginThrottle(per_account=Limit(3, 60), per_address=Limit(100, 60))
    pending = [t.begin("demo/alice", "a", 0) for _ in range(3)]
    with pytest.raises(Throttled):
        t.begin("demo/alice", "a", 0)
    t.succeeded(pending[0])
    t.begin("demo/alice", "a", 0)


def test_retry_after_is_whole_seconds_and_never_zero():
    assert Throttled(0.2, "account").retry_after == 1
    assert Throttled(4.01, "account").retry_after == 5
    with pytest.raises(ValueError):
        SlidingWindow(Limit(0, 10))
