"""The Crypto compatibility layer gives the same bytes as the real pycryptodome (installed on the
CPython side) for what matrix-nio uses, and refuses AES clearly outside the browser."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SHIM = Path(__file__).resolve().parents[2] / "pyapp" / "browser" / "crypto_compat" / "Crypto"


@pytest.fixture(scope="module")
def shim():
    # Loaded under another name: the real pycryptodome owns `Crypto` here.
    spec = importlib.util.spec_from_file_location(
        "compat_crypto", SHIM / "__init__.py", submodule_search_locations=[str(SHIM)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["compat_crypto"] = module
    spec.loader.exec_module(module)
    import importlib as il
    mods = {n: il.import_module(f"compat_crypto.{n}") for n in (
        "Random", "Hash.SHA256", "Hash.SHA512", "Hash.HMAC", "Protocol.KDF", "Util.Counter",
        "Cipher.AES")}
    yield mods
    for name in [n for n in sys.modules if n == "compat_crypto" or n.startswith("compat_crypto.")]:
        del sys.modules[name]


def test_hashes_match_pycryptodome(shim):
    from Crypto.Hash import SHA256, SHA512
    for data in (b"", b"abc", bytes(range(256)) * 9):
        assert shim["Hash.SHA256"].new(data).digest() == SHA256.new(data).digest()
        h = shim["Hash.SHA512"].new()
        h.update(data[:7]).update(data[7:])
        assert h.hexdigest() == SHA512.new(data).hexdigest()
    assert shim["Hash.SHA256"].digest_size == 32


def test_hmac_matches_pycryptodome_including_nio_calling_style(shim):
    from Crypto.Hash import HMAC, SHA256, SHA512
    c = shim
    assert (c["Hash.HMAC"].new(b"k", b"payload", c["Hash.SHA256"]).digest()
            == HMAC.new(b"k", b"payload", SHA256).digest())
    assert (c["Hash.HMAC"].new(b"k" * 200, b"x", c["Hash.SHA512"]).hexdigest()
            == HMAC.new(b"k" * 200, b"x", SHA512).hexdigest())


def test_pbkdf2_matches_pycryptodome_with_prf_and_with_hash_module(shim):
    from Crypto.Hash import HMAC, SHA512, SHA256
    from Crypto.Protocol.KDF import PBKDF2
    c = shim
    ours_prf = lambda p, s: c["Hash.HMAC"].new(p, s, c["Hash.SHA512"]).digest()  # noqa: E731
    real_prf = lambda p, s: HMAC.new(p, s, SHA512).digest()  # noqa: E731
    assert (c["Protocol.KDF"].PBKDF2("pässword", b"salt" * 4, 64, 300, ours_prf)
            == PBKDF2("pässword", b"salt" * 4, 64, 300, real_prf))
    assert (c["Protocol.KDF"].PBKDF2(b"pw", b"s", 40, 20, hmac_hash_module=c["Hash.SHA256"])
            == PBKDF2(b"pw", b"s", 40, 20, hmac_hash_module=SHA256))


def test_pure_pbkdf2_loop_equals_hashlib(shim, monkeypatch):
    import hashlib
    kdf = shim["Protocol.KDF"]
    expected = hashlib.pbkdf2_hmac("sha512", b"pw", b"salt", 100, 100)
    # Pyodide's hashlib has no pbkdf2_hmac: the fallback loop must give the same key.
    monkeypatch.delattr(hashlib, "pbkdf2_hmac")
    assert kdf._pbkdf2_hmac("sha512", b"pw", b"salt", 100, 100) == expected


def test_counter_description_matches_pycryptodome(shim):
    from Crypto.Util import Counter
    ours = shim["Util.Counter"].new(64, prefix=b"12345678", initial_value=7)
    real = Counter.new(64, prefix=b"12345678", initial_value=7)
    for key in ("counter_len", "prefix", "suffix", "initial_value", "little_endian"):
        assert ours[key] == real[key]


def test_random_bytes_have_the_requested_length_and_differ(shim):
    rng = shim["Random"].new()
    a, b = rng.read(32), rng.read(32)
    assert len(a) == 32 and a != b


def test_aes_outside_the_browser_raises_a_clear_error(shim):
    AES = shim["Cipher.AES"]
    ctr = shim["Util.Counter"].new(64, prefix=b"\0" * 8, initial_value=0)
    cipher = AES.new(b"k" * 32, AES.MODE_CTR, counter=ctr)
    with pytest.raises(NotImplementedError, match="WebCrypto"):
        cipher.encrypt(b"data")
    with pytest.raises(ValueError, match="MODE_CTR"):
        AES.new(b"k" * 32, AES.MODE_CBC, iv=b"\0" * 16)
