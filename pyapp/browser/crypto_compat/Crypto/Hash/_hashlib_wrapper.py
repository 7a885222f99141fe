"""hashlib objects dressed as pycryptodome hash objects (new(), update() returning self...)."""

import hashlib


class HashObject:
    __slots__ = ("_h", "oid")

    def __init__(self, name: str, oid: str, data: bytes | None = None, _h=None):
        self._h = _h if _h is not None else hashlib.new(name)
        self.oid = oid
        if data is not None:
            self._h.update(data)

    @property
    def digest_size(self) -> int:
        return self._h.digest_size

    @property
    def block_size(self) -> int:
        return self._h.block_size

    @property
    def name(self) -> str:
        return self._h.name

    def update(self, data) -> "HashObject":
        self._h.update(data)
        return self

    def digest(self) -> bytes:
        return self._h.digest()

    def hexdigest(self) -> str:
        return self._h.hexdigest()

    def copy(self) -> "HashObject":
        return HashObject(self._h.name, self.oid, _h=self._h.copy())

    def new(self, data: bytes | None = None) -> "HashObject":
        return HashObject(self._h.name, self.oid, data)
