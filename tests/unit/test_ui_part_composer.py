"""The composer's view model with recording stand-ins for the service: drafts per room,
sending, the error when a message cannot even be queued, typing notifications and the drafts
that wait in the tab's storage across the sign-in redirect."""

from __future__ import annotations

import asyncio

from pyapp.client.storage import MemoryStorage
from pyapp.ui.parts.composer import (DRAFTS_PREFIX, TYPING_IDLE_S, TYPING_STOP_AFTER_SEND_S,
                                     ComposerPart)

from .test_ui_viewmodel import ManualTimers


class Outside:
    def __init__(self, refuse: str | None = None):
        self.sent, self.typing, self.renders = [], [], 0
        self.refuse = refuse
        self.timers = ManualTimers()

    async def send_text(self, room_id, body):
        if self.refuse:
            raise ValueError(self.refuse)
        self.sent.append((room_id, body))

    async def set_typing(self, room_id, typing):
        self.typing.append((room_id, typing))

    def invalidate(self):
        self.renders += 1

    def composer(self, **kw) -> ComposerPart:
        return ComposerPart(send_text=self.send_text, set_typing=self.set_typing,
                            spawn=asyncio.ensure_future, timer=self.timers,
                            invalidate=self.invalidate, **kw)


async def settle():
    for _ in range(5):
        await asyncio.sleep(0)


async def test_drafts_are_kept_per_room_and_a_send_clears_only_that_one():
    out = Outside()
    composer = out.composer()
    composer.set_draft("!a", "  for a  ")
    composer.set_draft("!b", "for b")
    rev = composer.rev
    await composer.send("!a")
    assert out.sent == [("!a", "for a")]  # trimmed
    assert composer.draft("!a") == "" and composer.draft("!b") == "for b"
    assert composer.rev > rev and out.renders


async def test_nothing_is_sent_without_text_or_without_a_room():
    out = Outside()
    composer = out.composer()
    composer.set_draft("!a", " \n ")
    assert composer.send("!a") is None
    composer.set_draft(None, "no room yet")
    assert composer.send(None) is None
    assert composer.draft(None) == "no room yet"
    await settle()
    assert out.sent == [] and out.typing == []  # no room: nobody to tell


async def test_a_message_that_cannot_be_queued_comes_back_with_the_reason():
    out = Outside(refuse="Message too long.")
    composer = out.composer()
    composer.set_draft("!a", "x" * 10)
    await composer.send("!a")
    assert composer.draft("!a") == "x" * 10
    assert composer.error == "Message too long."
    composer.set_draft("!a", "shorter")
    assert composer.error is None


def test_only_a_plain_enter_sends():
    assert ComposerPart.sends_on("Enter")
    assert not ComposerPart.sends_on("Enter", shift=True)
    assert not ComposerPart.sends_on("Enter", composing=True)
    assert not ComposerPart.sends_on("a")


async def test_typing_starts_with_text_and_stops_on_clear_idle_room_switch_and_send():
    out = Outside()
    composer = out.composer()
    composer.set_draft("!a", "h")
    await settle()
    assert out.typing == [("!a", True)]
    assert out.timers.pending[-1].delay == TYPING_IDLE_S
    out.timers.fire_all()
    await settle()
    assert out.typing[-1] == ("!a", False)
    composer.set_draft("!a", "hi")
    composer.set_draft("!b", "other room")
    await settle()
    assert out.typing[-3:] == [("!a", True), ("!a", False), ("!b", True)]
    composer.set_draft("!b", "")
    await settle()
    assert out.typing[-1] == ("!b", False)
    composer.set_draft("!b", "again")
    await composer.send("!b")
    await settle()
    assert out.typing[-1] == ("!b", True)  # held back: it would wake every sync again
    assert out.timers.pending[-1].delay == TYPING_STOP_AFTER_SEND_S
    out.timers.fire_all()
    await settle()
    assert out.typing[-1] == ("!b", False)


async def test_typing_on_right_after_a_send_is_announced_anew():
    """Receivers stop showing us typing when our message comes, while the server still has
    us typing: a plain "typing" would change nothing for them, so it is stop, then start."""
    out = Outside()
    composer = out.composer()
    composer.set_draft("!a", "first")
    await composer.send("!a")
    await settle()
    composer.set_draft("!a", "s")
    await settle()
    assert out.typing == [("!a", True), ("!a", False), ("!a", True)]
    assert [t.delay for t in out.timers.pending if not t.cancelled] == [TYPING_IDLE_S]
    composer.set_draft("!a", "se")  # the same burst of typing: no stop again
    await settle()
    assert out.typing[3:] == [("!a", True)]


async def test_drafts_wait_in_the_tab_across_the_redirect_and_are_taken_once():
    tab = MemoryStorage()
    out = Outside()
    composer = out.composer(draft_store=tab, drafts_key="sidebar.event.picnic")
    composer.set_draft("!a", "half a thought")
    composer.set_draft(None, "typed before the room")
    composer.set_draft("!b", "  ")
    composer.save()
    assert tab.get(DRAFTS_PREFIX + "sidebar.event.picnic")
    back = out.composer(draft_store=tab, drafts_key="sidebar.event.picnic")
    assert back.drafts == {"!a": "half a thought", None: "typed before the room"}
    assert back.rev == 1  # the textarea must show them
    assert out.composer(draft_store=tab, drafts_key="sidebar.event.picnic").drafts == {}


async def test_a_redirect_that_did_not_happen_leaves_nothing_saved():
    tab = MemoryStorage()
    composer = Outside().composer(draft_store=tab, drafts_key="k")
    composer.set_draft("!a", "stay")
    composer.save()
    composer.forget_saved()
    assert tab.get(DRAFTS_PREFIX + "k") is None
    composer.set_draft("!a", "")
    composer.save()  # nothing worth keeping
    assert tab.get(DRAFTS_PREFIX + "k") is None


def test_signing_out_forgets_every_draft():
    composer = Outside().composer()
    composer.drafts.update({"!a": "x", None: "y"})
    rev = composer.rev
    composer.forget_all()
    assert composer.drafts == {} and composer.rev > rev
