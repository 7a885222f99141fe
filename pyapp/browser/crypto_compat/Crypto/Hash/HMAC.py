"""HMAC over the standard library's hmac module, with pycryptodome's calling convention."""

import hmac as _hmac

from ._hashlib_wrapper import HashObject

digest_size = None


def _hashlib_name(digestmod) -> str:
    if digestmod is None:
        # pycryptodome's historical default.
        return "md5"
    if isinstance(digestmod, HashObject):
        return digestmod.name
    name = getattr(digestmod, "_hashlib_name", None)
    if name is None:
        raise ValueError(f"Unsupported digest module for HMAC: {digestmod!r}")
    return name


class HMAC:
    def __init__(self, key: bytes, msg: bytes = b"", digestmod=None, _h=None):
        self._h = _h if _h is not None else _hmac.new(
            bytes(key), bytes(msg or b""), _hashlib_name(digestmod))
        self.digest_size = self._h.digest_size

    def update(self, msg) -> "HMAC":
        self._h.update(msg)
        return self

    def copy(self) -> "HMAC":
        return HMAC(b"", _h=self._h.copy())

    def digest(self) -> bytes:
        return self._h.digest()

    def hexdigest(self) -> str:
        return self._h.hexdigest()

    def verify(self, mac_tag: bytes) -> None:
        if not _hmac.compare_digest(self.digest(), mac_tag):
            raise ValueError("MAC check failed")

    def hexverify(self, hex_mac_tag: str) -> None:
        self.verify(bytes.fromhex(hex_mac_tag))


def new(key: bytes, msg: bytes = b"", digestmod=None) -> HMAC:
    return HMAC(key, msg, digestmod)
