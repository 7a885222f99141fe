"""The methods @dataclass writes, compiled at build time.

@dataclass writes each class's __init__, __repr__, __eq__... as Python source and compiles it
with exec() when the class is defined. Compiling is slow in Pyodide: for the ~200 dataclasses
that nio and the chat define at start it was about half of their import time (measured in
Pyodide under Node: imports 309 -> 165 ms). The build (pyapp.build.dataclass_code) runs the
same imports in the same Pyodide, records every source exec() was given and ships the compiled
code objects in this package (dataclass_code.bin); install() hands them to dataclasses' exec
by the source's digest, until uninstall(). The source is the key, so a class whose source
differs (or is not in the file) is compiled as before: the same code either way, only the
compile is skipped.
"""

from __future__ import annotations

import builtins
import hashlib
import marshal
import os

FILE = "dataclass_code.bin"
hits = 0  # sources found compiled (what install() saved), for tests and benchmarks


def key(source: str) -> bytes:
    return hashlib.blake2b(source.encode(), digest_size=16).digest()


def install(data: bytes | None = None) -> int:
    """Use the build's compiled methods from now on; the number of them (0: none shipped)."""
    global hits
    import dataclasses

    if data is None:
        try:
            data = __loader__.get_data(os.path.join(os.path.dirname(__file__), FILE))
        except (OSError, AttributeError):
            return 0  # a build without the bytecode step ships none
    try:
        table = marshal.loads(data)
    except (ValueError, EOFError, TypeError):
        return 0  # another Python's marshal format: compile as before
    real_exec = builtins.exec

    def exec_compiled(source, globals=None, locals=None, /, **kwargs):
        global hits
        if isinstance(source, str):
            code = table.get(key(source))
            if code is not None:
                hits += 1
                source = code
        return real_exec(source, globals, locals, **kwargs)

    dataclasses.exec = exec_compiled  # a module global shadows the builtin for dataclasses only
    return len(table)


def uninstall() -> None:
    """The start's imports are done: compile as before, and let the table go."""
    import dataclasses

    vars(dataclasses).pop("exec", None)


def record(run) -> bytes:
    """The build's side: run `run()` (the imports of a page) with every source @dataclass
    compiles recorded; the compiled code objects by digest, marshalled."""
    import dataclasses

    table: dict[bytes, object] = {}
    real_exec = builtins.exec

    def exec_recorded(source, globals=None, locals=None, /, **kwargs):
        if isinstance(source, str):
            # As exec() in dataclasses compiles it: no __future__ flags of this module.
            code = compile(source, "<string>", "exec", dont_inherit=True)
            table[key(source)] = code
            source = code
        return real_exec(source, globals, locals, **kwargs)

    dataclasses.exec = exec_recorded
    try:
        run()
    finally:
        del dataclasses.exec
    return marshal.dumps(table)
