"""Replies, reactions, edits and deletions: what the view model offers per message, what the
service sends (checked in the in-memory homeserver's stored events) and what a refusal leaves
(an error to retry or dismiss; nothing typed lost). No browser."""

from __future__ import annotations

import pytest

from pyapp.client import actions
from pyapp.ui.parts.timeline import DELETED_TEXT, NOT_LOADED_TEXT
from pyapp.ui.viewmodel import DELETE, EDIT, REACT, REPLY

from .test_ui_viewmodel import BOT, messages, signed_in, until, world  # noqa: F401  (fixture)

MODERATOR_LEVELS = {"users": {BOT: 100, "@bob_t1:localhost": 50}, "users_default": 0,
                    "redact": 50, "events_default": 0}


def by_body(model, body):
    return next(m for m in messages(model.state) if m.body == body)


def stored(hs, event_type):
    return [e for e in hs.sent if e["type"] == event_type]


async def chat(world, *posts):
    """Alice signed in to the event room, with these (sender, body) messages confirmed."""
    for sender, body in posts:
        world.hs.post(world.room, sender, body)
    model = world.vm()
    await signed_in(world, model)
    await until(lambda: {b for _, b in posts} <= {m.body for m in messages(model.state)})
    return model


# -- what is offered ------------------------------------------------------------------

async def test_actions_offered_follow_ownership_and_the_rooms_redact_level(world):
    model = await chat(world, (world.bob, "bob's"), (world.alice, "mine"))
    assert by_body(model, "bob's").actions == (REPLY, REACT)
    assert by_body(model, "mine").actions == (REPLY, REACT, EDIT, DELETE)
    world.hs.set_power_levels(world.room, {**MODERATOR_LEVELS,
                                           "users": {BOT: 100, world.alice: 50}})
    await until(lambda: DELETE in by_body(model, "bob's").actions)
    assert EDIT not in by_body(model, "bob's").actions  # moderators delete, never edit


def test_can_delete_reads_the_power_levels_like_the_server():
    me, other = "@me:hs", "@other:hs"
    assert actions.can_delete({}, me, me) and not actions.can_delete({}, me, other)
    assert not actions.can_delete({}, None, me)
    levels = {"users": {me: 50}, "redact": 50}
    assert actions.can_delete(levels, me, other)
    assert not actions.can_delete({**levels, "redact": 75}, me, other)
    # Even one's own events need the level for sending redactions.
    assert not actions.can_delete({"events": {"m.room.redaction": 10}}, me, me)
    assert not actions.can_delete({"users": {me: "100"}, "redact": 50}, me, other)  # not an int


# -- replies ---------------------------------------------------------------------------

async def test_a_reply_is_sent_with_in_reply_to_and_shows_a_quoted_preview(world):
    model = await chat(world, (world.bob, "picnic at noon?"))
    original = by_body(model, "picnic at noon?")
    assert model.reply_to(original.key)
    await until(lambda: model.state.composer_target is not None)
    target = model.state.composer_target
    assert (target.kind, target.text) == ("reply", "Replying to Bob: picnic at noon?")
    model.set_draft("yes!")
    await model.send()
    await until(lambda: stored(world.hs, "m.room.message")[-1]["content"].get("body") == "yes!")
    content = stored(world.hs, "m.room.message")[-1]["content"]
    assert content["m.relates_to"] == {"m.in_reply_to": {"event_id": original.event_id}}
    assert content["m.mentions"] == {"user_ids": [world.bob]}
    assert model.state.composer_target is None
    await until(lambda: by_body(model, "yes!").status == "sent")
    reply = by_body(model, "yes!").reply
    assert (reply.key, reply.sender_name, reply.text) == (original.key, "Bob",
                                                          "picnic at noon?")


async def test_escape_cancels_a_reply_and_the_draft_stays(world):
    model = await chat(world, (world.bob, "hi"))
    model.set_draft("half typed")
    model.reply_to(by_body(model, "hi").key)
    await until(lambda: model.state.composer_target is not None)
    assert model.on_key("Escape") is True
    await until(lambda: model.state.composer_target is None)
    assert model.state.draft == "half typed"
    assert model.on_key("Escape") is False  # nothing to cancel: the browser's default


async def test_a_reply_to_an_unheld_original_says_so_and_clicking_it_looks_in_history(world):
    model = await chat(world)
    world.hs.post(world.room, world.bob, "answering", content={
        "msgtype": "m.text", "body": "> <@x:hs> old\n\nanswering",
        "m.relates_to": {"m.in_reply_to": {"event_id": "$gone"}}})
    await until(lambda: any(m.body == "answering" for m in messages(model.state)))
    reply = by_body(model, "answering").reply
    assert (reply.key, reply.text) == (None, NOT_LOADED_TEXT)
    await model.show_original("$gone")  # no scroll-back in this service: said, not hung
    assert model.state.scroll_to is None
    assert model.state.composer_error == "The original message is not in the loaded history."


async def test_showing_a_loaded_original_asks_the_view_to_scroll_to_it(world):
    model = await chat(world, (world.bob, "first"))
    first = by_body(model, "first")
    await model.show_original(first.event_id)
    await until(lambda: model.state.scroll_to == (first.key, 1))


async def test_the_original_is_found_after_paging_back_through_the_paginate_hook(world):
    model = await chat(world, (world.bob, "new"))
    calls = []

    async def paginate(room_id):  # what the scroll-back helper provides
        calls.append(room_id)
        if len(calls) == 2:
            world.service.room(room_id).timeline.prepend_page(
                [{"type": "m.room.message", "event_id": "$old", "sender": world.bob,
                  "origin_server_ts": 5, "content": {"msgtype": "m.text", "body": "old"}}],
                end="t2")
        return True

    world.service.paginate = paginate
    await model.show_original("$old")
    await until(lambda: model.state.scroll_to is not None)
    assert calls == [world.room, world.room]
    assert model.state.scroll_to[0] == "$old"


# -- reactions -------------------------------------------------------------------------

async def test_reacting_toggles_my_reaction_and_counts_who_reacted(world):
    model = await chat(world, (world.bob, "cake?"))
    cake = by_body(model, "cake?")
    world.hs.post(world.room, world.bob, None, event_type="m.reaction",
                  content=actions.reaction_content(cake.event_id, "👍"))
    await until(lambda: by_body(model, "cake?").reactions)
    await model.react(cake.key, "👍")
    await until(lambda: by_body(model, "cake?").reactions[0].count == 2)
    reaction = by_body(model, "cake?").reactions[0]
    assert (reaction.mine, reaction.names, reaction.label) == (True, "Bob and you",
                                                               "👍 2: Bob and you")
    sent = stored(world.hs, "m.reaction")[-1]
    assert sent["sender"] == world.alice
    assert sent["content"]["m.relates_to"] == {"rel_type": "m.annotation",
                                               "event_id": cake.event_id, "key": "👍"}
    await until(lambda: world.service.room(world.room).timeline.reaction_event(
        cake.event_id, "👍", world.alice))
    await model.react(cake.key, "👍")  # clicking mine again removes it: a redaction of it
    await until(lambda: by_body(model, "cake?").reactions[0].count == 1)
    assert stored(world.hs, "m.room.redaction")[-1]["redacts"] == sent["event_id"]
    assert by_body(model, "cake?").reactions[0].mine is False


async def test_a_reaction_key_too_long_is_refused_before_sending(world):
    model = await chat(world, (world.bob, "x"))
    await model.react(by_body(model, "x").key, "k" * 1024)
    assert model.state.composer_error == "A reaction is at most 64 characters."
    await model.react(by_body(model, "x").key, "  ")
    assert model.state.composer_error == "Choose an emoji to react with."
    assert stored(world.hs, "m.reaction") == []


async def test_a_refused_reaction_is_withdrawn_with_an_error_then_retried_or_dismissed(world):
    model = await chat(world, (world.bob, "x"))
    key = by_body(model, "x").key
    world.hs.send_down = True
    await model.react(key, "🎉")
    await until(lambda: model.state.action_errors)
    assert by_body(model, "x").reactions == ()
    assert model.state.action_errors[0].text == "Reaction failed: no connection."
    world.hs.send_down = False
    await model.retry_action(model.state.action_errors[0].txn_id)
    await until(lambda: by_body(model, "x").reactions and not model.state.action_errors)
    assert len(stored(world.hs, "m.reaction")) == 1
    world.hs.refuse = (403, "M_FORBIDDEN")
    await model.react(key, "😮")
    await until(lambda: model.state.action_errors)
    assert model.state.action_errors[0].text == "Reaction failed: refused."
    model.dismiss_action(model.state.action_errors[0].txn_id)
    await until(lambda: not model.state.action_errors)
    assert [r.key for r in by_body(model, "x").reactions] == ["🎉"]


# -- edits -----------------------------------------------------------------------------

async def test_up_in_an_empty_composer_edits_my_last_message_and_sends_new_content(world):
    model = await chat(world, (world.alice, "helo"), (world.bob, "hi"))
    model.set_draft("")
    assert model.on_key("ArrowUp") is True
    await until(lambda: model.state.composer_target is not None)
    assert (model.state.composer_target.text, model.state.draft) == (
        "Editing your message", "helo")
    model.set_draft("hello")
    await model.send()
    await until(lambda: any(m.body == "hello" and m.edited for m in messages(model.state)))
    edit = stored(world.hs, "m.room.message")[-1]["content"]
    original = by_body(model, "hello")
    assert edit == {"msgtype": "m.text", "body": "* hello",
                    "m.new_content": {"msgtype": "m.text", "body": "hello"},
                    "m.relates_to": {"rel_type": "m.replace", "event_id": original.event_id}}
    assert [m.body for m in messages(model.state)] == ["hello", "hi"]  # in place, one item


async def test_escape_cancels_an_edit_and_gives_back_what_was_typed(world):
    model = await chat(world, (world.alice, "mine"))
    model.set_draft("")
    model.on_key("ArrowUp")
    await until(lambda: model.state.draft == "mine")
    model.set_draft("mine, changed")
    assert model.on_key("Escape")
    await until(lambda: model.state.composer_target is None)
    assert model.state.draft == ""
    model.set_draft("a new message")
    assert model.on_key("ArrowUp") is False  # only in an empty composer
    assert model.edit_message(by_body(model, "mine").key)
    await until(lambda: model.state.draft == "mine")
    model.cancel_composer()
    await until(lambda: model.state.draft == "a new message")


async def test_others_messages_cannot_be_edited_and_the_service_refuses_too(world):
    model = await chat(world, (world.bob, "bob's"))
    assert model.edit_message(by_body(model, "bob's").key) is False
    assert model.on_key("ArrowUp") is False  # no message of mine
    with pytest.raises(ValueError):
        await world.service.edit(world.room, by_body(model, "bob's").event_id, "forged")


async def test_a_failed_edit_keeps_the_new_text_in_the_error_to_retry(world):
    model = await chat(world, (world.alice, "draft one"))
    model.edit_message(by_body(model, "draft one").key)
    await until(lambda: model.state.draft == "draft one")
    world.hs.send_down = True
    model.set_draft("final text")
    await model.send()
    await until(lambda: model.state.action_errors)
    assert by_body(model, "draft one").edited is False  # the echo is withdrawn
    world.hs.send_down = False
    await model.retry_action(model.state.action_errors[0].txn_id)
    await until(lambda: any(m.body == "final text" for m in messages(model.state)))


# -- deletions -------------------------------------------------------------------------

async def test_deleting_asks_first_then_leaves_a_placeholder(world):
    model = await chat(world, (world.alice, "oops"), (world.bob, "lol"))
    oops = by_body(model, "oops")
    assert model.confirm_delete(oops.key) is None  # not asked: nothing happens
    assert model.ask_delete(oops.key)
    await until(lambda: by_body(model, "oops").confirm_delete)
    model.cancel_delete()
    await until(lambda: not by_body(model, "oops").confirm_delete)
    assert model.ask_delete(oops.key)
    await model.confirm_delete(oops.key)
    await until(lambda: any(m.deleted for m in messages(model.state)))
    gone = next(m for m in messages(model.state) if m.key == oops.key)
    assert (gone.body, gone.actions, gone.reactions) == (DELETED_TEXT, (), ())
    assert stored(world.hs, "m.room.redaction")[-1]["redacts"] == oops.event_id


async def test_a_member_cannot_delete_anothers_message(world):
    model = await chat(world, (world.bob, "bob's"))
    bobs = by_body(model, "bob's")
    assert model.ask_delete(bobs.key) is False
    with pytest.raises(ValueError):
        await world.service.delete(world.room, bobs.event_id)
    assert stored(world.hs, "m.room.redaction") == []


async def test_a_deleted_original_shows_in_the_replys_preview(world):
    model = await chat(world, (world.alice, "original"))
    original = by_body(model, "original")
    world.hs.post(world.room, world.bob, "re", content={
        "msgtype": "m.text", "body": "re",
        "m.relates_to": {"m.in_reply_to": {"event_id": original.event_id}}})
    await until(lambda: any(m.body == "re" for m in messages(model.state)))
    model.ask_delete(original.key)
    await model.confirm_delete(original.key)
    await until(lambda: by_body(model, "re").reply.text == DELETED_TEXT)
