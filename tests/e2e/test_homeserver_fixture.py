def test_registered_user_can_log_in_with_a_refreshable_token(synapse, make_user):
    localpart, password, created = make_user("alice")
    assert created["user_id"] == f"@{localpart}:localhost"
    status, body = synapse.request("POST", "/_matrix/client/v3/login", {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": localpart},
        "password": password, "refresh_token": True,
    })
    assert status == 200, body
    assert body["refresh_token"] and 0 < body["expires_in_ms"] <= 300_000
