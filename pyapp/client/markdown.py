"""What the composer sends: the typed text as `body`, and its Markdown rendered to HTML as
`formatted_body` (format `org.matrix.custom.html`) when the Markdown formats anything.

markdown-it-py renders CommonMark (what Element and most Matrix clients accept as Markdown),
with raw HTML off: `<b>` typed in a message is text, never markup; it also refuses
`javascript:`, `vbscript:`, `file:` and `data:` link targets. Images are off (a Matrix
`<img>` must point at `mxc://`, which Markdown's `![](url)` does not), so is linkify. Plain text
stays plain: no `formatted_body` unless there is formatting, and the library is imported only
the first time a message might have some (it costs import time the chat's boot need not pay).
"""

from __future__ import annotations

import re
from typing import Any

HTML_FORMAT = "org.matrix.custom.html"

# A message without any of these cannot contain Markdown syntax (CommonMark's punctuation that
# opens a construct, an ordered-list marker, or a 4-space/tab indented code block).
_MAYBE_MARKDOWN = re.compile(r"[\\`*_\[\]<>#~|&=+-]|^ {0,3}\d{1,9}[.)]|^(?: {4}|\t)", re.M)
_PLAIN_INLINE = {"text", "softbreak"}
_PLAIN_BLOCK = {"paragraph_open", "paragraph_close", "inline"}

_renderer: Any = None


def _markdown():
    global _renderer
    if _renderer is None:
        from markdown_it import MarkdownIt

        _renderer = (MarkdownIt("commonmark", {"html": False, "xhtmlOut": False, "breaks": True,
                                            "linkify": False})
                     .enable("strikethrough")
                     .disable("image"))
    return _renderer


def _plain(inline) -> bool:
    """Only text and line breaks, and exactly as typed (no escape or entity was decoded)."""
    children = inline.children or ()
    return all(c.type in _PLAIN_INLINE for c in children) and "".join(
        c.content if c.type == "text" else "\n" for c in children) == inline.content


def to_html(text: str) -> str | None:
    """The HTML of `text` read as Markdown, or None when it is plain text."""
    if not _MAYBE_MARKDOWN.search(text):
        return None
    md = _markdown()
    tokens = md.parse(text)
    if all(t.type in _PLAIN_BLOCK for t in tokens) and all(
            _plain(t) for t in tokens if t.type == "inline"):
        return None
    html = md.renderer.render(tokens, md.options, {}).strip()
    # One paragraph needs no <p> around it (the spec asks for no HTML that is not needed).
    if tokens and tokens[0].type == "paragraph_open" and len(tokens) == 3:
        html = html.removeprefix("<p>").removesuffix("</p>")
    return html


def text_content(text: str) -> dict:
    """The content of an m.text message with `text` as typed."""
    content = {"msgtype": "m.text", "body": text}
    html = to_html(text)
    if html is not None:
        content["format"] = HTML_FORMAT
        content["formatted_body"] = html
    return content
