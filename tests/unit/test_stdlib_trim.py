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


def test_split_keeps_the_core_and_the_packages_above_it_and_indexes_the_rest(tmp_path):
    import sys

    from pyapp.browser.stdlib_rest import RestFinder

    data = make_zip(["json/", "json/__init__.py", "json/decoder.py", "email/", "email/__init__.py",
                     "email/utils.py", "email/mime/", "email/mime/__init__.py",
                     "email/mime/text.py", "difflib.py", "notes.txt"])
    core, rest = stdlib_trim.split(data, frozenset({"json", "json.decoder", "email.utils"}))
    core_names = zipfile.ZipFile(io.BytesIO(core)).namelist()
    rest_names = zipfile.ZipFile(io.BytesIO(rest)).namelist()
    assert "email/__init__.py" in core_names and "email/utils.py" in core_names
    assert {"email/mime/text.py", "difflib.py", "notes.txt"} <= set(rest_names)
    assert not set(core_names) - {"_stdlib_rest_index.py"} & set(n for n in rest_names
                                                                 if not n.endswith("/"))
    index = {}
    exec(zipfile.ZipFile(io.BytesIO(core)).read("_stdlib_rest_index.py"), index)
    assert index["NAMES"] == {"email.mime", "email.mime.text", "difflib"}
    assert index["ARCHIVE"] == "python_stdlib_rest.zip"

    # The finder downloads once, only for indexed names; packages of the core find submodules.
    archive = tmp_path / "rest.zip"
    archive.write_bytes(rest)
    loads = []
    finder = RestFinder(frozenset({"difflib", "email.mime", "email.mime.text"}),
                        lambda: loads.append(1) or str(archive))
    assert finder.find_spec("no_such_module") is None and loads == []
    spec = finder.find_spec("email.mime", ["unused"])
    assert spec.submodule_search_locations == [f"{archive}/email/mime"]
    assert finder.find_spec("difflib").origin == f"{archive}/difflib.py"
    assert loads == [1]
    assert "difflib" not in sys.modules or sys.modules["difflib"].__spec__.origin != spec.origin
