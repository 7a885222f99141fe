"""The stdlib archive shipped to browsers leaves out only the listed modules, whole packages
with everything below them, and is otherwise the same archive, byte for byte per entry."""

from __future__ import annotations

import io
import zipfile

from pyapp.build import stdlib_trim


def make_zip(names: list[str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for n in names:
            info = zipfile.ZipInfo(n, (2020, 1, 1, 0, 0, 0))
            z.writestr(info, b"" if n.endswith("/") else n.encode())
    return out.getvalue()


def test_listed_modules_and_packages_go_everything_else_stays():
    kept = ["email/", "email/__init__.pyc", "email/utils.pyc", "http/", "http/__init__.pyc",
            "http/client.pyc", "http/cookies.pyc", "pdbx.pyc", "asyncio/__main__.pyc", "json/x.txt"]
    gone = ["unittest/", "unittest/__init__.pyc", "unittest/mock.pyc", "http/server.pyc",
            "pdb.pyc", "_pyrepl/", "_pyrepl/data.txt", "multiprocessing/pool.pyc"]
    data = make_zip(kept[:4] + gone[:4] + kept[4:] + gone[4:])
    trimmed = zipfile.ZipFile(io.BytesIO(stdlib_trim.trim(data)))
    assert trimmed.namelist() == kept[:4] + kept[4:]
    for n in kept:
        if not n.endswith("/"):
            assert trimmed.read(n) == n.encode()
    assert stdlib_trim.trim(data) == stdlib_trim.trim(data)  # reproducible


def test_module_names_of_archive_paths():
    assert stdlib_trim.module_of("http/server.pyc") == "http.server"
    assert stdlib_trim.module_of("email/__init__.py") == "email"
    assert stdlib_trim.module_of("unittest/") == "unittest"
    assert not stdlib_trim.left_out("http/client.pyc")
    assert stdlib_trim.left_out("pydoc_data/topics.pyc")
