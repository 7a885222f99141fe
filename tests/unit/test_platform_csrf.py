"""Which platform API requests count as cross-site request forgery (pyapp.platform.csrf)."""

from __future__ import annotations

import pytest

from pyapp.platform.csrf import own_origins, refusal

OURS = own_origins("http", "Platform.example:8080", ("https://www.platform.example",))
JSON = "application/json"


def test_our_origins_include_the_https_form_and_configured_ones():
    assert OURS == {"http://platform.example:8080", "https://platform.example:8080",
                    "https://www.platform.example"}


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_reads_are_never_refused(method):
    assert refusal(method, "https://evil.example", "cross-site", "text/plain", OURS) is None


@pytest.mark.parametrize("origin", ["http://platform.example:8080", "https://platform.example:8080/",
                                    "HTTPS://WWW.PLATFORM.EXAMPLE"])
def test_changes_from_our_pages_are_accepted(origin):
    assert refusal("POST", origin, "same-origin", JSON + "; charset=utf-8", OURS) is None
    assert refusal("DELETE", origin, None, None, OURS) is None  # no body, no type


@pytest.mark.parametrize("origin", [
    "https://evil.example", "http://platform.example:9999",  # same site, other port
    "http://sub.platform.example:8080", "null", ""])
def test_changes_from_other_origins_are_refused(origin):
    assert "may not change" in refusal("POST", origin, None, JSON, OURS)


@pytest.mark.parametrize("site", ["same-site", "cross-site"])
def test_without_origin_the_fetch_metadata_decides(site):
    assert "may not change" in refusal("PUT", None, site, JSON, OURS)
    assert refusal("PUT", None, "same-origin", JSON, OURS) is None
    assert refusal("PUT", None, "none", JSON, OURS) is None


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "multipart/form-data; boundary=x", ""])
def test_form_encodings_are_refused_even_from_our_origin(ctype):
    assert "application/json" in refusal("POST", "http://platform.example:8080", None, ctype,
                                         OURS)


def test_a_client_that_is_not_a_browser_carries_no_victims_cookie_and_passes():
    assert refusal("POST", None, None, JSON, OURS) is None
    assert refusal("POST", None, None, "text/plain", OURS) is not None
    # Without a body, the type some clients add by default says nothing.
    assert refusal("POST", None, None, "application/octet-stream", OURS, has_body=False) is None
    assert refusal("POST", "https://evil.example", None, None, OURS, has_body=False) is not None
