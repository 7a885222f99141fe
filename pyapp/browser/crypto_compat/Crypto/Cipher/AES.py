"""AES in CTR mode, computed by the browser's WebCrypto (SubtleCrypto).

pycryptodome's API is synchronous while SubtleCrypto returns promises; Pyodide's
`pyodide.ffi.run_sync` suspends the WebAssembly stack until the promise settles (JSPI). That works
when the Python code was entered asynchronously (an asyncio task, runPythonAsync, a PyScript
script), which is how nio calls it. Other modes are not needed by nio and are refused.
"""

from .. import _webcrypto

MODE_ECB = 1
MODE_CBC = 2
MODE_CFB = 3
MODE_OFB = 5
MODE_CTR = 6
MODE_OPENPGP = 7
MODE_CCM = 8
MODE_EAX = 9
MODE_SIV = 10
MODE_GCM = 11
MODE_OCB = 12

block_size = 16
key_size = (16, 24, 32)


class CtrModeCipher:
    """Stateful like pycryptodome's: successive encrypt() calls continue the key stream, also
    across chunk lengths that are not multiples of the block size."""

    block_size = 16

    def __init__(self, key: bytes, counter: dict):
        if len(key) not in key_size:
            raise ValueError(f"Incorrect AES key length ({len(key)} bytes)")
        if counter.get("little_endian"):
            raise NotImplementedError("little-endian CTR counters are not supported by WebCrypto")
        if counter.get("suffix"):
            raise NotImplementedError("CTR counters with a suffix are not supported by WebCrypto")
        prefix = counter["prefix"]
        self._counter_len = counter["counter_len"]
        if len(prefix) + self._counter_len != 16:
            raise ValueError("The counter block must be 16 bytes long")
        self._key = bytes(key)
        self._prefix = prefix
        self._initial = counter["initial_value"]
        self._offset = 0  # key stream bytes consumed so far
        self._crypto_key = None
        self.nonce = prefix

    def _block(self, index: int) -> bytes:
        bits = self._counter_len * 8
        value = (self._initial + index) % (1 << bits)
        return self._prefix + value.to_bytes(self._counter_len, "big")

    def encrypt(self, plaintext, output=None) -> bytes:
        if output is not None:
            raise NotImplementedError("output= is not supported")
        data = bytes(plaintext)
        if not data:
            return b""
        skip = self._offset % 16
        block = self._block(self._offset // 16)
        # Pad the front so WebCrypto starts at a block boundary, then drop the pad's key stream.
        if self._crypto_key is None:
            self._crypto_key = _webcrypto.import_aes_key(self._key)
        result = _webcrypto.aes_ctr(self._crypto_key, block, self._counter_len * 8, b"\0" * skip + data)
        self._offset += len(data)
        return result[skip:]

    decrypt = encrypt


def new(key: bytes, mode: int, *args, **kwargs):
    if mode != MODE_CTR:
        raise ValueError("Only AES.MODE_CTR is provided by this compatibility layer")
    counter = kwargs.get("counter")
    if counter is None:
        nonce = kwargs.get("nonce", b"")
        initial = kwargs.get("initial_value", 0)
        if isinstance(initial, (bytes, bytearray)):
            initial = int.from_bytes(initial, "big")
        counter = {"counter_len": 16 - len(nonce), "prefix": bytes(nonce), "suffix": b"",
                   "initial_value": initial, "little_endian": False}
    return CtrModeCipher(key, counter)
