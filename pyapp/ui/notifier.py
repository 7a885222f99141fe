"""The page's side of notifications (browser only): one per page, for every chat component.

- Browser notifications for live messages the rules of pyapp.client.notify pick (a mention or
  a direct message, the page hidden, the room not muted), and for a new direct chat's
  invitation (its first message cannot be read before it is accepted). Permission is asked only from a
  user's gesture (`ask_permission`, called by the view when the user sends a message or
  changes a room's notification setting), never at load; without it nothing is shown.
  Clicking one focuses the page and the chat in that room.
- The host page is told the total unread and mention counts (each room at its level) by the
  DOM event `om-chat:unread` on `window`, detail `{unread, mentions}`, whenever they change;
  the last one is also `window.omChat.unread`. Documented in the README ("Embed the chat").
"""

from __future__ import annotations

import logging
from typing import Callable

from pyapp.client import notify
from pyapp.client.direct import same_community
from pyapp.client.service import ChatService

from .format import member_name

log = logging.getLogger(__name__)

UNREAD_EVENT = "om-chat:unread"

_asked = False


def ask_permission() -> None:
    """Ask for notification permission once per page, if the browser has not been told yet.
    Call only while handling a user's gesture."""
    global _asked
    import js

    if _asked:
        return
    _asked = True
    try:
        notification = getattr(js.window, "Notification", None)
        if notification is not None and str(notification.permission) == "default":
            notification.requestPermission()
    except Exception:  # noqa: BLE001  (no notifications in this browser: nothing to ask)
        log.exception("Could not ask for notification permission")


class Notifier:
    def __init__(self, service: ChatService, focus_room: Callable[[str], None]):
        self.service = service
        self.focus_room = focus_room
        self._last: tuple[int, int] | None = None
        self._scheduled = False
        self._proxies: list = []
        self._shown: list = []  # open notifications, closed when the page is shown again
        service.incoming_listeners.append(self.on_incoming)
        service.subscribe(lambda change: self._schedule())
        self._schedule()

    # -- browser notifications -----------------------------------------------------------
    def on_incoming(self, messages: list[notify.Incoming]) -> None:
        import js

        hidden = str(js.document.visibilityState) != "visible"
        for message in messages:
            if isinstance(message, notify.Invitation):
                if hidden:
                    room = self.service.room(message.room_id)
                    name = member_name(room, message.inviter) if room is not None \
                        else message.inviter
                    self.show(notify.invitation_notice(
                        message, sender_name=name,
                        outside=not same_community(self.service.user_id, message.inviter)))
                continue
            room = self.service.room(message.room_id)
            if room is None:
                continue
            direct = self.service.is_direct(message.room_id)
            mentions_me = self.service.mentions_me(room, message.content)
            if not notify.should_notify(level=self.service.notify_level(message.room_id),
                                        direct=direct, mentions_me=mentions_me, hidden=hidden):
                continue
            self.show(notify.notice(message, room_name=room.name or "a chat",
                                    sender_name=member_name(room, message.sender),
                                    direct=direct, mentions_me=mentions_me))

    def show(self, notice: notify.Notice) -> None:
        import js
        from pyodide.ffi import create_proxy

        api = getattr(js.window, "Notification", None)
        if api is None or str(api.permission) != "granted":
            return
        options = js.Object.fromEntries([["body", notice.body], ["tag", notice.tag]])
        try:
            shown = api.new(notice.title, options)
        except Exception:  # noqa: BLE001  (e.g. a browser that wants a service worker)
            log.exception("Could not show a notification")
            return

        def clicked(*_):
            js.window.focus()
            try:
                self.focus_room(notice.room_id)
            finally:
                shown.close()

        proxy = create_proxy(clicked)
        self._proxies.append(proxy)
        del self._proxies[:-50]  # old notifications are long gone
        shown.addEventListener("click", proxy)

    # -- the host page's unread counts -----------------------------------------------------
    def _schedule(self) -> None:
        if self._scheduled:
            return
        self._scheduled = True
        import asyncio

        asyncio.get_event_loop().call_soon(self._tell_host)

    def _tell_host(self) -> None:
        import js

        self._scheduled = False
        service = self.service
        totals = service.unread_totals() if service.session is not None else (0, 0)
        if totals == self._last:
            return
        self._last = totals
        detail = js.Object.fromEntries([["unread", totals[0]], ["mentions", totals[1]]])
        loader = getattr(js.window, "omChat", None)
        if loader is not None:
            loader.unread = detail
        init = js.Object.fromEntries([["detail", detail]])
        js.window.dispatchEvent(js.CustomEvent.new(UNREAD_EVENT, init))
