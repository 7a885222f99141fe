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
