"""Received HTML into DOM nodes through DOMPurify (browser only): the one way the chat shows a
message's `formatted_body`. Nothing else ever parses message HTML; without the sanitizer
(it failed to load) a message shows its plain `body`.

DOMPurify (npm, pinned in package.json, served from our own origin: static/vendor/) is the
sanitizer Element-class web clients use; it runs in the browser's own parser, so what it
checks is what the browser would build. It is configured with the Matrix spec's allow-list
(pyapp.ui.html_policy); the spec's finer rules are then applied to its inert output.
"""

from __future__ import annotations

import js
from pyodide.ffi import to_js

from . import html_policy as policy

_purify = None  # our own DOMPurify instance: its configuration is not the host page's
_config = None


def install(dompurify) -> None:
    """Take the DOMPurify module's default export (or None: HTML is then not shown)."""
    global _purify, _config
    if not dompurify:
        return
    _purify = dompurify(js.window)
    config = to_js(policy.dompurify_config(), dict_converter=js.Object.fromEntries)
    config.ALLOWED_URI_REGEXP = js.RegExp.new(policy.URI_PATTERN, "i")
    _config = config


def available() -> bool:
    return _purify is not None


def fragment(html: str):
    """A DocumentFragment of `html` made safe to insert, or None (no sanitizer)."""
    if _purify is None:
        return None
    result = _purify.sanitize(html, _config)
    for el in list(result.querySelectorAll("*")):
        _tidy(el)
    return result


def _tidy(el) -> None:
    tag = str(el.localName)
    names = list(el.getAttributeNames())
    values = {name: el.getAttribute(name) for name in names}
    if tag == "img":
        # Never fetched (mxc:// needs the media API and tells the sender who read it).
        alt = values.get("alt") or values.get("title") or ""
        el.replaceWith(js.document.createTextNode(f"[{alt}]" if alt else "[image]"))
        return
    for name in names:
        if not policy.attribute_allowed(tag, name):
            el.removeAttribute(name)
    if tag == "a":
        if not policy.link_allowed(values.get("href")):
            el.removeAttribute("href")
        el.setAttribute("rel", policy.LINK_REL)
        el.setAttribute("target", policy.LINK_TARGET)
    elif tag == "code" and "class" in values:
        classes = policy.code_classes(values["class"])
        if classes:
            el.setAttribute("class", classes)
        else:
            el.removeAttribute("class")
    elif tag in ("span", "font"):
        # Through CSSOM: the page's CSP allows no style attributes.
        for prop, value in policy.colour_styles(values).items():
            setattr(el.style, prop, value)
        if tag == "span" and "data-mx-spoiler" in values:
            el.classList.add("omc-spoiler")
            el.setAttribute("tabindex", "0")
