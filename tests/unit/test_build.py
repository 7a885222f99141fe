"""The browser bundle: exactly the pinned wheels plus ours, a lock file Pyodide can resolve by
name offline, content-addressed wheel URLs, and an idempotent build."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile

import pytest

from pyapp import build as b
from pyapp.build.wheels import make_wheel, read_wheel, runtime_dependencies, browser_environment


@pytest.fixture(scope="module")
def built():
    result = b.build(log=lambda *a: None)
    lock = json.loads((result.static / "pyodide" / "pyodide-lock.json").read_text())
    return result, lock


def test_lock_lists_exactly_the_pinned_wheels_plus_ours(built):
    _, lock = built
    pinned = {name: version for name, version, _ in b.read_requirements()}
    expected = {**pinned, "pyapp": b._pyapp_version(), "pyapp-crypto-compat": b.CRYPTO_COMPAT_VERSION,
                "pyapp-nio-shims": b.NIO_SHIMS_VERSION}
    assert {n: p["version"] for n, p in lock["packages"].items()} == expected
    assert "pycryptodome" not in lock["packages"]
    assert not any(n.startswith("rpds") for n in lock["packages"])


def test_lock_dependencies_are_closed_and_nio_uses_the_crypto_compat_wheel(built):
    _, lock = built
    packages = lock["packages"]
    for name, entry in packages.items():
        assert set(entry["depends"]) <= set(packages), name
    assert "pyapp-crypto-compat" in packages["matrix-nio"]["depends"]
    assert packages["pyapp"]["depends"] == ["markdown-it-py", "matrix-nio"]
    assert packages["pyapp-crypto-compat"]["imports"] == ["Crypto"]
    assert "pyapp-nio-shims" in packages["matrix-nio"]["depends"]

    # Everything is reachable from the root package, as loadPackage("pyapp") will walk it.
    seen, todo = set(), ["pyapp"]
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo += packages[n]["depends"]
    assert seen == set(packages)


# nio's own transports and what they pull in: dead in the browser (requests go through fetch),
# about 1 MB gzipped of a first visit when they were shipped.
# jsonschema and what it needs: nio's schema checks run compiled there (about 170 KB of a first
# visit and a tenth of the import time when they were shipped).
DEAD_IN_THE_BROWSER = {"aiohttp", "aiohttp-socks", "aiofiles", "h2", "h11", "hpack", "hyperframe",
                       "yarl", "multidict", "frozenlist", "propcache", "aiosignal",
                       "aiohappyeyeballs", "python-socks", "idna", "jsonschema", "attrs",
                       "pyrsistent"}


def test_no_wheel_the_browser_never_runs_is_shipped_nio_gets_names_only(built):
    result, lock = built
    assert not DEAD_IN_THE_BROWSER & set(lock["packages"])
    shipped = " ".join(p.name for p in (result.static / "pyodide" / "wheels").rglob("*.whl"))
    assert not [n for n in DEAD_IN_THE_BROWSER if n.replace("-", "_") + "-" in shipped]
    assert set(lock["packages"]["pyapp-nio-shims"]["imports"]) == {
        "aiohttp", "aiohttp_socks", "aiofiles", "h2", "h11", "jsonschema"}
    with zipfile.ZipFile(result.wheels["pyapp-nio-shims"]) as z:
        # a few small modules, not the packages
        assert sum(i.file_size for i in z.infolist()) < 20_000


def test_lock_hashes_match_wheels_at_content_addressed_urls(built):
    result, lock = built
    assert lock["info"]["python"] == "3.14.2"
    for name, entry in lock["packages"].items():
        m = re.fullmatch(r"wheels/([0-9a-f]{16})/([^/]+\.whl)", entry["file_name"])
        assert m, entry["file_name"]
        data = (result.static / "pyodide" / entry["file_name"]).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        assert entry["sha256"] == digest
        assert digest.startswith(m.group(1))


def test_pyapp_wheel_holds_only_browser_code(built):
    result, _ = built
    with zipfile.ZipFile(result.wheels["pyapp"]) as z:
        tops = {n.split("/")[1] for n in z.namelist() if n.startswith("pyapp/") and n.count("/") > 1}
        names = z.namelist()
    assert tops <= {"auth", "client", "ui", "browser", "__pycache__"}
    assert {"auth", "browser", "client", "ui"} <= tops
    assert {"pyapp/__init__.py", "pyapp/__init__.pyc"} & set(names)
    assert {"pyapp/browser/fetch_transport.py", "pyapp/browser/fetch_transport.pyc"} & set(names)
    assert not any("crypto_compat" in n or "nio_shims" in n or n.startswith(("pyapp/server", "pyapp/build")) for n in names)


def test_precompiled_wheels_carry_cpython_314_bytecode(built):
    result, _ = built
    if not json.loads((result.static / "build-info.json").read_text())["precompiled"]:
        pytest.fail("static/ was built with --no-precompile: rebuild it with "
                    "`python -m pyapp.build --force` (./run.sh test does)")
    magic_314 = bytes.fromhex("2b0e0d0a")
    with zipfile.ZipFile(result.wheels["matrix-nio"]) as z:
        pycs = [n for n in z.namelist() if n.endswith(".pyc")]
        assert "nio/client/async_client.pyc" in pycs
        assert not any(n.endswith(".py") for n in z.namelist())
        assert z.read(pycs[0])[:4] == magic_314
    with zipfile.ZipFile(result.wheels["pyapp"]) as z:
        # our own code as bytecode only, like the rest (bytes on a first visit)
        assert "pyapp/ui/boot.pyc" in z.namelist()
        assert not any(n.endswith(".py") for n in z.namelist())
    with zipfile.ZipFile(result.static / "pyodide" / "python_stdlib.zip") as z:
        assert "asyncio/base_events.pyc" in z.namelist()


def test_shipped_stdlib_leaves_out_the_listed_modules_only(built):
    result, _ = built
    shipped = zipfile.ZipFile(result.static / "pyodide" / "python_stdlib.zip").namelist()
    stock = zipfile.ZipFile(b.check_node_modules() / "python_stdlib.zip").namelist()
    assert not [n for n in shipped if n.startswith(("unittest/", "multiprocessing/", "_pyrepl/"))]
    assert "pdb.pyc" not in shipped and "pdb.py" not in shipped
    # everything else of Pyodide's stdlib is there (as bytecode, or as is without precompile)
    rest = zipfile.ZipFile(result.static / "pyodide" / b.stdlib_trim.REST_ARCHIVE).namelist()
    expected = {n for n in stock if not b.stdlib_trim.left_out(n)}
    # the page's modules in the first archive, the rest in the second one (folders in both)
    both = [n for n in shipped if n != "_stdlib_rest_index.py"] + rest
    assert {n[:-1] if n.endswith(".pyc") else n for n in both} == expected
    assert not {n for n in shipped if not n.endswith("/")} & set(rest)
    assert {"asyncio/base_events.pyc", "json/decoder.pyc"} <= set(shipped)
    assert {"difflib.pyc", "argparse.pyc", "email/mime/text.pyc"} <= set(rest)


def test_runtime_files_have_brotli_siblings_smaller_than_gzip(built):
    result, _ = built
    pyodide = result.static / "pyodide"
    for name in ("pyodide.asm.wasm", "python_stdlib.zip", "pyodide.asm.mjs", "pyodide-lock.json"):
        br, gz = pyodide / (name + ".br"), pyodide / (name + ".gz")
        assert br.exists(), name
        assert br.stat().st_size < gz.stat().st_size, name
        assert br.read_bytes()[:4] != b"\x1f\x8b\x08\x00"  # not a gzip file by another name
    for wheel in result.wheels.values():
        assert wheel.with_name(wheel.name + ".br").exists(), wheel.name


def test_second_build_changes_nothing(built):
    again = b.build(log=lambda *a: None)
    assert again.changed == []


def test_no_pyscript_is_shipped_and_an_earlier_copy_is_removed(built):
    # om-chat.js starts Pyodide itself; PyScript would only be bytes on disk and a pin to audit.
    result, _ = built
    stale = result.static / "pyscript" / "core.js"
    stale.parent.mkdir(exist_ok=True)
    stale.write_text("left by an earlier build")
    b.build(log=lambda *a: None)
    assert sorted(p.name for p in result.static.iterdir() if p.is_dir()) == ["pyodide", "vendor"]
    assert "pyscript" not in json.loads((result.static / "build-info.json").read_text())
    assert "@pyscript/core" not in json.loads((b.ROOT / "package.json").read_text())["dependencies"]


def test_wheels_are_reproducible_from_the_same_files():
    files = {"pkg/__init__.py": b"x = 1\n", "pkg/data.json": b"{}"}
    name1, data1 = make_wheel("demo-pkg", "1.0", files, requires=["attrs"])
    name2, data2 = make_wheel("demo-pkg", "1.0", dict(reversed(files.items())), requires=["attrs"])
    assert name1 == name2 == "demo_pkg-1.0-py3-none-any.whl"
    assert data1 == data2
    _, data3 = make_wheel("demo-pkg", "1.0", {**files, "pkg/__init__.py": b"x = 2\n"})
    assert data3 != data1


def test_missing_dependency_is_a_build_error(tmp_path):
    _, data = make_wheel("needs-thing", "1.0", {"n/__init__.py": b""}, requires=["thing>=2"])
    (tmp_path / "w.whl").write_bytes(data)
    info = read_wheel(tmp_path / "w.whl")
    with pytest.raises(LookupError, match="thing"):
        runtime_dependencies({"needs-thing": info}, ["needs-thing"],
                             browser_environment("3.14.2"), {})


def test_dependencies_follow_markers_of_the_browser_python(tmp_path):
    wheels = {}
    for name, requires in (("app", ["old-backport; python_version < '3.11'", "lib"]),
                           ("lib", ["winonly; sys_platform == 'win32'"])):
        _, data = make_wheel(name, "1.0", {f"{name}/__init__.py": b""}, requires=requires)
        (tmp_path / f"{name}.whl").write_bytes(data)
        wheels[name] = read_wheel(tmp_path / f"{name}.whl")
    deps = runtime_dependencies(wheels, ["app"], browser_environment("3.14.2"), {})
    assert deps == {"app": ["lib"], "lib": []}


def test_runtime_id_names_the_runtime_stdlib_and_wheels_a_snapshot_was_made_from(built, tmp_path):
    # om-chat.js keys the Python memory snapshots it stores with it: a new build, a new id.
    result, _ = built
    info = json.loads((result.static / "build-info.json").read_text())
    assert info["runtime_id"] == b.runtime_id(result.static / "pyodide")
    copy = tmp_path / "pyodide"
    copy.mkdir()
    for name in (*b.PYODIDE_CORE_FILES, "pyodide-lock.json"):
        (copy / name).write_bytes((result.static / "pyodide" / name).read_bytes())
    assert b.runtime_id(copy) == info["runtime_id"]
    for name in ("python_stdlib.zip", "pyodide-lock.json"):
        (copy / name).write_bytes((result.static / "pyodide" / name).read_bytes() + b"\n")
        assert b.runtime_id(copy) != info["runtime_id"], name
        (copy / name).write_bytes((result.static / "pyodide" / name).read_bytes())


def test_pinned_pyodide_has_the_private_snapshot_hooks_om_chat_relies_on():
    # web/chat/om-chat.js restores memory snapshots through Pyodide's private _loadSnapshot,
    # passing createPyodideModule to grow the memory before API.restoreSnapshot copies into it.
    # A Pyodide update must be checked against these (the e2e snapshot tests run them).
    pyodide = b.ROOT / "node_modules" / "pyodide"
    assert json.loads((b.ROOT / "package.json").read_text())["dependencies"]["pyodide"] == "314.0.7"
    asm = (pyodide / "pyodide.asm.mjs").read_text()
    assert "API.restoreSnapshot=function(t){" in asm
    assert 'Module["growMemory"]=growMemory' in asm
    assert "API.makeSnapshot=function" in asm
    loader = (pyodide / "pyodide.mjs").read_text()
    assert "_loadSnapshot" in loader and "createPyodideModule" in loader


def test_the_html_sanitizer_is_served_from_static_at_the_pinned_version(built):
    result, _ = built
    purify = (result.static / "vendor" / "dompurify" / "purify.es.mjs").read_text()
    pinned = json.loads((b.ROOT / "package.json").read_text())["dependencies"]["dompurify"]
    assert f"DOMPurify {pinned}" in purify.split("\n", 1)[0]


def _compiled(files: dict[str, str], drop_dirs=()) -> zipfile.ZipFile:
    """pyapp.build._pyc_compiler run by this Python (in the build it runs inside Pyodide)."""
    import io

    from pyapp.build import _pyc_compiler

    src = io.BytesIO()
    with zipfile.ZipFile(src, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    out = _pyc_compiler.compile_archive(src.getvalue(), "/site/", False, True, drop_dirs)
    return zipfile.ZipFile(io.BytesIO(out))


def _load(z: zipfile.ZipFile, name: str) -> dict:
    import marshal

    namespace: dict = {"__name__": name}
    exec(marshal.loads(z.read(name)[16:]), namespace)  # noqa: S102 - our own test input
    return namespace


def test_bytecode_leaves_out_docstrings_but_keeps_asserts_and_line_numbers():
    z = _compiled({"pkg/mod.py": '"""Module doc."""\n\n\nclass C:\n    """Class doc."""\n\n\n'
                                 'def f(x):\n    """Function doc."""\n    assert x > 0, "positive"\n'
                                 '    return x * 2\n\n\ndef where():\n    raise ValueError\n'})
    assert z.namelist() == ["pkg/mod.pyc"]
    assert b"doc." not in z.read("pkg/mod.pyc")
    ns = _load(z, "pkg/mod.pyc")
    assert ns.get("__doc__") is None and ns["C"].__doc__ is None and ns["f"].__doc__ is None
    assert ns["f"](2) == 4
    with pytest.raises(AssertionError, match="positive"):
        ns["f"](-1)  # asserts stay (python -OO would drop them)
    with pytest.raises(ValueError) as raised:
        ns["where"]()
    assert raised.traceback[-1].lineno + 1 == 15 and "/site/pkg/mod.py" in str(raised.traceback[-1].path)


def test_dataclasses_keep_their_name_as_docstring_so_none_is_computed_at_import(monkeypatch):
    """@dataclass builds a docstring from inspect.signature for a class without one: slow in
    Pyodide, for hundreds of classes at start."""
    import inspect

    z = _compiled({"pkg/d.py": 'from dataclasses import dataclass\nimport dataclasses\n\n\n'
                               '@dataclass\nclass A:\n    """Long doc."""\n    x: int = 0\n\n\n'
                               '@dataclasses.dataclass(frozen=True)\nclass B:\n    y: str = ""\n'})
    assert b"Long doc." not in z.read("pkg/d.pyc")
    monkeypatch.setattr(inspect, "signature", lambda *a, **k: pytest.fail("signature computed"))
    ns = _load(z, "pkg/d.pyc")
    assert (ns["A"].__doc__, ns["B"].__doc__) == ("A", "B")
    assert ns["A"](3).x == 3 and ns["B"]("z").y == "z"


def test_bytecode_step_leaves_out_test_suites_and_stubs_and_records_what_is_left():
    z = _compiled({"pkg/__init__.py": "X = 1\n", "pkg/tests/test_x.py": "Y = 2\n",
                   "pkg/benchmarks/data.json": "{}", "pkg/__init__.pyi": "X: int\n",
                   "pkg/testing.py": "Z = 3\n", "pkg-1.0.dist-info/RECORD": ""},
                  drop_dirs=("tests", "benchmarks"))
    names = set(z.namelist())
    assert names == {"pkg/__init__.pyc", "pkg/testing.pyc", "pkg-1.0.dist-info/RECORD"}
    record = z.read("pkg-1.0.dist-info/RECORD").decode()
    assert "tests" not in record and "pkg/testing.pyc" in record


def test_shipped_third_party_wheels_hold_no_test_suites(built):
    result, _ = built
    if not json.loads((result.static / "build-info.json").read_text())["precompiled"]:
        pytest.fail("static/ was built with --no-precompile: rebuild it with "
                    "`python -m pyapp.build --force` (./run.sh test does)")
    with zipfile.ZipFile(result.wheels["pyapp"]) as z:  # pyapp.browser.dataclass_code's
        assert z.getinfo("pyapp/browser/dataclass_code.bin").file_size > 100_000
    for name in ("matrix-nio", "markdown-it-py", "mdurl", "unpaddedbase64"):
        with zipfile.ZipFile(result.wheels[name]) as z:
            names = z.namelist()
        assert [n for n in names if n.endswith(".pyc")], name
        assert not [n for n in names if n.endswith(".py")
                    or any(f"/{d}/" in f"/{n}" for d in b.UNUSED_PACKAGE_DIRS)], name
