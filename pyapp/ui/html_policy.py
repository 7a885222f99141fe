"""Which HTML of a message (`formatted_body`, format org.matrix.custom.html) may be shown: the
Matrix spec's allow-list (client-server API, m.room.message msgtypes, "HTML" tags and
attributes), as data for the sanitizer (DOMPurify, see pyapp.ui.sanitize) and as the rules
applied to its already inert output.

Security comes from DOMPurify: it parses the HTML in an inert document, keeps only the tags
and attributes below and only URLs of the schemes below. What follows here is the spec's finer
grain (attributes per tag, colours, code classes), on nodes DOMPurify has already cleaned.
"""

from __future__ import annotations

import re

# The spec's "strongly suggested set of HTML tags", plus `font` (deprecated by the spec in
# v1.10 for span, still sent by bridges and older clients) and `strike` (its older name of s).
ALLOWED_TAGS = (
    "font", "del", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "p", "a", "ul", "ol",
    "sup", "sub", "li", "b", "i", "u", "strong", "em", "s", "strike", "code", "hr", "br",
    "div", "table", "thead", "tbody", "tr", "th", "td", "caption", "pre", "span", "img",
    "details", "summary",
)

# Attributes per tag, as the spec permits them; every other attribute goes.
ALLOWED_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "font": ("data-mx-bg-color", "data-mx-color", "color"),
    "span": ("data-mx-bg-color", "data-mx-color", "data-mx-spoiler", "data-mx-maths"),
    "a": ("target", "href"),
    "img": ("width", "height", "alt", "title", "src"),
    "ol": ("start",),
    "code": ("class",),
    "div": ("data-mx-maths",),
}

# Links: absolute, with one of these schemes (the spec's list). mxc:// image sources are not
# in it: images inside messages are never fetched (their alt text shows instead).
LINK_SCHEMES = ("https", "http", "ftp", "mailto", "magnet")
URL_ATTRIBUTES = ("href", "src")
URI_PATTERN = r"^(?:" + "|".join(LINK_SCHEMES) + r"):"

# Dropped together with their content: the reply fallback (spec v1.13: clients strip it).
DROP_WITH_CONTENT = ("mx-reply",)

LINK_REL = "noopener noreferrer"
LINK_TARGET = "_blank"

_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_COLOUR_ATTRIBUTES = {"data-mx-color": "color", "color": "color",
                      "data-mx-bg-color": "backgroundColor"}


def dompurify_config() -> dict:
    """DOMPurify's configuration (URI_PATTERN goes in as a RegExp, see pyapp.ui.sanitize)."""
    attributes = sorted({a for names in ALLOWED_ATTRIBUTES.values() for a in names})
    return {
        "ALLOWED_TAGS": list(ALLOWED_TAGS),
        "ALLOWED_ATTR": attributes,
        # DOMPurify checks every other attribute's value against the URL pattern too.
        "ADD_URI_SAFE_ATTR": [a for a in attributes if a not in URL_ATTRIBUTES],
        "ALLOW_DATA_ATTR": False,  # only the data-mx-* attributes listed above
        "ALLOW_ARIA_ATTR": False,
        "ADD_FORBID_CONTENTS": list(DROP_WITH_CONTENT),
        "RETURN_DOM_FRAGMENT": True,
    }


def attribute_allowed(tag: str, name: str) -> bool:
    return name in ALLOWED_ATTRIBUTES.get(tag, ())


def colour(value: str | None) -> str | None:
    """A spec colour ("#" and six hex digits), else None."""
    return value if isinstance(value, str) and _COLOUR.fullmatch(value) else None


def colour_styles(attributes: dict[str, str]) -> dict[str, str]:
    """CSS properties (CSSOM names) for the colour attributes of a span or font: the spec asks
    to translate them; anything but a #rrggbb value is ignored."""
    styles = {}
    for name, prop in _COLOUR_ATTRIBUTES.items():
        value = colour(attributes.get(name))
        if value and prop not in styles:
            styles[prop] = value
    return styles


def code_classes(value: str | None) -> str:
    """Only `language-*` classes stay on <code> (syntax highlighting hints)."""
    return " ".join(c for c in (value or "").split() if c.startswith("language-"))


def link_allowed(href: str | None) -> bool:
    return bool(href) and re.match(URI_PATTERN, href.strip(), re.I) is not None
