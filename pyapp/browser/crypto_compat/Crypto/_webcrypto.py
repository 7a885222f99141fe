"""Synchronous bridge to SubtleCrypto through JSPI (pyodide.ffi.run_sync)."""


class WebCryptoUnavailable(NotImplementedError):
    pass


def _subtle():
    try:
        import js
        from pyodide.ffi import run_sync
    except ImportError as e:
        raise WebCryptoUnavailable(
            "AES is computed by the browser's WebCrypto; it is unavailable outside Pyodide") from e
    from pyodide import ffi
    can_run_sync = getattr(ffi, "can_run_sync", None)
    if can_run_sync is not None and not can_run_sync():
        raise WebCryptoUnavailable(
            "AES needs pyodide.ffi.run_sync (WebAssembly JSPI) and an asynchronous Python entry "
            "point; call it from an asyncio task or runPythonAsync")
    subtle = js.crypto.subtle
    if not subtle:
        raise WebCryptoUnavailable("crypto.subtle is missing (the page is not a secure context)")
    return js, subtle, run_sync


def import_aes_key(key: bytes):
    """A CryptoKey for AES-CTR encryption with `key`."""
    js, subtle, run_sync = _subtle()
    from pyodide.ffi import to_js

    return run_sync(subtle.importKey("raw", to_js(key), "AES-CTR", False, to_js(["encrypt"])))


def aes_ctr(crypto_key, counter_block: bytes, length_bits: int, data: bytes) -> bytes:
    """AES-CTR of `data` from `counter_block`, whose low `length_bits` bits are the counter."""
    js, subtle, run_sync = _subtle()
    from pyodide.ffi import to_js

    params = js.Object.new()
    params.name = "AES-CTR"
    params.counter = to_js(counter_block)
    params.length = length_bits
    out = run_sync(subtle.encrypt(params, crypto_key, to_js(data)))
    return js.Uint8Array.new(out).to_bytes()
