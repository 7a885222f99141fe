import base64
import hashlib

import pytest

from pyapp.auth.pkce import challenge_s256, new_device_id, new_state, new_verifier


def test_s256_matches_the_rfc_7636_example():
    # RFC 7636, appendix B.
    assert challenge_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == \
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_verifier_is_43_unpadded_base64url_chars_and_random():
    v = new_verifier()
    assert len(v) == 43 and "=" not in v
    assert set(v) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert new_verifier() != v
    expected = base64.urlsafe_b64encode(hashlib.sha256(v.encode()).digest()).rstrip(b"=").decode()
    assert challenge_s256(v) == expected


@pytest.mark.parametrize("bad", ["short", "x" * 129, "a" * 42 + "!"])
def test_invalid_verifiers_are_refused(bad):
    with pytest.raises(ValueError):
        challenge_s256(bad)


def test_state_and_device_ids_are_unpredictable_and_well_formed():
    states = {new_state() for _ in range(100)}
    assert len(states) == 100 and all(len(s) >= 32 for s in states)
    d = new_device_id()
    assert len(d) == 10 and d.isalnum() and d.upper() == d
