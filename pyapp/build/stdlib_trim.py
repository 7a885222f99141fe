"""The stdlib archive without the modules a chat page can never use.

A first visit downloads python_stdlib.zip (about 4 MB gzipped). LEFT_OUT are stdlib modules
that only serve an interactive or development session (REPL, debugger, help(), profilers,
test frameworks), need OS processes or servers a browser page does not have, or speak mail
and file-transfer protocols. None is imported by the chat (its sys.modules after boot and a
sent message holds none of them), and in the stdlib and the shipped wheels they are imported
only from such paths: site's REPL hook, _sitebuiltins.help(), heapq's doctest under
__main__, ProcessPoolExecutor, logging.config's listener, urllib's ftp:// handler, test
modules. An import of one of them in the browser fails with ModuleNotFoundError.

Why a list and not the import closure of our code: scanned for import statements, the closure
keeps 446 of 559 modules, because such hooks reach nearly everything.
"""

from __future__ import annotations

import io
import zipfile

LEFT_OUT = (
    # interactive and development tools
    "_pyrepl", "pdb", "bdb", "pydoc", "pydoc_data", "doctest", "unittest", "trace", "profile",
    "cProfile", "pstats", "timeit", "tabnanny", "pyclbr", "modulefinder", "symtable",
    "compileall", "zipapp", "antigravity", "this", "__hello__", "__phello__",
    # processes, terminals and servers
    "multiprocessing", "socketserver", "http.server", "wsgiref", "xmlrpc", "pty", "tty",
    "getpass", "webbrowser",
    # mail and file-transfer protocols, file formats nothing here reads
    "imaplib", "smtplib", "poplib", "ftplib", "mailbox", "wave", "shelve", "sched", "filecmp",
    "fileinput",
)


def module_of(path: str) -> str:
    """'http/server.pyc' -> 'http.server', 'email/__init__.py' -> 'email', 'pdb.pyc' -> 'pdb';
    a directory entry 'unittest/' -> 'unittest'."""
    path = path.rstrip("/")
    for suffix in (".pyc", ".py"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    parts = path.split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def left_out(path: str, names=LEFT_OUT) -> bool:
    module = module_of(path)
    return any(module == n or module.startswith(n + ".") for n in names)


def trim(data: bytes, names=LEFT_OUT) -> bytes:
    """The zip without the entries of `names` (packages with everything below them); the other
    entries keep their order, dates and compression, so the result is reproducible."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if not left_out(info.filename, names):
                dst.writestr(info, src.read(info))
    return out.getvalue()


# -- the on-demand part --------------------------------------------------------------------------
# A first visit downloads only the modules a page imports (CORE_FILE, measured: sys.modules after
# boot, a sent message, a reload and the OAuth sign-in); the rest of the stdlib goes into a second
# archive that pyapp.browser.stdlib_rest fetches the first time something imports one of them.
CORE_FILE = "stdlib_core.txt"
REST_ARCHIVE = "python_stdlib_rest.zip"
REST_INDEX = "_stdlib_rest_index"


def core_modules() -> frozenset[str]:
    from pathlib import Path

    text = (Path(__file__).with_name(CORE_FILE)).read_text()
    return frozenset(line.split("#", 1)[0].strip() for line in text.splitlines()
                     if line.split("#", 1)[0].strip())


def split(data: bytes, core: frozenset[str]) -> tuple[bytes, bytes]:
    """(core archive, rest archive): entries of modules in `core` (and the packages above them)
    stay; the others move to the rest archive. The core archive also gets REST_INDEX, a module
    naming every module of the rest archive, so an import of anything else never fetches it."""
    keep = set(core)
    for name in core:
        parts = name.split(".")
        keep.update(".".join(parts[:i]) for i in range(1, len(parts)))
    core_out, rest_out = io.BytesIO(), io.BytesIO()
    rest_names = set()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(core_out, "w") as c, \
            zipfile.ZipFile(rest_out, "w") as r:
        for info in src.infolist():
            module = module_of(info.filename)
            if info.filename.endswith("/") or module in keep:
                c.writestr(info, src.read(info))
            else:
                r.writestr(info, src.read(info))
                if info.filename.endswith((".py", ".pyc")):
                    rest_names.add(module)
        index = zipfile.ZipInfo(f"{REST_INDEX}.py", (2020, 1, 1, 0, 0, 0))
        c.writestr(index, f"ARCHIVE = {REST_ARCHIVE!r}\nNAMES = frozenset({sorted(rest_names)!r})\n")
    return core_out.getvalue(), rest_out.getvalue()
