"""The composer's view model: what the user is typing, per room, and sending it.

Drafts live here, not in the DOM, so nothing typed is lost when the component shows another
screen (sign-in after expiry, offline) or another room; they outlive the page only across the
OAuth redirect, in the tab's storage. "Typing…" notifications start with the first character
and stop on send, on clearing the text, on switching rooms and after five idle seconds.

A room's composer may be replying to a message (the next send is a reply) or editing one of
mine (the text is that message's; sending replaces it; Escape gives back what was typed
before). Either is cancelled with Escape.

The part reaches the outside only through the callables it is given: `send_text(room_id,
body[, reply_to=])`, `edit_text(room_id, event_id, body)` and `set_typing(room_id, typing)`
are coroutine functions (ChatService's), `spawn` runs a coroutine, `timer(delay, fn)` returns
a handle with cancel(), `invalidate()` asks for a render.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Callable

from pyapp.client.storage import Storage, load_json, save_json

TYPING_IDLE_S = 5.0
# After a send, "stopped typing" waits this long: sent at once it reaches the server just as
# every member's client is busy showing the message, and wakes all their syncs once more.
# Receivers stop showing a member as typing when that member's message arrives
# (pyapp.client.room_state), so nobody sees a stale "typing" meanwhile.
TYPING_STOP_AFTER_SEND_S = 1.0
DRAFTS_PREFIX = "om-chat.drafts."
REPLYING, EDITING = "reply", "edit"


@dataclass
class Target:
    """The message the composer is replying to or editing."""
    kind: str  # REPLYING | EDITING
    event_id: str
    key: str
    saved_draft: str = ""  # editing: what was typed before, given back afterwards


class ComposerPart:
    def __init__(self, *, send_text: Callable, set_typing: Callable,
                 spawn: Callable[[Any], asyncio.Future],
                 timer: Callable[[float, Callable[[], None]], Any],
                 invalidate: Callable[[], None],
                 draft_store: Storage | None = None, drafts_key: str = "",
                 edit_text: Callable | None = None,
                 take_pills: Callable | None = None, give_back_pills: Callable | None = None):
        self._send_text = send_text
        # The mention pills of the text being sent (MentionPicker.take), and back on failure.
        self._take_pills = take_pills
        self._give_back_pills = give_back_pills
        self._edit_text = edit_text
        self._set_typing = set_typing
        self._spawn = spawn
        self._timer = timer
        self._invalidate = invalidate
        self.draft_store = draft_store
        self.drafts_key = DRAFTS_PREFIX + drafts_key
        self.drafts: dict[str | None, str] = {}
        self.targets: dict[str, Target] = {}  # room id -> what the composer replies to / edits
        self.rev = 0  # bumped when the composer, not the user, changes a draft
        self.error: str | None = None  # why the last message could not even be queued
        self._typing_room: str | None = None
        self._typing_timer = None
        # The room where a sent message ended our typing for the receivers, while the
        # server still has us typing (until the delayed stop).
        self._typing_shown_over: str | None = None
        self._take_saved()

    def draft(self, room_id: str | None) -> str:
        return self.drafts.get(room_id, "")

    # -- the user's actions -------------------------------------------------------------
    def set_draft(self, room_id: str | None, text: str) -> None:
        """The user edited the text (every input event)."""
        self.drafts[room_id] = text
        if self.error:
            self.error = None
            self._invalidate()
        if room_id is None:
            return
        if text.strip():
            self._start_typing(room_id)
        else:
            self.stop_typing()

    def put_text(self, room_id: str | None, text: str) -> None:
        """The view model changed the text (a mention pill went in): the view shows it."""
        self.set_draft(room_id, text)
        self._replace(room_id, text)

    @staticmethod
    def sends_on(key: str, shift: bool = False, composing: bool = False) -> bool:
        """Enter sends; Shift+Enter is a new line; Enter that ends an IME composition is not."""
        return key == "Enter" and not shift and not composing

    def target(self, room_id: str | None) -> Target | None:
        return self.targets.get(room_id) if room_id is not None else None

    def reply_to(self, room_id: str, event_id: str, key: str) -> None:
        current = self.targets.get(room_id)
        if current is not None and current.kind == EDITING:
            self.cancel(room_id)
        self.targets[room_id] = Target(REPLYING, event_id, key)
        self._invalidate()

    def start_edit(self, room_id: str, event_id: str, key: str, body: str) -> None:
        current = self.targets.get(room_id)
        saved = current.saved_draft if current is not None and current.kind == EDITING \
            else self.drafts.get(room_id, "")
        self.targets[room_id] = Target(EDITING, event_id, key, saved)
        self._replace(room_id, body)

    def cancel(self, room_id: str | None) -> bool:
        """Escape: stop replying or editing (an edit gives back what was typed before)."""
        target = self.targets.pop(room_id, None) if room_id is not None else None
        if target is None:
            return False
        if target.kind == EDITING:
            self._replace(room_id, target.saved_draft)
        else:
            self._invalidate()
        return True

    def send(self, room_id: str | None) -> asyncio.Future | None:
        text = self.drafts.get(room_id, "")
        if not text.strip() or room_id is None:
            return None
        target = self.targets.pop(room_id, None)
        # The send's first step (which puts the local echo into the timeline) is queued before
        # the render the emptied composer asks for, so that one render draws both: the echo
        # no longer waits for a render of the composer alone and the frame that follows it.
        pills = self._take_pills(room_id, text.strip()) if self._take_pills else []
        sending = self._spawn(self._send(room_id, text.strip(), target, pills))
        self._replace(room_id, target.saved_draft if target and target.kind == EDITING else "")
        return sending

    async def _send(self, room_id: str, body: str, target: Target | None = None,
                    pills=()) -> None:
        extra = {"mentions": list(pills)} if pills else {}
        try:
            if target is None:
                await self._send_text(room_id, body, **extra)
            elif target.kind == REPLYING:
                await self._send_text(room_id, body, reply_to=target.event_id, **extra)
            else:
                await self._edit_text(room_id, target.event_id, body, **extra)
        except ValueError as e:
            if pills and self._give_back_pills is not None:
                self._give_back_pills(room_id, pills)
            # Not even queued: put the text back (and the reply or edit with it) unless the
            # user already typed more.
            if target is not None and target.kind == EDITING:
                if self.drafts.get(room_id) == target.saved_draft \
                        and room_id not in self.targets:
                    self.targets[room_id] = target
                    self._replace(room_id, body)
            elif not self.drafts.get(room_id):
                if target is not None and room_id not in self.targets:
                    self.targets[room_id] = target
                self._replace(room_id, body)
            self.error = str(e)
            self._invalidate()
            return
        # "Stopped typing" follows the message instead of racing it to the server (each
        # wakes every member's sync), a moment later; the receivers already took the message
        # as the end of typing, so typing on before then must be announced anew.
        if self._typing_room == room_id:
            self._typing_shown_over = room_id
            if not self.drafts.get(room_id):
                if self._typing_timer is not None:
                    self._typing_timer.cancel()
                self._typing_timer = self._timer(TYPING_STOP_AFTER_SEND_S, self.stop_typing)

    def forget_all(self) -> None:
        """Signed out: what was typed for that user goes."""
        self.drafts.clear()
        self.targets.clear()
        self.rev += 1

    def _replace(self, room_id: str | None, text: str) -> None:
        self.drafts[room_id] = text
        self.rev += 1
        self._invalidate()

    # -- typing notifications -----------------------------------------------------------
    def _start_typing(self, room_id: str) -> None:
        if self._typing_room not in (None, room_id):
            self.stop_typing()
        self._typing_room = room_id
        if self._typing_shown_over == room_id:
            # The server still has us typing, so a "typing" alone would change nothing
            # for the receivers that hid it when the message came: stop, then start.
            self._typing_shown_over = None
            self._spawn(self._restart_typing(room_id))
        else:
            # The service repeats a "still typing" only when the server's timeout needs it.
            self._spawn(self._set_typing(room_id, True))
        if self._typing_timer is not None:
            self._typing_timer.cancel()
        self._typing_timer = self._timer(TYPING_IDLE_S, self.stop_typing)

    async def _restart_typing(self, room_id: str) -> None:
        await self._set_typing(room_id, False)
        await self._set_typing(room_id, True)

    def stop_typing(self) -> None:
        if self._typing_timer is not None:
            self._typing_timer.cancel()
            self._typing_timer = None
        self._typing_shown_over = None
        room_id, self._typing_room = self._typing_room, None
        if room_id is not None:
            self._spawn(self._set_typing(room_id, False))

    # -- drafts across the sign-in redirect ---------------------------------------------
    def save(self) -> None:
        if self.draft_store is None:
            return
        drafts = {room_id or "": text for room_id, text in self.drafts.items() if text.strip()}
        if drafts:
            save_json(self.draft_store, self.drafts_key, drafts)
        else:
            self.draft_store.remove(self.drafts_key)

    def forget_saved(self) -> None:
        if self.draft_store is not None:
            self.draft_store.remove(self.drafts_key)

    def _take_saved(self) -> None:
        if self.draft_store is None:
            return
        saved = load_json(self.draft_store, self.drafts_key)
        # Taken out once: a later reload starts with what the user types from now on.
        self.draft_store.remove(self.drafts_key)
        if isinstance(saved, dict):
            for room_id, text in saved.items():
                if isinstance(text, str):
                    self.drafts[room_id or None] = text
            self.rev += 1
