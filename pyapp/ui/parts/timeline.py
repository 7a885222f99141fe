"""The conversation's view model: a room's messages as day separators and sender groups, who
has seen my last message, who is typing, and which event to mark read; per message, its reply
preview, reactions, "(edited)", the deleted placeholder and the actions the user may take
(reply, react, edit, delete), with the deletion waiting for a confirmation; where history is
missing (earlier messages to load, or a hole a `limited` sync left), the conversation's
beginning, membership changes collapsed into one line per run, and how many messages came
while the user was scrolled up."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pyapp.client import actions
from pyapp.client.rooms import Room
from pyapp.client.timeline import FAILED, SENT, Message
from pyapp.client.timeline_model import TOP_GAP_KEY, UNDECRYPTED, Gap, MemberChange, RoomStart

from ..format import Clock, join_names, member_name, typing_text
from .media import MediaView, media_view

log = logging.getLogger(__name__)

GROUP_GAP_MS = 5 * 60 * 1000  # consecutive messages closer than this share one sender label

EMPTY_TEXT = {
    "event": "No messages yet. Say hello to the other attendees!",
    "group": "No messages yet. Start the group's discussion!",
}
EMPTY_TEXT_ANY = "No messages yet. Start the conversation!"
DELETED_TEXT = "Message deleted"
NOT_LOADED_TEXT = "Original message not loaded"
PREVIEW_CHARS = 120
REPLY, REACT, EDIT, DELETE = "reply", "react", "edit", "delete"


def snippet(text: str, limit: int = PREVIEW_CHARS) -> str:
    """The first line of `text`, at most `limit` characters."""
    line = text.strip().split("\n", 1)[0]
    return line if len(line) <= limit else line[:limit - 1] + "…"


@dataclass
class ReplyView:
    """The quoted preview above a reply."""
    event_id: str
    key: str | None  # the original's item key when it is loaded (to scroll to it)
    sender_name: str
    text: str


@dataclass
class ReactionView:
    key: str
    count: int
    mine: bool
    names: str  # who reacted: "Bob, carol and you"

    @property
    def label(self) -> str:
        return f"{self.key} {self.count}: {self.names}"


@dataclass
class DayView:
    key: str
    label: str
    kind: str = "day"


@dataclass
class MessageView:
    key: str
    sender_id: str
    sender_name: str
    body: str
    time_text: str
    ts: int
    mine: bool
    status: str  # pending | sent | failed
    error: str | None = None
    first_in_group: bool = True
    seen_by: str | None = None  # "Seen by Bob" under my last message
    html: str | None = None  # formatted_body as received: shown only through pyapp.ui.sanitize
    kind: str = "message"
    event_id: str | None = None
    edited: bool = False
    deleted: bool = False
    reply: ReplyView | None = None
    reactions: tuple = ()  # ReactionView, in the order the keys were first used
    actions: tuple = ()  # of REPLY, REACT, EDIT, DELETE: what the user may do to it
    confirm_delete: bool = False  # "Delete this message?" is asked under it
    mentions_me: bool = False  # someone else's message naming me: highlighted
    media: MediaView | None = None  # an image or file: shown instead of the body
    warning: str | None = None  # decrypted, from a device the engine cannot vouch for


@dataclass
class ActionError:
    """A reaction, edit or deletion the server did not take: retry or dismiss."""
    txn_id: str
    text: str


START_TEXT = "This is the beginning of the conversation."


@dataclass
class GapView:
    """Messages not loaded here: the earlier history (`top`), or a hole a `limited` sync
    left between what was shown and what came after."""
    key: str
    top: bool
    loading: bool
    can_load: bool  # False: the server gave no way to fetch it
    kind: str = "gap"


@dataclass
class StartView:
    key: str = "start"
    text: str = START_TEXT
    kind: str = "start"


@dataclass
class MembersView:
    """A run of membership changes in one line: "3 people joined", "Bob left"."""
    key: str
    text: str
    kind: str = "members"


@dataclass
class TimelineView:
    items: list[Any]  # DayView | MessageView | GapView | StartView | MembersView, oldest first
    empty_text: str  # shown (below the items) when the conversation has no messages
    typing: str
    errors: list[ActionError] = field(default_factory=list)
    unseen: int = 0  # messages from others that came while the user was scrolled up
    loading_earlier: bool = False


# What a membership change did, as said of one person and of several.
_DID = {
    "join": ("joined", "joined"),
    "leave": ("left", "left"),
    "profile": ("changed their profile", "changed their profiles"),
    "invite": ("was invited", "were invited"),
    "kick": ("was removed", "were removed"),
    "ban": ("was banned", "were banned"),
    "unban": ("was unbanned", "were unbanned"),
    "reject": ("declined the invitation", "declined the invitation"),
    "withdraw": ("had the invitation withdrawn", "had the invitation withdrawn"),
    "knock": ("asked to join", "asked to join"),
}


def members_text(changes: list[MemberChange], name_of) -> str:
    """One line for consecutive membership changes, per kind in the order they first
    happened: "Bob joined", "Bob and Carol joined", "3 people joined, Dave left". Someone
    who renamed themselves is shown by the new name: "Bob is now Robert"."""
    by_kind: dict[str, list[str]] = {}
    renames: list[str] = []
    for change in changes:
        kind = change.kind
        if kind == "profile" and change.name != change.previous_name and change.name \
                and change.previous_name:
            text = f"{change.previous_name} is now {change.name}"
            if text not in renames:
                renames.append(text)
            continue
        users = by_kind.setdefault(kind, [])
        if change.user_id not in users:
            users.append(change.user_id)
    parts = []
    for kind, users in by_kind.items():
        one, many = _DID.get(kind, (kind, kind))
        if len(users) >= 3:
            parts.append(f"{len(users)} people {many}")
        else:
            parts.append(f"{join_names([name_of(u) for u in users])} {one if len(users) == 1 else many}")
    return ", ".join(parts + renames)


def _unique_day_keys(items: list[Any]) -> None:
    """Server order is not time order (a sender's clock can be wrong), so a day can come
    back after another; its second separator needs a key of its own."""
    seen: dict[str, int] = {}
    for item in items:
        if isinstance(item, DayView):
            count = seen[item.key] = seen.get(item.key, 0) + 1
            if count > 1:
                item.key = f"{item.key}#{count}"


def unseen_count(messages: list["MessageView"], read_to: str | None) -> int:
    """Messages from others after the one the user last saw at the bottom (`read_to`)."""
    keys = [m.key for m in messages]
    if read_to not in keys:
        return 0
    return sum(1 for m in messages[keys.index(read_to) + 1:] if not m.mine)




class TimelinePart:
    def __init__(self, clock: Clock, context: str = "all"):
        self.clock = clock
        self.context = context
        self.hidden: frozenset[str] = frozenset()  # users whose events are not chat (the bot)
        self.at_bottom = True  # the view says whether the user sees the latest message
        self._marked: dict[str, str] = {}  # room id -> the last event id marked read
        self._read_to: dict[str, str | None] = {}  # room id -> last message seen at the bottom
        self.confirming: tuple[str, str] | None = None  # (room id, key) asked to delete
        # mentions_me(room, content): whether a message names me (ChatService.mentions_me);
        # read once per message, as its original content never changes.
        self.mentions_me = None
        self._mentioned: dict[tuple[str, str], bool] = {}
        self.uploads = None  # pyapp.client.uploads.Uploads: my files' progress and pictures

    def view(self, room: Room, me: str | None, errors: list[Any] = ()) -> TimelineView:
        items = self.items(room, me)
        messages = [i for i in items if isinstance(i, MessageView)]
        empty = "" if messages else EMPTY_TEXT.get(self.context, EMPTY_TEXT_ANY)
        others = [member_name(room, uid) for uid in room.typing if uid != me]
        if self.at_bottom or room.room_id not in self._read_to:
            self._read_to[room.room_id] = messages[-1].key if messages else None
        unseen = 0 if self.at_bottom else unseen_count(messages, self._read_to[room.room_id])
        loading = any(isinstance(i, GapView) and i.top and i.loading for i in items)
        return TimelineView(items, empty, typing_text(others),
                            [ActionError(a.txn_id, a.error) for a in errors], unseen, loading)

    def set_at_bottom(self, at_bottom: bool) -> bool:
        """The user scrolled to (or away from) the latest message; True when that changed."""
        changed, self.at_bottom = at_bottom != self.at_bottom, at_bottom
        return changed

    # -- per message ------------------------------------------------------------------
    @staticmethod
    def actions_for(room: Room, message: Message, me: str | None) -> tuple:
        """What the user may do to `message`: nothing until the server has it, nothing
        but (for moderators) deleting once it is deleted."""
        if message.event_id is None or message.status != SENT or me is None \
                or message.redacted:
            return ()
        allowed = [REPLY, REACT]
        if message.sender == me:
            allowed.append(EDIT)
        if actions.can_delete(room.power_levels, me, message.sender):
            allowed.append(DELETE)
        return tuple(allowed)

    @staticmethod
    def _reactions(room: Room, message: Message, me: str | None) -> tuple:
        views = []
        for reaction in message.reactions:
            others = [member_name(room, uid) for uid in reaction.senders if uid != me]
            mine = me in reaction.senders
            views.append(ReactionView(reaction.key, reaction.count, mine,
                                      join_names(others + (["you"] if mine else []))))
        return tuple(views)

    @staticmethod
    def _reply(room: Room, message: Message, me: str | None) -> ReplyView | None:
        if not message.reply_to:
            return None
        original = room.timeline.message(message.reply_to)
        if original is None:
            return ReplyView(message.reply_to, None, "", NOT_LOADED_TEXT)
        name = "You" if original.sender == me else member_name(room, original.sender)
        text = DELETED_TEXT if original.redacted else snippet(original.body)
        return ReplyView(message.reply_to, original.key, name, text)

    def message_view(self, room: Room, message: Message, me: str | None) -> MessageView:
        return MessageView(
            key=message.key, sender_id=message.sender,
            sender_name=member_name(room, message.sender),
            body=DELETED_TEXT if message.redacted else message.body,
            time_text=self.clock.time_text(message.ts), ts=message.ts,
            mine=message.sender == me, status=message.status, error=message.error,
            event_id=message.event_id, edited=message.edited, deleted=message.redacted,
            reply=self._reply(room, message, me), reactions=self._reactions(room, message, me),
            actions=self.actions_for(room, message, me),
            confirm_delete=self.confirming == (room.room_id, message.key),
            html=None if message.redacted else message.formatted_body,
            mentions_me=self._mentions_me(room, message, me),
            media=self._media(message), warning=message.warning)

    def _mentions_me(self, room: Room, message: Message, me: str | None) -> bool:
        if self.mentions_me is None or message.sender == me or message.redacted \
                or message.event_id is None or message.msgtype == UNDECRYPTED:
            return False  # (not kept: once its key comes, it is read again)
        cache_key = (room.room_id, message.event_id)
        found = self._mentioned.get(cache_key)
        if found is None:
            content = getattr(room.timeline, "content", lambda key: None)(message.key) or {}
            try:
                found = bool(self.mentions_me(room, content))
            except Exception:  # noqa: BLE001  (an odd message is shown, just not highlighted)
                log.exception("Could not read the mentions of %s", message.event_id)
                found = False
            if len(self._mentioned) > 20_000:
                self._mentioned.clear()
            self._mentioned[cache_key] = found
        return found

    def _media(self, message: Message) -> MediaView | None:
        if message.media is None or message.redacted:
            return None
        uploads = self.uploads
        progress = uploads.progress(message.txn_id) if uploads is not None else None
        local = uploads.previews.get(message.txn_id or "") if uploads is not None else None
        return media_view(message.media, progress, local)

    def editable(self, room: Room, me: str | None, key: str | None = None) -> Message | None:
        """My message `key`, or my last one, if I may edit it (Up in an empty composer)."""
        for message in reversed(room.timeline.messages):
            if (key is None or message.key == key) and EDIT in self.actions_for(room, message, me):
                return message
            if key is not None and message.key == key:
                return None
        return None

    def find(self, room: Room, key: str) -> Message | None:
        return next((m for m in room.timeline.messages if m.key == key), None)

    def ask_delete(self, room: Room, key: str, me: str | None) -> bool:
        message = self.find(room, key)
        if message is None or DELETE not in self.actions_for(room, message, me):
            return False
        self.confirming = (room.room_id, key)
        return True

    def take_confirmed(self, room: Room, key: str) -> Message | None:
        """The message whose deletion the user just confirmed (the question goes)."""
        if self.confirming != (room.room_id, key):
            return None
        self.confirming = None
        return self.find(room, key)

    def _shown(self, room: Room) -> list[Any]:
        """The timeline's items this view shows: messages of every msgtype (those it has no
        rendering of their own for show their body, the spec's fallback; deleted ones as their
        placeholder; not the hidden users'), gaps, the start and membership changes."""
        shown = []
        for item in room.timeline.items():
            if isinstance(item, Message):
                if item.sender in self.hidden:
                    continue
            elif isinstance(item, MemberChange):
                # The bot's own joins, and its invitations (the platform's way of letting
                # people in: their joins follow), are the platform's machinery, not news.
                if item.user_id in self.hidden or (item.sender in self.hidden
                                                   and item.membership == "invite"):
                    continue
            elif not isinstance(item, (Gap, RoomStart)):
                continue
            shown.append(item)
        return shown

    def items(self, room: Room, me: str | None) -> list[Any]:
        items: list[Any] = []
        last_day = None
        previous: Message | None = None
        run: list[MemberChange] = []
        shown = self._shown(room)
        for position, message in enumerate(shown):
            if isinstance(message, MemberChange):
                run.append(message)
                after = shown[position + 1] if position + 1 < len(shown) else None
                if isinstance(after, MemberChange):
                    continue
                try:
                    text = members_text(run, lambda uid: member_name(room, uid))
                    day = self.clock.day_key(run[0].ts)
                    day_view = DayView("day:" + day, self.clock.day_label(run[0].ts)) \
                        if day != last_day else None
                except Exception:  # noqa: BLE001  (as for messages below)
                    log.exception("Could not show membership changes %s", run[0].key)
                    run = []
                    continue
                if day_view is not None:
                    items.append(day_view)
                    last_day = day
                items.append(MembersView("members:" + run[0].key, text))
                run, previous = [], None
                continue
            if isinstance(message, Gap):
                items.append(GapView(message.key, message.key == TOP_GAP_KEY, message.loading,
                                     message.token is not None or message.key == TOP_GAP_KEY))
                previous = None
                continue
            if isinstance(message, RoomStart):
                items.append(StartView(message.key))
                continue
            try:
                day = self.clock.day_key(message.ts)
                view = self.message_view(room, message, me)
                day_view = DayView("day:" + day, self.clock.day_label(message.ts)) \
                    if day != last_day else None
            except Exception:  # noqa: BLE001  (one message we cannot show must not hide the room)
                log.exception("Could not show message %s", message.key)
                continue
            if day_view is not None:
                items.append(day_view)
                last_day, previous = day, None
            view.first_in_group = not (previous is not None and previous.sender == message.sender
                                       and message.ts - previous.ts < GROUP_GAP_MS)
            items.append(view)
            previous = message
        _unique_day_keys(items)
        self._mark_seen(room, me, items)
        return items

    @staticmethod
    def _mark_seen(room: Room, me: str | None, items: list[Any]) -> None:
        confirmed = room.timeline.confirmed
        position = {m.event_id: i for i, m in enumerate(confirmed) if m.event_id}
        mine = next((i for i in range(len(confirmed) - 1, -1, -1)
                     if confirmed[i].sender == me and confirmed[i].status == SENT), None)
        if mine is None:
            return
        readers = [member_name(room, uid) for uid, event_id in room.receipts.items()
                   if uid != me and position.get(event_id, -1) >= mine]
        if not readers:
            return
        key = confirmed[mine].key
        for item in items:
            if isinstance(item, MessageView) and item.key == key:
                item.seen_by = "Seen by " + join_names(sorted(readers, key=str.lower))

    def to_mark_read(self, room: Room) -> str | None:
        """The event to send a read receipt for now that the user sees the room: its last
        one, once (None when that was already marked)."""
        last = room.timeline.last_event_id()
        if not last or self._marked.get(room.room_id) == last:
            return None
        self._marked[room.room_id] = last
        return last

    @staticmethod
    def failed_txn(room: Room, key: str) -> str | None:
        """The transaction id of my unsent message shown as `key`, if it failed."""
        message = next((m for m in room.timeline.local if m.key == key), None)
        if message is None or message.status != FAILED:
            return None
        return message.txn_id
