"""PBKDF2 (RFC 8018) on the standard library's HMAC.

Pyodide's hashlib has no pbkdf2_hmac (it is OpenSSL-only since CPython 3.12), so the loop is
written here around hmac; where hashlib has it, it is used for the common HMAC case.
"""

import hashlib
import hmac
import struct


def _tobytes(s) -> bytes:
    # pycryptodome encodes str as latin-1; the same bytes must come out for key files to match.
    return s.encode("latin-1") if isinstance(s, str) else bytes(s)


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(len(a), "big")


def _pbkdf2_hmac(name: str, password: bytes, salt: bytes, count: int, dk_len: int) -> bytes:
    fast = getattr(hashlib, "pbkdf2_hmac", None)
    if fast is not None:
        return fast(name, password, salt, count, dk_len)
    # Keyed inner/outer states are computed once and copied per iteration (the expensive part
    # of HMAC is absorbing the padded key).
    base = hmac.new(password, None, name)
    out = b""
    block = 1
    while len(out) < dk_len:
        h = base.copy()
        h.update(salt + struct.pack(">I", block))
        u = h.digest()
        acc = int.from_bytes(u, "big")
        for _ in range(count - 1):
            h = base.copy()
            h.update(u)
            u = h.digest()
            acc ^= int.from_bytes(u, "big")
        out += acc.to_bytes(len(u), "big")
        block += 1
    return out[:dk_len]


def PBKDF2(password, salt, dkLen: int = 16, count: int = 1000, prf=None,
           hmac_hash_module=None):
    password = _tobytes(password)
    salt = _tobytes(salt)
    if prf and hmac_hash_module:
        raise ValueError("'prf' and 'hmac_hash_module' are mutually exclusive")
    if prf is None:
        # pycryptodome's default PRF is HMAC-SHA1.
        name = hmac_hash_module._hashlib_name if hmac_hash_module is not None else "sha1"
        return _pbkdf2_hmac(name, password, salt, count, dkLen)
    key = b""
    i = 1
    while len(key) < dkLen:
        s = u = prf(password, salt + struct.pack(">I", i))
        for _ in range(count - 1):
            u = prf(password, u)
            s = _xor(s, u)
        key += s
        i += 1
    return key[:dkLen]
