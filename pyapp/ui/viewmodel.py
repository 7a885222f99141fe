"""What one chat component shows, computed from the shared ChatService; no browser APIs.

One view model serves the three modes of the unified component:
  sidebar   - an event page's chat beside the content, with a header (room name + connection);
  tab       - a group page's Discussion panel, no header;
  dashboard - the Messages page: my chats, the selected conversation and an info panel.

The view model subscribes to the service, recomputes a complete ViewState and only then tells
its view, coalescing the service's several changes per sync into one render. Everything the
user typed lives here (drafts per room, the login username), so nothing is lost when the DOM
shows another screen or the connection drops.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

from pyapp.client.rooms import Room
from pyapp.client.service import CONNECTING, OFFLINE, ONLINE, SIGNED_OUT, Change
from pyapp.client.session import LoginError
from pyapp.client.storage import Storage, load_json, save_json
from pyapp.client.timeline import FAILED, PENDING, SENT, Message
from pyapp.identity import IdentityError, matrix_localpart, parse_user_id

from .format import Clock, join_names, typing_text

log = logging.getLogger(__name__)

MODES = ("sidebar", "tab", "dashboard")
CONTEXTS = ("event", "group", "all")

# Screens: which main area the component shows.
CHECKING, SIGNED_OUT_SCREEN, LOADING, JOINING, NOT_FOUND, CHAT = (
    "checking", "signed_out", "loading", "joining", "not_found", "chat")

TYPING_IDLE_S = 5.0
# After Attend, the platform's bot invites us and the client joins by itself: how long to say
# "Joining…" before concluding the room is really not there.
EXPECT_INVITE_S = 45.0
GROUP_GAP_MS = 5 * 60 * 1000  # consecutive messages closer than this share one sender label

STATUS_TEXT = {ONLINE: "Online", CONNECTING: "Connecting…", OFFLINE: "Offline",
               SIGNED_OUT: "Signed out"}


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
    kind: str = "message"


@dataclass
class RoomItem:
    room_id: str
    name: str
    unread: int
    preview: str
    when: str
    selected: bool
    invite: bool = False


OAUTH, PASSWORD = "oauth", "password"
DRAFTS_PREFIX = "om-chat.drafts."


@dataclass
class LoginView:
    username: str = ""
    error: str | None = None
    busy: bool = False
    method: str = PASSWORD  # oauth: a "Sign in" button to the auth server; password: the form
    can_create: bool = False  # oauth: also "Create account" (prompt=create)


@dataclass
class SignInOptions:
    """How this page signs in; decided once per page (pyapp.ui.mount) and shared by every
    component. `oauth` is anything with `async sign_in(prompt=None, login_hint=None)` that
    leaves for the auth server (pyapp.auth.browser.BrowserOAuth in the browser)."""
    method: str = PASSWORD
    oauth: Any = None
    can_create: bool = False
    error: str | None = None  # a sign-in that came back refused (bad state, replayed code...)


@dataclass
class InfoView:
    name: str
    topic: str
    members: list[str]
    member_count: int


@dataclass
class ViewState:
    mode: str
    screen: str
    notice: str = ""  # the text of a non-chat screen (loading, joining, not found)
    status: str = SIGNED_OUT
    status_text: str = ""
    banner: str | None = None  # connection problem, shown above the conversation
    title: str = ""
    login: LoginView = field(default_factory=LoginView)
    rooms: list[RoomItem] = field(default_factory=list)
    room_id: str | None = None
    items: list[Any] = field(default_factory=list)  # DayView | MessageView, oldest first
    empty_text: str = ""  # shown instead of items when the conversation has no messages
    typing: str = ""
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


def sign_out_question(unsent: int) -> str:
    if not unsent:
        return "Sign out of the chat?"
    what = "1 message has" if unsent == 1 else f"{unsent} messages have"
    return f"{what} not been sent. Signing out discards {'it' if unsent == 1 else 'them'}."


def _platform_slug(user_id: str) -> str | None:
    parsed = parse_user_id(user_id)
    return parsed[0] if parsed else None


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
        self.mode = mode
        self.context = context
        self.slug = slug
        self.tenant = tenant if tenant is not None else getattr(service.config, "tenant", None)
        self.clock = clock or Clock()
        self._defer = defer or _default_defer
        self._timer = timer or _default_timer
        self.session_checked = session_checked
        self.visible = True
        self.narrow = False  # the view reports the component's width; matters for dashboard
        self.selected: str | None = None
        self.pane = "list" if mode == "dashboard" else "conversation"
        self.show_info = False
        self.sign_in_options = sign_in or SignInOptions()
        self.login_hint = login_hint or None
        # Drafts outlive the page only across the OAuth redirect (sessionStorage: this tab).
        self.draft_store = draft_store
        self.login = LoginView(error=self.sign_in_options.error)
        self._drafts: dict[str | None, str] = {}
        self._draft_rev = 0
        self._take_saved_drafts()
        self._composer_error: str | None = None
        self._confirming_sign_out = False
        self._sign_outs = getattr(service, "sign_outs", 0)
        self._typing_room: str | None = None
        self._typing_timer = None
        self._expect_until = self.clock.now() + EXPECT_INVITE_S if expect_invite else 0.0
        self._expect_timer = None
        self._marked: dict[str, str] = {}
        self._members_loaded: set[str] = set()
        self._listeners: list[Callable[[ViewState], None]] = []
        self._tasks: set[asyncio.Future] = set()
        self._scheduled = False
        self._closed = False
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
                and self.mode != "dashboard":
            return  # another component's room: nothing of ours changed
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
        self._stop_typing()
        self._closed = True
        self._unsubscribe()
        for handle in (self._typing_timer, self._expect_timer):
            if handle is not None:
                handle.cancel()

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
        return service.rooms.find(self.context, self.slug, self.tenant)

    def current_room_id(self) -> str | None:
        room = self.current_room()
        return room.room_id if room else None

    # -- state ------------------------------------------------------------------------
    def _compute(self) -> ViewState:
        service = self.service
        status = service.status
        state = ViewState(mode=self.mode, screen=CHAT, status=status,
                          status_text=STATUS_TEXT.get(status, status),
                          user_id=service.user_id, pane=self.pane)
        options = self.sign_in_options
        state.login = LoginView(self.login.username, self.login.error, self.login.busy,
                                method=options.method if options.oauth is not None else PASSWORD,
                                can_create=options.can_create)
        state.can_sign_out = service.session is not None and status != SIGNED_OUT
        if getattr(service, "sign_outs", 0) != self._sign_outs:
            # Signed out (here or in another component): what was typed for that user goes.
            self._sign_outs = service.sign_outs
            self._drafts.clear()
            self._draft_rev += 1
            self._confirming_sign_out = False
        if self._confirming_sign_out and state.can_sign_out:
            state.sign_out_question = sign_out_question(service.unsent_count())
        if status in (CONNECTING, OFFLINE) and service.status_message:
            state.banner = service.status_message
        room = self.current_room()
        if room is not None:
            # The expected invite came and was joined; if the room goes away later (cancelled,
            # removed), that is final, not "Joining…".
            self._expect_until = 0.0
        state.title = room.name if room and room.name else self._fallback_title()
        if not self.session_checked:
            state.screen, state.notice = CHECKING, "Starting the chat…"
        elif status == SIGNED_OUT:
            state.screen = SIGNED_OUT_SCREEN
            if not state.login.error and service.status_message:
                state.login.error = service.status_message
        elif not service.synced:
            state.screen, state.notice = LOADING, "Connecting to the chat…"
        elif self.mode == "dashboard":
            state.rooms = self._room_items(room)
        elif room is None:
            if self._waiting_for_invite():
                state.screen, state.notice = JOINING, "Joining the conversation…"
            else:
                state.screen, state.notice = NOT_FOUND, self._not_found_text()
        if state.screen == CHAT and room is not None:
            self._fill_conversation(state, room)
        elif state.screen == CHAT and self.mode == "dashboard":
            state.empty_text = ("You have no conversations yet. Attend an event or join a "
                                "group to start chatting.")
            if not state.rooms:
                state.pane = "conversation"
        # The draft follows the room even on other screens (login after expiry, offline).
        state.draft = self._drafts.get(room.room_id if room else None, "")
        state.draft_rev = self._draft_rev
        state.composer_error = self._composer_error
        return state

    def _fallback_title(self) -> str:
        return {"event": "Event chat", "group": "Group discussion"}.get(self.context, "Messages")

    def _not_found_text(self) -> str:
        what = "event" if self.context == "event" else "group"
        return (f"There is no chat for this {what} yet, or you have not been invited to it. "
                f"Attendees and members are invited automatically.")

    def _waiting_for_invite(self) -> bool:
        if self.service.rooms.find_invite(self.context, self.slug, self.tenant) is not None:
            return True
        return self.clock.now() < self._expect_until

    def expect_invite(self) -> None:
        """The host page just made us eligible (Attend): the invite is on its way."""
        self._expect_until = self.clock.now() + EXPECT_INVITE_S
        if self._expect_timer is not None:
            self._expect_timer.cancel()
        self._expect_timer = self._timer(EXPECT_INVITE_S + 0.1, self.invalidate)
        self.invalidate()

    def _fill_conversation(self, state: ViewState, room: Room) -> None:
        me = self.service.user_id
        state.room_id = room.room_id
        state.composer_enabled = True
        state.items = self._items(room, me)
        if not state.items:
            state.empty_text = {
                "event": "No messages yet. Say hello to the other attendees!",
                "group": "No messages yet. Start the group's discussion!",
            }.get(self.context, "No messages yet. Start the conversation!")
        others = [self._name(room, uid) for uid in room.typing if uid != me]
        state.typing = typing_text(others)
        if self.mode == "dashboard":
            members = sorted((self._name(room, uid) for uid in room.members), key=str.lower)
            state.info = InfoView(room.name or room.room_id, room.topic, members,
                                  max(room.member_count, len(members)))

    @staticmethod
    def _name(room: Room, user_id: str) -> str:
        if user_id not in room.members:
            # Not (yet) a loaded member: the platform slug reads better than "slug_tenant".
            slug = _platform_slug(user_id)
            if slug:
                return slug
        return room.display_name(user_id)

    def _items(self, room: Room, me: str | None) -> list[Any]:
        messages: list[Message] = room.timeline.messages
        items: list[Any] = []
        last_day = None
        previous: Message | None = None
        for message in messages:
            try:
                day = self.clock.day_key(message.ts)
                view = MessageView(
                    key=message.key, sender_id=message.sender,
                    sender_name=self._name(room, message.sender), body=message.body,
                    time_text=self.clock.time_text(message.ts), ts=message.ts,
                    mine=message.sender == me, status=message.status, error=message.error,
                )
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
        self._mark_seen(room, me, items)
        return items

    def _mark_seen(self, room: Room, me: str | None, items: list[Any]) -> None:
        confirmed = room.timeline.confirmed
        position = {m.event_id: i for i, m in enumerate(confirmed) if m.event_id}
        mine = next((i for i in range(len(confirmed) - 1, -1, -1)
                     if confirmed[i].sender == me and confirmed[i].status == SENT), None)
        if mine is None:
            return
        readers = [self._name(room, uid) for uid, event_id in room.receipts.items()
                   if uid != me and position.get(event_id, -1) >= mine]
        if not readers:
            return
        key = confirmed[mine].key
        for item in items:
            if isinstance(item, MessageView) and item.key == key:
                item.seen_by = "Seen by " + join_names(sorted(readers, key=str.lower))

    def _room_items(self, current: Room | None) -> list[RoomItem]:
        items = []
        for room in self.service.rooms.joined():
            last = room.timeline.messages[-1] if room.timeline.messages else None
            preview = ""
            if last is not None:
                who = "You" if last.sender == self.service.user_id else self._name(room, last.sender)
                preview = f"{who}: {last.body}"
            items.append(RoomItem(
                room.room_id, room.name or room.room_id, room.unread,
                preview.splitlines()[0] if preview else "", self.clock.short_when(room.last_ts),
                selected=current is not None and room.room_id == current.room_id,
            ))
        for room in self.service.rooms.invites():
            items.append(RoomItem(room.room_id, room.name or "Invitation", 0,
                                  "You are invited", "", selected=False, invite=True))
        return items

    def _after_render(self, state: ViewState) -> None:
        """Side effects of what the user now sees: read receipts and member lists."""
        room_id = state.room_id
        if room_id is None or state.screen != CHAT:
            return
        room = self.service.room(room_id)
        if room is None:
            return
        hidden_by_pane = self.mode == "dashboard" and self.narrow and state.pane != "conversation"
        if self.visible and not hidden_by_pane:
            last = room.timeline.last_event_id()
            if last and self._marked.get(room_id) != last:
                self._marked[room_id] = last
                self._spawn(self.service.mark_read(room_id))
        if self.mode == "dashboard" and room_id not in self._members_loaded:
            self._members_loaded.add(room_id)
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
        self.login.username = username

    async def submit_login(self, username: str, password: str) -> bool:
        self.login = LoginView(username, None, True)
        self.invalidate()
        try:
            await self.service.login_password(self._account_name(username), password)
        except LoginError as e:
            self.login = LoginView(username, str(e), False)
            self.invalidate()
            return False
        self.login = LoginView(username, None, False)
        self.invalidate()
        return True

    def _account_name(self, username: str) -> str:
        """People know their platform name ("alice"); their Matrix account is alice_<tenant>."""
        name = username.strip()
        if self.tenant and name and not any(c in name for c in "@:_"):
            try:
                return matrix_localpart(name, self.tenant)
            except IdentityError:
                return name  # not a platform name: the homeserver decides
        return name

    async def start_sign_in(self, create: bool = False) -> bool:
        """OAuth: leave for the auth server's page (sign in, or create an account). True when
        the browser is on its way; the drafts wait in the tab's storage until it is back."""
        oauth = self.sign_in_options.oauth
        if oauth is None:
            return False
        self._save_drafts()
        self.login = LoginView(self.login.username, None, True)
        self.invalidate()
        try:
            await oauth.sign_in(prompt="create" if create else None, login_hint=self.login_hint)
        except Exception as e:  # noqa: BLE001  (whatever went wrong, the user needs a message)
            if self.draft_store is not None:
                self.draft_store.remove(self._drafts_key())
            message = str(e) if isinstance(e, LoginError) else \
                "Signing in could not start. Check your connection and try again."
            self.login = LoginView(self.login.username, message, False)
            self.invalidate()
            return False
        return True  # stays busy: the page is being replaced

    async def sign_out(self, confirmed: bool = False) -> bool:
        """Sign out; with unsent messages, first ask (the state's sign_out_question) and
        sign out only when called again with confirmed=True. True when signed out."""
        if not confirmed and self.service.unsent_count():
            self._confirming_sign_out = True
            self.invalidate()
            return False
        self._confirming_sign_out = False
        self.login = LoginView(self.login.username, None, False)
        await self.service.logout()
        self.invalidate()
        return True

    def cancel_sign_out(self) -> None:
        self._confirming_sign_out = False
        self.invalidate()

    def set_draft(self, text: str) -> None:
        """The user edited the composer (called on every input event)."""
        room_id = self.current_room_id()
        self._drafts[room_id] = text
        if self.state.room_id == room_id:
            self.state.draft = text  # the textarea already shows it: no render needed
        if self._composer_error:
            self._composer_error = None
            self.invalidate()
        if room_id is None:
            return
        if text.strip():
            self._start_typing(room_id)
        else:
            self._stop_typing()

    def on_key(self, key: str, shift: bool = False, composing: bool = False) -> bool:
        """A key in the composer; True when the view must cancel the browser's default."""
        if key == "Enter" and not shift and not composing:
            self.send()
            return True
        return False

    def send(self) -> asyncio.Future | None:
        room = self.current_room()
        room_id = room.room_id if room else None
        text = self._drafts.get(room_id, "")
        if not text.strip() or room is None:
            return None
        self._replace_draft(room_id, "")
        return self._spawn(self._send(room_id, text.strip()))

    async def _send(self, room_id: str, body: str) -> None:
        try:
            await self.service.send_text(room_id, body)
        except ValueError as e:
            # Not even queued: put the text back unless the user already typed more.
            if not self._drafts.get(room_id):
                self._replace_draft(room_id, body)
            self._composer_error = str(e)
            self.invalidate()
        # "Stopped typing" follows the message instead of racing it to the server (each
        # wakes every member's sync); not at all if the user is typing the next one.
        if not self._drafts.get(room_id):
            self._stop_typing()

    def retry_message(self, key: str) -> asyncio.Future | None:
        room = self.current_room()
        if room is None:
            return None
        message = next((m for m in room.timeline.local if m.key == key), None)
        if message is None or message.status != FAILED:
            return None
        return self._spawn(self.service.retry(room.room_id, message.txn_id))

    def retry_connection(self) -> None:
        self.service.retry_now()

    def select_room(self, room_id: str) -> None:
        if room_id != self.current_room_id():
            self._stop_typing()
        self.selected = room_id
        self.pane = "conversation"
        self.invalidate()

    def accept_invite(self, room_id: str) -> asyncio.Future:
        self.selected = room_id
        return self._spawn(self.service.join(room_id))

    def show_pane(self, pane: str) -> None:
        """Narrow dashboard: which of list / conversation / info fills the component."""
        if pane in ("list", "conversation", "info"):
            self.pane = pane
            self.invalidate()

    # -- typing notifications ---------------------------------------------------------
    def _start_typing(self, room_id: str) -> None:
        if self._typing_room not in (None, room_id):
            self._stop_typing()
        self._typing_room = room_id
        # The service repeats a "still typing" only when the server's timeout needs it.
        self._spawn(self.service.set_typing(room_id, True))
        if self._typing_timer is not None:
            self._typing_timer.cancel()
        self._typing_timer = self._timer(TYPING_IDLE_S, self._stop_typing)

    def _stop_typing(self) -> None:
        if self._typing_timer is not None:
            self._typing_timer.cancel()
            self._typing_timer = None
        room_id, self._typing_room = self._typing_room, None
        if room_id is not None:
            self._spawn(self.service.set_typing(room_id, False))

    # -- drafts across the sign-in redirect ---------------------------------------------
    def _drafts_key(self) -> str:
        return f"{DRAFTS_PREFIX}{self.mode}.{self.context}.{self.slug or ''}"

    def _save_drafts(self) -> None:
        if self.draft_store is None:
            return
        drafts = {room_id or "": text for room_id, text in self._drafts.items() if text.strip()}
        if drafts:
            save_json(self.draft_store, self._drafts_key(), drafts)
        else:
            self.draft_store.remove(self._drafts_key())

    def _take_saved_drafts(self) -> None:
        if self.draft_store is None:
            return
        saved = load_json(self.draft_store, self._drafts_key())
        # Taken out once: a later reload starts with what the user types from now on.
        self.draft_store.remove(self._drafts_key())
        if isinstance(saved, dict):
            for room_id, text in saved.items():
                if isinstance(text, str):
                    self._drafts[room_id or None] = text
            self._draft_rev += 1

    # -- helpers ----------------------------------------------------------------------
    def _replace_draft(self, room_id: str | None, text: str) -> None:
        self._drafts[room_id] = text
        self._draft_rev += 1
        self.invalidate()

    def _spawn(self, coro) -> asyncio.Future:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Future) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            import traceback

            traceback.print_exception(task.exception())


__all__ = ["ChatViewModel", "ViewState", "MessageView", "DayView", "RoomItem", "InfoView",
           "LoginView", "SignInOptions", "OAUTH", "PASSWORD", "CHECKING", "SIGNED_OUT_SCREEN",
           "LOADING", "JOINING", "NOT_FOUND", "CHAT", "PENDING", "FAILED", "SENT"]
