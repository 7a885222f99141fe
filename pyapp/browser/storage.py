"""pyapp.client.storage.Storage on window.localStorage, namespaced by a key prefix."""

from __future__ import annotations


class LocalStorage:
    """Values survive reloads and are shared by the page's tabs (same origin).

    When localStorage is unusable (storage blocked for third-party frames, private modes
    throwing on access) it degrades to memory for this page's life, with `persistent` False,
    rather than keeping the chat from starting."""

    def __init__(self, prefix: str = "om-chat:", backend=None):
        self.prefix = prefix
        self._memory: dict[str, str] | None = None
        self._ls = backend
        if self._ls is None:
            try:
                import js
                self._ls = js.window.localStorage
                probe = prefix + "__probe__"
                self._ls.setItem(probe, "1")
                self._ls.removeItem(probe)
            except Exception:
                self._ls = None
                self._memory = {}

    @property
    def persistent(self) -> bool:
        return self._memory is None

    def get(self, key: str) -> str | None:
        if self._memory is not None:
            return self._memory.get(key)
        value = self._ls.getItem(self.prefix + key)
        # A missing key is JS null, which may arrive as None or as pyodide's jsnull.
        return value if isinstance(value, str) else None

    def set(self, key: str, value: str) -> None:
        if self._memory is not None:
            self._memory[key] = value
            return
        self._ls.setItem(self.prefix + key, value)

    def remove(self, key: str) -> None:
        if self._memory is not None:
            self._memory.pop(key, None)
            return
        self._ls.removeItem(self.prefix + key)

    def keys(self) -> list[str]:
        if self._memory is not None:
            return list(self._memory)
        n = int(self._ls.length)
        found = [self._ls.key(i) for i in range(n)]
        return [k[len(self.prefix):] for k in found
                if isinstance(k, str) and k.startswith(self.prefix)]
