"""Mentions, as pure functions: the `@name` being typed at the caret, the members it matches,
the pill the composer puts in its place, the message content a pill becomes (`body`, a
matrix.to link in `formatted_body`, `m.mentions`) and whether a received message mentions me.

The composer is a plain textarea, so a pill is the text `@Name` plus what the composer
remembers about it (the user id it stands for). On send, each remembered pill whose text is
still in the message becomes a link; one the user edited away is no longer a mention.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote, unquote

from .markdown import HTML_FORMAT, to_html

MAX_SUGGESTIONS = 6
MAX_QUERY = 64  # characters after "@" still read as a name being typed
MATRIX_TO = "https://matrix.to/#/"
# Stands for a pill while the rest of the text goes through Markdown: private-use characters
# that Markdown leaves alone and no user types.
_SLOT = "\ue000{}\ue001"
_SLOT_RE = re.compile("\ue000(\\d+)\ue001")


@dataclass(frozen=True)
class Pill:
    user_id: str
    name: str  # the display name shown, without the "@"

    @property
    def text(self) -> str:
        return "@" + self.name


@dataclass(frozen=True)
class Query:
    start: int  # index of the "@"
    end: int  # the caret
    text: str  # what follows the "@", up to the caret


def _fold(text: str) -> str:
    """For matching: case and accents do not matter ("émile" finds "Emile")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def query_at(text: str, caret: int) -> Query | None:
    """The `@name` being typed just before the caret, or None. The "@" must start the text or
    follow a space or an opening bracket (an e-mail address is not a mention), and the name so
    far holds no line break (a name may hold spaces: "@Bob Sm")."""
    if not 0 <= caret <= len(text):
        return None
    start = text.rfind("@", max(0, caret - MAX_QUERY - 1), caret)
    if start < 0:
        return None
    typed = text[start + 1:caret]
    if "\n" in typed or "@" in typed or typed.startswith(" ") or "  " in typed:
        return None
    if start > 0 and not (text[start - 1].isspace() or text[start - 1] in "([{\"'"):
        return None
    return Query(start, caret, typed)


def suggestions(members: dict[str, str], query: str, exclude=(),
                limit: int = MAX_SUGGESTIONS) -> list[Pill]:
    """Members (user id -> display name) matching what was typed after "@": names starting
    with it first, then names with a word starting with it, then the user id's localpart
    starting with it; alphabetical within each."""
    wanted = _fold(query.strip())
    ranked: list[tuple[int, str, str, Pill]] = []
    for user_id, name in members.items():
        if user_id in exclude or not isinstance(user_id, str) or not user_id.startswith("@"):
            continue
        shown = _clean_name(name) or user_id[1:].split(":", 1)[0]
        folded = _fold(shown)
        localpart = _fold(user_id[1:].split(":", 1)[0])
        if folded.startswith(wanted):
            rank = 0
        elif any(word.startswith(wanted) for word in folded.split()[1:]):
            rank = 1
        elif localpart.startswith(wanted):
            rank = 2
        else:
            continue
        ranked.append((rank, folded, user_id, Pill(user_id, shown)))
    ranked.sort(key=lambda r: r[:3])
    return [r[3] for r in ranked[:limit]]


def _clean_name(name) -> str:
    """A display name fit to be typed into a message: one line, no control characters."""
    if not isinstance(name, str):
        return ""
    name = "".join(" " if c in "\r\n\t" else c for c in name
                   if unicodedata.category(c) not in ("Cc", "Cf") or c in "\r\n\t")
    return " ".join(name.split())[:MAX_QUERY]


def insert(text: str, query: Query, pill: Pill) -> tuple[str, int]:
    """The text with the typed `@query` replaced by the pill and a space; the new caret."""
    after = text[query.end:]
    spacer = "" if after.startswith(" ") else " "
    new = text[:query.start] + pill.text + spacer + after
    return new, query.start + len(pill.text) + 1


def used(text: str, pills) -> list[Pill]:
    """The pills still in the text, each user once, in order of appearance."""
    found: list[tuple[int, Pill]] = []
    seen: set[str] = set()
    for pill in sorted(set(pills), key=lambda p: -len(p.name)):
        at = _find(text, pill.text, 0)
        if at >= 0 and pill.user_id not in seen:
            seen.add(pill.user_id)
            found.append((at, pill))
    return [p for _, p in sorted(found, key=lambda f: f[0])]


def spans(text: str, pills) -> list[tuple[int, int]]:
    """Where the pills are in the text, (start, end) in order, not overlapping: what the
    composer draws as pills."""
    found: list[tuple[int, int]] = []
    for pill in sorted(set(pills), key=lambda p: -len(p.name)):
        at = _find(text, pill.text, 0)
        while at >= 0:
            end = at + len(pill.text)
            if all(end <= s or at >= e for s, e in found):
                found.append((at, end))
            at = _find(text, pill.text, end)
    return sorted(found)


def _find(text: str, needle: str, start: int) -> int:
    """`needle` as a whole: not followed by a letter or digit ("@Bob" is not in "@Bobby")."""
    at = text.find(needle, start)
    while at >= 0:
        end = at + len(needle)
        if end == len(text) or not (text[end].isalnum() or text[end] == "_"):
            return at
        at = text.find(needle, at + 1)
    return -1


def _escape(text: str) -> str:
    # Not the stdlib's html.escape: the browser build leaves `html` out of the modules a page
    # imports (pyapp/build/stdlib_core.txt).
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def link(pill: Pill) -> str:
    href = MATRIX_TO + quote(pill.user_id, safe="@:")
    return f'<a href="{_escape(href)}">{_escape(pill.name)}</a>'


def _plain_html(text: str) -> str:
    return _escape(text).replace("\n", "<br>\n")


def message_content(text: str, pills=()) -> dict:
    """The m.text content of `text` with its pills: `body` as typed, `formatted_body` with a
    matrix.to link for each pill (the rest read as Markdown) and `m.mentions` naming the users.
    Without pills it is the plain Markdown content (no `m.mentions`, as before)."""
    present = used(text, pills)
    content: dict = {"msgtype": "m.text", "body": text}
    if not present:
        html_body = to_html(text)
        if html_body is not None:
            content.update(format=HTML_FORMAT, formatted_body=html_body)
        return content
    slotted, order = text, []
    for pill in sorted(present, key=lambda p: -len(p.name)):
        at = _find(slotted, pill.text, 0)
        while at >= 0:
            slot = _SLOT.format(len(order))
            order.append(pill)
            slotted = slotted[:at] + slot + slotted[at + len(pill.text):]
            at = _find(slotted, pill.text, at + len(slot))
    rendered = to_html(slotted)
    if rendered is None:
        rendered = _plain_html(slotted)
    content["format"] = HTML_FORMAT
    content["formatted_body"] = _SLOT_RE.sub(lambda m: link(order[int(m.group(1))]), rendered)
    content["m.mentions"] = {"user_ids": [p.user_id for p in present]}
    return content


_LINK = re.compile(r'<a\s+href="' + re.escape(MATRIX_TO) + r'([^"#?]+)"\s*>([^<]*)</a>')
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&#x27;": "'", "&amp;": "&"}


def pills_in(body: str, formatted_body: str | None) -> list[Pill]:
    """The pills of a message as this composer wrote it (`@Name` in the body, a matrix.to
    link to the user named Name in the HTML): what editing it gives back to the composer, so
    that its mentions survive the edit."""
    if not isinstance(body, str) or not isinstance(formatted_body, str):
        return []
    found: list[Pill] = []
    for href, text in _LINK.findall(formatted_body):
        user_id = unquote(href)
        name = re.sub("|".join(map(re.escape, _ENTITIES)), lambda m: _ENTITIES[m.group(0)], text)
        if not user_id.startswith("@") or ":" not in user_id or not name:
            continue
        pill = Pill(user_id, name)
        if pill not in found and _find(body, pill.text, 0) >= 0:
            found.append(pill)
    return found


def mentions_user(content: dict, user_id: str | None, names=()) -> bool:
    """Whether a received message's content mentions `user_id`: through `m.mentions` when it
    has one (the spec's intentional mentions), else, as older clients' messages are read,
    the user's display names or localpart as a word of its body."""
    if not user_id or not isinstance(content, dict):
        return False
    new_content = content.get("m.new_content")
    if isinstance(new_content, dict):
        content = new_content
    mentions = content.get("m.mentions")
    if isinstance(mentions, dict):
        ids = mentions.get("user_ids")
        return isinstance(ids, list) and user_id in ids
    body = content.get("body")
    if not isinstance(body, str) or not body:
        return False
    words = {user_id[1:].split(":", 1)[0], *(n for n in names if isinstance(n, str) and n)}
    folded = _fold(body)
    for word in words:
        if re.search(r"(?<![\w])" + re.escape(_fold(word)) + r"(?![\w])", folded):
            return True
    return False
