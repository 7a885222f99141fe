"""When a message raises a browser notification, what it says, and the totals the host page
is told (pure; the browser side is pyapp.ui.notifier).

A notification is for a message from someone else, arriving live (not history), while the
page is hidden, in a room not muted: a mention of me at any other level, any message of a
direct chat at "all messages". Group and event chats stay quiet unless I am mentioned (the
issue's "notification overload").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .push_rules import ALL, MUTE, badge

BODY_CHARS = 140


@dataclass(frozen=True)
class Incoming:
    """A message that came in a live sync."""
    room_id: str
    event_id: str
    sender: str
    content: dict


@dataclass(frozen=True)
class Notice:
    room_id: str
    title: str
    body: str
    tag: str  # one notification per room: a newer one replaces it


def incoming(body: Any, me: str | None) -> list[Incoming]:
    """The messages from others in a sync answer's joined rooms, oldest first."""
    out: list[Incoming] = []
    for room_id, event in _timeline_events(body):
        sender, content = event.get("sender"), event.get("content")
        if event.get("type") != "m.room.message" or not isinstance(sender, str) \
                or sender == me or not isinstance(content, dict):
            continue
        relates = content.get("m.relates_to")
        if isinstance(relates, dict) and relates.get("rel_type") == "m.replace":
            continue  # an edit is not news
        out.append(Incoming(room_id, event["event_id"], sender, content))
    return out


def room_body(room_id: str, events: list) -> dict:
    """A sync answer's shape holding one room's timeline `events` (for `incoming`)."""
    return {"rooms": {"join": {room_id: {"timeline": {"events": events}}}}}


def _timeline_events(body: Any):
    rooms = body.get("rooms") if isinstance(body, dict) else None
    joined = rooms.get("join") if isinstance(rooms, dict) else None
    for room_id, data in joined.items() if isinstance(joined, dict) else ():
        timeline = data.get("timeline") if isinstance(data, dict) else None
        events = timeline.get("events") if isinstance(timeline, dict) else None
        for event in events if isinstance(events, list) else ():
            if isinstance(event, dict) and isinstance(event.get("event_id"), str):
                yield room_id, event


def still_encrypted(body: Any, me: str | None) -> list[tuple[str, str]]:
    """(room id, event id) of others' events a sync answer holds still encrypted (no key
    yet): news once they can be read."""
    return [(room_id, event["event_id"]) for room_id, event in _timeline_events(body)
            if event.get("type") == "m.room.encrypted" and event.get("sender") != me]


def decrypted_ids(body: Any) -> set[str]:
    """Ids of the events in a sync answer that arrived encrypted and were decrypted."""
    return {event["event_id"] for _, event in _timeline_events(body)
            if isinstance(event.get("unsigned"), dict) and event["unsigned"].get("om_encrypted")}


@dataclass(frozen=True)
class Invitation:
    """A direct chat someone invited me to, as a sync first shows it."""
    room_id: str
    inviter: str


def direct_invites(body: Any, me: str | None) -> list[Invitation]:
    """The invitations in a sync answer whose member event for me says `is_direct`: a new
    DM's first message cannot be read (nor notified) before it is accepted, so the invitation
    is what tells the user."""
    out: list[Invitation] = []
    rooms = body.get("rooms") if isinstance(body, dict) else None
    invited = rooms.get("invite") if isinstance(rooms, dict) else None
    if not isinstance(invited, dict) or not me:
        return out
    for room_id, data in invited.items():
        state = data.get("invite_state") if isinstance(data, dict) else None
        events = state.get("events") if isinstance(state, dict) else None
        for event in events if isinstance(events, list) else ():
            if isinstance(event, dict) and event.get("type") == "m.room.member" \
                    and event.get("state_key") == me and isinstance(event.get("content"), dict) \
                    and event["content"].get("membership") == "invite" \
                    and event["content"].get("is_direct") is True \
                    and isinstance(event.get("sender"), str) and event["sender"] != me:
                out.append(Invitation(room_id, event["sender"]))
                break
    return out


def invitation_notice(invitation: Invitation, *, sender_name: str, outside: bool) -> Notice:
    body = "From outside your community" if outside else "Open the chat to accept or decline."
    return Notice(invitation.room_id, f"{sender_name} wants to chat", body,
                  f"om-chat:{invitation.room_id}")


def should_notify(*, level: str, direct: bool, mentions_me: bool, hidden: bool) -> bool:
    if not hidden or level == MUTE:
        return False
    return mentions_me or (direct and level == ALL)


def notice(message: Incoming, *, room_name: str, sender_name: str, direct: bool,
           mentions_me: bool) -> Notice:
    text = message.content.get("body")
    text = " ".join(text.split()) if isinstance(text, str) else ""
    if len(text) > BODY_CHARS:
        text = text[:BODY_CHARS - 1] + "…"
    if direct:
        title = sender_name
    elif mentions_me:
        title = f"{sender_name} mentioned you in {room_name}"
    else:
        title = f"{sender_name} in {room_name}"
    return Notice(message.room_id, title, text, f"om-chat:{message.room_id}")


def totals(rooms: Iterable[Any], level_of) -> tuple[int, int]:
    """(unread, mentions) over the joined rooms, each counted at its level."""
    unread = mentions = 0
    for room in rooms:
        u, m = badge(level_of(room.room_id), room.unread, room.mentions)
        unread += u
        mentions += m
    return unread, mentions
