"""The platform's sign-in and sessions on the stack serve.py starts (real web server, real
Synapse behind it): guessing is throttled."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.e2e


def call(base: str, method: str, path: str, body: dict | None = None,
         headers: dict | None = None) -> tuple[int, dict, dict]:
    """(status, JSON body, headers) of one request to the platform API."""
    data = json.dumps(body).encode() if body is not None else None
    h = {"Content-Type": "application/json"} if body is not None else {}
    req = urllib.request.Request(base + path, data=data, method=method, headers={**h, **(headers or {})})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.load(r), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e), dict(e.headers)


def test_guessing_a_password_is_throttled_with_retry_after(demo_stack):
    guess = {"tenant": "demo", "slug": "mallory", "password": "guess"}
    statuses = [call(demo_stack.url, "POST", "/api/session", guess)[0] for _ in range(5)]
    assert statuses == [401] * 5
    status, body, headers = call(demo_stack.url, "POST", "/api/session", guess)
    assert status == 429 and body["error"] == "too_many_attempts"
    assert 0 < int(headers["Retry-After"]) <= 300
    # The limit is the account's: the demo users still sign in from this address.
    status, me, _ = call(demo_stack.url, "POST", "/api/session",
                         {"tenant": "demo", "slug": "bob", "password": "demo-password"})
    assert status == 200 and me["slug"] == "bob"
