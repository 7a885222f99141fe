"""Encrypted attachments in the browser: the crypto engine's own attachment encryption
(matrix-sdk-crypto-wasm's `Attachment.encrypt` / `Attachment.decrypt`, AES-CTR with a fresh
key and a SHA-256 hash per file, as the spec's EncryptedFile); nothing cryptographic here.

The file stays in JavaScript: a Blob (or bytes under test) goes in, a Uint8Array comes out
and is uploaded or turned into a Blob again; it is never copied into Python's memory.
"""

from __future__ import annotations

import json

from pyapp.client.crypto import EngineError


def _error_text(error) -> str:
    message = getattr(getattr(error, "js_error", None), "message", None)
    return message if isinstance(message, str) and message else str(error)


async def _array(data):
    import js
    from pyodide.ffi import to_js

    if isinstance(data, (bytes, bytearray, memoryview)):
        return to_js(bytes(data))
    if hasattr(data, "arrayBuffer"):  # a Blob or File
        return js.Uint8Array.new(await data.arrayBuffer())
    return data  # a Uint8Array already


async def encrypt(module, data) -> tuple[object, dict]:
    """(ciphertext as a Uint8Array, the EncryptedFile's v, key, iv and hashes)."""
    from pyodide.ffi import JsException

    array = await _array(data)
    try:
        attachment = module.Attachment.encrypt(array)
    except JsException as e:
        raise EngineError(f"the file could not be encrypted: {_error_text(e)}") from None
    try:
        return attachment.encryptedData, json.loads(str(attachment.mediaEncryptionInfo))
    finally:
        attachment.free()


async def decrypt(module, data, file: dict):
    """The clear file as a Uint8Array; EngineError when the key, iv or hash do not fit."""
    from pyodide.ffi import JsException

    array = await _array(data)
    try:
        attachment = module.EncryptedAttachment.new(array, json.dumps(file))
    except JsException as e:
        raise EngineError(f"its encryption details are not valid: {_error_text(e)}") from None
    try:
        return module.Attachment.decrypt(attachment)
    except JsException as e:
        raise EngineError(f"the file does not match its hash: {_error_text(e)}") from None
    finally:
        attachment.free()
