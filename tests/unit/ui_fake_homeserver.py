"""An in-memory homeserver behind the client's Transport seam, for view-model tests.

It speaks just enough of the client-server API (login, sync with long-poll, send, typing,
receipts, members, join) for a real ChatService to run against it under CPython, and lets a
test act as other users and inject faults.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from urllib.parse import parse_qs, unquote, urlsplit

from pyapp.client.transport import HttpResponse, TransportError
from tests.support import waiting

META = "com.openmeet.room.metadata"
BOT = "@openmeet-bot:localhost"
NOW = 1_700_000_600.0  # seconds; fake messages are stamped just before this

# The fake answers within the same event loop: a short poll; the limit leaves room for a
# machine under heavy load (CI shares its cores).
until = functools.partial(waiting.until, timeout=15.0, interval=0.005)


def _display(user_id):
    return user_id[1:].split(":")[0].split("_")[0].capitalize()


def _receipts(receipts):
    content: dict = {}
    for user, event_id in receipts.items():
        content.setdefault(event_id, {"m.read": {}})["m.read"][user] = {"ts": 1}
    return content


def _ok(body, status=200):
    return HttpResponse(status, {"content-type": "application/json"}, json.dumps(body).encode())


class FakeRoom:
    def __init__(self, room_id, name, creator):
        self.room_id = room_id
        self.name = name
        self.state = [
            {"type": "m.room.create", "state_key": "", "sender": creator, "event_id": f"$c{room_id}",
             "origin_server_ts": 1, "content": {"creator": creator}},
            {"type": "m.room.name", "state_key": "", "sender": creator, "event_id": f"$n{room_id}",
             "origin_server_ts": 1, "content": {"name": name}},
        ]
        self.members: dict[str, str] = {}  # user id -> membership
        self.timeline: list[tuple[int, dict]] = []  # (stream position, event)
        self.typing: list[str] = []
        self.receipts: dict[str, str] = {}
        self.ephemeral_pos = 0
        self.unread = 0  # the server's counts for the syncing user: notifications
        self.highlights = 0  # and mentions (each is at least an unread notification)


class FakeHomeserver:
    def __init__(self, server="localhost"):
        self.server = server
        self.passwords: dict[str, str] = {}
        self.rooms: dict[str, FakeRoom] = {}
        self.pos = 0
        self.changed = asyncio.Event()
        self.sent: list[dict] = []  # every message event stored, to check nothing is sent twice
        self.txns: dict[tuple[str, str], str] = {}
        self.revoked: set[str] = set()  # users whose tokens are refused (session ended)
        self.typing_calls: list[tuple[str, bool]] = []
        self.read_calls: list[tuple[str, str]] = []
        self.sync_errors = 0  # answer this many syncs with HTTP 500
        self.down = False  # every request fails without an answer
        self.send_down = False  # only sends fail without an answer
        self.send_gate: asyncio.Event | None = None  # sends wait for it (a slow homeserver)
        # Rewrites the next sync answer (a federated oddity our own API would refuse).
        self.sync_rewrite = None
        self.refuse = None  # (status, errcode): answer sends and redactions with this error
        self.timeline_limit = None  # events per room in a sync; more: a `limited` timeline
        self.messages_calls: list[dict] = []  # the query of every /messages request
        self.messages_gate: asyncio.Event | None = None  # /messages waits for it
        self.messages_down = False  # /messages fails without an answer
        self._n = 0
        self.account: dict[str, dict[str, tuple[int, dict]]] = {}  # user -> type -> (pos, content)
        self.created: list[dict] = []  # every createRoom request's body
        self.create_down = False  # createRoom fails without an answer

    # -- test-side actions ---------------------------------------------------------------
    def add_user(self, localpart, password="pw"):
        self.passwords[localpart] = password
        return f"@{localpart}:{self.server}"

    def _bump(self):
        self.pos += 1
        self.changed.set()
        return self.pos

    def create_room(self, name, creator, metadata=None, topic=None):
        room_id = f"!r{len(self.rooms)}:{self.server}"
        room = FakeRoom(room_id, name, creator)
        if metadata is not None:
            room.state.append({"type": META, "state_key": "", "sender": creator,
                               "event_id": f"$m{room_id}", "origin_server_ts": 1,
                               "content": metadata})
        if topic:
            room.state.append({"type": "m.room.topic", "state_key": "", "sender": creator,
                               "event_id": f"$t{room_id}", "origin_server_ts": 1,
                               "content": {"topic": topic}})
        self.rooms[room_id] = room
        self.join(room_id, creator)
        return room_id

    def _member_event(self, room, user_id, membership, sender=None):
        self._n += 1
        return {"type": "m.room.member", "state_key": user_id, "sender": sender or user_id,
                "event_id": f"$mem{self._n}", "origin_server_ts": 2,
                "content": {"membership": membership,
                            "displayname": _display(user_id)}}

    def join(self, room_id, user_id):
        room = self.rooms[room_id]
        room.members[user_id] = "join"
        room.timeline.append((self._bump(), self._member_event(room, user_id, "join")))

    def invite(self, room_id, user_id, inviter, is_direct=False):
        room = self.rooms[room_id]
        room.members[user_id] = "invite"
        event = self._member_event(room, user_id, "invite", inviter)
        if is_direct:
            event["content"]["is_direct"] = True
        room.timeline.append((self._bump(), event))

    def leave(self, room_id, user_id):
        room = self.rooms[room_id]
        room.members[user_id] = "leave"
        room.timeline.append((self._bump(), self._member_event(room, user_id, "leave")))

    def set_account_data(self, user_id, kind, content):
        self.account.setdefault(user_id, {})[kind] = (self._bump(), content)

    def post(self, room_id, sender, body, ts=None, txn_id=None, content=None,
             event_type="m.room.message", **fields):
        self._n += 1
        event = {"type": event_type, "sender": sender, "event_id": f"$e{self._n}",
                 "origin_server_ts": ts if ts is not None else 1_700_000_000_000 + self._n,
                 "content": content if content is not None else {"msgtype": "m.text",
                                                                 "body": body}, **fields}
        if txn_id:
            event["unsigned"] = {"transaction_id": txn_id}
        self.rooms[room_id].timeline.append((self._bump(), event))
        self.sent.append(event)
        return event["event_id"]

    def set_power_levels(self, room_id, content):
        self._n += 1
        self.rooms[room_id].timeline.append((self._bump(), {
            "type": "m.room.power_levels", "state_key": "",
            "sender": self.rooms[room_id].state[0]["sender"],
            "event_id": f"$pl{self._n}", "origin_server_ts": 3, "content": content}))

    def set_typing(self, room_id, users):
        room = self.rooms[room_id]
        room.typing = list(users)
        room.ephemeral_pos = self._bump()

    def set_receipt(self, room_id, user_id, event_id):
        room = self.rooms[room_id]
        room.receipts[user_id] = event_id
        room.ephemeral_pos = self._bump()

    # -- the Transport -----------------------------------------------------------------
    async def request(self, method, url, headers, body=None, timeout=None):
        await asyncio.sleep(0)
        if self.down:
            raise TransportError("connection refused")
        parts = urlsplit(url)
        path, query = unquote(parts.path), parse_qs(parts.query)
        data = json.loads(body) if body else None
        user = self._user(headers)
        if path.endswith("/login"):
            return self._login(data)
        if user is not None and user in self.revoked:
            return _ok({"errcode": "M_UNKNOWN_TOKEN", "error": "revoked"}, 401)
        if user is None:
            return _ok({"errcode": "M_MISSING_TOKEN", "error": "no token"}, 401)
        if path.endswith("/sync"):
            return await self._sync(user, query)
        m = re.search(r"/rooms/([^/]+)/messages$", path)
        if m:
            return await self._messages(m.group(1), query)
        m = re.search(r"/rooms/([^/]+)/send/([^/]+)/([^/]+)$", path)
        if m:
            if self.send_down:
                raise TransportError("connection reset")
            if self.send_gate is not None:
                await self.send_gate.wait()
            return self._send(user, m.group(1), data, m.group(3), m.group(2))
        m = re.search(r"/rooms/([^/]+)/redact/([^/]+)/([^/]+)$", path)
        if m:
            if self.send_down:
                raise TransportError("connection reset")
            return self._send(user, m.group(1), {}, m.group(3), "m.room.redaction",
                              redacts=m.group(2))
        m = re.search(r"/rooms/([^/]+)/typing/", path)
        if m:
            self.typing_calls.append((m.group(1), data.get("typing")))
            return _ok({})
        m = re.search(r"/rooms/([^/]+)/read_markers$", path)
        if m:
            self.read_calls.append((m.group(1), data.get("m.read")))
            self.set_receipt(m.group(1), user, data.get("m.read"))
            return _ok({})
        m = re.search(r"/rooms/([^/]+)/joined_members$", path)
        if m:
            room = self.rooms[m.group(1)]
            return _ok({"joined": {u: {"display_name": _display(u)}
                                   for u, s in room.members.items() if s == "join"}})
        if path.endswith("/createRoom"):
            if self.create_down:
                raise TransportError("connection reset")
            self.created.append(data)
            room_id = self.create_room(data.get("name", ""), user)
            for invitee in data.get("invite", []):
                self.invite(room_id, invitee, user, is_direct=data.get("is_direct") is True)
            return _ok({"room_id": room_id})
        m = re.search(r"/user/([^/]+)/account_data/([^/]+)$", path)
        if m:
            if method == "PUT":
                self.set_account_data(m.group(1), m.group(2), data)
                return _ok({})
            stored = self.account.get(m.group(1), {}).get(m.group(2))
            return _ok(stored[1]) if stored else _ok({"errcode": "M_NOT_FOUND"}, 404)
        m = re.search(r"/rooms/([^/]+)/leave$", path)
        if m:
            self.leave(m.group(1), user)
            return _ok({})
        m = re.search(r"/join/([^/]+)$", path)
        if m:
            self.join(m.group(1), user)
            return _ok({"room_id": m.group(1)})
        return _ok({"errcode": "M_UNRECOGNIZED", "error": path}, 404)

    def _user(self, headers):
        auth = headers.get("Authorization", "")
        return auth[len("Bearer tok-"):] if auth.startswith("Bearer tok-") else None

    def _login(self, data):
        localpart = data["identifier"]["user"].lstrip("@").split(":")[0]
        if self.passwords.get(localpart) != data.get("password"):
            return _ok({"errcode": "M_FORBIDDEN", "error": "Invalid password"}, 403)
        user_id = f"@{localpart}:{self.server}"
        return _ok({"user_id": user_id, "device_id": "DEV", "access_token": f"tok-{user_id}"})

    def _send(self, user, room_id, data, txn_id, event_type="m.room.message", **fields):
        if self.refuse is not None:
            return _ok({"errcode": self.refuse[1], "error": "refused"}, self.refuse[0])
        key = (user, txn_id)
        if key not in self.txns:
            self.txns[key] = self.post(room_id, user, data.get("body"), txn_id=txn_id,
                                       content=data, event_type=event_type, **fields)
        return _ok({"event_id": self.txns[key]})

    async def _messages(self, room_id, query):
        """/messages?dir=b: tokens are "p<stream position>", the page holds what is before."""
        self.messages_calls.append({k: v[0] for k, v in query.items()})
        if self.messages_gate is not None:
            await self.messages_gate.wait()
        if self.messages_down:
            raise TransportError("connection reset")
        start = int(query["from"][0][1:]) if "from" in query else self.pos + 1
        limit = int(query.get("limit", ["10"])[0])
        before = [(p, e) for p, e in self.rooms[room_id].timeline if p < start]
        page = list(reversed(before))[:limit]
        senders = {e["sender"] for _, e in page}
        body = {"chunk": [e for _, e in page], "start": query.get("from", ["now"])[0],
                "state": [self._member_event(self.rooms[room_id], u, "join") for u in senders]}
        if len(before) > limit:
            body["end"] = f"p{page[-1][0]}"
        return _ok(body)

    def _window(self, room, since):
        """A room's timeline section: what is new since `since`, at most timeline_limit."""
        events = [(p, e) for p, e in room.timeline if p > since]
        limited = self.timeline_limit is not None and len(events) > self.timeline_limit
        if limited:
            events = events[-self.timeline_limit:]
        return {"events": [e for _, e in events], "limited": limited,
                "prev_batch": f"p{events[0][0]}" if limited else "p0"}

    async def _sync(self, user, query):
        since = int(query.get("since", ["0"])[0])
        timeout = int(query.get("timeout", ["0"])[0]) / 1000
        if self.sync_errors:
            self.sync_errors -= 1
            return _ok({"errcode": "M_UNKNOWN", "error": "Internal server error"}, 500)
        if since >= self.pos and timeout:
            self.changed.clear()
            # Not wait_for: on Python 3.11 it can swallow a cancel that lands as the event
            # fires, and ChatService.stop() then waits forever for the sync task.
            waiter = asyncio.ensure_future(self.changed.wait())
            try:
                await asyncio.wait({waiter}, timeout=min(timeout, 0.2))
            finally:
                waiter.cancel()
            if self.down:
                raise TransportError("connection refused")
        join, invite = {}, {}
        for room in self.rooms.values():
            membership = room.members.get(user)
            new = [e for p, e in room.timeline if p > since]
            if membership == "join" and (new or room.ephemeral_pos > since or since == 0):
                join[room.room_id] = {
                    "state": {"events": room.state if since == 0 or any(
                        e.get("type") == "m.room.member" and e.get("state_key") == user
                        and isinstance(e.get("content"), dict)
                        and e["content"].get("membership") == "join" for e in new) else []},
                    "timeline": self._window(room, since),
                    "ephemeral": {"events": [
                        {"type": "m.typing", "content": {"user_ids": room.typing}},
                        {"type": "m.receipt", "content": _receipts(room.receipts)},
                    ]},
                    "account_data": {"events": []},
                    "unread_notifications": {
                        "notification_count": max(room.unread, room.highlights),
                        "highlight_count": room.highlights},
                    "summary": {"m.joined_member_count": sum(
                        1 for s in room.members.values() if s == "join")},
                }
            elif membership == "invite" and (new or since == 0):
                mine = next(e for _, e in reversed(room.timeline)
                            if e.get("type") == "m.room.member" and e.get("state_key") == user)
                invite[room.room_id] = {"invite_state": {"events": [
                    {k: v for k, v in e.items() if k in ("type", "state_key", "sender", "content")}
                    for e in room.state
                ] + [{"type": "m.room.member", "state_key": mine["sender"],
                      "sender": mine["sender"], "content": {
                          "membership": "join", "displayname": _display(mine["sender"])}},
                     {"type": "m.room.member", "state_key": user, "sender": mine["sender"],
                      "content": dict(mine["content"])}]}}  # the inviter's, then mine (Synapse)
        leave = {room.room_id: {} for room in self.rooms.values()
                 if room.members.get(user) == "leave" and since and any(
                     p > since for p, e in room.timeline if e.get("state_key") == user)}
        account = [{"type": kind, "content": content}
                   for kind, (p, content) in self.account.get(user, {}).items() if p > since]
        body = {"next_batch": str(self.pos), "rooms": {"join": join, "invite": invite,
                                                       "leave": leave},
                "account_data": {"events": account}}
        if self.sync_rewrite is not None:
            rewrite, self.sync_rewrite = self.sync_rewrite, None
            body = rewrite(body)
        return _ok(body)
