"""Direct messages the standard Matrix way, as pure decisions (no I/O).

A DM is an ordinary room made with `createRoom` (preset `trusted_private_chat`, `is_direct`,
the other person invited) and listed in the user's `m.direct` account data
(`{user_id: [room_id, ...]}`), which every Matrix client reads: so a DM made here is a DM in
Element too, and one made there is reused here. The invitee's client sees `is_direct` on its
invite and adds the room to its own `m.direct` when accepting.

The tenant boundary (pyapp.server.tenant_rules) is mirrored here so the UI never offers or
attempts a DM the homeserver would refuse: only people of my own tenant on my own server (or,
for accounts outside every tenant, others outside every tenant), never myself, never the bot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from pyapp.client.crypto import ENCRYPTION_STATE, MEGOLM
from pyapp.identity import matrix_user_id, parse_user_id, split_user_id

DIRECT_TYPE = "m.direct"


def parse_direct(content: Any) -> dict[str, list[str]]:
    """`m.direct` content as {user id: [room ids]}, keeping only well-formed entries (other
    clients write this too; a broken entry must not hide the good ones)."""
    out: dict[str, list[str]] = {}
    if not isinstance(content, dict):
        return out
    for user_id, rooms in content.items():
        if not isinstance(user_id, str) or not user_id.startswith("@") or ":" not in user_id:
            continue
        if not isinstance(rooms, list):
            continue
        ids = [r for r in rooms if isinstance(r, str) and r.startswith("!")]
        if ids:
            out[user_id] = list(dict.fromkeys(ids))
    return out


def with_room(content: Any, user_id: str, room_id: str) -> dict:
    """The `m.direct` content to store once `room_id` is a DM with `user_id`: the room is
    added (first, as the latest) and everything else, even entries we cannot read, is kept."""
    new = dict(content) if isinstance(content, dict) else {}
    rooms = new.get(user_id)
    rooms = [r for r in rooms if r != room_id and isinstance(r, (str, int, float))] \
        if isinstance(rooms, list) else []
    rooms = list(dict.fromkeys(rooms))
    new[user_id] = [room_id, *rooms]
    return new


def partner_of(direct: dict[str, list[str]], room_id: str) -> str | None:
    """The person a DM room is with, per `m.direct` (None: not a DM)."""
    for user_id, rooms in direct.items():
        if room_id in rooms:
            return user_id
    return None


@dataclass(frozen=True)
class Candidate:
    """A room of mine as the DM choice needs it."""
    room_id: str
    membership: str  # "join" | "invite"
    partner_here: bool  # the other person is joined or invited (as far as known)
    last_ts: int = 0


def pick_dm(direct: dict[str, list[str]], user_id: str,
            rooms: Iterable[Candidate]) -> str | None:
    """The DM with `user_id` to open: among the rooms `m.direct` lists for them, one I have
    joined where they still are (joined or invited), the most recently active; None when there
    is none: a room they left would never reach them, so a new one is made (as Element does)."""
    listed = set(direct.get(user_id, ()))
    usable = [c for c in rooms if c.room_id in listed and c.membership == "join"
              and c.partner_here]
    return max(usable, key=lambda c: c.last_ts).room_id if usable else None


def create_body(user_id: str) -> dict:
    """The createRoom request of a DM with `user_id`: the spec's way, so other clients see a DM
    (the invite carries `is_direct`; both people get the same power). A DM is end-to-end
    encrypted from its first event (m.room.encryption in the initial state, as Element does):
    a private conversation never has a plaintext beginning, and the setting is one-way."""
    return {"preset": "trusted_private_chat", "is_direct": True, "invite": [user_id],
            "initial_state": [{"type": ENCRYPTION_STATE, "state_key": "",
                               "content": {"algorithm": MEGOLM}}]}


def same_community(me: str | None, other: str) -> bool:
    """Whether `other` is in my community: the same tenant on the same server; accounts outside
    every tenant only with each other (the homeserver's tenant rules, mirrored)."""
    if not me or not isinstance(other, str) or not other.startswith("@"):
        return False
    my_server, their_server = split_user_id(me)[1], split_user_id(other)[1]
    if not my_server or my_server != their_server:
        return False
    mine, theirs = parse_user_id(me), parse_user_id(other)
    return (mine[1] if mine else None) == (theirs[1] if theirs else None)


def may_message(me: str | None, other: str, bot: str | None = None) -> bool:
    """Whether the UI offers "Message" for `other`."""
    return bool(me) and other != me and other != bot and same_community(me, other)


def target_for_slug(slug: str, me: str) -> str:
    """The Matrix id of the platform user `slug` of my own tenant (a DM is never addressed to
    another tenant: the tenant is mine, not the caller's). Raises ValueError for a bad slug or
    when I am not a platform user."""
    parsed = parse_user_id(me)
    if parsed is None:
        raise ValueError("Direct messages by platform name need a platform account.")
    return matrix_user_id(slug, parsed[1], parsed[2])  # IdentityError is a ValueError


def invite_is_direct(invite_member_content: Any) -> bool:
    """Whether my invite's member event marks the room as a DM."""
    return isinstance(invite_member_content, dict) \
        and invite_member_content.get("is_direct") is True
