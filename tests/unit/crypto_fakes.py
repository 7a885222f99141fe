"""A fake crypto engine and homeserver for pyapp.client.crypto's unit tests.

The fake "encrypts" by wrapping the event in JSON under a session id; it can "decrypt" only
the sessions whose key reached it in a to-device `m.room_key` event (or that it made itself),
which is all the session logic needs to be tested: what is fed when, what is sent, what
heals. No cryptography here, and none is claimed.
"""

from __future__ import annotations

import asyncio
import json

from pyapp.client.crypto import (
    KEYS_CLAIM, KEYS_QUERY, KEYS_UPLOAD, MEGOLM, TO_DEVICE, EngineRequest, Undecryptable,
)
from pyapp.client.transport import HttpResponse


class FakeEngine:
    def __init__(self):
        self.keys: set[str] = set()  # megolm session ids it can decrypt
        self.fed: list[tuple] = []  # every receive_sync call
        self.tracked: set[str] = set()
        self.dirty: set[str] = set()  # tracked users whose devices must be queried
        self.uploaded = False
        self.sessions: set[str] = set()  # users with an Olm session
        self.shared: dict[str, set[str]] = {}  # room -> users the current room key went to
        self.session_of: dict[str, str] = {}  # room -> current outbound session id
        self.rotation: dict[str, tuple] = {}  # room -> the rotation it was asked to use
        self.marked: list[str] = []
        self.closed = False
        self._n = 0

    def _id(self) -> str:
        self._n += 1
        return f"r{self._n}"

    async def receive_sync(self, to_device, changed, left, otk_counts, unused_fallback):
        self.fed.append((list(to_device), list(changed), list(left), dict(otk_counts)))
        for event in to_device:
            if event.get("type") == "m.room_key":
                self.keys.add(event["content"]["session_id"])
        self.dirty |= set(changed) & self.tracked

    async def outgoing_requests(self):
        out = []
        if not self.uploaded:
            out.append(EngineRequest(self._id(), KEYS_UPLOAD, json.dumps({"device_keys": {}})))
        if self.dirty:
            out.append(EngineRequest(self._id(), KEYS_QUERY, json.dumps(
                {"device_keys": {u: [] for u in sorted(self.dirty)}})))
        return out

    async def mark_sent(self, request, response_body):
        json.loads(response_body)  # the answer's JSON reaches the engine
        self.marked.append(request.kind)
        if request.kind == KEYS_UPLOAD:
            self.uploaded = True
        elif request.kind == KEYS_QUERY:
            self.dirty.clear()
        elif request.kind == KEYS_CLAIM:
            self.sessions |= set(json.loads(request.body)["one_time_keys"])

    async def refresh_devices(self):
        self.dirty |= self.tracked

    async def update_tracked_users(self, users):
        new = set(users) - self.tracked
        self.tracked |= new
        self.dirty |= new

    async def missing_sessions(self, users):
        missing = sorted(set(users) - self.sessions)
        if not missing:
            return None
        return EngineRequest(self._id(), KEYS_CLAIM, json.dumps(
            {"one_time_keys": {u: {"DEV": "signed_curve25519"} for u in missing}}))

    async def share_room_key(self, room_id, users, rotation=(None, None)):
        self.rotation[room_id] = rotation
        users = set(users)
        before = self.shared.get(room_id)
        if before is None or before - users:  # first time, or someone left: a new key
            self.session_of[room_id] = f"s{self._id()}"
            self.keys.add(self.session_of[room_id])
            before = set()
        todo = users - before
        self.shared[room_id] = users
        if not todo:
            return []
        return [EngineRequest(self._id(), TO_DEVICE, json.dumps(
            {"messages": {u: {"DEV": {"ciphertext": "olm"}} for u in sorted(todo)}}),
            event_type="m.room.encrypted", txn_id=f"t{self._n}")]

    async def encrypt(self, room_id, event_type, content):
        return {"algorithm": MEGOLM, "session_id": self.session_of[room_id],
                "ciphertext": json.dumps({"type": event_type, "content": content})}

    async def decrypt(self, room_id, event):
        content = event["content"]
        if content.get("session_id") == "broken":
            raise Undecryptable("bad ciphertext", waiting=False)
        if str(content.get("session_id")).startswith("withheld:"):
            raise Undecryptable("withheld", withheld=content["session_id"].split(":", 1)[1])
        if content.get("session_id") not in self.keys:
            raise Undecryptable("missing room key")
        return json.loads(content["ciphertext"])

    async def close(self):
        self.closed = True


class FakeProvider:
    def __init__(self, engine=None, gate: asyncio.Event | None = None, error=None):
        self.engine = engine or FakeEngine()
        self.gate = gate
        self.error = error
        self.opened: list[tuple[str, str]] = []
        self.deleted: list[tuple[str, str]] = []

    async def open(self, user_id, device_id):
        self.opened.append((user_id, device_id))
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return self.engine

    async def delete(self, user_id, device_id):
        self.deleted.append((user_id, device_id))


class FakeHttp:
    """Records (method, path, body) and answers 200 {} (members from `members`)."""

    def __init__(self, members: dict[str, list[str]] | None = None):
        self.members = members or {}
        self.calls: list[tuple[str, str, object]] = []

    async def __call__(self, method, path, body=None, headers=None, timeout=None, auth=True):
        self.calls.append((method, path, body))
        answer: dict = {}
        for room_id, users in self.members.items():
            if path.endswith("/members") and room_id.replace("!", "%21").replace(":", "%3A") in path:
                answer = {"chunk": [{"type": "m.room.member", "state_key": u, "sender": u,
                                     "content": {"membership": "join"}} for u in users]}
        return HttpResponse(200, {"content-type": "application/json"}, json.dumps(answer).encode())

    def paths(self, method=None):
        return [p for m, p, _ in self.calls if method is None or m == method]


def encrypted_event(event_id, sender, session_id, event_type="m.room.message", content=None,
                    ts=1000, unsigned=None):
    event = {"type": "m.room.encrypted", "event_id": event_id, "sender": sender,
             "origin_server_ts": ts,
             "content": {"algorithm": MEGOLM, "session_id": session_id, "sender_key": "k",
                         "device_id": "DEV", "ciphertext": json.dumps(
                             {"type": event_type,
                              "content": content or {"msgtype": "m.text", "body": "hi"}})}}
    if unsigned is not None:
        event["unsigned"] = unsigned
    return event


def sync(rooms=None, to_device=(), changed=(), otk=None, state=None, batch="s1"):
    """A sync body: `rooms` maps room id -> timeline events; `state` room id -> state events."""
    join = {}
    for room_id in set(rooms or {}) | set(state or {}):
        join[room_id] = {"timeline": {"events": list((rooms or {}).get(room_id, []))},
                         "state": {"events": list((state or {}).get(room_id, []))}}
    body = {"next_batch": batch, "rooms": {"join": join},
            "to_device": {"events": list(to_device)},
            "device_lists": {"changed": list(changed), "left": []}}
    if otk is not None:
        body["device_one_time_keys_count"] = otk
    return body


def encryption_state(room_id):
    return {"type": "m.room.encryption", "state_key": "", "sender": "@a:x",
            "event_id": f"$enc{room_id}", "origin_server_ts": 1,
            "content": {"algorithm": MEGOLM}}


def room_key(session_id):
    return {"type": "m.room_key", "sender": "@b:x", "content": {"session_id": session_id}}
