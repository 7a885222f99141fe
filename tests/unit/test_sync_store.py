"""The sync kept across reloads (pyapp.client.sync_store): a reload shows the chat from the store
and resumes with `since=`, an answer is stored before the next /sync acknowledges it, a store
that cannot be used is dropped for a full sync, and signing out (or the session ending) empties
it.

A real ChatService runs against the in-memory homeserver; "a reload" is a second ChatService
on the same storage and stores."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from pyapp.client.rooms import RoomList
from pyapp.client.service import ChatConfig, ChatService
from pyapp.client.storage import MemoryStorage
from pyapp.client.sync_store import (
    MAX_EVENTS, META_KEY, MemorySyncStore, SyncPersistence, SyncSnapshot,
)
from pyapp.client.timeline_model import Gap, Message, RoomStart

from .test_sync_faults import BOT, NOW, event_meta, until
from .ui_fake_homeserver import FakeHomeserver, _ok


class RecordingHomeserver(FakeHomeserver):
    """Records each /sync's `since`; refuses tokens it never issued, as Synapse does."""

    def __init__(self):
        super().__init__()
        self.sinces: list[str | None] = []

    async def _sync(self, user, query):
        since = query.get("since", [None])[0]
        self.sinces.append(since)
        if since is not None and (not since.isdigit() or int(since) > self.pos):
            return _ok({"errcode": "M_UNKNOWN", "error": "Invalid stream token"}, 400)
        return await super()._sync(user, query)


class Browser:
    """One browser profile: localStorage and the IndexedDB databases, by user and device."""

    def __init__(self, hs):
        self.hs, self.storage, self.stores = hs, MemoryStorage(), {}
        self.services: list[ChatService] = []

    def open_store(self, user_id, device_id):
        return self.stores.setdefault((user_id, device_id), MemorySyncStore())

    def page(self) -> ChatService:
        service = ChatService(ChatConfig("http://hs", tenant="t1", bot_user_id=BOT), self.hs,
                              self.storage, clock=lambda: NOW, sync_stores=self.open_store)
        self.services.append(service)
        return service

    async def close(self):
        for service in self.services:
            await service.stop()


@pytest.fixture
async def world():
    hs = RecordingHomeserver()
    alice, bob = hs.add_user("alice_t1"), hs.add_user("bob_t1")
    room = hs.create_room("Picnic", BOT, metadata=event_meta("picnic"))
    for user in (alice, bob):
        hs.join(room, user)
    browser = Browser(hs)
    yield hs, browser, alice, bob, room
    await browser.close()


def texts(service, room_id):
    return [m.body for m in service.room(room_id).timeline.messages]


async def signed_in(browser, hs, room, bob):
    page = browser.page()
    await page.login_password("alice_t1", "pw")
    hs.post(room, bob, "hello from bob")
    await until(lambda: page.synced and "hello from bob" in texts(page, room))
    return page


async def test_a_reload_shows_the_stored_chat_then_resumes_with_since(world):
    hs, browser, alice, bob, room = world
    first = await signed_in(browser, hs, room, bob)
    stored = json.loads(browser.stores[(alice, "DEV")].records[META_KEY])["next_batch"]
    await first.stop()
    hs.down = True  # the reload renders before any answer from the network
    hs.sinces.clear()
    second = browser.page()
    assert await second.restore()
    assert second.synced and texts(second, room) == ["hello from bob"]
    assert second.room(room).name == "Picnic" and second.rooms.find("event", "picnic", "t1")
    hs.post(room, bob, "while the page was closed")
    hs.down = False
    second.retry_now()
    await until(lambda: "while the page was closed" in texts(second, room))
    assert hs.sinces[0] == stored
    assert texts(second, room) == ["hello from bob", "while the page was closed"]


class SlowStore(MemorySyncStore):
    """IndexedDB's commit takes a moment: while `commit` is clear, writes wait for it."""

    def __init__(self):
        super().__init__()
        self.commit = asyncio.Event()
        self.commit.set()

    async def write(self, puts, deletes, replace):
        await self.commit.wait()
        await super().write(puts, deletes, replace)


async def test_an_answer_is_shown_while_it_is_stored_and_acknowledged_only_once_stored(world):
    """The write is off the message's way to the screen, but the next /sync (whose `since`
    lets the server forget the answer) waits for it."""
    hs, browser, alice, bob, room = world
    store = browser.stores[(alice, "DEV")] = SlowStore()
    page = await signed_in(browser, hs, room, bob)
    store.commit.clear()
    hs.post(room, bob, "news")
    token = str(hs.pos)
    await until(lambda: texts(page, room)[-1:] == ["news"])
    assert "news" not in store.records.get(f"room:{room}", "")
    assert token not in hs.sinces
    store.commit.set()
    await until(lambda: token in hs.sinces)
    assert json.loads(store.records[META_KEY])["next_batch"] == token
    assert "news" in store.records[f"room:{room}"]


async def test_a_store_that_fails_loses_no_sync_and_is_not_resumed(world, caplog):
    hs, browser, alice, bob, room = world
    page = await signed_in(browser, hs, room, bob)
    store = browser.stores[(alice, "DEV")]
    store.fail = True
    hs.post(room, bob, "still shown")
    await until(lambda: "still shown" in texts(page, room))
    assert "not persisting" in caplog.text
    assert store.records == {}  # behind the sync, so dropped: a reload does a full sync
    hs.post(room, bob, "and the next one")
    await until(lambda: "and the next one" in texts(page, room))
    assert store.writes == 1


@pytest.mark.parametrize("spoil", ["version", "garbage", "token"])
async def test_an_unusable_store_is_dropped_and_a_full_sync_follows(world, spoil):
    hs, browser, alice, bob, room = world
    first = await signed_in(browser, hs, room, bob)
    await first.stop()
    store = browser.stores[(alice, "DEV")]
    meta = json.loads(store.records[META_KEY])
    if spoil == "version":
        meta["version"] = 0
        store.records[META_KEY] = json.dumps(meta)
    elif spoil == "garbage":
        store.records[f"room:{room}"] = "{not json"
    else:  # a token the homeserver does not know (expired, or its database was replaced)
        meta["next_batch"] = "999999"
        store.records[META_KEY] = json.dumps(meta)
    hs.sinces.clear()
    second = browser.page()
    await second.restore()
    hs.post(room, bob, "after")
    await until(lambda: second.sync_loop.synced and "after" in texts(second, room))
    assert texts(second, room) == ["hello from bob", "after"]
    assert None in hs.sinces[:2]  # a full sync
    assert json.loads(store.records[META_KEY])["version"] == 1


async def test_signing_out_or_the_session_ending_empties_the_store(world):
    hs, browser, alice, bob, room = world
    page = await signed_in(browser, hs, room, bob)
    assert browser.stores[(alice, "DEV")].records
    await page.logout()
    assert browser.stores[(alice, "DEV")].records == {}
    page = await signed_in(browser, hs, room, bob)
    assert browser.stores[(alice, "DEV")].records
    hs.revoked.add(alice)
    hs.post(room, bob, "wake up")
    await until(lambda: page.status == "signed_out")
    await until(lambda: browser.stores[(alice, "DEV")].records == {})


async def test_another_user_on_the_same_browser_never_sees_the_stored_rooms(world):
    hs, browser, alice, bob, room = world
    hs.create_room("Alice only", BOT, metadata=event_meta("secret"))
    secret = next(r for r in hs.rooms if hs.rooms[r].name == "Alice only")
    hs.join(secret, alice)
    await (await signed_in(browser, hs, room, bob)).stop()
    carol = hs.add_user("carol_t1")
    page = browser.page()
    await page.login_password("carol_t1", "pw")
    await until(lambda: page.synced)
    assert secret not in page.rooms.rooms
    assert all(f"room:{secret}" not in s.records for (u, _), s in browser.stores.items()
               if u == carol)


async def test_local_echo_and_unread_counts_stay_right_after_a_resume(world):
    hs, browser, alice, bob, room = world
    first = await signed_in(browser, hs, room, bob)
    await first.stop()
    second = browser.page()
    await second.restore()
    await until(lambda: second.sync_loop.synced)
    await second.send_text(room, "mine")
    await until(lambda: texts(second, room) == ["hello from bob", "mine"]
                and not second.room(room).timeline.local)
    assert [e["content"]["body"] for e in hs.sent].count("mine") == 1


async def test_a_limited_sync_after_a_resume_leaves_a_gap(world):
    hs, browser, alice, bob, room = world
    first = await signed_in(browser, hs, room, bob)
    await first.stop()
    second = browser.page()
    await second.restore()

    def limited(body):
        section = body["rooms"]["join"][room]["timeline"]
        section["limited"], section["prev_batch"] = True, "gap-token"
        return body

    hs.sync_rewrite = limited
    hs.post(room, bob, "after a gap")
    await until(lambda: "after a gap" in texts(second, room))
    items = second.room(room).timeline.items()
    gaps = [i for i in items if isinstance(i, Gap)]
    assert any(g.token == "gap-token" for g in gaps)
    assert texts(second, room) == ["after a gap"]  # only what is contiguous with now


# -- the snapshot itself ------------------------------------------------------------------
ME = "@me:hs"


def msg(n, sender="@bob:hs", **content):
    return {"type": "m.room.message", "sender": sender, "event_id": f"$m{n}",
            "origin_server_ts": 1_000 + n, "content": {"msgtype": "m.text", "body": f"m{n}",
                                                       **content}}


def state(kind, key, sender, **content):
    return {"type": kind, "state_key": key, "sender": sender, "event_id": f"${kind}{key}{content}",
            "origin_server_ts": 1, "content": content}


def answers():
    """A room's life: a first sync, messages, a rename, a limited sync (a gap), an edit, a
    reaction, receipts and unread counts; an invite; a room left."""
    create = state("m.room.create", "", ME)
    first = {"next_batch": "s1", "rooms": {
        "join": {"!a:hs": {
            "state": {"events": [create, state("m.room.name", "", ME, name="Old name"),
                                 state("m.room.member", ME, ME, membership="join",
                                       displayname="Me")]},
            "timeline": {"events": [state("m.room.member", "@bob:hs", "@bob:hs",
                                          membership="join", displayname="Bob"), msg(1)],
                         "limited": False, "prev_batch": "p1"},
            "summary": {"m.joined_member_count": 2, "m.invited_member_count": 0},
            "unread_notifications": {"notification_count": 1, "highlight_count": 0},
        }, "!gone:hs": {"timeline": {"events": [msg(90)], "prev_batch": "x"}}},
        "invite": {"!inv:hs": {"invite_state": {"events": [
            state("m.room.name", "", "@bob:hs", name="Invited"),
            state("m.room.member", ME, "@bob:hs", membership="invite")]}}}}}
    later = [{"next_batch": f"s{n}", "rooms": {"join": {"!a:hs": {
        "timeline": {"events": [msg(n)], "limited": False, "prev_batch": f"p{n}"}}}}}
        for n in range(2, 40)]
    rename = {"next_batch": "s40", "rooms": {"join": {"!a:hs": {"state": {"events": [
        state("m.room.name", "", ME, name="New name")]},
        "timeline": {"events": [msg(40)], "limited": True, "prev_batch": "gap40"}}},
        "leave": {"!gone:hs": {}}}}
    relations = {"next_batch": "s41", "rooms": {"join": {"!a:hs": {
        "timeline": {"events": [
            msg(41), {"type": "m.reaction", "sender": ME, "event_id": "$r1",
                      "origin_server_ts": 5, "content": {"m.relates_to": {
                          "rel_type": "m.annotation", "event_id": "$m41", "key": "👍"}}},
            {**msg(42), "content": {"msgtype": "m.text", "body": "* edited", "m.new_content": {
                "msgtype": "m.text", "body": "m41 edited"}, "m.relates_to": {
                "rel_type": "m.replace", "event_id": "$m41"}}}],
            "limited": False, "prev_batch": "p41"},
        "ephemeral": {"events": [{"type": "m.receipt", "content": {
            "$m40": {"m.read": {"@bob:hs": {"ts": 1}}}}}, {"type": "m.receipt", "content": {
                "$m41": {"m.read": {"@bob:hs": {"ts": 2}}}}}]},
        "unread_notifications": {"notification_count": 3, "highlight_count": 1}}}}}
    more = [{"next_batch": f"s{n}", "rooms": {"join": {"!a:hs": {
        "timeline": {"events": [msg(n)], "limited": False, "prev_batch": f"p{n}"}}}}}
        for n in range(43, 70)]
    return [first, *later, rename, relations, *more]


def shown(rooms: RoomList) -> dict:
    out = {}
    for room_id, room in rooms.rooms.items():
        items = []
        for item in room.timeline.items():
            if isinstance(item, Message):
                items.append((item.key, item.body, item.edited,
                              [(r.key, r.senders) for r in item.reactions]))
            elif isinstance(item, (Gap, RoomStart)):
                items.append((type(item).__name__, getattr(item, "token", None)))
            else:
                items.append((item.key,))
        out[room_id] = (room.membership, room.name, room.unread, room.highlights,
                        room.receipts, room.members, room.member_count, room.metadata, items)
    return out


def test_a_snapshot_survives_serialising_and_rebuilds_what_was_shown():
    snapshot = SyncSnapshot(ME, "DEV")
    records: dict[str, str] = {}
    for body in answers():
        puts, deletes = snapshot.absorb(json.loads(json.dumps(body)))
        for key in deletes:
            records.pop(key, None)
        records.update(puts)
    restored = SyncSnapshot.restore(records, ME, "DEV")
    assert restored is not None and restored.next_batch == "s69"
    rebuilt = RoomList(ME)
    for body in restored.bodies():
        rebuilt.apply_sync(body)
    # What was live, limited to the stored window: the same rooms, names, counts, receipts.
    live = RoomList(ME)
    for body in answers():
        live.apply_sync(body)
    got, want = shown(rebuilt), shown(live)
    assert set(got) == set(want) == {"!a:hs", "!inv:hs"}
    assert got["!inv:hs"] == want["!inv:hs"]
    assert got["!a:hs"][:8] == want["!a:hs"][:8]
    assert got["!a:hs"][1] == "New name" and got["!a:hs"][2:4] == (3, 1)
    # The timeline: the newest whole chunks (at least MAX_EVENTS events), the same items.
    tail = got["!a:hs"][8]
    assert tail[0][0] == "Gap" and tail[0][1] is not None  # back-pagination resumes there
    held = sum(1 for i in tail if i[0].startswith("$m")) + 2  # and the reaction and edit
    assert MAX_EVENTS <= held < MAX_EVENTS + 30
    assert tail[1:] == want["!a:hs"][8][-(len(tail) - 1):]
    assert ("$m41", "m41 edited", True, [("👍", [ME])]) in tail
    assert ("Gap", "gap40") in tail  # the limited sync's gap, as it was live


def test_a_snapshot_of_another_user_device_or_version_is_refused():
    snapshot = SyncSnapshot(ME, "DEV")
    snapshot.absorb(answers()[0])
    records = snapshot.records()
    assert SyncSnapshot.restore(records, ME, "DEV") is not None
    assert SyncSnapshot.restore(records, "@other:hs", "DEV") is None
    assert SyncSnapshot.restore(records, ME, "OTHER") is None
    old = dict(records, meta=records[META_KEY].replace('"version":1', '"version":0'))
    assert SyncSnapshot.restore(old, ME, "DEV") is None
    assert SyncSnapshot.restore({k: v for k, v in records.items() if k != META_KEY},
                                ME, "DEV") is None
    assert SyncSnapshot.restore(dict(records, **{"room:!a:hs": "[]"}), ME, "DEV") is None


async def test_only_the_writer_tab_writes_and_a_tab_that_becomes_it_writes_everything():
    """Two tabs writing their own answers would mix one tab's rooms with the other's
    next_batch; the tab that is not the writer keeps its answers until it becomes one."""
    store = MemorySyncStore()
    store.owner = False  # another tab holds the store
    persistence = SyncPersistence(lambda user_id, device_id: store)
    persistence.open(ME, "DEV")
    first, second, third = (json.loads(json.dumps(b)) for b in answers()[:3])
    await persistence.save(first, full=True)
    await persistence.save(second, full=False)
    assert store.records == {}
    store.owner = True  # that tab closed
    await persistence.save(third, full=False)
    await persistence.written()
    restored = SyncSnapshot.restore(store.records, ME, "DEV")
    assert restored is not None and restored.next_batch == "s3"
    assert set(restored.rooms) == {"!a:hs", "!gone:hs", "!inv:hs"}
    assert [e["event_id"] for c in restored.rooms["!a:hs"]["chunks"] for e in c["events"]
            ][-3:] == ["$m1", "$m2", "$m3"]


def test_global_account_data_such_as_m_direct_survives_a_reload():
    """A sync resumed from the stored token never sends unchanged account data again, so the
    user's DMs (m.direct) must come back from the snapshot."""
    snapshot = SyncSnapshot(ME, "DEV")
    direct = {"type": "m.direct", "content": {"@bob:hs": ["!dm:hs"]}}
    snapshot.absorb({"next_batch": "s1", "account_data": {"events": [direct]},
                     "rooms": {"join": {"!dm:hs": {"timeline": {"events": []}}}}})
    puts, _ = snapshot.absorb({"next_batch": "s2", "rooms": {}})
    assert "account" not in puts  # written only when it changes
    restored = SyncSnapshot.restore(snapshot.records(), ME, "DEV")
    rebuilt = RoomList(ME)
    for body in restored.bodies():
        rebuilt.apply_sync(body)
    assert rebuilt.direct == {"@bob:hs": ["!dm:hs"]} and rebuilt.dm_partner("!dm:hs") == "@bob:hs"
    spoiled = dict(snapshot.records(), account='{"m.direct": 3}')
    assert SyncSnapshot.restore(spoiled, ME, "DEV") is None
