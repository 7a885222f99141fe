"""Key/value storage for what must survive a reload (session, pending messages).

The browser uses localStorage (pyapp.browser.storage); tests and CPython peers use memory.
Values are strings; callers store JSON.
"""

from __future__ import annotations

import json
from typing import Any, Protocol


class Storage(Protocol):
    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str) -> None: ...
    def remove(self, key: str) -> None: ...


class MemoryStorage:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.data.get(key)

    def set(self, key: str, value: str) -> None:
        self.data[key] = value

    def remove(self, key: str) -> None:
        self.data.pop(key, None)


def load_json(storage: Storage, key: str) -> Any:
    raw = storage.get(key)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        # A corrupt entry must not keep the chat from starting: treat it as absent.
        storage.remove(key)
        return None


def save_json(storage: Storage, key: str, value: Any) -> None:
    storage.set(key, json.dumps(value, separators=(",", ":")))
