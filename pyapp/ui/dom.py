"""Building page elements (browser only: uses `js`): the one element builder the view, the
message menu and the media parts share."""

from __future__ import annotations

import js


def h(tag: str, cls: str | None = None, text: str | None = None, **attrs):
    """`<tag class=cls>text</tag>` with `attrs` as attributes (`aria_label` -> `aria-label`,
    a trailing `_` dropped: `for_` -> `for`); text is set as text, never parsed as HTML."""
    el = js.document.createElement(tag)
    if cls:
        el.className = cls
    if text is not None:
        el.textContent = text
    for name, value in attrs.items():
        el.setAttribute(name.rstrip("_").replace("_", "-"), str(value))
    return el
