"""Runs INSIDE Pyodide (CPython 3.14 in Node) at build time: rewrites a wheel or the stdlib zip
with bytecode compiled by the same interpreter the browser runs, so imports there skip parsing
and compiling. The host Python (3.11) cannot produce 3.14 bytecode, hence this detour.

Bytecode uses unchecked hash-based .pyc files (PEP 552): valid regardless of file timestamps,
which Pyodide does not preserve when it unpacks wheels.

Docstrings are left out of the bytecode (as `python -OO` does, but asserts stay): nothing in a
chat page reads them (help() and pydoc are not shipped), and they are about a tenth of the
bytes on the wire and in the wasm memory. A kept .py source still has them.
"""

import ast
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


def _without_docstrings(tree: ast.Module) -> ast.Module:
    """The module with the docstring of the module, each class and each function removed (an
    emptied body gets `pass`); line numbers stay those of the source. A dataclass gets its
    name as its docstring instead, with or without one before: @dataclass makes one from
    inspect.signature for a class without (0.3-0.4 ms a class in Pyodide, 250 classes at the
    chat's start)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)):
                first = body.pop(0)
                if not body:
                    body.append(ast.copy_location(ast.Pass(), first))
            if isinstance(node, ast.ClassDef) and any(map(_is_dataclass, node.decorator_list)):
                doc = ast.Expr(ast.Constant(node.name))
                body.insert(0, ast.copy_location(doc, body[0]))
                ast.fix_missing_locations(doc)
    return tree


def _is_dataclass(decorator: ast.expr) -> bool:
    if isinstance(decorator, ast.Call):
        decorator = decorator.func
    name = decorator.attr if isinstance(decorator, ast.Attribute) else getattr(decorator, "id", "")
    return name == "dataclass"


def _dropped(name: str, drop_dirs) -> bool:
    """Whether a wheel entry is one a page never imports: a top-level package's folder named in
    drop_dirs (its test suite, benchmarks) or a type stub."""
    parts = name.split("/")
    return name.endswith(".pyi") or (len(parts) > 2 and parts[1] in drop_dirs)


def compile_archive(data: bytes, install_prefix: str, keep_source: bool, stored: bool,
                    drop_dirs=()) -> bytes:
    """install_prefix: where the archive's paths live at run time (code objects carry it, so
    tracebacks name the real location). keep_source: keep .py and put bytecode in __pycache__
    (traceback lines, inspect.getsource); otherwise replace each .py by its .pyc, as Pyodide's
    own distribution does. stored: no zip compression (the HTTP layer gzips; imports skip
    inflating). drop_dirs: folder names left out below each top-level package (see _dropped)."""
    drop_dirs = set(drop_dirs)
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
        if _dropped(name, drop_dirs):
            continue
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
            tree = _without_docstrings(ast.parse(content, install_prefix + name))
            code = compile(tree, install_prefix + name, "exec", dont_inherit=True, optimize=0)
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
