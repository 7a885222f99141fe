"""Renders a ChatViewModel's state into an <om-chat> element (browser only: uses `js`).
It builds the elements of the parts the component's mode has (pyapp.ui.modes).

The skeleton is built once; renders only toggle, update and insert what changed. Messages are
keyed by Message.key, so a local echo is confirmed in place instead of being replaced. The
composer's textarea is never re-created (focus, caret and typed text survive every render) and
its value is only written when the view model itself changed the draft (after a send).
"""

from __future__ import annotations

import asyncio
import logging

import js
from pyodide.ffi import create_proxy, to_js

from . import notifier, sanitize
from .dom import h
from .media_dom import (EMPTY_PASTE, NOT_A_FILE, Lightbox, MediaLoader, files_of,
                        media_element, pending_file)
from .media_dom import fill_avatars
from .message_menu import MessageMenu
from .parts.key_backup import FILE_NAME as KEY_FILE_NAME
from .people import initials as initials_of
from .viewmodel import (CHAT, INVITED, OAUTH, REACT, SIGNED_OUT_SCREEN, ChatViewModel, DayView,
                        GapView, MembersView, MessageView, StartView, ViewState)

log = logging.getLogger(__name__)

NARROW_PX = 700  # below this width the dashboard shows one pane at a time
PINNED_SLACK_PX = 48  # "at the bottom" tolerance, so sub-pixel scroll positions still count
LOAD_AHEAD_PX = 400  # earlier messages are asked for this far before the top is reached
ROOM_PARAM = "room"  # the dashboard's selected room, in the page's URL


def show(el, visible: bool) -> None:
    el.hidden = not visible


class ChatView:
    _count = 0

    def __init__(self, element, vm: ChatViewModel):
        ChatView._count += 1
        self.uid = f"omc{ChatView._count}"
        self.element = element
        self.vm = vm
        self._proxies = []  # kept alive as long as the view: the DOM holds only JS references
        self._listeners = []  # (target, event, proxy): window's outlive the view, so removed
        self._observers = []
        self._rendered: dict[str, tuple] = {}  # message key -> signature last rendered
        self._nodes: dict[str, object] = {}
        self._order: list[str] = []  # keys of the items in self.messages, in DOM order
        self._list_nodes: dict[str, object] = {}
        self._list_sigs: dict[str, tuple] = {}
        self._room_id: str | None = None
        self._draft_rev = -1
        self._last_screen = None
        self._items: dict[str, MessageView] = {}  # message key -> what it shows (for its menu)
        self._scrolled_to: tuple | None = None
        self._target_key: str | None = None
        self.loader = MediaLoader(vm.service)
        self._build()
        self._unsubscribe = vm.subscribe(self.render)
        self.render(vm.state)

    # -- skeleton ---------------------------------------------------------------------
    def _on(self, target, event: str, fn) -> None:
        proxy = create_proxy(fn)
        self._proxies.append(proxy)
        self._listeners.append((target, event, proxy))
        target.addEventListener(event, proxy)

    def _build(self) -> None:
        vm, uid, layout = self.vm, self.uid, self.vm.layout
        root = self.root = h("div", f"omc omc--{vm.mode}")
        if layout.header:
            header = h("header", "omc-header")
            self.title = h("h2", "omc-title")
            self.conn = h("span", "omc-conn", role="status")
            self.header_sign_out = h("button", "omc-btn omc-btn--link omc-btn--small",
                                     "Sign out", type="button", data_action="sign-out")
            self.lock = _lock()
            end = h("span", "omc-header-end")
            self.header_mentions = h("span", "omc-mention-count omc-header-mentions")
            self.header_mentions.hidden = True
            end.append(self.lock, self.header_mentions, self._notify_select("header"),
                       self.conn, self.header_sign_out)
            header.append(self.title, end)
            root.append(header)
        self.banner = h("div", "omc-banner", role="alert")
        self.banner_text = h("span", "omc-banner-text")
        banner_retry = h("button", "omc-btn omc-btn--small", "Retry", type="button",
                         data_action="retry-connection")
        self.banner.append(self.banner_text, banner_retry)
        root.append(self.banner)
        # Sign-out with unsent messages: said before they are discarded.
        self.confirm = h("div", "omc-confirm", role="alertdialog", aria_label="Sign out",
                         aria_describedby=f"{uid}-confirm")
        self.confirm_text = h("p", "omc-confirm-text", id=f"{uid}-confirm")
        self.confirm_cancel = h("button", "omc-btn omc-btn--small", "Keep them", type="button",
                                data_action="sign-out-cancel")
        confirm_buttons = h("span", "omc-confirm-actions")
        confirm_buttons.append(
            self.confirm_cancel,
            h("button", "omc-btn omc-btn--small omc-btn--danger", "Discard and sign out",
              type="button", data_action="sign-out-confirm"))
        self.confirm.append(self.confirm_text, confirm_buttons)
        self.confirm.hidden = True
        root.append(self.confirm)

        self._build_key_backup(root)

        main = h("div", "omc-main")
        root.append(main)
        # Sign-in form.
        self.login = h("form", "omc-login", novalidate="")
        self.login.append(h("h2", "omc-login-title", "Sign in to chat"))
        self.login_error = h("p", "omc-login-error", role="alert")
        user_label = h("label", "omc-label", "Username", for_=f"{uid}-user")
        self.user_input = h("input", "omc-input", id=f"{uid}-user", name="username",
                            autocomplete="username", autocapitalize="none", spellcheck="false",
                            required="")
        pass_label = h("label", "omc-label", "Password", for_=f"{uid}-pass")
        self.pass_input = h("input", "omc-input", id=f"{uid}-pass", name="password",
                            type="password", autocomplete="current-password", required="")
        self.login_button = h("button", "omc-btn omc-btn--primary", "Sign in", type="submit")
        self.login.append(self.login_error, user_label, self.user_input, pass_label,
                          self.pass_input, self.login_button)
        main.append(self.login)
        # OAuth: signing in happens on the auth server's page; the browser comes back here.
        self.oauth = h("div", "omc-login omc-oauth")
        self.oauth_error = h("p", "omc-oauth-error", role="alert")
        self.oauth_button = h("button", "omc-btn omc-btn--primary", "Sign in", type="button",
                              data_action="oauth-sign-in")
        self.create_button = h("button", "omc-btn", "Create account", type="button",
                               data_action="oauth-create")
        self.oauth.append(h("h2", "omc-login-title", "Sign in to chat"), self.oauth_error,
                          h("p", "omc-login-note", "You sign in on the community's sign-in "
                                                   "page, then come straight back here."),
                          self.oauth_button, self.create_button)
        main.append(self.oauth)
        self._on(self.login, "submit", self._submit_login)
        self._on(self.user_input, "input", lambda e: vm.set_username(self.user_input.value))

        self.notice = h("div", "omc-notice", role="status")
        self.notice_text = h("p", "omc-notice-text")
        self.notice.append(h("span", "omc-spinner", aria_hidden="true"), self.notice_text)
        main.append(self.notice)
        # An invitation (a DM sidebar whose person invited me): accepted or declined by hand.
        self.invite_box = h("div", "omc-invitation", role="region", aria_label="Invitation")
        self.invite_text = h("p", "omc-invitation-text")
        self.invite_outside = h("p", "omc-outside", "This person is not in your community.")
        buttons = h("span", "omc-invitation-actions")
        self.invite_accept = h("button", "omc-btn omc-btn--primary", "Accept", type="button",
                               data_action="join-room")
        self.invite_decline = h("button", "omc-btn", "Decline", type="button",
                                data_action="decline-room")
        buttons.append(self.invite_accept, self.invite_decline)
        self.invite_error = h("p", "omc-composer-error", role="alert")
        self.invite_box.append(self.invite_text, self.invite_outside, buttons, self.invite_error)
        self.invite_box.hidden = True
        main.append(self.invite_box)

        if layout.room_list:
            self.list = h("nav", "omc-list", aria_label="Chats")
            list_head = h("div", "omc-list-head")
            list_head.append(h("h2", "omc-list-title", "Chats"),
                             h("button", "omc-btn omc-btn--link", "Sign out", type="button",
                               data_action="sign-out"))
            self.list_ul = h("ul", "omc-rooms")
            self.list_empty = h("p", "omc-list-empty", "No conversations yet.")
            self.list.append(list_head, self.list_ul, self.list_empty)
            main.append(self.list)

        conv = self.conv = h("section", "omc-conv", aria_label="Conversation")
        if layout.panes:
            head = h("div", "omc-conv-head")
            self.conv_title = h("h2", "omc-conv-title")
            self.conv_lock = _lock()  # the dashboard has no header: its lock is here
            head.append(h("button", "omc-btn omc-btn--link omc-back", "‹ Chats", type="button",
                          data_action="pane-list", aria_label="Back to chats"),
                        self.conv_title, self.conv_lock,
                        h("button", "omc-btn omc-btn--link omc-info-toggle", "Info",
                          type="button", data_action="pane-info"))
            conv.append(head)
        # A log: new messages are announced politely, as they are added at the end; while
        # earlier ones are put in at the top it is aria-busy, so those are not read out.
        self.scroll = h("div", "omc-scroll", role="log", aria_live="polite",
                        aria_relevant="additions", aria_label="Messages", tabindex="0")
        self.messages = h("ol", "omc-messages")
        self.empty = h("p", "omc-empty")
        self.scroll.append(self.messages, self.empty)
        self.jump = h("button", "omc-btn omc-jump", type="button", data_action="jump-latest")
        self.jump.hidden = True
        log_wrap = h("div", "omc-log")
        log_wrap.append(self.scroll, self.jump)
        self.typing = h("div", "omc-typing", aria_live="polite")
        self.action_errors = h("div", "omc-action-errors", role="alert")
        self.target_bar = h("div", "omc-target")
        self.target_text = h("span", "omc-target-text", id=f"{uid}-target")
        self.target_bar.append(self.target_text,
                               h("button", "omc-btn omc-btn--link omc-btn--small", "Cancel",
                                 type="button", data_action="composer-cancel",
                                 aria_describedby=f"{uid}-target"))
        self.target_bar.hidden = True
        composer = self.composer = h("form", "omc-composer")
        # Files: the Attach button opens the browser's file picker; paste and drop work too.
        self.file_input = h("input", "omc-file-input", type="file", multiple="",
                            tabindex="-1", aria_hidden="true")
        self.file_input.hidden = True
        self.attach_button = h("button", "omc-btn omc-attach", "📎", type="button",
                               data_action="attach", aria_label="Attach a file",
                               title="Attach a file")
        self.textarea = h("textarea", "omc-textarea", id=f"{uid}-msg", rows="1",
                          placeholder="Write a message…", enterkeyhint="send",
                          aria_autocomplete="list", aria_controls=f"{uid}-mentions")
        # Members matching the @name being typed (pyapp.ui.parts.mention_picker).
        self.mention_list = h("ul", "omc-mention-list", id=f"{uid}-mentions", role="listbox",
                              aria_label="Mention someone")
        self.mention_list.hidden = True
        self._mention_sig = None
        # Pills are drawn behind the (transparent) textarea: a mirror of its text with each
        # pill marked, kept in step on input, render and scroll.
        self.field = h("div", "omc-field")
        self.pill_mirror = h("div", "omc-pill-mirror", aria_hidden="true")
        self.field.append(self.pill_mirror, self.textarea)
        self._pills_sig = None
        self.send_button = h("button", "omc-btn omc-btn--primary omc-send", "Send",
                             type="submit")
        self.composer_error = h("p", "omc-composer-error", role="alert")
        composer.append(self.target_bar, h("label", "omc-sr-only", "Message", for_=f"{uid}-msg"),
                        self.mention_list, self.file_input, self.attach_button,
                        self.field, self.send_button, self.composer_error)
        conv.append(log_wrap, self.typing, self.action_errors, composer)
        if layout.session_bar:
            # No header in this mode: who is signed in, and the way out, under the composer.
            bar = h("div", "omc-session-bar")
            self.session_who = h("span", "omc-session-who")
            self.bar_sign_out = h("button", "omc-btn omc-btn--link omc-btn--small", "Sign out",
                                  type="button", data_action="sign-out",
                                  aria_label="Sign out of the chat")
            bar.append(self.session_who, self._notify_select("bar"), self.bar_sign_out)
            conv.append(bar)
        self.menu = MessageMenu(uid, self._on, self._menu_chosen)
        self._on(self.messages, "keydown", self._on_message_keydown)
        main.append(conv)
        self._on(self.scroll, "scroll", self._on_scroll)
        self._on(self.textarea, "input", self._on_input)
        self._on(self.textarea, "keydown", self._on_keydown)
        self._on(self.textarea, "keyup", self._on_caret_key)
        self._on(self.textarea, "click", self._report_caret)
        self._on(self.textarea, "blur", lambda e: self.vm.close_mentions())
        self._on(self.textarea, "scroll", lambda e: self._sync_mirror_scroll())
        # A press on a suggestion must not take the focus (and the caret) from the text.
        self._on(self.mention_list, "mousedown", lambda e: e.preventDefault())
        self._on(composer, "submit", self._on_submit)
        self._on(self.file_input, "change", self._on_files_chosen)
        self._on(self.textarea, "paste", self._on_paste)
        self._on(conv, "dragover", self._on_dragover)
        self._on(conv, "drop", self._on_drop)
        self.lightbox = Lightbox(self._on)
        root.append(self.lightbox.el)

        if layout.info_panel:
            self.info = h("aside", "omc-info", aria_label="Conversation details")
            info_head = h("div", "omc-info-head")
            info_head.append(h("button", "omc-btn omc-btn--link omc-back", "‹ Back",
                               type="button", data_action="pane-conversation"))
            self.info_name = h("h2", "omc-info-name")
            self.info_topic = h("p", "omc-info-topic")
            self.info_count = h("h3", "omc-info-count")
            self.info_members = h("ul", "omc-members")
            self.info.append(info_head, self.info_name, self.info_topic,
                             self._notify_select("info"), self.info_count, self.info_members)
            main.append(self.info)

        self._on(root, "click", self._on_click)
        # The boot panel goes; the chat replaces it in one step.
        self.element.replaceChildren(root)
        self._watch_visibility()
        if layout.room_list:
            self._follow_url()

    def _build_key_backup(self, root) -> None:
        """The recovery key shown once, or asked for on a new browser
        (pyapp.ui.parts.key_backup)."""
        uid = self.uid
        box = self.keys = h("section", "omc-keys", role="region",
                            aria_labelledby=f"{uid}-keys-title")
        self.keys_title = h("h2", "omc-keys-title", id=f"{uid}-keys-title")
        self.keys_text = h("p", "omc-keys-text")
        # Shown once: the key, a download of it as a text file, and the confirmation.
        self.keys_show = h("div", "omc-keys-show")
        self.keys_value = h("code", "omc-recovery-key", aria_label="Your recovery key")
        self.keys_download = h("a", "omc-btn omc-btn--small", "Download",
                               download=KEY_FILE_NAME)
        self._keys_url = None
        actions = h("span", "omc-keys-actions")
        actions.append(self.keys_download,
                       h("button", "omc-btn omc-btn--small omc-btn--primary", "I have saved it",
                         type="button", data_action="recovery-key-saved"))
        self.keys_show.append(self.keys_value, actions)
        # Asked on a new browser: the key, or skip.
        self.keys_form = h("form", "omc-keys-form", novalidate="")
        self.keys_input = h("input", "omc-input omc-keys-input", id=f"{uid}-recovery",
                            autocomplete="off", autocapitalize="none", spellcheck="false")
        self.keys_error = h("p", "omc-keys-error", role="alert")
        self.keys_submit = h("button", "omc-btn omc-btn--small omc-btn--primary",
                             "Unlock messages", type="submit")
        form_actions = h("span", "omc-keys-actions")
        form_actions.append(self.keys_submit,
                            h("button", "omc-btn omc-btn--small", "Skip for now", type="button",
                              data_action="recovery-key-skip"),
                            h("button", "omc-btn omc-btn--link omc-btn--small",
                              "I lost my recovery key", type="button",
                              data_action="recovery-key-lost"))
        self.keys_form.append(h("label", "omc-label", "Recovery key", for_=f"{uid}-recovery"),
                              self.keys_input, self.keys_error, form_actions)
        self.keys_later = h("button", "omc-btn omc-btn--small", "Enter recovery key",
                            type="button", data_action="recovery-key-ask")
        # Lost: a new backup, once the member confirmed what it means.
        self.keys_start_over = h("span", "omc-keys-actions")
        self.keys_start_over.append(
            h("button", "omc-btn omc-btn--small omc-btn--danger", "Start a new backup",
              type="button", data_action="recovery-key-start-over"),
            h("button", "omc-btn omc-btn--small", "Cancel", type="button",
              data_action="recovery-key-keep"))
        box.append(self.keys_title, self.keys_text, self.keys_show, self.keys_form,
                   self.keys_later, self.keys_start_over)
        box.hidden = True
        root.append(box)
        self._keys_sig = None

        def submit(event):
            event.preventDefault()
            self.vm.enter_recovery_key(self.keys_input.value)
        self._on(self.keys_form, "submit", submit)

    def _render_key_backup(self, state: ViewState) -> None:
        view = state.key_backup
        sig = None if view is None else (view.mode, view.recovery_key, view.error)
        if sig == self._keys_sig:
            return
        self._keys_sig = sig
        show(self.keys, view is not None)
        if view is None or view.mode == "show":
            self.keys_input.value = ""  # a key that opened the backup is not left in the page
        if view is None:
            self._drop_key_url()
            return
        self.keys.dataset.mode = view.mode
        self.keys_title.textContent = view.title
        show(self.keys_title, bool(view.title))
        self.keys_text.textContent = view.text
        show(self.keys_show, view.mode == "show")
        if view.mode == "show":
            self.keys_value.textContent = view.recovery_key
            self._drop_key_url()
            blob = js.Blob.new(to_js([view.file_text]), to_js({"type": "text/plain"},
                                                            dict_converter=js.Object.fromEntries))
            self._keys_url = js.URL.createObjectURL(blob)
            self.keys_download.href = self._keys_url
        else:
            self.keys_value.textContent = ""
            self._drop_key_url()
        show(self.keys_form, view.mode in ("ask", "restoring"))
        self.keys_input.disabled = self.keys_submit.disabled = view.mode == "restoring"
        self.keys_error.textContent = view.error or ""
        show(self.keys_error, bool(view.error))
        show(self.keys_later, view.mode == "skipped")
        show(self.keys_start_over, view.mode == "start_over")

    def _drop_key_url(self) -> None:
        if self._keys_url is not None:
            js.URL.revokeObjectURL(self._keys_url)
            self._keys_url = None
            self.keys_download.removeAttribute("href")

    def _notify_select(self, where: str):
        """All messages / mentions only / mute for the room shown (the user's push rules)."""
        from pyapp.client.push_rules import LEVEL_LABELS

        wrap = h("span", f"omc-notify omc-notify--{where}")
        select = h("select", "omc-notify-select", id=f"{self.uid}-notify-{where}",
                   data_notify="", title="Notifications for this chat")
        for value, label in LEVEL_LABELS.items():
            option = h("option", None, label, value=value)
            select.append(option)
        wrap.append(h("label", "omc-notify-label", "Notifications",
                      for_=f"{self.uid}-notify-{where}"), select)
        self._notify_selects = getattr(self, "_notify_selects", []) + [select]

        def changed(event):
            value = str(select.value)
            if value != "mute":
                notifier.ask_permission()  # the user's gesture: the one time it may be asked
            self.vm.set_notify_level(value)

        self._on(select, "change", changed)
        return wrap

    def focus_room(self, room_id: str) -> bool:
        """A notification about `room_id` was clicked: show that room, ready to answer (an
        invitation: its Accept button)."""
        room = self.vm.service.room(room_id)
        if room is not None and room.membership == "invite":
            accept = self.root.querySelector(
                f'[data-action="join-room"][data-room="{js.CSS.escape(room_id)}"]')
            if accept and not accept.closest("[hidden]"):
                accept.scrollIntoView(js.Object.fromEntries([["block", "nearest"]]))
                accept.focus()
                return True
            return False
        if self.vm.layout.room_list:
            self.vm.select_room(room_id)
        elif self.vm.current_room_id() != room_id:
            return False
        self.root.scrollIntoView(js.Object.fromEntries([["block", "nearest"]]))
        self.textarea.focus()
        return True

    def _follow_url(self) -> None:
        """The dashboard's selected room lives in the page's URL (?room=...): a reload opens
        it again, and Back returns to the room selected before."""
        def from_url(*_):
            room_id = js.URLSearchParams.new(js.location.search).get(ROOM_PARAM)
            if room_id:
                self.vm.select_room(str(room_id))

        from_url()
        self._on(js.window, "popstate", from_url)

    def _put_in_url(self, room_id: str | None) -> None:
        url = js.URL.new(js.location.href)
        if not room_id or url.searchParams.get(ROOM_PARAM) == room_id:
            return
        url.searchParams.set(ROOM_PARAM, room_id)
        if js.URLSearchParams.new(js.location.search).get(ROOM_PARAM):
            js.history.pushState(None, "", url.href)  # a new selection: Back returns to the last
        else:
            js.history.replaceState(None, "", url.href)  # the first one shown names the page

    def _watch_visibility(self) -> None:
        def update(*_):
            visible = js.document.visibilityState == "visible" and self._intersecting
            self.vm.set_visible(visible)

        self._intersecting = True

        def on_intersect(entries, *_):
            for entry in entries:
                self._intersecting = bool(entry.isIntersecting)
            update()

        def on_resize(entries, *_):
            for entry in entries:
                self.vm.set_narrow(entry.contentRect.width < NARROW_PX)

        intersect = create_proxy(on_intersect)
        resize = create_proxy(on_resize)
        self._proxies += [intersect, resize]
        io = js.IntersectionObserver.new(intersect)
        io.observe(self.root)
        ro = js.ResizeObserver.new(resize)
        ro.observe(self.root)
        self._observers += [io, ro]
        self._visibility_proxy = create_proxy(update)
        js.document.addEventListener("visibilitychange", self._visibility_proxy)

    def destroy(self) -> None:
        self._unsubscribe()
        for observer in self._observers:
            observer.disconnect()
        js.document.removeEventListener("visibilitychange", self._visibility_proxy)
        self.vm.close()
        for target, event, proxy in self._listeners:
            target.removeEventListener(event, proxy)
        for proxy in self._proxies + [self._visibility_proxy]:
            proxy.destroy()
        self._proxies = []

    # -- events -----------------------------------------------------------------------
    def _submit_login(self, event) -> None:
        event.preventDefault()
        asyncio.ensure_future(self.vm.submit_login(self.user_input.value, self.pass_input.value))

    def _on_input(self, event) -> None:
        self.vm.set_draft(self.textarea.value)
        self._report_caret()
        self._autogrow()
        self._draw_pills()

    def _draw_pills(self) -> None:
        from pyapp.client.mentions import spans

        text = str(self.textarea.value)
        found = spans(text, self.vm.mentions.pills.get(self.vm.current_room_id(), ()))
        sig = (text, tuple(found)) if found else None
        if sig == self._pills_sig:
            return
        self._pills_sig = sig
        parts, at = [], 0
        for start, end in found:
            parts += [text[at:start], h("mark", "omc-pill", text[start:end])]
            at = end
        if found:
            parts.append(text[at:] + "\n")  # a last empty line still takes its height
        self.pill_mirror.replaceChildren(*parts)
        self._sync_mirror_scroll()

    def _sync_mirror_scroll(self) -> None:
        self.pill_mirror.scrollTop = self.textarea.scrollTop

    def _report_caret(self, event=None) -> None:
        ta = self.textarea
        self.vm.set_caret(str(ta.value), int(ta.selectionStart or 0))

    def _on_caret_key(self, event) -> None:
        if event.key in ("ArrowLeft", "ArrowRight", "Home", "End"):
            self._report_caret()

    def _on_keydown(self, event) -> None:
        if event.key == "Enter" and not event.shiftKey and not self.vm.mentions.open:
            notifier.ask_permission()  # sending is a gesture: notifications may be asked for
        if self.vm.on_key(event.key, bool(event.shiftKey), bool(event.isComposing)):
            event.preventDefault()

    def _on_submit(self, event) -> None:
        event.preventDefault()
        notifier.ask_permission()
        self.vm.set_draft(self.textarea.value)
        self.vm.send()
        self.textarea.focus()

    # -- files ------------------------------------------------------------------------
    def _attach_files(self, files) -> None:
        async def attach_all():
            for file in files:
                self.vm.attach(await pending_file(file))
        asyncio.ensure_future(attach_all())

    def _on_files_chosen(self, event) -> None:
        chosen = self.file_input.files
        self._attach_files([chosen.item(i) for i in range(int(chosen.length))])
        self.file_input.value = ""  # choosing the same file again is a new choice

    def _on_paste(self, event) -> None:
        data = event.clipboardData
        files = files_of(data)
        if files:
            event.preventDefault()
            self._attach_files(files)
        elif not data or not str(data.getData("text") or ""):
            event.preventDefault()
            self.vm.attach_problem(EMPTY_PASTE)

    def _on_dragover(self, event) -> None:
        if self.vm.state.composer_enabled:
            event.preventDefault()  # allows the drop
            event.dataTransfer.dropEffect = "copy"

    def _on_drop(self, event) -> None:
        event.preventDefault()  # never let the browser navigate to the dropped file
        if not self.vm.state.composer_enabled:
            return
        files = files_of(event.dataTransfer)
        if files:
            self._attach_files(files)
        else:
            self.vm.attach_problem(NOT_A_FILE)

    def _distance_to_end(self) -> float:
        scroll = self.scroll
        return scroll.scrollHeight - scroll.scrollTop - scroll.clientHeight

    def _on_scroll(self, event=None) -> None:
        self.vm.set_at_bottom(self._distance_to_end() <= PINNED_SLACK_PX)
        self._maybe_load_earlier()

    def _maybe_load_earlier(self) -> None:
        """Near the top (or when the messages do not fill the log), with earlier history to
        load: load it. The view model ignores a request while one is on its way."""
        scroll, state = self.scroll, self.vm.state
        if scroll.clientHeight <= 0 or scroll.scrollTop > LOAD_AHEAD_PX:
            return  # not shown, or the top is not near
        first = state.items[0] if state.items else None
        if isinstance(first, GapView) and first.top and not first.loading:
            self.vm.load_earlier(first.key)

    def _on_click(self, event) -> None:
        if self.menu.key is not None and not self.menu.contains(event.target) \
                and not (self.menu.button is not None and self.menu.button.contains(event.target)):
            self.menu.close(restore_focus=False)  # a click elsewhere closes the menu
        target = event.target.closest("[data-action]")
        if not target:  # JavaScript null (pyodide's jsnull is falsy, not None)
            return
        action = target.getAttribute("data-action")
        vm = self.vm
        if action == "retry-connection":
            vm.retry_connection()
        elif action == "load-gap":
            vm.load_earlier(target.getAttribute("data-key"))
        elif action == "jump-latest":
            self.scroll.scrollTop = self.scroll.scrollHeight
            vm.set_at_bottom(True)
            self.scroll.focus()
        elif action == "retry-message":
            vm.retry_message(target.getAttribute("data-key"))
        elif action == "attach":
            self.file_input.click()
        elif action == "cancel-upload":
            vm.cancel_upload(target.getAttribute("data-key"))
        elif action == "open-media":
            item = self._items.get(target.getAttribute("data-key"))
            if item is not None and item.media is not None:
                self.lightbox.open(item.key, item.media, self.loader, target)
        elif action == "close-media":
            self.lightbox.close()
        elif action == "download-media":
            item = self._items.get(target.getAttribute("data-key"))
            if item is not None and item.media is not None and item.media.download:
                asyncio.ensure_future(self._save(item.media))
        elif action == "message-menu":
            self._toggle_menu(target)
        elif action == "toggle-reaction":
            vm.react(target.getAttribute("data-key"), target.getAttribute("data-emoji"))
        elif action == "goto-original":
            vm.show_original(target.getAttribute("data-event"))
        elif action == "delete-confirm":
            vm.confirm_delete(target.getAttribute("data-key"))
        elif action == "delete-cancel":
            self._cancel_delete()
        elif action == "composer-cancel":
            vm.cancel_composer()
            self.textarea.focus()
        elif action == "retry-action":
            vm.retry_action(target.getAttribute("data-txn"))
        elif action == "dismiss-action":
            vm.dismiss_action(target.getAttribute("data-txn"))
        elif action == "mention":
            vm.choose_mention(target.getAttribute("data-user"))
            self.textarea.focus()
        elif action == "select-room":
            vm.select_room(target.getAttribute("data-room"))
        elif action == "join-room":
            vm.accept_invite(target.getAttribute("data-room"))
        elif action == "decline-room":
            vm.decline_invite(target.getAttribute("data-room"))
        elif action == "message-member":
            vm.message_member(target.getAttribute("data-user"))
        elif action.startswith("pane-"):
            vm.show_pane(action[5:])
        elif action == "recovery-key-saved":
            vm.recovery_key_saved()
        elif action == "recovery-key-skip":
            vm.skip_recovery_key()
        elif action == "recovery-key-ask":
            vm.ask_recovery_key()
        elif action == "recovery-key-lost":
            vm.lost_recovery_key()
        elif action == "recovery-key-start-over":
            vm.lost_recovery_key(confirmed=True)
        elif action == "recovery-key-keep":
            vm.lost_recovery_key(confirmed=False)
        elif action == "sign-out":
            asyncio.ensure_future(vm.sign_out())
        elif action == "sign-out-confirm":
            asyncio.ensure_future(vm.sign_out(confirmed=True))
        elif action == "sign-out-cancel":
            vm.cancel_sign_out()
        elif action in ("oauth-sign-in", "oauth-create"):
            asyncio.ensure_future(vm.start_sign_in(create=action == "oauth-create"))

    async def _save(self, media) -> None:
        try:
            await self.loader.save(media.download, media.name)
        except Exception as e:  # noqa: BLE001  (MediaUnavailable, or the browser refused)
            self.vm.attach_problem(f"“{media.name}” could not be downloaded: {e}")

    # -- message actions ----------------------------------------------------------------
    def _toggle_menu(self, button, last: bool = False) -> None:
        key = button.getAttribute("data-key")
        if self.menu.key == key:
            self.menu.close()
            return
        item, li = self._items.get(key), self._nodes.get(key)
        if item is not None and li is not None and item.actions:
            self.menu.open(li, button, item, last)

    def _on_message_keydown(self, event) -> None:
        target = event.target
        action = target.getAttribute("data-action") if target.getAttribute else None
        if action == "message-menu" and event.key in ("ArrowDown", "ArrowUp"):
            event.preventDefault()
            if self.menu.key != target.getAttribute("data-key"):
                self._toggle_menu(target, last=event.key == "ArrowUp")
        elif event.key == "Escape" and target.closest(".omc-delete-confirm"):
            event.preventDefault()
            self._cancel_delete()

    def _cancel_delete(self) -> None:
        key = self.vm.timeline.confirming[1] if self.vm.timeline.confirming else None
        self.vm.cancel_delete()
        self._refocus = (key, "message-menu")

    def _menu_chosen(self, action: str, key: str, value: str) -> None:
        vm = self.vm
        if action == "react":
            vm.react(key, value)
        elif action == "reply":
            vm.reply_to(key)
            self.textarea.focus()
        elif action == "edit":
            vm.edit_message(key)
            self.textarea.focus()
        elif action == "delete":
            vm.ask_delete(key)
            self._refocus = (key, "delete-cancel")

    def _autogrow(self) -> None:
        ta = self.textarea
        if not ta.value:
            # One row (rows="1"), known without measuring: reading scrollHeight here would
            # lay out the page once more in the render that draws a sent message's echo.
            ta.style.height = ""
            return
        ta.style.height = "auto"
        ta.style.height = f"{ta.scrollHeight}px"

    # -- rendering --------------------------------------------------------------------
    def render(self, state: ViewState) -> None:
        root = self.root
        root.dataset.screen = state.screen
        root.dataset.pane = state.pane
        root.dataset.status = state.status
        layout = self.vm.layout
        if layout.header:
            self.title.textContent = state.title
            show(self.lock, state.encrypted)
            self.conn.textContent = state.status_text
            show(self.header_sign_out, state.can_sign_out)
            self.header_mentions.textContent = f"@{state.mentions}"
            self.header_mentions.setAttribute(
                "aria-label", "1 unread mention" if state.mentions == 1
                else f"{state.mentions} unread mentions")
            self.header_mentions.setAttribute("title", "Unread mentions of you")
            show(self.header_mentions, state.mentions > 0 and state.screen == CHAT)
        for select in getattr(self, "_notify_selects", []):
            if select.value != state.notify_level:
                select.value = state.notify_level
            select.parentElement.hidden = not (state.screen == CHAT and state.room_id)
        show(self.banner, bool(state.banner))
        asking = bool(state.sign_out_question)
        if asking and self.confirm.hidden:
            self.confirm.hidden = False
            self.confirm_cancel.focus()
        show(self.confirm, asking)
        self.confirm_text.textContent = state.sign_out_question or ""
        self.banner_text.textContent = state.banner or ""
        self._render_login(state)
        self._render_key_backup(state)
        show(self.notice, state.screen not in (CHAT, SIGNED_OUT_SCREEN, INVITED))
        self.notice_text.textContent = state.notice
        invitation = state.invitation if state.screen == INVITED else None
        show(self.invite_box, invitation is not None)
        if invitation is not None:
            self.invite_text.textContent = invitation.text
            show(self.invite_outside, invitation.outside)
            self.invite_error.textContent = state.composer_error or ""
            show(self.invite_error, bool(state.composer_error))
            for button in (self.invite_accept, self.invite_decline):
                button.setAttribute("data-room", invitation.room_id)
        in_chat = state.screen == CHAT
        show(self.conv, in_chat)
        if layout.room_list:
            show(self.list, in_chat)
            self._render_list(state)
        if layout.info_panel:
            show(self.info, in_chat and state.info is not None)
            self._render_info(state)
        if layout.panes:
            self.conv_title.textContent = state.title if state.room_id else ""
            show(self.conv_lock, state.encrypted and bool(state.room_id))
        if layout.session_bar:
            self.session_who.textContent = \
                f"Signed in as {state.user_id}" if state.user_id else ""
            show(self.bar_sign_out, state.can_sign_out)
        if layout.room_list and in_chat and state.room_id:
            self._put_in_url(state.room_id)
        self._render_messages(state)
        self._render_actions(state)
        self.typing.textContent = state.typing
        self.textarea.disabled = not state.composer_enabled
        self.attach_button.disabled = not state.composer_enabled
        self.send_button.disabled = not state.composer_enabled
        self.composer_error.textContent = state.composer_error or ""
        show(self.composer_error, bool(state.composer_error))
        if state.draft_rev != self._draft_rev or state.room_id != self._room_id:
            if self.textarea.value != state.draft:
                self.textarea.value = state.draft
                self._autogrow()
            self._draft_rev = state.draft_rev
        if state.caret is not None and state.caret[1] == state.draft_rev \
                and state.caret != getattr(self, "_caret_done", None):
            self._caret_done = state.caret
            self.textarea.setSelectionRange(state.caret[0], state.caret[0])
        self._render_mentions(state)
        self._draw_pills()
        self._room_id = state.room_id
        fill_avatars(self.root, self.vm.service, self.loader, state.room_id)
        self._last_screen = state.screen

    def _render_mentions(self, state: ViewState) -> None:
        options = state.mention_options if state.screen == CHAT else []
        sig = tuple((o.user_id, o.name, o.active) for o in options)
        if sig == self._mention_sig:
            return
        self._mention_sig = sig
        rows = []
        active_id = None
        for n, option in enumerate(options):
            row = h("li", "omc-mention-option" + (" is-active" if option.active else ""),
                    id=f"{self.uid}-mention-{n}", role="option",
                    aria_selected="true" if option.active else "false",
                    data_action="mention", data_user=option.user_id)
            row.append(h("span", "omc-mention-name", option.name),
                       h("span", "omc-mention-id", option.user_id))
            if option.active:
                active_id = f"{self.uid}-mention-{n}"
            rows.append(row)
        self.mention_list.replaceChildren(*rows)
        show(self.mention_list, bool(rows))
        if active_id:
            self.textarea.setAttribute("aria-activedescendant", active_id)
        else:
            self.textarea.removeAttribute("aria-activedescendant")

    def _render_actions(self, state: ViewState) -> None:
        target = state.composer_target
        show(self.target_bar, target is not None)
        self.target_text.textContent = target.text if target else ""
        self.target_bar.dataset.kind = target.kind if target else ""
        self._target_key = target.key if target else None
        errors = tuple((e.txn_id, e.text) for e in state.action_errors)
        if getattr(self, "_errors_sig", None) != errors:
            self._errors_sig = errors
            rows = []
            for txn_id, text in errors:
                row = h("p", "omc-action-error")
                row.append(h("span", None, text),
                           h("button", "omc-btn omc-btn--small", "Retry", type="button",
                             data_action="retry-action", data_txn=txn_id),
                           h("button", "omc-btn omc-btn--link omc-btn--small", "Dismiss",
                             type="button", data_action="dismiss-action", data_txn=txn_id))
                rows.append(row)
            self.action_errors.replaceChildren(*rows)
        show(self.action_errors, bool(errors))
        if state.scroll_to is not None and state.scroll_to != self._scrolled_to:
            self._scrolled_to = state.scroll_to
            node = self._nodes.get(state.scroll_to[0])
            if node is not None:
                node.tabIndex = -1
                node.classList.add("is-highlighted")
                node.scrollIntoView(js.Object.fromEntries([["block", "center"]]))
                node.focus(js.Object.fromEntries([["preventScroll", True]]))
        refocus, self._refocus = getattr(self, "_refocus", None), None
        if refocus is not None:
            node = self._nodes.get(refocus[0])
            button = node.querySelector(f'[data-action="{refocus[1]}"]') if node else None
            if button:
                button.focus()

    def _render_login(self, state: ViewState) -> None:
        login = state.login
        signed_out = state.screen == SIGNED_OUT_SCREEN
        oauth = login.method == OAUTH
        show(self.oauth, signed_out and oauth)
        self.oauth_error.textContent = login.error or ""
        show(self.oauth_error, bool(login.error))
        self.oauth_button.disabled = self.create_button.disabled = login.busy
        self.oauth_button.textContent = "Opening sign-in…" if login.busy else "Sign in"
        show(self.create_button, login.can_create)
        visible = signed_out and not oauth
        show(self.login, visible)
        self.login_error.textContent = login.error or ""
        show(self.login_error, bool(login.error))
        self.login_button.disabled = login.busy
        self.login_button.textContent = "Signing in…" if login.busy else "Sign in"
        if visible and not self.user_input.value and login.username:
            self.user_input.value = login.username
        if visible and self._last_screen != SIGNED_OUT_SCREEN and self._last_screen is not None:
            self.pass_input.value = ""

    def _render_list(self, state: ViewState) -> None:
        ul = self.list_ul
        keep = set()
        for position, item in enumerate(state.rooms):
            key = item.room_id
            keep.add(key)
            li = self._list_nodes.get(key)
            signature = (item.name, item.unread, item.preview, item.when, item.selected,
                         item.invite, item.dm, item.outside, item.mentions, item.person)
            if li is None:
                li = self._list_nodes[key] = h("li", "omc-room")
            if self._list_sigs.get(key) != signature:
                self._fill_room(li, item)
                self._list_sigs[key] = signature
            # JsProxy `==` is JavaScript identity; `is` would compare fresh Python wrappers.
            if ul.children.item(position) != li:
                ul.insertBefore(li, ul.children.item(position))
        for key in list(self._list_nodes):
            if key not in keep:
                self._list_nodes.pop(key).remove()
                self._list_sigs.pop(key, None)
        show(self.list_empty, not state.rooms)

    def _fill_room(self, li, item) -> None:
        if item.invite:
            self._fill_invite(li, item)
            return
        action = "select-room"
        button = h("button", "omc-room-btn" + (" is-selected" if item.selected else ""),
                   type="button", data_action=action, data_room=item.room_id)
        if item.selected:
            button.setAttribute("aria-current", "true")
        top = h("span", "omc-room-top")
        top.append(_avatar(item.initials, item.person, None if item.dm else item.room_id))
        top.append(h("span", "omc-room-name", item.name), h("span", "omc-room-when", item.when))
        bottom = h("span", "omc-room-bottom")
        bottom.append(h("span", "omc-room-preview", item.preview))
        mentions = item.mentions
        if mentions:
            bottom.append(h("span", "omc-mention-count", f"@{mentions}",
                            aria_label="1 mention" if mentions == 1 else f"{mentions} mentions",
                            title="Mentions of you"))
        if item.unread:
            bottom.append(h("span", "omc-unread", str(item.unread),
                            aria_label=f"{item.unread} unread"))
        button.append(top, bottom)
        li.replaceChildren(button)

    def _fill_invite(self, li, item) -> None:
        """An invitation: who, and Accept / Decline (never joined by itself)."""
        box = h("div", "omc-room-invite" + (" is-outside" if item.outside else ""),
                role="group", aria_label=item.preview)
        top = h("span", "omc-room-top")
        top.append(_avatar(item.initials, item.person), h("span", "omc-room-name", item.name))
        actions = h("span", "omc-room-invite-actions")
        actions.append(
            h("button", "omc-btn omc-btn--primary omc-btn--small", "Accept", type="button",
              data_action="join-room", data_room=item.room_id),
            h("button", "omc-btn omc-btn--small", "Decline", type="button",
              data_action="decline-room", data_room=item.room_id))
        box.append(top, h("span", "omc-room-preview", item.preview), actions)
        li.replaceChildren(box)

    def _render_info(self, state: ViewState) -> None:
        info = state.info
        if info is None:
            return
        self.info_name.textContent = info.name
        self.info_topic.textContent = info.topic or "No topic set."
        self.info_count.textContent = f"Members ({info.member_count})"
        members = tuple(info.members)
        if getattr(self, "_members_sig", None) != members:
            self._members_sig = members
            self.info_members.replaceChildren(*[_member(m) for m in members])

    def _anchor(self):
        """The first message in sight and its distance from the log's top, to keep it there
        while earlier items go in above it."""
        scroll = self.scroll
        box = scroll.getBoundingClientRect()
        hit = js.document.elementFromPoint(box.left + box.width / 2, box.top + 8)
        node = hit.closest("li") if hit else None
        if not node or node.parentNode != self.messages:
            node = self.messages.firstElementChild  # above the first item: the log's padding
        while node and not node.classList.contains("omc-msg"):
            node = node.nextElementSibling
        if not node:
            return None, 0.0
        return node, node.getBoundingClientRect().top - box.top

    def _render_messages(self, state: ViewState) -> None:
        scroll = self.scroll
        switched = state.room_id != self._room_id
        pinned = switched or self._distance_to_end() <= PINNED_SLACK_PX
        anchor, anchor_top = (None, 0.0) if pinned or not self._nodes else self._anchor()
        active = js.document.activeElement  # a message brought into view keeps focus
        focused_li = active if active and active.parentNode == self.messages else None
        if switched:
            self.menu.close(restore_focus=False)
            self.messages.replaceChildren()
            self._order = []
            self._nodes.clear()
            self._rendered.clear()
        ol = self.messages
        keep = {item.key for item in state.items}
        existing = [key for key in self._order if key in keep and key in self._nodes]
        shown_before = set(existing)
        next_existing = 0
        appended_mine = False
        for position, item in enumerate(state.items):
            key = item.key
            signature = _signature(item)
            node = self._nodes.get(key)
            if node is None:
                node = self._nodes[key] = h("li")
                appended_mine |= isinstance(item, MessageView) and item.mine
            if isinstance(item, MessageView):
                self._items[key] = item
            if self._rendered.get(key) != signature:
                # Focus inside a message survives its refill (a reaction arriving while the
                # user is on its "⋯" button or a reaction).
                focused = _focused_action(node)
                _fill_item(node, item, self.loader)
                self._rendered[key] = signature
                if key == self.menu.key:
                    self.menu.reattach(node, node.querySelector('[data-action="message-menu"]'),
                                       item)
                elif focused is not None:
                    again = node.querySelector(focused)
                    if again:
                        again.focus()
            # Where the DOM has it is known here (self._order): only nodes not in place
            # cost a call into the page, so a long conversation stays cheap to update.
            if next_existing < len(existing) and existing[next_existing] == key:
                next_existing += 1
                continue
            ref = self._nodes[existing[next_existing]] if next_existing < len(existing) \
                else None
            ol.insertBefore(node, ref)
            if key in shown_before:
                existing.remove(key)  # moved up from further down
        self._order = [item.key for item in state.items]
        for key in list(self._nodes):
            if key not in keep:
                if key == self.menu.key:
                    self.menu.close(restore_focus=False)
                self._nodes.pop(key).remove()
                self._rendered.pop(key, None)
                self._items.pop(key, None)
        show(self.empty, state.screen == CHAT and bool(state.empty_text))
        self.empty.textContent = state.empty_text
        if pinned or appended_mine:
            scroll.scrollTop = scroll.scrollHeight
        elif anchor is not None and anchor.isConnected:
            moved = anchor.getBoundingClientRect().top - scroll.getBoundingClientRect().top
            if moved != anchor_top:
                scroll.scrollTop += moved - anchor_top
        if focused_li is not None and focused_li.isConnected \
                and js.document.activeElement != focused_li:
            focused_li.focus(js.Object.fromEntries([["preventScroll", True]]))
        scroll.setAttribute("aria-busy", "true" if state.loading_earlier else "false")
        at_end = pinned or appended_mine
        show(self.jump, state.screen == CHAT and not at_end and bool(state.unseen))
        if state.unseen:
            label = "1 new message" if state.unseen == 1 else f"{state.unseen} new messages"
            self.jump.textContent = f"↓ {label}"
            self.jump.setAttribute("aria-label", f"Jump to latest: {label}")
        if at_end and not self.vm.timeline.at_bottom:
            self.vm.set_at_bottom(True)
        if state.screen == CHAT:
            self._maybe_load_earlier()


def _lock():
    lock = h("span", "omc-lock", "🔒", role="img", aria_label="Encrypted",
             title="Messages here are end-to-end encrypted: only the members' "
                   "devices can read them, not the server.")
    lock.hidden = True
    return lock


def _avatar(initials: str, user_id: str | None, room_id: str | None = None):
    """The initials avatar. `data-avatar-user` is where an image of the person can be put
    (it goes inside, over the initials, once it has loaded)."""
    avatar = h("span", "omc-avatar", aria_hidden="true")
    avatar.append(h("span", "omc-avatar-initials", initials))
    if user_id:
        avatar.setAttribute("data-avatar-user", user_id)
    elif room_id:
        avatar.setAttribute("data-avatar-room", room_id)  # the room's own picture
    return avatar


def _member(member):
    li = h("li", "omc-member" + (" is-typing" if member.typing else ""))
    li.dataset.user = member.user_id
    li.append(_avatar(member.initials, member.user_id))
    who = h("span", "omc-member-who")
    who.append(h("span", "omc-member-name", member.name + (" (you)" if member.me else "")))
    if member.presence:  # a dot by the avatar; its word for screen readers
        li.classList.add(f"is-{member.presence}")
        who.append(h("span", "omc-presence", title=member.presence),
                   h("span", "omc-sr-only", f" ({member.presence})"))
    if member.role:
        who.append(h("span", "omc-role", member.role))
    if member.typing:
        who.append(h("span", "omc-member-typing", "typing…"))
    li.append(who)
    if member.can_message:
        li.append(h("button", "omc-btn omc-btn--small omc-member-message", "Message",
                    type="button", data_action="message-member", data_user=member.user_id,
                    aria_label=f"Message {member.name}"))
    return li


def _signature(item) -> tuple:
    if isinstance(item, DayView):
        return ("day", item.label)
    if isinstance(item, GapView):
        return ("gap", item.top, item.loading, item.can_load)
    if isinstance(item, (StartView, MembersView)):
        return (item.kind, item.text)
    return (item.sender_name, item.body, item.html, item.time_text, item.mine, item.status,
            item.error, item.first_in_group, item.seen_by, item.edited, item.deleted, item.reply,
            item.reactions, item.actions, item.confirm_delete, item.mentions_me,
            item.media, item.warning)


def _focused_action(node) -> str | None:
    """A selector for the control focused inside `node`, to focus it again after a refill."""
    active = js.document.activeElement
    if not active or not node.contains(active) or not active.getAttribute("data-action"):
        return None
    selector = f'[data-action="{active.getAttribute("data-action")}"]'
    emoji = active.getAttribute("data-emoji")
    if emoji:
        selector += f'[data-emoji="{js.CSS.escape(emoji)}"]'
    return selector


def _body(item):
    """The message text: its HTML made safe when it has some (and the sanitizer is loaded),
    else its plain body as text."""
    try:
        safe = sanitize.fragment(item.html) if item.html else None
    except Exception:  # noqa: BLE001  (a message we cannot format still shows its text)
        log.exception("Could not show the formatting of message %s", item.key)
        safe = None
    if safe is None or not str(safe.textContent).strip():  # nothing left to read: the text
        return h("p", "omc-body", item.body)
    body = h("div", "omc-body omc-html")
    body.append(safe)
    return body


def _fill_item(li, item, loader=None) -> None:
    if isinstance(item, DayView):
        li.className = "omc-day"
        li.replaceChildren(h("span", None, item.label))
        return
    if isinstance(item, (GapView, StartView, MembersView)):
        _fill_marker(li, item)
        return
    classes = ["omc-msg"]
    if item.mine:
        classes.append("is-mine")
    if item.mentions_me:
        classes.append("is-mention")
    if not item.first_in_group:
        classes.append("is-cont")
    classes.append(f"is-{item.status}")
    li.className = " ".join(classes)
    li.dataset.key = item.key
    li.dataset.status = item.status
    parts = []
    if item.first_in_group:
        meta = h("div", "omc-msg-meta")
        # Its initials are drawn by CSS (data-initials): the meta's text stays the name.
        avatar = h("span", "omc-avatar omc-avatar--msg", aria_hidden="true",
                   data_initials=initials_of(item.sender_name), data_avatar_user=item.sender_id)
        meta.append(avatar, h("span", "omc-sender", "You" if item.mine else item.sender_name),
                    h("time", "omc-time", item.time_text))
        parts.append(meta)
    bubble = h("div", "omc-bubble")
    if item.reply is not None:
        bubble.append(_reply_preview(item))
    if item.media is not None and loader is not None:
        bubble.classList.add("has-media")
        bubble.append(media_element(item.media, item.key, loader))
    else:
        bubble.append(_body(item))
    if item.mentions_me:
        bubble.append(h("span", "omc-sr-only", " (mentions you)"))
    if item.deleted:
        bubble.classList.add("is-deleted")
    if item.edited:
        bubble.append(h("span", "omc-edited", "(edited)"))
    if item.warning:
        bubble.append(h("span", "omc-warning", item.warning))
    if not item.first_in_group:
        bubble.setAttribute("title", item.time_text)
    row = h("div", "omc-msg-row")
    row.append(bubble)
    if item.actions:
        row.append(h("button", "omc-msg-menu-btn", "⋯", type="button",
                     data_action="message-menu", data_key=item.key, aria_haspopup="menu",
                     aria_expanded="false", aria_label=f"Actions for the message from "
                     f"{'you' if item.mine else item.sender_name}, {item.time_text}"))
    parts.append(row)
    if item.reactions:
        parts.append(_reactions(item))
    if item.confirm_delete:
        parts.append(_delete_question(item))
    if item.status == "pending":
        parts.append(h("div", "omc-msg-status", "Sending…"))
    elif item.status == "failed":
        status = h("div", "omc-msg-status omc-msg-status--failed")
        status.append(h("span", "omc-msg-error", item.error or "Not sent."),
                      h("button", "omc-btn omc-btn--small", "Retry", type="button",
                        data_action="retry-message", data_key=item.key))
        if item.media is not None:  # a file: may be dropped instead (attached again)
            status.append(h("button", "omc-btn omc-btn--link omc-btn--small", "Remove",
                            type="button", data_action="cancel-upload", data_key=item.key,
                            aria_label=f"Remove the unsent {item.media.name}"))
        parts.append(status)
    if item.seen_by:
        parts.append(h("div", "omc-seen", item.seen_by))
    li.replaceChildren(*parts)


def _reply_preview(item):
    reply = item.reply
    # Its name is its text (what is seen is what a screen reader says and voice control hears).
    quote = h("button", "omc-reply" + ("" if reply.key else " is-missing"), type="button",
              data_action="goto-original", data_event=reply.event_id,
              title="Show the original")
    quote.append(h("span", "omc-sr-only", "In reply to "))
    if reply.sender_name:
        quote.append(h("span", "omc-reply-sender", reply.sender_name),
                     h("span", "omc-sr-only", ": "))
    quote.append(h("span", "omc-reply-text", reply.text))
    return quote


def _reactions(item):
    row = h("div", "omc-reactions", role="group", aria_label="Reactions")
    for reaction in item.reactions:
        chip = h("button", "omc-reaction" + (" is-mine" if reaction.mine else ""), type="button",
                 data_action="toggle-reaction", data_key=item.key, data_emoji=reaction.key,
                 aria_pressed="true" if reaction.mine else "false",
                 aria_label=reaction.label, title=reaction.names)
        if REACT not in item.actions:
            chip.disabled = True
        chip.append(h("span", "omc-reaction-key", reaction.key),
                    h("span", "omc-reaction-count", str(reaction.count)))
        row.append(chip)
    return row


def _delete_question(item):
    question = "Delete this message for everyone?"
    box = h("div", "omc-delete-confirm", role="alertdialog", aria_label=question)
    box.append(h("span", None, question),
               h("button", "omc-btn omc-btn--small", "Cancel", type="button",
                 data_action="delete-cancel"),
               h("button", "omc-btn omc-btn--small omc-btn--danger", "Delete", type="button",
                 data_action="delete-confirm", data_key=item.key))
    return box


def _fill_marker(li, item) -> None:
    """What is not a message: the conversation's start, history still to load, a run of
    membership changes."""
    if isinstance(item, StartView):
        li.className = "omc-start"
        li.replaceChildren(h("span", None, item.text))
    elif isinstance(item, MembersView):
        li.className = "omc-members-line"
        li.replaceChildren(h("span", None, item.text))
    elif item.loading:
        li.className = "omc-gap is-loading"
        li.replaceChildren(h("span", "omc-spinner", aria_hidden="true"),
                           h("span", None, "Loading earlier messages…" if item.top
                             else "Loading missing messages…"))
    elif item.top:
        li.className = "omc-gap"
        li.replaceChildren(h("button", "omc-btn omc-btn--link omc-btn--small",
                             "Load earlier messages", type="button", data_action="load-gap",
                             data_key=item.key))
    else:
        li.className = "omc-gap is-missing"
        parts = [h("span", None, "Some messages are missing here.")]
        if item.can_load:
            parts.append(h("button", "omc-btn omc-btn--link omc-btn--small",
                           "Load missing messages", type="button", data_action="load-gap",
                           data_key=item.key))
        li.replaceChildren(*parts)
