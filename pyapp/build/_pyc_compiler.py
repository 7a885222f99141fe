"""Runs INSIDE Pyodide (CPython 3.14 in Node) at build time: rewrites a wheel or the stdlib zip
with bytecode compiled by the same interpreter the browser runs, so imports there skip parsing
and compiling. The host Python (3.11) cannot produce 3.14 bytecode, hence this detour.

Bytecode uses unchecked hash-based .pyc files (PEP 552): valid regardless of file timestamps,
which Pyodide does not preserve when it unpacks wheels.
"""

import base64
import hashlib
import importlib.util
import io
import zipfile
from importlib._bootstrap_external import _code_to_hash_pyc

FIXED_DATE = (2020, 1, 1, 0, 0, 0)
CACHE_TAG = "cpython-314"


def _entry(name: str, method: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, FIXED_DATE)
    info.compress_type = method
    info.external_attr = 0o644 << 16
    return info


def compile_archive(data: bytes, install_prefix: str, keep_source: bool, stored: bool) -> bytes:
    """install_prefix: where the archive's paths live at run time (code objects carry it, so
    tracebacks name the real location). keep_source: keep .py and put bytecode in __pycache__
    (traceback lines, inspect.getsource); otherwise replace each .py by its .pyc, as Pyodide's
    own distribution does. stored: no zip compression (the HTTP layer gzips; imports skip
    inflating)."""
    if not isinstance(data, bytes):
        data = data.to_bytes()  # a JS Uint8Array handed over by precompile.mjs
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    dst = zipfile.ZipFile(out, "w", method, compresslevel=9 if not stored else None)
    written: list[tuple[str, bytes]] = []
    record_name = None

    def put(name: str, content: bytes) -> None:
        dst.writestr(_entry(name, method), content)
        written.append((name, content))

    for info in src.infolist():
        name = info.filename
        if name.endswith("/"):
            dst.writestr(_entry(name, zipfile.ZIP_STORED), b"")
            continue
        content = src.read(info)
        if name.endswith(".dist-info/RECORD"):
            record_name = name
            continue
        if not name.endswith(".py"):
            put(name, content)
            continue
        try:
            code = compile(content, install_prefix + name, "exec", dont_inherit=True, optimize=0)
        except SyntaxError:
            put(name, content)  # e.g. templates named .py; the import system never loads them
            continue
        pyc = bytes(_code_to_hash_pyc(code, importlib.util.source_hash(content), False))
        if keep_source:
            put(name, content)
            folder, _, base = name.rpartition("/")
            cached = f"{folder}/__pycache__/" if folder else "__pycache__/"
            put(f"{cached}{base[:-3]}.{CACHE_TAG}.pyc", pyc)
        else:
            put(name + "c", pyc)

    if record_name is not None:
        lines = []
        for name, content in written:
            digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
            lines.append(f"{name},sha256={digest.decode()},{len(content)}")
        lines.append(f"{record_name},,")
        dst.writestr(_entry(record_name, method), "\n".join(lines) + "\n")
    dst.close()
    return out.getvalue()
