"""What one chat component shows: the parts its mode has (pyapp.ui.modes), composed into one
ViewState from the shared ChatService; no browser APIs.

Each part (pyapp.ui.parts: session, room list, timeline, composer, info panel) computes its
slice from plain inputs and keeps what the user did to it. This class picks the room the
component shows and the screen, subscribes to the service, recomputes a complete ViewState
and only then tells its view, coalescing the service's several changes per sync into one
render: the view never sees a half-applied sync.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from pyapp.client.direct import same_community, target_for_slug
from pyapp.client.rooms import Room
from pyapp.client.service import SIGNED_OUT, Change
from pyapp.client.session import OAUTH, PASSWORD
from pyapp.client.storage import Storage
from pyapp.client.timeline import FAILED, PENDING, SENT
from pyapp.client.timeline_model import TOP_GAP_KEY

from .format import Clock, member_name
from .modes import MODES, Mode
from .parts.composer import EDITING, ComposerPart
from .parts.info import InfoPanelPart, InfoView, MemberItem
from .parts.key_backup import KeyBackupView, key_backup_view, mark_locked
from .parts.mention_picker import MentionOption, MentionPicker
from .parts.rooms import RoomItem, RoomListPart
from .parts.session import LoginView, SessionPart, SignInOptions
from .parts.timeline import (DELETE, EDIT, REACT, REPLY, ActionError, DayView, GapView,
                             MembersView, MessageView, StartView, TimelinePart, snippet)

log = logging.getLogger(__name__)

CONTEXTS = ("event", "group", "dm", "all")  # dm: the slug is a person of my community

# Screens: which main area the component shows.
CHECKING, SIGNED_OUT_SCREEN, LOADING, JOINING, NOT_FOUND, CHAT = (
    "checking", "signed_out", "loading", "joining", "not_found", "chat")

# After Attend, the platform's bot invites us and the client joins by itself: how long to say
# "Joining…" before concluding the room is really not there.
EXPECT_INVITE_S = 45.0
DM_RETRY_S = 15.0  # a DM that could not be opened is tried again after this
MAX_PAGES_FOR_ORIGINAL = 20  # scroll-back pages fetched to find a reply's original
NO_ROOMS_TEXT = "You have no conversations yet. Attend an event or join a group to start chatting."
FALLBACK_TITLE = {"event": "Event chat", "group": "Group discussion", "dm": "Direct chat",
                  "all": "Messages"}
INVITED = "invited"  # a screen: an invitation to accept or decline


@dataclass
class InvitationView:
    """An invitation shown in place of the conversation (a DM sidebar with a pending one)."""
    room_id: str
    text: str  # "Alice wants to chat"
    outside: bool = False  # from outside my community: never accepted by itself


@dataclass
class ComposerTargetView:
    """Shown above the composer while it replies to or edits a message."""
    kind: str  # reply | edit
    key: str
    text: str  # "Replying to Bob: hello" / "Editing your message"


@dataclass
class ViewState:
    mode: str
    screen: str
    notice: str = ""  # the text of a non-chat screen (loading, joining, not found)
    status: str = SIGNED_OUT
    status_text: str = ""
    banner: str | None = None  # connection problem, shown above the conversation
    title: str = ""
    encrypted: bool = False  # the room is end-to-end encrypted: the header shows a lock
    login: LoginView = field(default_factory=LoginView)
    rooms: list[RoomItem] = field(default_factory=list)
    room_id: str | None = None
    # DayView | MessageView | GapView | StartView | MembersView, oldest first
    items: list[Any] = field(default_factory=list)
    empty_text: str = ""  # shown when the conversation has no messages
    typing: str = ""
    unseen: int = 0  # new messages below while scrolled up: "Jump to latest" says how many
    loading_earlier: bool = False
    info: InfoView | None = None
    composer_enabled: bool = False
    composer_error: str | None = None
    draft: str = ""
    draft_rev: int = 0  # bumped when the view model, not the user, changes the draft
    pane: str = "conversation"  # dashboard on narrow screens: list | conversation | info
    user_id: str | None = None
    can_sign_out: bool = False
    # Sign-out asked while messages are unsent: the question shown (confirm or cancel).
    sign_out_question: str | None = None
    composer_target: ComposerTargetView | None = None
    action_errors: list[ActionError] = field(default_factory=list)
    scroll_to: tuple[str, int] | None = None  # (item key, request number): bring into view
    invitation: InvitationView | None = None
    # The mention picker under the composer while an @name is typed, and where the caret
    # goes after a pill went in: (position, draft_rev).
    mention_options: list[MentionOption] = field(default_factory=list)
    caret: tuple[int, int] | None = None
    notify_level: str = "all"  # the shown room's: all | mentions | mute
    mentions: int = 0  # unread mentions of me in the rooms this chat shows (the header's badge)
    # The key backup's panel: the recovery key shown once, or asked for on a new browser.
    key_backup: KeyBackupView | None = None


def _default_timer(delay: float, fn: Callable[[], None]):
    return asyncio.get_event_loop().call_later(delay, fn)


def _default_defer(fn: Callable[[], None]) -> None:
    try:
        asyncio.get_running_loop().call_soon(fn)
    except RuntimeError:
        asyncio.get_event_loop().call_soon(fn)


class ChatViewModel:
    def __init__(self, service, mode: str = "sidebar", context: str = "all",
                 slug: str | None = None, tenant: str | None = None, *,
                 expect_invite: bool = False, clock: Clock | None = None,
                 defer: Callable[[Callable[[], None]], None] | None = None,
                 timer: Callable[[float, Callable[[], None]], Any] | None = None,
                 session_checked: bool = True, sign_in: SignInOptions | None = None,
                 login_hint: str | None = None, draft_store: Storage | None = None):
        if mode not in MODES:
            raise ValueError(f"unknown chat mode {mode!r}: use one of {', '.join(MODES)}")
        if context not in CONTEXTS:
            raise ValueError(f"unknown chat context {context!r}: use one of {', '.join(CONTEXTS)}")
        if context != "all" and not slug:
            raise ValueError(f"a {context} chat needs the {context}'s slug")
        self.service = service
        self.layout: Mode = MODES[mode]
        self.mode = mode
        self.context = context
        self.slug = slug
        self.tenant = tenant if tenant is not None else getattr(service.config, "tenant", None)
        self.clock = clock or Clock()
        self._defer = defer or _default_defer
        self._timer = timer or _default_timer
        self.session_checked = session_checked
        self.visible = True
        self.narrow = False  # the view reports the component's width; matters with panes
        self.selected: str | None = None
        self.pane = self.layout.first_pane
        self._expect_until = self.clock.now() + EXPECT_INVITE_S if expect_invite else 0.0
        self._expect_timer = None
        self._starting_over = False  # "I lost my recovery key" asked: confirm a new backup
        self._listeners: list[Callable[[ViewState], None]] = []
        self._tasks: set[asyncio.Future] = set()
        self._scheduled = False
        self._closed = False
        self._scroll_to: tuple[str, int] | None = None
        self._dm_error: str | None = None  # why the DM this component shows could not open
        self._dm_opening = False
        # The parts this mode shows.
        self.mentions = MentionPicker()
        self._caret: tuple[int, int] | None = None
        self._members_asked: set[str] = set()
        # Drafts outlive the page only across the OAuth redirect (sessionStorage: this tab).
        self.composer = ComposerPart(
            send_text=service.send_text, set_typing=service.set_typing, spawn=self._spawn,
            timer=self._timer, invalidate=self.invalidate, draft_store=draft_store,
            drafts_key=f"{mode}.{context}.{slug or ''}", edit_text=getattr(service, "edit", None),
            take_pills=self.mentions.take,
            give_back_pills=lambda room_id, pills: self.mentions.pills.setdefault(
                room_id, []).extend(pills))
        self.session = SessionPart(
            service, sign_in, tenant=self.tenant, login_hint=login_hint,
            invalidate=self.invalidate, before_leaving=self.composer.save,
            leaving_failed=self.composer.forget_saved)
        self.timeline = TimelinePart(self.clock, context)
        self.timeline.uploads = getattr(service, "uploads", None)
        self.room_list = RoomListPart(self.clock) if self.layout.room_list else None
        self.info_panel = InfoPanelPart() if self.layout.info_panel else None
        self._unsubscribe = service.subscribe(self._on_change)
        if expect_invite:
            self._expect_timer = self._timer(EXPECT_INVITE_S + 0.1, self.invalidate)
        self.state = self._compute()

    # -- observing --------------------------------------------------------------------
    def subscribe(self, listener: Callable[[ViewState], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _on_change(self, change: Change) -> None:
        if change.kind == "room" and change.room_id not in (None, self.current_room_id()) \
                and self.room_list is None:
            return  # another component's room: nothing this one shows changed
        self.invalidate()

    def invalidate(self) -> None:
        """Something changed: render once, after the current burst of changes is applied."""
        if self._scheduled or self._closed:
            return
        self._scheduled = True
        self._defer(self.refresh)

    def refresh(self) -> ViewState:
        self._scheduled = False
        if self._closed:
            return self.state
        try:
            self.state = self._compute()
            self._after_render(self.state)
        except Exception:  # noqa: BLE001  (the last good state stays; the next change retries)
            log.exception("Could not compute the chat's view")
            return self.state
        for listener in list(self._listeners):
            try:
                listener(self.state)
            except Exception:  # noqa: BLE001  (a broken renderer must not stop the others)
                log.exception("A chat view failed to render")
        return self.state

    def close(self) -> None:
        self.composer.stop_typing()
        self._closed = True
        self._unsubscribe()
        if self._expect_timer is not None:
            self._expect_timer.cancel()

    # -- the room this component shows ------------------------------------------------
    def current_room(self) -> Room | None:
        service = self.service
        if service.status == SIGNED_OUT and service.session is None:
            return None
        if self.context == "all":
            joined = service.rooms.joined()
            if self.selected is not None:
                room = service.room(self.selected)
                if room is not None:
                    return room
            return joined[0] if joined else None
        if self.context == "dm":
            target = self.dm_target()
            return service.rooms.dm_room(target) if target else None
        return service.rooms.find(self.context, self.slug, self.tenant)

    def dm_target(self) -> str | None:
        """The person a DM component is with: the slug, always in my own tenant."""
        me = self.service.user_id
        if self.context != "dm" or not me:
            return None
        try:
            target = target_for_slug(self.slug, me)
        except ValueError:
            self._dm_error = f"There is no one called “{self.slug}” in your community."
            return None
        if target == me:
            self._dm_error = "This is you: pick someone else to message."
            return None
        return target

    def current_room_id(self) -> str | None:
        room = self.current_room()
        return room.room_id if room else None

    def _waiting_for_invite(self) -> bool:
        if self.service.rooms.find_invite(self.context, self.slug, self.tenant) is not None:
            return True
        return self.clock.now() < self._expect_until

    def _not_found_text(self) -> str:
        what = "event" if self.context == "event" else "group"
        return (f"There is no chat for this {what} yet, or you have not been invited to it. "
                f"Attendees and members are invited automatically.")

    # -- state ------------------------------------------------------------------------
    def _screen(self, room: Room | None) -> tuple[str, str]:
        """(screen, notice): the main area shown, and its text when it is not the chat."""
        service = self.service
        if not self.session_checked:
            return CHECKING, "Starting the chat…"
        if service.status == SIGNED_OUT:
            return SIGNED_OUT_SCREEN, ""
        if not service.synced:
            return LOADING, "Connecting to the chat…"
        if room is None and self.context == "dm":
            return self._dm_screen()
        if room is None and self.room_list is None:
            # Without a list to pick from, the context's room is the chat.
            if self._waiting_for_invite():
                return JOINING, "Joining the conversation…"
            return NOT_FOUND, self._not_found_text()
        return CHAT, ""

    def _dm_screen(self) -> tuple[str, str]:
        """A DM component without its room: the invitation from them, or it is being made."""
        target = self.dm_target()
        if target is None or self._dm_error:
            return NOT_FOUND, self._dm_error or "This conversation is not available."
        invite = self.service.rooms.dm_invite(target)
        if invite is not None:
            return INVITED, ""
        if not self._dm_opening:
            self._dm_opening = True
            self._spawn(self._open_dm(target))
        return JOINING, "Starting the conversation…"

    async def _open_dm(self, target: str) -> None:
        try:
            await self.service.open_dm(target)
        except ValueError as e:
            self._dm_error = str(e)
            self._timer(DM_RETRY_S, self._retry_dm)  # e.g. offline: tried again by itself
        finally:
            self._dm_opening = False
        self.invalidate()

    def _retry_dm(self) -> None:
        if not self._closed:
            self._dm_error = None
            self.invalidate()

    def _invitation(self, room: Room) -> InvitationView:
        rooms = self.service.rooms
        partner = rooms.dm_partner(room.room_id)
        outside = bool(room.inviter) and not same_community(self.service.user_id, room.inviter)
        if partner:
            text = f"{member_name(room, partner)} wants to chat"
        else:
            text = f"You are invited to {room.name}" if room.name else "You are invited"
        return InvitationView(room.room_id, text + (" (from outside your community)"
                                                    if outside else ""), outside)

    def _compute(self) -> ViewState:
        service = self.service
        if self.session.signed_out_since_last_view():
            self.composer.forget_all()
            self.mentions.forget_all()
        room = self.current_room()
        if room is not None:
            # The expected invite came and was joined; if the room goes away later (cancelled,
            # removed), that is final, not "Joining…".
            self._expect_until = 0.0
        screen, notice = self._screen(room)
        session = self.session.view(on_sign_in_screen=screen == SIGNED_OUT_SCREEN)
        state = ViewState(
            mode=self.mode, screen=screen, notice=notice, status=session.status,
            status_text=session.status_text, banner=session.banner, login=session.login,
            user_id=session.user_id, can_sign_out=session.can_sign_out,
            sign_out_question=session.sign_out_question, pane=self.pane,
            title=room.name if room and room.name else FALLBACK_TITLE[self.context])
        if screen == INVITED:
            invite = service.rooms.dm_invite(self.dm_target())
            if invite is not None:
                state.invitation = self._invitation(invite)
                state.title = state.invitation.text
        if screen == CHAT:
            state.key_backup = key_backup_view(self._key_backup(), self._starting_over)
            me = service.user_id
            dm_partner = getattr(service.rooms, "dm_partner", None)
            if self.room_list is not None:
                state.rooms = self.room_list.items(
                    service.rooms.joined(), service.rooms.invites(),
                    room.room_id if room else None, me, dm_partner,
                    lambda uid: same_community(me, uid), badge=getattr(service, "badge", None))
            partner = dm_partner(room.room_id) if room is not None and dm_partner else None
            if partner:
                state.title = member_name(room, partner)
            # The header counts the mentions of what this chat shows: its list's rooms, or
            # its one room (the host page gets every room's through om-chat:unread).
            if self.room_list is not None:
                state.mentions = sum(r.mentions for r in state.rooms)
            elif room is not None:
                badge = getattr(service, "badge", None)
                state.mentions = badge(room)[1] if badge else room.mentions
            if room is not None:
                state.encrypted = service.is_encrypted(room.room_id)
                bot = getattr(service.rooms, "bot_user_id", None)
                self.timeline.hidden = frozenset({bot} if bot else ())
                self.timeline.mentions_me = getattr(service, "mentions_me", None)
                level = getattr(service, "notify_level", None)
                state.notify_level = level(room.room_id) if level else "all"
                state.mention_options = self.mentions.view()
                state.caret = self._caret
                failed = getattr(service, "failed_actions", None)
                timeline = self.timeline.view(room, me, failed(room.room_id) if failed else [])
                state.room_id, state.composer_enabled = room.room_id, True
                state.items, state.empty_text, state.typing = (
                    mark_locked(timeline.items, state.key_backup), timeline.empty_text,
                    timeline.typing)
                state.unseen, state.loading_earlier = timeline.unseen, timeline.loading_earlier
                state.action_errors = timeline.errors
                state.composer_target = self._target_view(room, me)
                state.scroll_to = self._scroll_to
                if self.info_panel is not None:
                    state.info = self.info_panel.view(
                        room, me, bot, getattr(service, "may_message", None), dm=bool(partner),
                        presence=getattr(service, "presence", None))
            else:
                state.empty_text = NO_ROOMS_TEXT
                if not state.rooms:
                    state.pane = "conversation"
        # The draft follows the room even on other screens (sign-in after expiry, offline).
        state.draft = self.composer.draft(room.room_id if room else None)
        state.draft_rev = self.composer.rev
        state.composer_error = self.composer.error
        return state

    def _target_view(self, room: Room, me: str | None) -> ComposerTargetView | None:
        target = self.composer.target(room.room_id)
        if target is None:
            return None
        message = self.timeline.find(room, target.key)
        if message is None or message.redacted:  # gone meanwhile: nothing to reply to / edit
            self.composer.targets.pop(room.room_id, None)
            return None
        if target.kind == EDITING:
            return ComposerTargetView(target.kind, target.key, "Editing your message")
        name = "yourself" if message.sender == me else self.timeline.message_view(
            room, message, me).sender_name
        return ComposerTargetView(target.kind, target.key,
                                  f"Replying to {name}: {snippet(message.body, 80)}")

    def _after_render(self, state: ViewState) -> None:
        """Side effects of what the user now sees: read receipts and member lists."""
        room_id = state.room_id
        if room_id is None or state.screen != CHAT:
            return
        room = self.service.room(room_id)
        if room is None:
            return
        hidden_by_pane = self.layout.panes and self.narrow and state.pane != "conversation"
        if self.visible and not hidden_by_pane:
            event_id = self.timeline.to_mark_read(room)
            if event_id:
                self._spawn(self.service.mark_read(room_id))
        if self.info_panel is not None and self.info_panel.to_load_members(room_id):
            self._spawn(self.service.load_members(room_id))

    # -- user actions -----------------------------------------------------------------
    def set_session_checked(self) -> None:
        self.session_checked = True
        self.invalidate()

    def set_visible(self, visible: bool) -> None:
        if visible != self.visible:
            self.visible = visible
            if visible:
                self.invalidate()

    def set_narrow(self, narrow: bool) -> None:
        if narrow != self.narrow:
            self.narrow = narrow
            self.invalidate()

    def set_username(self, username: str) -> None:
        self.session.set_username(username)

    async def submit_login(self, username: str, password: str) -> bool:
        return await self.session.submit_login(username, password)

    async def start_sign_in(self, create: bool = False) -> bool:
        return await self.session.start_sign_in(create)

    async def sign_out(self, confirmed: bool = False) -> bool:
        return await self.session.sign_out(confirmed)

    def cancel_sign_out(self) -> None:
        self.session.cancel_sign_out()

    def set_draft(self, text: str) -> None:
        """The user edited the composer (called on every input event)."""
        room_id = self.current_room_id()
        if self.state.room_id == room_id:
            self.state.draft = text  # the textarea already shows it: no render needed
        self.composer.set_draft(room_id, text)

    def set_caret(self, text: str, caret: int) -> None:
        """The composer's text or caret moved (input, click, arrow keys): the mention picker
        opens, follows or closes."""
        room = self.current_room()
        if room is None:
            return
        me = self.service.user_id
        bot = getattr(self.service.rooms, "bot_user_id", None)
        if self.mentions.update(text, caret, room.members, exclude={me, bot}):
            self.invalidate()
        if self.mentions.query is not None and room.room_id not in self._members_asked:
            # The sync's lazy-loaded members are only the recent senders: all of them, once.
            self._members_asked.add(room.room_id)
            load = getattr(self.service, "load_members", None)
            if load is not None:
                self._spawn(self._load_members_then_update(room.room_id, load))

    async def _load_members_then_update(self, room_id: str, load) -> None:
        await load(room_id)
        room = self.current_room()
        query = self.mentions.query
        if room is not None and room.room_id == room_id and query is not None:
            self.set_caret(self.composer.draft(room_id), query.end)

    def close_mentions(self) -> None:
        """The composer lost the focus: the suggestions go (the next "@" or edit reopens)."""
        if self.mentions.open:
            self.mentions.options = []
            self.invalidate()

    def choose_mention(self, user_id: str | None = None) -> bool:
        """Put the active suggestion (or `user_id`'s) into the text as a pill."""
        room_id = self.current_room_id()
        chosen = self.mentions.choose(room_id, self.composer.draft(room_id), user_id)
        if chosen is None:
            return False
        text, caret = chosen
        self.composer.put_text(room_id, text)
        self._caret = (caret, self.composer.rev)
        self.invalidate()
        return True

    def on_key(self, key: str, shift: bool = False, composing: bool = False) -> bool:
        """A key in the composer; True when the view must cancel the browser's default.
        While mention suggestions show, arrows move, Enter or Tab insert, Escape closes.
        Up in an empty composer edits my last message; Escape stops replying or editing."""
        if self.mentions.open and not composing:
            if key in ("ArrowDown", "ArrowUp"):
                self.mentions.move(1 if key == "ArrowDown" else -1)
                self.invalidate()
                return True
            if key in ("Enter", "Tab") and not shift:
                return self.choose_mention()
            if key == "Escape":
                self.mentions.dismiss()
                self.invalidate()
                return True
        if self.composer.sends_on(key, shift, composing):
            self.send()
            return True
        room = self.current_room()
        if room is None or composing:
            return False
        if key == "Escape":
            return self.composer.cancel(room.room_id)
        if key == "ArrowUp" and not shift and not self.composer.draft(room.room_id) \
                and self.composer.target(room.room_id) is None:
            return self.edit_message(None)
        return False

    # -- message actions --------------------------------------------------------------
    def _room_and_message(self, key: str | None, action: str):
        room = self.current_room()
        if room is None or key is None:
            return room, None
        message = self.timeline.find(room, key)
        if message is None or action not in self.timeline.actions_for(
                room, message, self.service.user_id):
            return room, None
        return room, message

    def reply_to(self, key: str) -> bool:
        room, message = self._room_and_message(key, REPLY)
        if message is None:
            return False
        self.composer.reply_to(room.room_id, message.event_id, message.key)
        return True

    def edit_message(self, key: str | None) -> bool:
        """Edit my message `key` (None: my last one) in the composer."""
        room = self.current_room()
        if room is None:
            return False
        message = self.timeline.editable(room, self.service.user_id, key)
        if message is None:
            return False
        pills_of = getattr(self.service, "pills_of", None)
        if pills_of is not None:  # its mentions stay mentions in the edited text
            self.mentions.pills.setdefault(room.room_id, []).extend(
                pills_of(room.room_id, message.event_id))
        self.composer.start_edit(room.room_id, message.event_id, message.key, message.body)
        return True

    def set_notify_level(self, level: str) -> asyncio.Future | None:
        """All messages / mentions only / mute for the room shown, kept on the server."""
        room = self.current_room()
        setter = getattr(self.service, "set_notify_level", None)
        if room is None or setter is None:
            return None
        return self._spawn(self._act(setter(room.room_id, level)))

    def cancel_composer(self) -> None:
        self.composer.cancel(self.current_room_id())

    def react(self, key: str, emoji: str) -> asyncio.Future | None:
        """Add my `emoji` reaction to message `key`, or take it back if it is there."""
        room, message = self._room_and_message(key, REACT)
        if message is None:
            return None
        return self._spawn(self._act(self.service.toggle_reaction(
            room.room_id, message.event_id, emoji.strip())))

    def ask_delete(self, key: str) -> bool:
        room = self.current_room()
        if room is None or not self.timeline.ask_delete(room, key, self.service.user_id):
            return False
        self.invalidate()
        return True

    def cancel_delete(self) -> None:
        if self.timeline.confirming is not None:
            self.timeline.confirming = None
            self.invalidate()

    def confirm_delete(self, key: str) -> asyncio.Future | None:
        room = self.current_room()
        message = self.timeline.take_confirmed(room, key) if room is not None else None
        self.invalidate()
        if message is None or DELETE not in self.timeline.actions_for(
                room, message, self.service.user_id):
            return None
        return self._spawn(self._act(self.service.delete(room.room_id, message.event_id)))

    def retry_action(self, txn_id: str) -> asyncio.Future:
        return self._spawn(self.service.retry_action(txn_id))

    def dismiss_action(self, txn_id: str) -> None:
        self.service.dismiss_action(txn_id)

    async def _act(self, action) -> None:
        try:
            await action
        except ValueError as e:  # refused before sending (gone, not allowed, bad emoji)
            self.composer.error = str(e)
            self.invalidate()

    def show_original(self, event_id: str) -> asyncio.Future | None:
        """Bring a reply's original into view, loading earlier history while it is not held
        (through the service's `paginate(room_id)`, one page per call, False at the start)."""
        room = self.current_room()
        if room is None:
            return None
        return self._spawn(self._find_original(room.room_id, event_id))

    async def _find_original(self, room_id: str, event_id: str) -> None:
        paginate = getattr(self.service, "paginate", None)
        for _ in range(MAX_PAGES_FOR_ORIGINAL + 1):
            room = self.service.room(room_id)
            if room is None:
                return
            original = room.timeline.message(event_id)
            if original is not None and self.timeline.find(room, original.key) is not None:
                number = self._scroll_to[1] + 1 if self._scroll_to else 1
                self._scroll_to = (original.key, number)
                self.invalidate()
                return
            if paginate is None or room.timeline.at_start() or not await paginate(room_id):
                break
        self.composer.error = "The original message is not in the loaded history."
        self.invalidate()

    def send(self) -> asyncio.Future | None:
        return self.composer.send(self.current_room_id())

    def retry_message(self, key: str) -> asyncio.Future | None:
        room = self.current_room()
        txn_id = self.timeline.failed_txn(room, key) if room is not None else None
        if txn_id is None:
            return None
        return self._spawn(self.service.retry(room.room_id, txn_id))

    def attach(self, file) -> asyncio.Future | None:
        """Send a file the user chose, pasted or dropped (a pyapp.client.uploads
        PendingFile); why it cannot be sent shows under the composer."""
        room_id = self.current_room_id()
        send_file = getattr(self.service, "send_file", None)
        if room_id is None or send_file is None or self.state.screen != CHAT:
            return None
        self.composer.error = None
        return self._spawn(self._act(send_file(room_id, file)))

    def attach_problem(self, text: str) -> None:
        """Something the user pasted or dropped holds no file (an empty paste)."""
        self.composer.error = text
        self.invalidate()

    def cancel_upload(self, key: str) -> bool:
        room = self.current_room()
        message = self.timeline.find(room, key) if room is not None else None
        if message is None or message.txn_id is None:
            return False
        return self.service.cancel_upload(room.room_id, message.txn_id)

    # -- the key backup (pyapp.ui.parts.key_backup) -------------------------------------
    def _key_backup(self):
        crypto = getattr(self.service, "crypto", None)
        return getattr(crypto, "backup", None)

    def recovery_key_saved(self) -> None:
        backup = self._key_backup()
        if backup is not None:
            self._spawn(backup.confirm_saved())
            self.invalidate()

    def skip_recovery_key(self) -> None:
        backup = self._key_backup()
        if backup is not None:
            backup.skip()
            self.invalidate()

    def ask_recovery_key(self) -> None:
        backup = self._key_backup()
        if backup is not None:
            backup.ask_again()
            self.invalidate()

    def lost_recovery_key(self, confirmed: bool | None = None) -> asyncio.Future | None:
        """"I lost my recovery key": asked first (None), then cancelled (False) or a new
        backup made (True)."""
        backup = self._key_backup()
        self._starting_over = confirmed is None
        self.invalidate()
        if backup is None or not confirmed:
            return None

        async def start_over():
            await backup.start_over()
            self.invalidate()
        return self._spawn(start_over())

    def enter_recovery_key(self, text: str) -> asyncio.Future | None:
        backup = self._key_backup()
        if backup is None:
            return None

        async def restore():
            await backup.restore(text)
            self.invalidate()
        return self._spawn(restore())

    def retry_connection(self) -> None:
        self.service.retry_now()

    def set_at_bottom(self, at_bottom: bool) -> None:
        """The view reports whether the latest message is in sight (scrolled to the end)."""
        if self.timeline.set_at_bottom(at_bottom):
            self.invalidate()

    def load_earlier(self, gap_key: str = TOP_GAP_KEY) -> asyncio.Future | None:
        """Load the messages missing at a gap (the top one: earlier history)."""
        room = self.current_room()
        if room is None or self.state.screen != CHAT:
            return None
        return self._spawn(self.service.paginate(room.room_id, gap_key))

    def select_room(self, room_id: str) -> None:
        if room_id != self.current_room_id():
            self.composer.stop_typing()
            self.mentions.query, self.mentions.options = None, []  # that room's members
        self.selected = room_id
        self.pane = "conversation"
        self.invalidate()

    def accept_invite(self, room_id: str) -> asyncio.Future:
        self.selected = room_id
        accept = getattr(self.service, "accept_invite", None) or self.service.join
        return self._spawn(self._answer_invite(
            accept(room_id), "The invitation could not be accepted: it may have been "
            "withdrawn, or the connection failed. Try again."))

    def decline_invite(self, room_id: str) -> asyncio.Future:
        if self.selected == room_id:
            self.selected = None
        return self._spawn(self._answer_invite(
            self.service.decline_invite(room_id),
            "The invitation could not be declined. Try again."))

    async def _answer_invite(self, answer, failure: str) -> None:
        self.composer.error = None
        if not await answer:  # the homeserver said no (another community's room) or offline
            self.composer.error = failure
        self.invalidate()

    def message_member(self, user_id: str) -> asyncio.Future | None:
        """The member panel's "Message": open (or make) my DM with them and show it."""
        if not self.service.may_message(user_id):
            return None
        return self._spawn(self._message_member(user_id))

    async def _message_member(self, user_id: str) -> None:
        try:
            room_id = await self.service.open_dm(user_id)
        except ValueError as e:
            self.composer.error = str(e)
            self.invalidate()
            return
        self.select_room(room_id)

    def show_pane(self, pane: str) -> None:
        """Narrow dashboard: which of list / conversation / info fills the component."""
        if pane in ("list", "conversation", "info"):
            self.pane = pane
            self.invalidate()

    def expect_invite(self) -> None:
        """The host page just made us eligible (Attend): the invite is on its way."""
        self._expect_until = self.clock.now() + EXPECT_INVITE_S
        if self._expect_timer is not None:
            self._expect_timer.cancel()
        self._expect_timer = self._timer(EXPECT_INVITE_S + 0.1, self.invalidate)
        self.invalidate()

    # -- helpers ----------------------------------------------------------------------
    def _spawn(self, coro) -> asyncio.Future:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Future) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            traceback.print_exception(task.exception())


__all__ = ["ChatViewModel", "ViewState", "MessageView", "DayView", "GapView", "StartView",
           "MembersView", "ComposerTargetView", "REPLY", "REACT", "EDIT", "DELETE", "RoomItem",
           "InfoView", "MemberItem", "InvitationView", "INVITED",
           "LoginView", "SignInOptions", "OAUTH", "PASSWORD", "CHECKING", "SIGNED_OUT_SCREEN",
           "LOADING", "JOINING", "NOT_FOUND", "CHAT", "PENDING", "FAILED", "SENT"]
