import pytest

from pyapp.auth.metadata import MetadataError, parse_auth_metadata, unsupported

from .oauth_fakes import METADATA


def test_parses_the_fields_the_flow_needs():
    m = parse_auth_metadata(METADATA)
    assert m.issuer == "https://auth.example/"
    assert m.token_endpoint.endswith("/oauth2/token")
    assert m.supports_create and m.response_mode == "fragment"
    assert m.revocation_endpoint and m.account_management_uri


def test_query_mode_when_the_server_does_not_list_fragment():
    assert parse_auth_metadata({**METADATA, "response_modes_supported": ["query"]}).response_mode == "query"


def test_no_create_prompt_unless_advertised():
    body = {k: v for k, v in METADATA.items() if k != "prompt_values_supported"}
    assert not parse_auth_metadata(body).supports_create


@pytest.mark.parametrize("change, message", [
    ({"code_challenge_methods_supported": ["plain"]}, "S256"),
    ({"response_types_supported": ["token"]}, "authorization code"),
    ({"grant_types_supported": ["authorization_code"]}, "refresh"),
    ({"registration_endpoint": None}, "registration"),
    ({"token_endpoint": "http://auth.example/token"}, "https"),
    ({"issuer": 42}, "issuer"),
    ({"response_modes_supported": ["form_post"]}, "query nor fragment"),
])
def test_unusable_servers_are_refused_with_the_reason(change, message):
    with pytest.raises(MetadataError, match=message):
        parse_auth_metadata({**METADATA, **change})


def test_plain_http_is_accepted_on_this_machine_only():
    local = {k: (v.replace("https://auth.example", "http://127.0.0.1:9000") if isinstance(v, str) else v)
             for k, v in METADATA.items()}
    assert parse_auth_metadata(local).issuer == "http://127.0.0.1:9000/"


def test_not_a_dict():
    with pytest.raises(MetadataError):
        parse_auth_metadata(["nope"])


def test_what_counts_as_no_oauth_here():
    assert unsupported(404, {"errcode": "M_UNRECOGNIZED"})
    assert unsupported(404, None)
    assert not unsupported(500, {"errcode": "M_UNKNOWN"})
