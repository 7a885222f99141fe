"""What the same-origin proxy passes on between the browser and the homeserver."""

from multidict import CIMultiDict

from pyapp.server.matrix_proxy import request_headers, response_headers


def test_the_platform_session_cookie_never_reaches_the_homeserver():
    sent = request_headers(CIMultiDict([("Cookie", "om_session=secret"),
                                        ("Authorization", "Bearer abc"),
                                        ("Content-Type", "application/json"),
                                        ("Host", "chat.example"), ("Connection", "keep-alive")]))
    assert {k.lower() for k in sent} == {"authorization", "content-type"}


def test_a_cookie_set_by_the_homeserver_does_not_land_on_the_web_origin():
    back = response_headers(CIMultiDict([("Set-Cookie", "synapse=1; Path=/"),
                                         ("Set-Cookie", "other=2"),
                                         ("Content-Type", "application/json"),
                                         ("Transfer-Encoding", "chunked")]))
    assert back == [("Content-Type", "application/json")]


def test_repeated_response_headers_are_all_kept():
    back = response_headers(CIMultiDict([("Vary", "Origin"), ("Vary", "Accept-Encoding")]))
    assert back == [("Vary", "Origin"), ("Vary", "Accept-Encoding")]
