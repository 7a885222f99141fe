"""Megolm replays: the same ciphertext sent again as a new event. The engine decrypts it
again without complaint (matrix-sdk-crypto keeps no record of which event carried a message
index), so a copy would show as a second genuine message from the sender. This remembers which
event first carried each ciphertext; any other event carrying it is a replay."""

from __future__ import annotations

import hashlib

MAX_REMEMBERED = 20_000  # ciphertexts remembered (the oldest go first; 32 bytes + an id each)


class ReplayGuard:
    def __init__(self, limit: int = MAX_REMEMBERED):
        self._first: dict[bytes, str] = {}  # digest of (session, ciphertext) -> first event id
        self._limit = limit

    def is_replay(self, event: dict) -> bool:
        """True when another event already carried this event's megolm ciphertext: the first
        event seen with a ciphertext keeps it (so events are to be shown in timeline order; an
        original reached only by paging back after its copy was shown live is taken as the
        copy)."""
        content = event.get("content")
        event_id = event.get("event_id")
        if not isinstance(content, dict) or not isinstance(event_id, str):
            return False
        ciphertext, session = content.get("ciphertext"), content.get("session_id")
        if not isinstance(ciphertext, str):
            return False
        key = hashlib.sha256(f"{session}\0{ciphertext}".encode()).digest()
        first = self._first.setdefault(key, event_id)
        if len(self._first) > self._limit:
            self._first.pop(next(iter(self._first)))
        return first != event_id
