"""One chat client per page: login, sync loop, room list and sending, shared by every chat
component on the page (one login, one sync loop, one room cache).

Components never talk to the network; they read this service's state and subscribe to its
changes. Changes are emitted only after a sync response has been folded in completely, so a
listener never sees half of one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from urllib.parse import quote, urlencode
from dataclasses import dataclass
from typing import Any, Callable

from nio import Api, RoomRedactResponse, RoomSendResponse

from pyapp.identity import BOT_LOCALPART, bot_user_id, should_auto_accept, split_user_id

from . import actions, direct, media, mentions, notify, presence, push_rules
from .crypto import ENCRYPTED, CryptoProvider, CryptoSession, EngineError
from .http import MatrixHttp
from .nio_client import SeamClient
from .outbox import Action, Outbox, SendRefused
from .rooms import Room, RoomList
from .session import (
    PASSWORD,
    SESSION_ENDED,
    AuthEvent,
    AuthMethod,
    LoginError,
    Session,
    SessionAdopted,
    SessionEnded,
    SessionStore,
    TokensChanged,
    login_error_message,
    password_login_body,
    session_from_login,
)
from .storage import Storage
from .sync_events import clean_page, clean_sync
from .sync_loop import CONNECTING, OFFLINE, ONLINE, SyncLoop, sync_body
from .sync_store import OpenStore, SyncPersistence
from .sync_validation import check_sync
from .timeline import Message
from .timeline_model import TOP_GAP_KEY, Gap
from .tokens import SessionExpired, TokenManager, Tokens, legacy_refresh_body, tokens_from_refresh
from .transport import NETWORK_ERRORS, HttpResponse, Transport, TransportError
from .uploads import PendingFile, Uploads

log = logging.getLogger(__name__)

SIGNED_OUT = "signed_out"
__all__ = ["ChatService", "ChatConfig", "Change", "SIGNED_OUT", "CONNECTING", "ONLINE", "OFFLINE"]

SYNC_FILTER = {
    "room": {
        "timeline": {"limit": 30},
        "state": {"lazy_load_members": True},
    },
}
PAGE_SIZE = 50  # events per back-pagination request
# Back-pagination brings the member events of the page's senders only (their names then).
PAGE_FILTER = json.dumps({"lazy_load_members": True}, separators=(",", ":"))
TYPING_RESEND_S = 20.0
TYPING_TIMEOUT_MS = 30_000
MAX_AWAITING_KEY = 1_000  # encrypted news remembered until its key comes (then the oldest go)


@dataclass
class ChatConfig:
    homeserver: str
    tenant: str | None = None
    bot_user_id: str | None = None  # the platform's bot: its invites to our tenant's rooms are accepted
    auth: str = PASSWORD


class MediaUnavailable(Exception):
    """A media download did not give the file; the message says why."""


class MediaIO:
    """How media travels: uploads with progress, downloads into something the page can show.
    Under CPython both are the service's own transport (no progress; bytes); the browser's
    (pyapp.browser.media_io) uploads with XMLHttpRequest and downloads into blob: URLs."""

    def __init__(self, transport: Transport):
        self.transport = transport

    def upload_transport(self, on_progress: Callable[[int, int], None]) -> Transport:
        return self.transport

    def download_transport(self) -> Transport:
        return self.transport

    async def decrypted(self, response: HttpResponse, decrypt, mimetype: str | None
                        ) -> HttpResponse:
        """`response` (ciphertext) decrypted by `decrypt(data)`."""
        body = await decrypt(response.body)
        return HttpResponse(200, {"content-type": mimetype or "application/octet-stream"},
                            body, response.url)


@dataclass
class Change:
    kind: str  # "status" | "rooms" | "room"
    room_id: str | None = None


Listener = Callable[[Change], None]


class ChatService:
    _shared: "ChatService | None" = None

    @classmethod
    def shared(cls, factory: Callable[[], "ChatService"] | None = None) -> "ChatService":
        """The page's one instance; the first caller provides how to build it."""
        if cls._shared is None:
            if factory is None:
                raise RuntimeError("ChatService.shared() needs a factory on first use")
            cls._shared = factory()
        return cls._shared

    def __init__(self, config: ChatConfig, transport: Transport, storage: Storage,
                 clock: Callable[[], float] = time.time,
                 token_lock: Callable[[], Any] | None = None,
                 sync_stores: OpenStore | None = None,
                 crypto: CryptoProvider | None = None):
        self.config = config
        self.transport = transport
        self.storage = storage
        self.sessions = SessionStore(storage)
        self.clock = clock
        self.token_lock = token_lock
        self.status = SIGNED_OUT
        self.status_message: str | None = None
        self.session: Session | None = None
        self.tokens: TokenManager | None = None
        self.client: SeamClient | None = None
        self.rooms = RoomList("")
        self.sync_loop: SyncLoop | None = None  # one per session
        # The sync kept across reloads (pyapp.client.sync_store): stored before the next /sync.
        self.persist = SyncPersistence(sync_stores)
        self._stored_since: str | None = None  # the token the stored rooms were resumed at
        # End-to-end encryption (pyapp.client.crypto): the provider makes a session's engine
        # when it first meets encryption; None: encrypted rooms stay unreadable.
        self.crypto_provider = crypto
        self.crypto: CryptoSession | None = None
        self._shown_stored = False
        self._listeners: list[Listener] = []
        self._typing_sent: dict[str, tuple[bool, float]] = {}
        self._read_sent: dict[str, str] = {}
        self._joining: set[str] = set()
        self._opening: dict[str, asyncio.Future] = {}  # user id -> DM being opened
        self._gaps_tried: set[tuple[str, str]] = set()  # gaps filled once by themselves (then by the user)
        self._tasks: set[asyncio.Task] = set()
        self.outbox = Outbox(storage, rooms=lambda: self.rooms.rooms, send=self._send_event,
                             emit=lambda room_id: self._emit("room", room_id),
                             spawn=self._spawn, on_expired=self._session_expired, clock=clock)
        self.media_io = MediaIO(transport)
        self._upload_limit: int | None = None
        self.uploads = Uploads(self.outbox, upload=self._upload_file, limit=self.upload_limit,
                               clock=clock, upload_encrypted=self._upload_encrypted_file)
        self.sign_outs = 0  # views drop what was typed for the previous user when it changes
        # How each kind of session (Session.auth) is refreshed and logged out. PASSWORD is
        # built in; pyapp.auth adds OAUTH through on_auth (refresh at the auth server's token
        # endpoint; logout revokes there, as /logout does not exist under delegated auth).
        self._methods: dict[str, AuthMethod] = {
            PASSWORD: AuthMethod(PASSWORD, refresh=self._legacy_refresh)}
        # The user's push rules (m.push_rules account data; fetched once per session, as the
        # stored sync keeps no account data) give each room's notification level; a level
        # being changed shows at once, until the server's rules say it.
        self.push_rules: dict | None = None
        self._levels_wanted: dict[str, str] = {}
        # Called with what each live sync brought from others (notify.Incoming messages and
        # notify.Invitation to direct chats), once it is shown: the page's notifier
        # (pyapp.ui.notifier).
        self.incoming_listeners: list[Callable[[list], None]] = []
        # Who is online, where the server tells (pyapp.client.presence): user id -> state.
        self.presence: dict[str, str] = {}
        # Messages of live syncs still encrypted (their key not here yet): event id -> room id.
        self._awaiting_key: dict[str, str] = {}

    # -- observers --------------------------------------------------------------------
    @property
    def user_id(self) -> str | None:
        return self.session.user_id if self.session else None

    @property
    def synced(self) -> bool:
        """The rooms are known: the first sync since login/restore has been applied, or the
        stored sync has been shown (a reload, before the network answers)."""
        return self.sync_loop is not None and (self.sync_loop.synced or self._shown_stored)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, kind: str, room_id: str | None = None) -> None:
        change = Change(kind, room_id)
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:  # one broken view must not stop the others or the sync loop
                log.exception("A chat listener failed")

    def _set_status(self, status: str, message: str | None = None) -> None:
        if (status, message) != (self.status, self.status_message):
            self.status, self.status_message = status, message
            self._emit("status")

    # -- what login methods tell the service ------------------------------------------
    def on_auth(self, event: AuthEvent) -> None:
        """The one way a login method tells the service about itself: a method to use for
        its sessions, a session it made, tokens it renewed, or a session that has ended."""
        if isinstance(event, AuthMethod):
            self._methods[event.name] = event
            if event.lock is not None and self.token_lock is None:
                self.token_lock = event.lock
        elif isinstance(event, SessionAdopted):
            self.sessions.save(event.session)
            self._adopt(event.session)
            self.start()
        elif isinstance(event, TokensChanged):
            self.session = event.session
            self.sessions.save(event.session)
            if self.client is not None:
                self.client.access_token = event.session.access_token
        elif isinstance(event, SessionEnded):
            self._session_expired(event.message)

    # -- session lifecycle ------------------------------------------------------------
    async def restore(self) -> bool:
        """Resume the stored session after a reload, without logging in again."""
        session = self.sessions.load()
        if session is None or session.homeserver != self.config.homeserver:
            return False
        self._adopt(session)
        await self._resume_stored()
        self.start()
        return True

    async def login_password(self, user: str, password: str) -> None:
        if not user.strip() or not password:
            raise LoginError("Enter your username and password.")
        previous = self.sessions.load()
        # Re-logins reuse the device, so read state and (later) keys survive.
        device_id = previous.device_id if previous and split_user_id(previous.user_id)[0] \
            == split_user_id(user.strip())[0] else None
        http = MatrixHttp(self.transport, self.config.homeserver)
        try:
            response = await http.request(
                "POST", "/_matrix/client/v3/login",
                password_login_body(user.strip(), password, device_id), auth=False, timeout=30,
            )
        except NETWORK_ERRORS as e:
            raise LoginError(
                f"Can't reach the homeserver at {self.config.homeserver}. "
                "Check your connection and try again."
            ) from e
        body = _json_or_none(response)
        if response.status != 200 or not isinstance(body, dict):
            raise LoginError(login_error_message(response.status, body))
        self.on_auth(SessionAdopted(session_from_login(self.config.homeserver, body,
                                                      self.clock())))

    async def login_session(self, session: Session) -> None:
        """Adopt a session another login method made (OAuth): store it and start syncing."""
        self.on_auth(SessionAdopted(session))

    def unsent_count(self) -> int:
        """Messages typed but not acknowledged by the server: what signing out discards."""
        return self.outbox.unsent_count()

    async def logout(self) -> None:
        """Sign out. Unsent messages are discarded first (memory and storage), so no later
        sign-in on this browser, by this user or another, ever sends them; the UI asks the
        user before (unsent_count)."""
        await self.stop()
        self.uploads.discard()
        self.outbox.discard()
        self.sign_outs += 1
        method = self._methods.get(self.session.auth) if self.session else None
        custom = method.logout if method else None
        if custom is not None:
            try:
                await custom(self.session)
            except NETWORK_ERRORS:
                pass  # the local session is dropped either way
        elif self.client is not None:
            try:
                await self.client.http.request("POST", "/_matrix/client/v3/logout", {},
                                               timeout=10)
            except (SessionExpired, *NETWORK_ERRORS):
                pass  # the local session is dropped either way
        self.sessions.clear()
        await self.persist.clear()
        await self._drop_crypto()
        self.session = self.tokens = self.client = self.sync_loop = None
        self.rooms = RoomList("")
        self.presence = {}
        self.push_rules = None
        self._levels_wanted.clear()
        self._set_status(SIGNED_OUT)
        self._emit("rooms")

    async def sign_out_stored(self) -> None:
        """Sign out whatever session this browser holds, resumed or only stored (the host
        page's user signed out of the platform)."""
        if self.session is None:
            session = self.sessions.load()
            if session is None or session.homeserver != self.config.homeserver:
                self.sessions.clear()
                return
            self._adopt(session)
        await self.logout()

    def _adopt(self, session: Session) -> None:
        if self.sync_loop is not None:
            self.sync_loop.detach()
        self.session = session
        method = self._methods.get(session.auth)
        self.tokens = TokenManager(
            session, method.refresh if method else None, clock=self.clock,
            lock=self.token_lock, reload=self.sessions.load,
            on_change=lambda changed: self.on_auth(TokensChanged(changed)),
        )
        self.client = SeamClient(MatrixHttp(self.transport, session.homeserver, self.tokens),
                                 session.user_id, session.device_id)
        self.rooms = RoomList(session.user_id, self._platform_bot(session.user_id))
        self.presence = {}
        self.sync_loop = SyncLoop(self._fetch_sync, self._apply_sync, on_status=self._set_status,
                                  on_expired=self._session_expired, spawn=self._spawn)
        self.outbox.restore(session.user_id)
        self.persist.open(session.user_id, session.device_id)
        self._stored_since, self._shown_stored = None, False
        self.crypto = None
        if self.crypto_provider is not None:
            provider = self.crypto_provider
            self.crypto = CryptoSession(
                self.client.http.request,
                lambda: provider.open(session.user_id, session.device_id),
                on_decrypted=self._on_decrypted, spawn=self._spawn, user_id=session.user_id,
                on_backup_change=lambda: self._emit("crypto"))

    async def _drop_crypto(self) -> None:
        """Signing out deletes this device's keys from the browser with its store."""
        crypto, self.crypto = self.crypto, None
        if crypto is not None:
            await crypto.close()
        if self.crypto_provider is not None and self.session is not None:
            try:
                await self.crypto_provider.delete(self.session.user_id, self.session.device_id)
            except Exception:  # noqa: BLE001  (sign-out goes on; logged for the developer)
                log.exception("Could not delete the encryption store")

    def is_encrypted(self, room_id: str) -> bool:
        return self.crypto is not None and self.crypto.is_encrypted(room_id)

    def _on_decrypted(self, room_id: str, events: list[dict]) -> None:
        room = self.room(room_id)
        if room is not None and room.timeline.decrypted(events):
            self._emit("room", room_id)
        late = [e for e in events if isinstance(e, dict)
                and self._awaiting_key.pop(e.get("event_id"), None) == room_id]
        if room is None or not late:
            return  # healed events shown before (a reload's, history) are not news
        news = notify.incoming(notify.room_body(room_id, late), self.user_id)
        if self._count_mentions(news):
            self._emit("rooms")
        self._tell(news)

    async def _legacy_refresh(self, session: Session) -> Tokens:
        http = MatrixHttp(self.transport, session.homeserver)
        response = await http.request(
            "POST", "/_matrix/client/v3/refresh", legacy_refresh_body(session.refresh_token),
            auth=False, timeout=30,
        )
        body = _json_or_none(response)
        if response.status == 200 and isinstance(body, dict):
            return tokens_from_refresh(body)
        if response.status in (401, 403):
            raise SessionExpired(SESSION_ENDED)
        raise TransportError(f"refresh failed with HTTP {response.status}")

    def _session_expired(self, message: str) -> None:
        """The tokens are gone for good: back to sign-in, keeping rooms and pending
        messages on screen so nothing typed is lost."""
        self.sessions.clear()
        self._spawn(self.persist.clear())
        if self.sync_loop is not None:
            self.sync_loop.detach()
        self._set_status(SIGNED_OUT, message)

    # -- sync -------------------------------------------------------------------------
    def start(self) -> None:
        if self.sync_loop is not None:
            self.sync_loop.start()

    async def stop(self) -> None:
        if self.sync_loop is not None:
            await self.sync_loop.stop()

    def retry_now(self) -> None:
        """Skip the rest of the backoff wait (user pressed Retry, or the browser is online)."""
        if self.sync_loop is not None:
            self.sync_loop.retry_now()

    async def _fetch_sync(self, since: str | None, timeout_ms: int) -> dict:
        """One /sync answer, read once: cleaned of malformed events and of what nio's schemas
        reject, stored (the write finishes while _apply_sync shows it), then folded into our
        rooms by _apply_sync."""
        # `since` tells the homeserver the previous answer arrived: it must be stored first.
        await self.persist.written()
        _, path = Api.sync("", since=since, timeout=timeout_ms or None, filter=SYNC_FILTER)
        # Give the server a chance to answer a long poll before the client gives up.
        response = await self.client.http.request(
            "GET", path, timeout=timeout_ms / 1000 + 15 if timeout_ms else 0)
        if response.status == 400 and since is not None and since == self._stored_since \
                and not self.sync_loop.synced:
            # The stored token is unknown to the homeserver (expired, or another database):
            # the stored rooms cannot be brought up to date; start again from a full sync.
            log.warning("The homeserver refused the stored sync token; doing a full sync")
            await self._drop_stored()
            return await self._fetch_sync(None, 0)
        body = sync_body(response.status, _json_or_none(response))
        for problem in clean_sync(body):
            log.warning("Malformed event in sync: %s", problem)
        for problem in check_sync(body):  # after clean_sync, which keeps nio's parsers safe
            log.warning("Invalid event in sync: %s", problem)
        await self.persist.save(body, full=since is None)  # as received: no plaintext stored
        if self.crypto is not None:
            await self.crypto.on_sync(body)
        return body

    async def _resume_stored(self) -> None:
        """Show the stored sync at once and resume the sync loop from its next_batch."""
        snapshot = await self.persist.resume()
        if snapshot is None or self.sync_loop is None:
            return
        for body in snapshot.bodies():
            if self.crypto is not None:
                self.crypto.on_stored(body)
            self.rooms.apply_sync(body)  # contained per room, like a live answer
            try:
                self._apply_account_data(body)  # the push rules: muted rooms stay quiet
            except Exception:  # noqa: BLE001  (fetched again after the first live sync)
                log.exception("Could not read the stored account data")
        self.sync_loop.next_batch = self._stored_since = snapshot.next_batch
        self._shown_stored = True
        self._emit("rooms")
        for room_id in list(self.rooms.rooms):
            self._emit("room", room_id)

    async def _drop_stored(self) -> None:
        await self.persist.drop()
        self._stored_since = None
        self.sync_loop.next_batch = None
        # What was shown from storage is replaced by the full sync's rooms.
        self.rooms = RoomList(self.session.user_id, self._platform_bot(self.session.user_id))

    def _apply_sync(self, body: dict, first: bool) -> None:
        changed = self.rooms.apply_sync(body)
        people_changed = presence.apply(self.presence, body)
        news = [] if first else notify.incoming(body, self.user_id)
        if not first:
            self._note_encrypted(body, news)
        rules_changed = False
        try:
            rules_changed = self._apply_account_data(body)
            self._accept_tenant_invites()
            self._fill_new_gaps(changed)
            if first:
                self.outbox.resend_restored()
                if self.push_rules is None:
                    self._spawn(self._load_push_rules())
        finally:  # what did apply is shown even if the follow-ups failed
            if first or changed or rules_changed or people_changed:
                self._emit("rooms")
            for room_id in changed:
                self._emit("room", room_id)
        if not first:
            self._tell(news + notify.direct_invites(body, self.user_id))

    def _tell(self, news: list) -> None:
        for listener in list(self.incoming_listeners) if news else ():
            try:
                listener(news)
            except Exception:  # noqa: BLE001  (a broken notifier must not stop the sync)
                log.exception("A notification listener failed")

    # -- encrypted news -----------------------------------------------------------------
    # A message that arrives encrypted is news when it can be read: at once, or when its key
    # comes later (then it raises the notification it would have raised). The server cannot
    # see mentions in ciphertext, so the ones this device reads are counted on the room.
    def _note_encrypted(self, body: dict, news: list) -> None:
        for room_id, event_id in notify.still_encrypted(body, self.user_id):
            self._awaiting_key[event_id] = room_id
        while len(self._awaiting_key) > MAX_AWAITING_KEY:
            self._awaiting_key.pop(next(iter(self._awaiting_key)))
        decrypted = notify.decrypted_ids(body)
        self._count_mentions([n for n in news if n.event_id in decrypted])

    def _count_mentions(self, news: list) -> bool:
        counted = False
        for message in news:
            room = self.room(message.room_id)
            if room is not None and room.unread and self.mentions_me(room, message.content):
                room.encrypted_mentions.add(message.event_id)
                counted = True
        return counted

    # -- notification levels (push rules) -----------------------------------------------
    def _apply_account_data(self, body: dict) -> bool:
        section = body.get("account_data") if isinstance(body, dict) else None
        events = section.get("events") if isinstance(section, dict) else None
        changed = False
        for event in events if isinstance(events, list) else ():
            if not isinstance(event, dict) or not isinstance(event.get("content"), dict):
                continue
            if event.get("type") == push_rules.PUSH_RULES_TYPE:
                self._set_push_rules(event["content"])
                changed = True
        return changed

    def _set_push_rules(self, rules: dict) -> None:
        self.push_rules = rules
        for room_id, wanted in list(self._levels_wanted.items()):
            if push_rules.level(rules, room_id) == wanted:
                self._levels_wanted.pop(room_id, None)

    async def _load_push_rules(self) -> None:
        if self.client is None:
            return
        try:
            response = await self.client.http.request("GET", "/_matrix/client/v3/pushrules/",
                                                      timeout=30)
        except (SessionExpired, *NETWORK_ERRORS) as e:
            log.warning("Could not load the push rules: %s", e)
            return
        body = _json_or_none(response)
        if response.status == 200 and isinstance(body, dict) and self.push_rules is None:
            self._set_push_rules(body)
            self._emit("rooms")
            for room_id in push_rules.levels(body):
                self._emit("room", room_id)

    def notify_level(self, room_id: str) -> str:
        """The room's notification level: all | mentions | mute (pyapp.client.push_rules)."""
        wanted = self._levels_wanted.get(room_id)
        return wanted or push_rules.level(self.push_rules, room_id)

    def is_direct(self, room_id: str) -> bool:
        return self.rooms.dm_partner(room_id) is not None

    def mentions_me(self, room: Room, content: dict) -> bool:
        me = self.user_id
        return mentions.mentions_user(content, me, [room.members.get(me or "") or ""])

    def badge(self, room: Room) -> tuple[int, int]:
        """(unread, mentions) the room's badge shows at its notification level."""
        return push_rules.badge(self.notify_level(room.room_id), room.unread, room.mentions)

    def unread_totals(self) -> tuple[int, int]:
        return notify.totals(self.rooms.joined(), self.notify_level)

    async def set_notify_level(self, room_id: str, level: str) -> None:
        """Store the room's level as the user's push rules on the homeserver. Raises
        ValueError with what to tell the user when the server refuses it."""
        if self.client is None:
            raise ValueError("Sign in to change notifications.")
        requests = push_rules.changes(room_id, level)
        before = self._levels_wanted.get(room_id)
        self._levels_wanted[room_id] = level
        self._emit("rooms")
        self._emit("room", room_id)
        try:
            for change in requests:
                response = await self.client.http.request(
                    change.method, change.path, change.body if change.body is not None else None,
                    timeout=30)
                if response.status >= 400 and not (change.method == "DELETE"
                                                   and response.status == 404):
                    raise ValueError("The notification setting could not be saved "
                                     f"(HTTP {response.status}). Try again.")
        except (SessionExpired, *NETWORK_ERRORS) as e:
            self._restore_level(room_id, before)
            raise ValueError("The notification setting could not be saved: "
                             "no connection. Try again.") from e
        except ValueError:
            self._restore_level(room_id, before)
            raise

    def _restore_level(self, room_id: str, before: str | None) -> None:
        if before is None:
            self._levels_wanted.pop(room_id, None)
        else:
            self._levels_wanted[room_id] = before
        self._emit("rooms")
        self._emit("room", room_id)

    # -- history ----------------------------------------------------------------------
    async def paginate(self, room_id: str, gap_key: str = TOP_GAP_KEY,
                       limit: int = PAGE_SIZE) -> bool:
        """Load one page of the events missing at the gap `gap_key` of a room's timeline
        (the top gap: earlier history; another gap: what a `limited` sync skipped), from the
        gap's token backwards. While it loads the gap says so. True when the page was taken
        in; False when there is nothing to load, it is already loading, or it failed (the gap
        stays, to be tried again)."""
        room = self.room(room_id)
        gap = room.timeline.item(gap_key) if room is not None else None
        if self.client is None or not isinstance(gap, Gap) or gap.loading:
            return False
        if gap.token is None and gap_key != TOP_GAP_KEY:
            return False  # nothing to fetch it from; shown as missing
        query = {"dir": "b", "limit": str(limit), "filter": PAGE_FILTER}
        if gap.token is not None:  # the top gap without one: from the room's latest event
            query["from"] = gap.token
        path = f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/messages?{urlencode(query)}"
        room.timeline.set_gap_loading(gap_key, True)
        self._emit("room", room_id)
        body = None
        try:
            response = await self.client.http.request("GET", path, timeout=30)
            body = _json_or_none(response) if response.status == 200 else None
            if body is None:
                log.warning("Back-pagination of %s failed: HTTP %s", room_id, response.status)
        except (SessionExpired, *NETWORK_ERRORS) as e:
            log.warning("Back-pagination of %s failed: %s", room_id, e)
        if self.room(room_id) is not room:
            return False  # signed out or left meanwhile
        taken = False
        if isinstance(body, dict):
            for problem in clean_page(body):
                log.warning("Malformed event in /messages: %s", problem)
            taken = True
            if self.crypto is not None and isinstance(body.get("chunk"), list):
                await self.crypto.decrypt_page(room_id, body["chunk"])
            self.rooms.apply_page(room_id, body, gap_key)
        room.timeline.set_gap_loading(gap_key, False)
        self._emit("room", room_id)
        return taken

    def _fill_new_gaps(self, room_ids) -> None:
        """A `limited` sync skipped events: fetch them at once rather than show a hole (one
        page; more stays a gap the user can load)."""
        for room_id in room_ids:
            room = self.room(room_id)
            if room is None or room.membership != "join":
                continue
            for item in room.timeline.items():
                if isinstance(item, Gap) and item.key != TOP_GAP_KEY and not item.loading \
                        and (room_id, item.key) not in self._gaps_tried:
                    self._gaps_tried.add((room_id, item.key))
                    self._spawn(self.paginate(room_id, item.key))

    # -- invites ----------------------------------------------------------------------
    def _accept_tenant_invites(self) -> None:
        """Rooms the platform's bot invites us to for our own tenant join by themselves, so
        the chat appears without manual steps; anything else waits for the user."""
        bot = self.config.bot_user_id
        bot_localpart = split_user_id(bot)[0] if bot else BOT_LOCALPART
        for room in self.rooms.invites():
            if (room.room_id not in self._joining and should_auto_accept(
                    room.inviter, room.metadata, self.session.user_id, bot_localpart)):
                self._spawn(self.join(room.room_id))

    def _platform_bot(self, user_id: str) -> str | None:
        """The bot whose room metadata is believed: the configured one, else the default bot
        of the user's own server."""
        if self.config.bot_user_id:
            return self.config.bot_user_id
        server = split_user_id(user_id)[1]
        return bot_user_id(server) if server else None

    async def join(self, room_id: str) -> bool:
        if self.client is None:
            return False
        self._joining.add(room_id)
        try:
            response = await self.client.join(room_id)
        except (SessionExpired, *NETWORK_ERRORS):
            return False
        finally:
            self._joining.discard(room_id)
        return getattr(response, "room_id", None) == room_id

    # -- direct messages --------------------------------------------------------------
    def may_message(self, user_id: str) -> bool:
        """Whether "Message" is offered for `user_id`: someone else of my own community."""
        return direct.may_message(self.user_id, user_id, self.rooms.bot_user_id)

    async def open_dm(self, user_id: str) -> str:
        """The id of my DM with `user_id`, reused (m.direct) or made the standard way and
        held once the sync has brought it. Raises ValueError with what to tell the user."""
        if self.client is None:
            raise ValueError("Sign in to send messages.")
        if not self.may_message(user_id):
            raise ValueError("You can only message people of your own community.")
        pending = self._opening.get(user_id)
        if pending is None:
            pending = self._opening[user_id] = asyncio.ensure_future(self._open_dm(user_id))
            pending.add_done_callback(lambda _: self._opening.pop(user_id, None))
        return await asyncio.shield(pending)

    async def _open_dm(self, user_id: str) -> str:
        room = self.rooms.dm_room(user_id)
        if room is not None:
            return room.room_id
        invite = self.rooms.dm_invite(user_id)
        if invite is not None:  # they asked first: asking to chat with them accepts it
            if not await self.accept_invite(invite.room_id):
                raise ValueError("The invitation could not be accepted. Try again.")
            await self._wait_for_room(invite.room_id)
            return invite.room_id
        # Not known here: the server's m.direct is the truth (another client of mine may have
        # made one since, or this page has not synced it yet).
        content = await self._get_direct()
        self._take_direct(content)
        room = self.rooms.dm_room(user_id)
        if room is not None:
            return room.room_id
        try:
            response = await self.client.http.request(
                "POST", "/_matrix/client/v3/createRoom", direct.create_body(user_id), timeout=30)
        except (SessionExpired, *NETWORK_ERRORS) as e:
            raise ValueError("The conversation could not be started: no connection.") from e
        body = _json_or_none(response)
        room_id = body.get("room_id") if isinstance(body, dict) else None
        if response.status != 200 or not isinstance(room_id, str):
            reason = body.get("error") if isinstance(body, dict) else None
            raise ValueError(f"The conversation could not be started: "
                             f"{reason or f'the server answered {response.status}'}.")
        await self._add_direct(user_id, room_id, content)
        await self._wait_for_room(room_id)
        return room_id

    async def _get_direct(self) -> dict | None:
        path = (f"/_matrix/client/v3/user/{quote(self.user_id, safe='')}/account_data/"
                f"{direct.DIRECT_TYPE}")
        try:
            response = await self.client.http.request("GET", path, timeout=30)
        except (SessionExpired, *NETWORK_ERRORS):
            return None
        body = _json_or_none(response)
        if response.status == 404:
            return {}
        return body if response.status == 200 and isinstance(body, dict) else None

    def _take_direct(self, content: dict | None) -> None:
        if content is not None:
            changed = self.rooms.set_direct(content)
            self._emit("rooms")
            for room_id in changed:
                self._emit("room", room_id)

    async def _add_direct(self, user_id: str, room_id: str, content: dict | None = None) -> None:
        """List `room_id` as my DM with `user_id` in m.direct (read just before, so what other
        clients wrote is kept). A failure leaves the room, just not listed as a DM."""
        if content is None:
            content = await self._get_direct()
        new = direct.with_room(content if content is not None else self.rooms.direct_raw,
                               user_id, room_id)
        path = (f"/_matrix/client/v3/user/{quote(self.user_id, safe='')}/account_data/"
                f"{direct.DIRECT_TYPE}")
        try:
            response = await self.client.http.request("PUT", path, new, timeout=30)
        except (SessionExpired, *NETWORK_ERRORS):
            log.warning("Could not list %s as a direct chat", room_id)
            return
        if response.status == 200:
            self._take_direct(new)
        else:
            log.warning("m.direct not updated: HTTP %s", response.status)

    async def _wait_for_room(self, room_id: str, timeout: float = 30.0) -> None:
        """Until the sync has brought a room I just made or joined (or the timeout)."""
        if self.room(room_id) is not None and self.room(room_id).membership == "join":
            return
        arrived = asyncio.get_event_loop().create_future()

        def on_change(_change: Change) -> None:
            room = self.room(room_id)
            if room is not None and room.membership == "join" and not arrived.done():
                arrived.set_result(None)

        unsubscribe = self.subscribe(on_change)
        try:
            await asyncio.wait_for(arrived, timeout)
        except asyncio.TimeoutError:
            log.warning("Room %s did not arrive in the sync", room_id)
        finally:
            unsubscribe()

    async def accept_invite(self, room_id: str) -> bool:
        """Join a room I am invited to; a DM invitation also lists it in my m.direct."""
        room = self.room(room_id)
        inviter = room.inviter if room is not None and room.invite_direct else None
        joined = await self.join(room_id)
        if joined and inviter and self.may_message(inviter):
            await self._add_direct(inviter, room_id)
        return joined

    async def decline_invite(self, room_id: str) -> bool:
        if self.client is None:
            return False
        try:
            response = await self.client.http.request(
                "POST", f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/leave", {},
                timeout=30)
        except (SessionExpired, *NETWORK_ERRORS):
            return False
        return response.status == 200

    # -- messages ---------------------------------------------------------------------
    def room(self, room_id: str) -> Room | None:
        return self.rooms.rooms.get(room_id)

    async def send_text(self, room_id: str, body: str, reply_to: str | None = None,
                        mentions: list | None = None) -> Message:
        """Send a message; `reply_to` makes it a reply to that event (which must be held);
        `mentions` are the composer's pills (pyapp.client.mentions.Pill) it may hold."""
        if self.session is None:
            raise ValueError("This conversation is not available.")
        content = None
        if mentions:
            content = _mention_content(body, mentions)
        if reply_to is not None:
            target = self._message(room_id, reply_to)
            if target is None or target.redacted:
                raise ValueError("The message you replied to is no longer available.")
            reply = actions.reply_content(body, reply_to, target.sender, self.user_id)
            if content is not None:
                named = content.pop("m.mentions", {}).get("user_ids", [])
                ids = reply["m.mentions"]["user_ids"]
                reply.update(content)
                reply["m.mentions"] = {"user_ids": ids + [u for u in named if u not in ids]}
            content = reply
        return await self.outbox.send_text(room_id, body, content)

    async def retry(self, room_id: str, txn_id: str) -> None:
        if self.uploads.owns(txn_id):
            await self.uploads.retry(room_id, txn_id)
        else:
            await self.outbox.retry(room_id, txn_id)

    # -- images and files -------------------------------------------------------------
    async def send_file(self, room_id: str, file: PendingFile) -> Message:
        """Upload a file and send it as a message (ValueError when it cannot be sent: too
        large for the server, empty)."""
        if self.session is None:
            raise ValueError("This conversation is not available.")
        # In an encrypted room the file is encrypted before it leaves (the engine's
        # attachment encryption): the server's media store holds only ciphertext.
        return await self.uploads.send(room_id, file, encrypted=self.is_encrypted(room_id))

    def cancel_upload(self, room_id: str, txn_id: str) -> bool:
        return self.uploads.cancel(room_id, txn_id)

    async def upload_limit(self) -> int | None:
        """The homeserver's upload limit in bytes (asked once per session), None if it does
        not say."""
        if self._upload_limit is None and self.client is not None:
            response = await self.client.http.request("GET", media.CONFIG_PATH, timeout=30)
            if response.status == 200:
                self._upload_limit = media.upload_limit(_json_or_none(response))
        return self._upload_limit

    async def _upload_file(self, file: PendingFile, on_progress) -> str:
        path = f"{media.UPLOAD_PATH}?{urlencode({'filename': media.safe_filename(file.name)})}"
        return await self._post_upload(path, file.data,
                                       file.mimetype or "application/octet-stream", on_progress)

    async def _upload_encrypted_file(self, file: PendingFile, on_progress) -> tuple[str, dict]:
        """Encrypted, then uploaded as anonymous bytes: no name, no type (both are in the
        encrypted message only)."""
        if self.crypto is None:
            raise EngineError("Encryption is not available")
        data, encryption = await self.crypto.encrypt_attachment(file.data)
        mxc = await self._post_upload(media.UPLOAD_PATH, data, "application/octet-stream",
                                      on_progress)
        return mxc, encryption

    async def download_decrypted(self, path: str, file: dict, mimetype: str | None
                                 ) -> HttpResponse:
        """An encrypted attachment downloaded and decrypted (in the browser the answer's
        blob: URL is the clear file's); MediaUnavailable when it cannot be."""
        response = await self.download(path)
        if self.crypto is None:
            raise MediaUnavailable("Encryption is not available.")
        try:
            return await self.media_io.decrypted(
                response, lambda data: self.crypto.decrypt_attachment(data, file), mimetype)
        except EngineError as e:
            raise MediaUnavailable(f"It could not be decrypted ({e}).") from None

    async def _post_upload(self, path: str, data, content_type: str, on_progress) -> str:
        if self.client is None:
            raise TransportError("signed out")
        response = await self.client.http.request(
            "POST", path, data, timeout=0, headers={"Content-Type": content_type},
            transport=self.media_io.upload_transport(on_progress))
        body = _json_or_none(response)
        if response.status == 200 and isinstance(body, dict):
            return str(body.get("content_uri") or "")
        if response.status == 413:
            raise SendRefused("the file is larger than the server accepts")
        error = body.get("error") if isinstance(body, dict) else None
        raise SendRefused(error if isinstance(error, str) and error
                          else f"the server refused the upload (HTTP {response.status})")

    async def download(self, path: str) -> HttpResponse:
        """A media download or thumbnail (a path of pyapp.client.media), with the token in
        the Authorization header. In the browser the answer carries a blob: URL."""
        if self.client is None:
            raise MediaUnavailable("Signed out.")
        try:
            response = await self.client.http.request(
                "GET", path, timeout=120, transport=self.media_io.download_transport())
        except (SessionExpired, *NETWORK_ERRORS) as e:
            raise MediaUnavailable("It could not be loaded (no connection).") from e
        if response.status != 200:
            raise MediaUnavailable("It is not available on the server." if response.status
                                   in (404, 502) else f"It could not be loaded "
                                   f"(HTTP {response.status}).")
        return response

    def _message(self, room_id: str, event_id: str) -> Message | None:
        room = self.room(room_id)
        return room.timeline.message(event_id) if room is not None else None

    async def edit(self, room_id: str, event_id: str, body: str,
                   mentions: list | None = None) -> Action | None:
        """Replace the text of my message `event_id` (None: nothing changed); `mentions` are
        the composer's pills, as for send_text."""
        target = self._message(room_id, event_id)
        if target is None or target.sender != self.user_id or target.redacted:
            raise ValueError("Only your own messages can be edited.")
        problem = actions.text_problem(body)
        if problem:
            raise ValueError(problem)
        if body == target.body:
            return None
        before = [p.user_id for p in _pills_of(target)]
        new = _mention_content(body, mentions) if mentions else None
        return await self.outbox.send_action(
            room_id, "m.room.message", actions.edit_content(body, event_id, new, before), "Edit")

    def pills_of(self, room_id: str, event_id: str) -> list:
        """The mention pills of my message `event_id`, for the composer editing it."""
        target = self._message(room_id, event_id)
        return _pills_of(target) if target is not None else []

    async def toggle_reaction(self, room_id: str, event_id: str, key: str) -> Action | None:
        """React with `key`, or take my `key` reaction back (redacting it). None: nothing to
        do (my reaction is still on its way)."""
        problem = actions.reaction_key_problem(key)
        if problem:
            raise ValueError(problem)
        target = self._message(room_id, event_id)
        if target is None or target.redacted:
            raise ValueError("This message can no longer be reacted to.")
        room = self.room(room_id)
        mine = next((r for r in target.reactions if r.key == key
                     and self.user_id in r.senders), None)
        if mine is not None:
            reaction_id = room.timeline.reaction_event(event_id, key, self.user_id)
            if reaction_id is None:
                return None
            return await self.outbox.send_action(room_id, actions.REDACTION_TYPE,
                                                 {"redacts": reaction_id}, "Removing the reaction")
        return await self.outbox.send_action(room_id, actions.REACTION_TYPE,
                                             actions.reaction_content(event_id, key), "Reaction")

    def can_delete(self, room_id: str, sender: str) -> bool:
        room = self.room(room_id)
        return room is not None and actions.can_delete(room.power_levels, self.user_id, sender)

    async def delete(self, room_id: str, event_id: str) -> Action:
        target = self._message(room_id, event_id)
        if target is None or target.redacted:
            raise ValueError("This message is already gone.")
        if not self.can_delete(room_id, target.sender):
            raise ValueError("You cannot delete this message.")
        return await self.outbox.send_action(room_id, actions.REDACTION_TYPE,
                                             {"redacts": event_id}, "Deleting")

    def failed_actions(self, room_id: str) -> list[Action]:
        return self.outbox.failed_actions(room_id)

    async def retry_action(self, txn_id: str) -> None:
        await self.outbox.retry_action(txn_id)

    def dismiss_action(self, txn_id: str) -> None:
        self.outbox.dismiss_action(txn_id)

    async def _send_event(self, room_id: str, content: dict, txn_id: str,
                          event_type: str = "m.room.message") -> str:
        if self.client is None:
            raise TransportError("signed out")
        if event_type == actions.REDACTION_TYPE:
            response = await self.client.room_redact(room_id, content["redacts"], tx_id=txn_id)
            if isinstance(response, RoomRedactResponse):
                return response.event_id
        else:
            if self.is_encrypted(room_id):
                try:
                    content = await self.crypto.encrypt(room_id, event_type, content)
                except EngineError as e:
                    raise SendRefused(str(e)) from None
                event_type = ENCRYPTED
            response = await self.client.room_send(room_id, event_type, content, tx_id=txn_id,
                                                   ignore_unverified_devices=True)
            if isinstance(response, RoomSendResponse):
                return response.event_id
        raise SendRefused(getattr(response, "message", None) or "the server refused it")

    # -- typing and read state --------------------------------------------------------
    async def set_typing(self, room_id: str, typing: bool) -> None:
        """Tell the room we are (not) typing; repeats are sent only when the server's
        typing timeout would otherwise run out."""
        last = self._typing_sent.get(room_id)
        now = self.clock()
        if last and last[0] == typing and (not typing or now - last[1] < TYPING_RESEND_S):
            return
        self._typing_sent[room_id] = (typing, now)
        try:
            await self.client.room_typing(room_id, typing, timeout=TYPING_TIMEOUT_MS)
        except (SessionExpired, *NETWORK_ERRORS):
            self._typing_sent.pop(room_id, None)

    async def mark_read(self, room_id: str) -> None:
        room = self.room(room_id)
        last = room.timeline.confirmed[-1] if room and room.timeline.confirmed else None
        event_id = last.event_id if last else None
        if not event_id or self._read_sent.get(room_id) == event_id:
            return
        if last.sender == self.user_id and not room.unread:
            return  # our own message, nothing unread before it: no receipt needed
        self._read_sent[room_id] = event_id
        try:
            await self.client.room_read_markers(room_id, event_id, event_id)
        except (SessionExpired, *NETWORK_ERRORS):
            self._read_sent.pop(room_id, None)

    async def load_members(self, room_id: str) -> None:
        room = self.room(room_id)
        if room is None or self.client is None:
            return
        try:
            response = await self.client.joined_members(room_id)
        except (SessionExpired, *NETWORK_ERRORS):
            return
        members = getattr(response, "members", None)
        if members is not None:
            self.rooms.set_joined_members(room_id, {m.user_id: m.display_name or ""
                                                    for m in members})
            self._emit("room", room_id)

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _pills_of(message: Message) -> list:
    try:
        return mentions.pills_in(message.body, message.formatted_body)
    except Exception:  # noqa: BLE001  (an edit without its pills still sends the text)
        log.exception("Could not read the mentions of a message")
        return []


def _mention_content(body: str, pills: list) -> dict | None:
    """The content naming the pills' users; None (the plain message) if they cannot be read:
    what was typed is sent either way."""
    try:
        return mentions.message_content(body, pills)
    except Exception:  # noqa: BLE001
        log.exception("Could not make the mentions of a message")
        return None


def _json_or_none(response: HttpResponse) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
