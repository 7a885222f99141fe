"""Mentions and notification levels through the view model and a real ChatService on the
in-memory homeserver (which here also keeps push rules): the @ picker by keyboard and mouse,
what is sent, highlighted messages, levels stored as push rules and read back."""

from __future__ import annotations

import json
from urllib.parse import unquote, urlsplit

import pytest

from pyapp.client.service import ChatConfig, ChatService
from pyapp.client.storage import MemoryStorage
from pyapp.client.transport import TransportError
from pyapp.ui.format import Clock
from pyapp.ui.parts.rooms import RoomListPart
from pyapp.ui.viewmodel import CHAT, ChatViewModel, MessageView

from .test_ui_viewmodel import BOT, NOW, until
from .ui_fake_homeserver import FakeHomeserver, _ok


class RulesHomeserver(FakeHomeserver):
    """The fake homeserver with the push rules API (one user's rules suffice here)."""

    def __init__(self):
        super().__init__()
        self.rules = {"global": {"override": [], "room": [], "content": [], "underride": []}}
        self.rule_calls = []

    async def request(self, method, url, headers, body=None, timeout=None):
        path = unquote(urlsplit(url).path)
        if "/pushrules/" not in path:
            return await super().request(method, url, headers, body, timeout)
        if self.down:
            raise TransportError("connection refused")
        self.rule_calls.append((method, path))
        if path.endswith("/pushrules/"):
            return _ok(self.rules)
        kind, rule_id = path.split("/pushrules/global/", 1)[1].split("/", 1)
        rules = self.rules["global"][kind]
        existing = [r for r in rules if r["rule_id"] == rule_id]
        if method == "DELETE":
            if not existing:
                return _ok({"errcode": "M_NOT_FOUND"}, 404)
            rules.remove(existing[0])
        else:
            for rule in existing:
                rules.remove(rule)
            rules.insert(0, {"rule_id": rule_id, "enabled": True, "default": False,
                             **json.loads(body)})
        return _ok({})


@pytest.fixture
async def world():
    hs = RulesHomeserver()
    alice, bob = hs.add_user("alice_t1"), hs.add_user("bob_t1")
    bobby = hs.add_user("bobby_t1")
    hs.add_user("openmeet-bot")
    room = hs.create_room("Picnic", BOT, metadata={"entity_type": "event", "entity_slug": "picnic",
                                                   "tenant_id": "t1"})
    for user in (alice, bob, bobby):
        hs.join(room, user)
    services, models = [], []

    def service():
        s = ChatService(ChatConfig("http://hs", tenant="t1", bot_user_id=BOT), hs,
                        MemoryStorage(), clock=lambda: NOW)
        services.append(s)
        return s

    def vm(s, mode="sidebar", context="event", slug="picnic"):
        model = ChatViewModel(s, mode, context, slug, clock=Clock(lambda: NOW, 0))
        models.append(model)
        return model

    class W:
        pass

    w = W()
    w.hs, w.alice, w.bob, w.bobby, w.room, w.service, w.vm = (
        hs, alice, bob, bobby, room, service, vm)
    yield w
    for model in models:
        model.close()
    for s in services:
        await s.stop()


async def ready(w, mode="sidebar", context="event", slug="picnic"):
    service = w.service()
    model = w.vm(service, mode, context, slug)
    await service.login_password("alice_t1", "pw")
    await until(lambda: model.state.screen == CHAT)
    return service, model


def type_text(model, text, caret=None):
    model.set_draft(text)
    model.set_caret(text, len(text) if caret is None else caret)


async def test_at_offers_members_and_enter_inserts_a_pill_that_is_sent_as_a_mention(world):
    service, model = await ready(world)
    type_text(model, "hi @bo")
    await until(lambda: len(model.state.mention_options) == 2)  # all members were loaded
    assert [o.name for o in model.state.mention_options] == ["Bob", "Bobby"]
    assert model.state.mention_options[0].active
    assert world.alice not in [o.user_id for o in model.state.mention_options]
    assert model.on_key("ArrowDown") is True
    await until(lambda: model.state.mention_options[1].active)
    assert model.on_key("ArrowUp") is True
    await until(lambda: model.state.mention_options[0].active)
    assert model.on_key("Enter") is True  # inserts, does not send
    await until(lambda: model.state.draft == "hi @Bob ")
    assert model.state.caret == (8, model.state.draft_rev)
    assert model.state.mention_options == [] and not world.hs.sent
    type_text(model, "hi @Bob see you")
    assert model.on_key("Enter") is True
    await until(lambda: world.hs.sent)
    content = world.hs.sent[0]["content"]
    assert content["body"] == "hi @Bob see you"
    assert content["m.mentions"] == {"user_ids": [world.bob]}
    assert content["formatted_body"] == \
        f'hi <a href="https://matrix.to/#/{world.bob}">Bob</a> see you'


async def test_tab_and_the_mouse_insert_escape_closes_until_the_next_at(world):
    service, model = await ready(world)
    type_text(model, "@bo")
    await until(lambda: len(model.state.mention_options) == 2)
    assert model.on_key("Escape") is True
    await until(lambda: model.state.mention_options == [])
    type_text(model, "@bob")  # same "@": stays closed
    assert model.mentions.options == []
    assert model.on_key("Escape") is False  # nothing open, nothing to cancel
    type_text(model, "@bob @bob")
    await until(lambda: model.state.mention_options)
    assert model.on_key("Tab") is True
    await until(lambda: model.state.draft == "@bob @Bob ")
    type_text(model, "@bob @Bob and @bobb")
    await until(lambda: [o.name for o in model.state.mention_options] == ["Bobby"])
    assert model.choose_mention(world.bobby)
    await until(lambda: model.state.draft == "@bob @Bob and @Bobby ")
    model.send()
    await until(lambda: world.hs.sent)
    assert world.hs.sent[0]["content"]["m.mentions"] == {"user_ids": [world.bob, world.bobby]}


async def test_a_pill_typed_away_is_no_mention(world):
    service, model = await ready(world)
    type_text(model, "@b")
    await until(lambda: model.state.mention_options)
    model.on_key("Enter")
    type_text(model, "@Bo, never mind")
    model.send()
    await until(lambda: world.hs.sent)
    assert world.hs.sent[0]["content"] == {"msgtype": "m.text", "body": "@Bo, never mind"}


async def test_messages_that_mention_me_are_highlighted(world):
    service, model = await ready(world)
    world.hs.post(world.room, world.bob, "", content={
        "msgtype": "m.text", "body": "@Alice look", "m.mentions": {"user_ids": [world.alice]}})
    world.hs.post(world.room, world.bob, "just chatting")
    world.hs.post(world.room, world.bob, "", content={
        "msgtype": "m.text", "body": "@Bobby", "m.mentions": {"user_ids": [world.bobby]}})
    await until(lambda: len([i for i in model.state.items if isinstance(i, MessageView)]) == 3)
    shown = [(i.body, i.mentions_me) for i in model.state.items if isinstance(i, MessageView)]
    assert shown == [("@Alice look", True), ("just chatting", False), ("@Bobby", False)]


async def test_levels_are_stored_as_push_rules_and_read_back_by_another_session(world):
    service, model = await ready(world)
    assert model.state.notify_level == "all"
    await model.set_notify_level("mute")
    assert model.state.notify_level == "mute" or service.notify_level(world.room) == "mute"
    rules = world.hs.rules["global"]
    assert [r["rule_id"] for r in rules["override"]] == [world.room]
    assert rules["override"][0]["actions"] == []
    assert rules["override"][0]["conditions"] == [
        {"kind": "event_match", "key": "room_id", "pattern": world.room}]
    await model.set_notify_level("mentions")
    assert rules["override"] == [] and [r["rule_id"] for r in rules["room"]] == [world.room]
    other = world.service()
    await other.login_password("alice_t1", "pw")
    await until(lambda: other.push_rules is not None)
    assert other.notify_level(world.room) == "mentions"
    await model.set_notify_level("all")
    assert rules["room"] == [] and service.notify_level(world.room) == "all"


async def test_a_refused_level_says_so_and_falls_back(world):
    service, model = await ready(world)
    world.hs.down = True
    await model.set_notify_level("mute")
    world.hs.down = False
    assert service.notify_level(world.room) == "all"
    assert "could not be saved" in model.composer.error


def test_room_list_badges_follow_the_level():
    from types import SimpleNamespace

    from pyapp.client.push_rules import badge
    from pyapp.client.timeline import Timeline

    rooms = [SimpleNamespace(room_id=r, name=r, unread=4, highlights=1, timeline=Timeline(),
                             last_ts=0) for r in ("!a", "!b", "!c")]
    levels = {"!a": "all", "!b": "mentions", "!c": "mute"}
    items = RoomListPart(Clock(lambda: NOW, 0)).items(
        rooms, [], None, "@me:hs",
        badge=lambda room: badge(levels[room.room_id], room.unread, room.highlights))
    assert [(i.unread, i.mentions) for i in items] == [(4, 1), (1, 1), (0, 0)]


async def test_a_reply_with_a_pill_names_both_the_replied_to_sender_and_the_pill(world):
    service, model = await ready(world)
    world.hs.post(world.room, world.bobby, "who brings the cake?")
    await until(lambda: [i for i in model.state.items if isinstance(i, MessageView)])
    message = [i for i in model.state.items if isinstance(i, MessageView)][0]
    assert model.reply_to(message.key)
    type_text(model, "ask @bo")
    await until(lambda: model.state.mention_options)
    model.on_key("Enter")
    type_text(model, "ask @Bob ")
    model.send()
    await until(lambda: len(world.hs.sent) == 2)
    content = world.hs.sent[1]["content"]
    assert content["m.relates_to"]["m.in_reply_to"]["event_id"] == message.event_id
    assert content["m.mentions"] == {"user_ids": [world.bobby, world.bob]}
    assert f'<a href="https://matrix.to/#/{world.bob}">Bob</a>' in content["formatted_body"]


async def test_suggestions_close_on_blur_and_on_another_room(world):
    service, model = await ready(world, mode="dashboard", context="all", slug=None)
    type_text(model, "@bo")
    await until(lambda: model.state.mention_options)
    model.close_mentions()
    await until(lambda: model.state.mention_options == [])
    type_text(model, "@bob")
    await until(lambda: model.state.mention_options)
    model.select_room("!elsewhere:localhost")
    await until(lambda: model.state.mention_options == [])


async def test_a_reload_knows_muted_rooms_from_the_stored_sync_before_the_network_answers():
    from .test_sync_store import Browser, RecordingHomeserver, event_meta

    hs = RecordingHomeserver()
    alice, bob = hs.add_user("alice_t1"), hs.add_user("bob_t1")
    room = hs.create_room("Picnic", BOT, metadata=event_meta("picnic"))
    for user in (alice, bob):
        hs.join(room, user)
    rules = {"global": {"override": [{"rule_id": room, "enabled": True, "actions": [],
                                      "conditions": [{"kind": "event_match", "key": "room_id",
                                                      "pattern": room}]}]}}

    def with_rules(body):
        body["account_data"] = {"events": [{"type": "m.push_rules", "content": rules}]}
        return body

    hs.sync_rewrite = with_rules
    browser = Browser(hs)
    try:
        first = browser.page()
        await first.login_password("alice_t1", "pw")
        await until(lambda: first.synced and first.notify_level(room) == "mute")
        await first.stop()
        hs.down = True  # the reload renders before any answer from the network
        second = browser.page()
        assert await second.restore()
        assert second.notify_level(room) == "mute"
    finally:
        await browser.close()


async def test_editing_a_message_keeps_its_pills_and_notifies_only_the_newly_mentioned(world):
    service, model = await ready(world)
    type_text(model, "@bo")
    await until(lambda: len(model.state.mention_options) == 2)
    model.on_key("Enter")
    type_text(model, "@Bob see you at 6")
    model.send()
    await until(lambda: len(world.hs.sent) == 1)
    original = world.hs.sent[0]["event_id"]
    await until(lambda: any(isinstance(i, MessageView) and i.event_id == original
                            for i in model.state.items))
    model.set_draft("")
    assert model.on_key("ArrowUp") is True
    await until(lambda: model.state.draft == "@Bob see you at 6")
    type_text(model, "@Bob see you at 7")  # a typo fixed: the pill stays
    model.send()
    await until(lambda: len(world.hs.sent) == 2)
    edit = world.hs.sent[1]["content"]
    link = f'<a href="https://matrix.to/#/{world.bob}">Bob</a>'
    assert edit["m.new_content"]["m.mentions"] == {"user_ids": [world.bob]}
    assert edit["m.new_content"]["formatted_body"] == f"{link} see you at 7"
    assert edit["m.mentions"] == {"user_ids": []}  # bob was told already
    await until(lambda: any(isinstance(i, MessageView) and i.body == "@Bob see you at 7"
                            for i in model.state.items))
    # a second edit mentions bobby too: only bobby is newly mentioned
    model.set_draft("")
    model.on_key("ArrowUp")
    await until(lambda: model.state.draft == "@Bob see you at 7")
    type_text(model, "@Bob see you at 7 @bobb")
    await until(lambda: [o.name for o in model.state.mention_options] == ["Bobby"])
    model.on_key("Enter")
    await until(lambda: model.state.draft == "@Bob see you at 7 @Bobby ")
    model.send()
    await until(lambda: len(world.hs.sent) == 3)
    edit = world.hs.sent[2]["content"]
    assert edit["m.new_content"]["m.mentions"] == {"user_ids": [world.bob, world.bobby]}
    assert edit["m.mentions"] == {"user_ids": [world.bobby]}
    assert edit["formatted_body"].startswith(f"* {link} see you at 7 <a href=")


async def test_the_header_counts_the_mentions_of_the_rooms_it_shows_only(world):
    """The sidebar shows one room: its header's @N is that room's, not every room's; the
    dashboard's is the sum of its list's badges (the host's total stays om-chat:unread's)."""
    other = world.hs.create_room("Elsewhere", BOT, metadata={
        "entity_type": "group", "entity_slug": "elsewhere", "tenant_id": "t1"})
    world.hs.join(other, world.alice)
    world.hs.join(other, world.bob)
    service, sidebar = await ready(world)
    dashboard = world.vm(service, "dashboard", "all", None)
    world.hs.rooms[world.room].highlights = 1
    world.hs.rooms[other].highlights = 2
    world.hs.post(world.room, world.bob, "@Alice here")
    world.hs.post(other, world.bob, "@Alice there")
    await until(lambda: service.unread_totals()[1] == 3)
    await until(lambda: sidebar.state.mentions == 1)
    assert sidebar.state.mentions == 1
    await until(lambda: dashboard.state.rooms and dashboard.state.mentions == 3)
    assert sum(r.mentions for r in dashboard.state.rooms) == 3
    await service.set_notify_level(other, "mute")  # a muted room's mentions count nowhere
    await until(lambda: dashboard.state.mentions == 1)
    assert sidebar.state.mentions == 1 and service.unread_totals()[1] == 1
