"""The Matrix spec's HTML allow-list as configured for the sanitizer (pure data and rules; the
sanitizing itself is DOMPurify's, proven in Chromium by tests/e2e/test_chat_ui_formatting.py)."""

from __future__ import annotations

from pyapp.ui import html_policy as policy

SPEC_TAGS = {"del", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "p", "a", "ul", "ol",
             "sup", "sub", "li", "b", "i", "u", "strong", "em", "s", "code", "hr", "br", "div",
             "table", "thead", "tbody", "tr", "th", "td", "caption", "pre", "span", "img",
             "details", "summary"}


def test_the_tags_are_the_specs_and_nothing_that_runs_loads_or_styles():
    config = policy.dompurify_config()
    assert set(config["ALLOWED_TAGS"]) == SPEC_TAGS | {"font", "strike"}
    for tag in ("script", "style", "iframe", "svg", "math", "object", "embed", "form", "input",
                "link", "meta", "base", "mx-reply", "video", "audio", "source", "template"):
        assert tag not in config["ALLOWED_TAGS"]


def test_attributes_are_the_specs_per_tag_and_no_data_or_event_attributes_pass():
    config = policy.dompurify_config()
    assert config["ALLOW_DATA_ATTR"] is False and config["ALLOW_ARIA_ATTR"] is False
    assert not [a for a in config["ALLOWED_ATTR"] if a.startswith("on") or a == "style"]
    assert policy.attribute_allowed("a", "href") and policy.attribute_allowed("ol", "start")
    assert not policy.attribute_allowed("p", "class") and not policy.attribute_allowed("a", "src")
    assert not policy.attribute_allowed("span", "href")
    assert set(config["ALLOWED_ATTR"]) - set(config["ADD_URI_SAFE_ATTR"]) == {"href", "src"}
    assert config["ADD_FORBID_CONTENTS"] == ["mx-reply"]  # the reply fallback goes whole


def test_links_must_be_absolute_with_a_spec_scheme():
    for href in ("https://example.org", "HTTP://x", "ftp://f", "mailto:a@b", "magnet:?xt=1"):
        assert policy.link_allowed(href), href
    for href in ("javascript:alert(1)", "data:text/html,x", "vbscript:x", "/relative",
                 "//host/x", "mxc://hs/media", "", None, "java\tscript:x"):
        assert not policy.link_allowed(href), href


def test_colours_are_six_digit_hex_translated_to_css():
    assert policy.colour_styles({"data-mx-color": "#ff0000", "data-mx-bg-color": "#00FF00"}) == {
        "color": "#ff0000", "backgroundColor": "#00FF00"}
    assert policy.colour_styles({"color": "#123456"}) == {"color": "#123456"}
    for bad in ("red", "#fff", "#12345g", "#1234567", "expression(alert(1))",
                "#000000;background:url(x)"):
        assert policy.colour_styles({"data-mx-color": bad}) == {}, bad


def test_code_keeps_only_language_classes():
    assert policy.code_classes("language-python hljs evil") == "language-python"
    assert policy.code_classes(None) == ""
