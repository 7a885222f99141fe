"""Building page elements (browser only: uses `js`): the one element builder the view, the
message menu and the media parts share."""

from __future__ import annotations

import js

_make = None


def h(tag: str, cls: str | None = None, text: str | None = None, **attrs):
    """`<tag class=cls>text</tag>` with `attrs` as attributes (`aria_label` -> `aria-label`,
    a trailing `_` dropped: `for_` -> `for`); text is set as text, never parsed as HTML."""
    flat = []
    for name, value in attrs.items():
        flat += (name.rstrip("_").replace("_", "-"), str(value))
    return (_make or _maker())(tag, cls, text, *flat)


def _maker():
    """The loader's omChat._el (web/chat/om-chat.js, served with this build) makes the element
    in one call into the page: each call from Python into JavaScript costs microseconds, and an
    element built here attribute by attribute took 3-4 times as long (a first render of 30
    messages: ~30 ms)."""
    global _make
    _make = js.window.omChat._el
    return _make
