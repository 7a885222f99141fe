"""Build the browser runtime into static/ (run: `python -m pyapp.build [--force] [--no-precompile]`).

static/ is generated, never committed, and rebuilt from pinned inputs only:
- static/pyodide/: Pyodide's core from node_modules/pyodide, its stdlib recompiled to bytecode
  and without the modules a chat page never uses (pyapp.build.stdlib_trim), split into what a
  page imports (python_stdlib.zip) and the rest, fetched on first use (python_stdlib_rest.zip,
  pyapp.browser.stdlib_rest),
  and a pyodide-lock.json listing ONLY our wheels (sha256 + depends): the loader
  (web/chat/om-chat.js) fetches every wheel it lists, checks its sha256 and puts the wheel file
  itself on sys.path (zipimport reads the bytecode-only wheels; nothing is unpacked).
- static/pyodide/wheels/<sha256[:16]>/<wheel>: the wheels, in content-addressed folders, so a
  changed wheel always has a new URL (browsers and caches never serve a stale one).
- *.br (brotli) and *.gz siblings of compressible files, served by pyapp.server.web when the
  client accepts them (brotli first).

Caching rule the server relies on: URLs with a 16-hex-digit path segment are immutable; every
other file is revalidated (ETag) on use.

Re-running with unchanged inputs rewrites nothing (mtimes and ETags stay) and takes well under
a second; bytecode compilation (Pyodide in Node, ~10 s) reruns only for changed archives.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from . import stdlib_trim
from .wheels import (
    WheelInfo, browser_environment, canonical_name, collect_files, make_wheel, read_wheel,
    runtime_dependencies, sha256_file,
)

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "browser-requirements.txt"

PYODIDE_CORE_FILES = ["pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip"]
# No longer produced: web/chat/om-chat.js starts Pyodide itself (PyScript needs 'unsafe-eval').
# Removed from earlier builds' static/ so that no unused runtime stays deployed.
OBSOLETE = ("pyscript",)

# npm packages the pages load from our own origin: static/vendor/<package>/<file>, each at the
# exact version package.json pins. DOMPurify sanitizes received HTML (pyapp.ui.sanitize).
VENDOR_FILES = {"dompurify": ["dist/purify.es.mjs"]}
# Packages copied with their own layout (their modules import each other by relative path),
# to static/vendor/<last part of the name>/. The Matrix crypto engine (WebAssembly) is loaded
# only by pages whose user meets encryption (pyapp.browser.crypto_engine).
VENDOR_TREES = {"@matrix-org/matrix-sdk-crypto-wasm": [
    "index.mjs", "pkg/matrix_sdk_crypto_wasm_bg.js", "pkg/matrix_sdk_crypto_wasm_bg.wasm"]}

# The compiled pycryptodome is not available to Pyodide; this wheel provides the subset nio uses.
CRYPTO_COMPAT = "pyapp-crypto-compat"
CRYPTO_COMPAT_VERSION = "0.1.0"
# What nio imports for transports the browser never runs (aiohttp, h2, ...): names only, so those
# wheels and everything behind them are never downloaded (pyapp/browser/nio_shims/README.md).
NIO_SHIMS = "pyapp-nio-shims"
NIO_SHIMS_VERSION = "0.1.0"
# jsonschema too: nio's schema checks run compiled in the browser (pyapp.client.nio_validators),
# so its interpreter (and attrs, pyrsistent behind it) would only cost bytes and import time.
SHIMMED = ("aiohttp", "aiohttp-socks", "aiofiles", "h2", "h11", "jsonschema")
SUBSTITUTES = {"pycryptodome": CRYPTO_COMPAT, **{name: NIO_SHIMS for name in SHIMMED}}

# Our own code in the browser: only what runs there.
PYAPP_BROWSER_PATHS = [
    "pyapp/__init__.py", "pyapp/identity.py", "pyapp/client", "pyapp/ui", "pyapp/browser",
    "pyapp/auth",
]
PYAPP_BROWSER_EXCLUDE = ("pyapp/browser/crypto_compat", "pyapp/browser/nio_shims")
PYAPP_BROWSER_REQUIRES = ["matrix-nio", "markdown-it-py"]
ROOT_PACKAGE = "pyapp"

GZIP_SUFFIXES = (".js", ".mjs", ".wasm", ".json", ".css", ".zip", ".whl")
# Folders of the downloaded wheels' packages that a page never imports (jsonschema ships its test
# suite and benchmark data: 60% of its wheel); left out with the type stubs by the bytecode step.
UNUSED_PACKAGE_DIRS = ("tests", "benchmarks")
# Bump when the bytecode step changes in a way its inputs do not show.
PRECOMPILE_FORMAT = "1"


@dataclass
class BuildResult:
    static: Path
    wheels: dict[str, Path]      # canonical name -> wheel in static/
    changed: list[str]           # static/ paths written this run
    seconds: float


class BuildError(RuntimeError):
    pass


# -- small file helpers -------------------------------------------------------------------------

def _write_if_changed(path: Path, data: bytes, changed: list[str], static: Path) -> None:
    if path.exists() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    changed.append(path.relative_to(static).as_posix())


def _copy_if_changed(src: Path, dst: Path, changed: list[str], static: Path) -> None:
    _write_if_changed(dst, src.read_bytes(), changed, static)


def _gzip_sibling(path: Path) -> None:
    """path.gz next to path, when compression pays off; regenerated only if path is newer."""
    gz = path.with_name(path.name + ".gz")
    if gz.exists() and gz.stat().st_mtime_ns >= path.stat().st_mtime_ns:
        return
    data = path.read_bytes()
    packed = gzip.compress(data, compresslevel=9, mtime=0)
    if len(packed) < 0.9 * len(data):
        tmp = gz.with_name(gz.name + ".tmp")
        tmp.write_bytes(packed)
        os.replace(tmp, gz)
    elif gz.exists():
        gz.unlink()


def brotli_siblings(paths: list[Path], cache: Path, log) -> None:
    """path.br next to each path (brotli, about a quarter smaller than gzip; browsers ask for it
    even on http://localhost), when it pays off. Compressed by Node's zlib (no new dependency),
    cached by content in `cache`, since quality 11 takes a minute for the wasm; without Node
    the .br files are left out and gzip is served."""
    cache.mkdir(parents=True, exist_ok=True)
    node = shutil.which("node")
    wanted = {p: cache / (hashlib.sha256(p.read_bytes()).hexdigest()[:32] + ".br") for p in paths}
    todo = [{"input": str(p), "output": str(c) + ".tmp"} for p, c in wanted.items()
            if not c.exists()]
    if todo and node is None:
        log("node not found: no brotli files (gzip only)")
    elif todo:
        log(f"brotli-compressing {len(todo)} file(s) (Node zlib, quality 11) ...")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(todo, f)
        try:
            subprocess.run([node, str(HERE / "brotli.mjs"), f.name], check=True)
        finally:
            os.unlink(f.name)
        for job in todo:
            os.replace(job["output"], job["output"][:-4])
    for p, c in wanted.items():
        br = p.with_name(p.name + ".br")
        if c.exists() and c.stat().st_size < 0.9 * p.stat().st_size:
            data = c.read_bytes()
            if not (br.exists() and br.stat().st_size == len(data) and br.read_bytes() == data):
                tmp = br.with_name(br.name + ".tmp")
                tmp.write_bytes(data)
                os.replace(tmp, br)
        elif br.exists():
            br.unlink()
    for stale in set(cache.iterdir()) - set(wanted.values()):
        stale.unlink()


def _npm_version(package_dir: Path) -> str:
    return json.loads((package_dir / "package.json").read_text())["version"]


def _pinned_npm_version(name: str) -> str:
    return json.loads((ROOT / "package.json").read_text())["dependencies"][name]


# -- steps --------------------------------------------------------------------------------------

def check_node_modules() -> Path:
    pyodide_dir = ROOT / "node_modules" / "pyodide"
    if not pyodide_dir.is_dir():
        raise BuildError("node_modules/pyodide is missing: run `npm ci` first")
    want, have = _pinned_npm_version("pyodide"), _npm_version(pyodide_dir)
    if want != have:
        raise BuildError(f"node_modules/pyodide is {have}, package.json pins {want}: run `npm ci`")
    return pyodide_dir


def copy_vendor(static: Path, changed: list[str]) -> None:
    vendor = static / "vendor"
    for package, files in VENDOR_FILES.items():
        source = ROOT / "node_modules" / package
        want = _pinned_npm_version(package)
        if not source.is_dir() or _npm_version(source) != want:
            raise BuildError(f"node_modules/{package} is not the {want} package.json pins: "
                             "run `npm ci`")
        for rel in files:
            _copy_if_changed(source / rel, vendor / package / Path(rel).name, changed, static)
    for package, files in VENDOR_TREES.items():
        source = ROOT / "node_modules" / package
        want = _pinned_npm_version(package)
        if not source.is_dir() or _npm_version(source) != want:
            raise BuildError(f"node_modules/{package} is not the {want} package.json pins: "
                             "run `npm ci`")
        for rel in files:
            _copy_if_changed(source / rel, vendor / package.split("/")[-1] / rel, changed, static)
    keep = set(VENDOR_FILES) | {p.split("/")[-1] for p in VENDOR_TREES}
    if vendor.exists():
        for d in vendor.iterdir():
            if d.name not in keep:
                shutil.rmtree(d)


def read_requirements() -> list[tuple[str, str, str]]:
    """(name, version, sha256) for every pinned browser wheel."""
    pins = []
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec, _, hashes = line.partition("--hash=sha256:")
        name, _, version = spec.strip().partition("==")
        if not version or not hashes:
            raise BuildError(f"{REQUIREMENTS.name}: every line needs name==version --hash: {line}")
        pins.append((canonical_name(name), version.strip(), hashes.strip()))
    return pins


def download_wheels(cache: Path, log) -> list[Path]:
    """The pinned wheels from PyPI (cached in .cache/wheels; pip verifies the hashes)."""
    cache.mkdir(parents=True, exist_ok=True)
    pins = read_requirements()

    def present() -> dict[str, Path]:
        by_hash = {}
        for p in cache.glob("*.whl"):
            by_hash[sha256_file(p)] = p
        return by_hash

    have = present()
    if any(h not in have for _, _, h in pins):
        log("downloading browser wheels from PyPI ...")
        cmd = [
            sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
            "--no-deps", "--require-hashes", "--only-binary=:all:",
            "--platform", "pyemscripten_2026_0_wasm32", "--platform", "any",
            "--python-version", "3.14", "--implementation", "cp",
            "--abi", "cp314", "--abi", "abi3", "--abi", "none",
            "-d", str(cache), "-r", str(REQUIREMENTS),
        ]
        subprocess.run(cmd, check=True)
        have = present()
    missing = [f"{n}=={v}" for n, v, h in pins if h not in have]
    if missing:
        raise BuildError(f"wheels not downloaded: {missing}")
    return [have[h] for _, _, h in pins]


def build_local_wheels(out: Path) -> list[Path]:
    """The crypto compatibility wheel, nio's shims and our own browser-side code, written to
    `out` only when their bytes change."""
    out.mkdir(parents=True, exist_ok=True)
    crypto_root = ROOT / "pyapp" / "browser" / "crypto_compat"
    crypto_name, crypto_bytes = make_wheel(
        CRYPTO_COMPAT, CRYPTO_COMPAT_VERSION, collect_files(crypto_root, ["Crypto"]),
        summary="pycryptodome's Crypto API subset used by matrix-nio, on hashlib and WebCrypto",
    )
    shims_root = ROOT / "pyapp" / "browser" / "nio_shims"
    shims_name, shims_bytes = make_wheel(
        NIO_SHIMS, NIO_SHIMS_VERSION,
        collect_files(shims_root, [n.replace("-", "_") for n in SHIMMED]),
        summary="The names matrix-nio imports from aiohttp, aiohttp-socks, aiofiles, h2 and h11",
    )
    version = _pyapp_version()
    app_name, app_bytes = make_wheel(
        ROOT_PACKAGE, version,
        collect_files(ROOT, PYAPP_BROWSER_PATHS, exclude=PYAPP_BROWSER_EXCLUDE),
        requires=PYAPP_BROWSER_REQUIRES, summary="Embeddable Matrix chat (browser part)",
    )
    paths = []
    for name, data in ((crypto_name, crypto_bytes), (shims_name, shims_bytes),
                       (app_name, app_bytes)):
        p = out / name
        if not p.exists() or p.read_bytes() != data:
            p.write_bytes(data)
        paths.append(p)
    return paths


def _pyapp_version() -> str:
    import tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def precompile(jobs: list[dict], pyodide_dir: Path, cache: Path, log) -> list[Path]:
    """Each job's archive compiled to bytecode by Pyodide; cached by input content, so only
    changed archives pay for starting Pyodide in Node."""
    cache.mkdir(parents=True, exist_ok=True)
    salt = hashlib.sha256()
    for f in ("precompile.mjs", "_pyc_compiler.py"):
        salt.update((HERE / f).read_bytes())
    salt.update((PRECOMPILE_FORMAT + _npm_version(pyodide_dir)).encode())
    todo, outputs = [], []
    for job in jobs:
        h = salt.copy()
        h.update(Path(job["input"]).read_bytes())
        h.update(json.dumps({k: job.get(k) for k in ("prefix", "keep_source", "stored",
                                                      "drop_dirs")}).encode())
        target = cache / f"{h.hexdigest()[:24]}-{Path(job['input']).name}"
        outputs.append(target)
        if not target.exists():
            todo.append({**job, "output": str(target) + ".tmp"})
    if todo:
        log(f"compiling {len(todo)} archive(s) to CPython 3.14 bytecode in Pyodide (Node) ...")
        node = shutil.which("node")
        if node is None:
            raise BuildError("node is needed to precompile bytecode (or pass --no-precompile)")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(todo, f)
        try:
            subprocess.run([node, str(HERE / "precompile.mjs"), str(pyodide_dir), f.name],
                           check=True)
        finally:
            os.unlink(f.name)
        for job in todo:
            os.replace(job["output"], job["output"][:-4])
    # Results of earlier inputs (e.g. each edit of our own code) are not needed again.
    for stale in set(cache.iterdir()) - set(outputs):
        stale.unlink()
    return outputs


def with_dataclass_code(wheels: list[Path], app_wheel: Path, pyodide_dir: Path, cache: Path,
                        log) -> Path:
    """`app_wheel` (our bytecode wheel) plus pyapp/browser/dataclass_code.bin: the methods
    @dataclass compiles while a page imports nio and the chat, compiled here by the same
    Pyodide in Node (pyapp.browser.dataclass_code says why). Cached by the wheels' content."""
    h = hashlib.sha256()
    for f in (HERE / "dataclass_code.mjs", ROOT / "pyapp" / "browser" / "dataclass_code.py"):
        h.update(f.read_bytes())
    h.update(_npm_version(pyodide_dir).encode())
    for w in sorted(wheels):
        h.update(w.name.encode() + sha256_file(w).encode())
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"{h.hexdigest()[:24]}-{app_wheel.name}"
    if not target.exists():
        node = shutil.which("node")
        if node is None:
            raise BuildError("Node.js is needed to compile the dataclass methods")
        log("compiling the dataclass methods of a page's imports in Pyodide (Node) ...")
        code = cache / "dataclass_code.bin.tmp"
        subprocess.run([node, str(HERE / "dataclass_code.mjs"), str(pyodide_dir), str(code),
                        *map(str, wheels)], check=True)
        with zipfile.ZipFile(app_wheel) as src, zipfile.ZipFile(
                str(target) + ".tmp", "w") as dst:
            for info in src.infolist():
                dst.writestr(info, src.read(info))
            entry = zipfile.ZipInfo("pyapp/browser/dataclass_code.bin", (2020, 1, 1, 0, 0, 0))
            entry.external_attr = 0o644 << 16
            dst.writestr(entry, code.read_bytes())
        code.unlink()
        os.replace(str(target) + ".tmp", target)
        for stale in cache.iterdir():
            if stale != target and stale.name.endswith(app_wheel.name):
                stale.unlink()
    return target


def runtime_id(out_pyodide: Path) -> str:
    """One id for everything a Python memory snapshot depends on (the runtime, the stdlib whose
    zip offsets Python caches, our wheels through the lock's hashes): web/chat/om-chat.js keys
    the snapshots it stores in the browser with it, so a new build never restores an old one."""
    h = hashlib.sha256()
    for name in (*PYODIDE_CORE_FILES, "pyodide-lock.json"):
        h.update(name.encode() + b"\0" + sha256_file(out_pyodide / name).encode() + b"\0")
    return h.hexdigest()[:32]


def make_lock(stock_lock: dict, wheels: dict[str, tuple[WheelInfo, Path, str]]) -> dict:
    """pyodide-lock.json with only our wheels. `wheels`: name -> (info, file, url relative to
    the lock)."""
    infos = {name: info for name, (info, _, _) in wheels.items()}
    env = browser_environment(stock_lock["info"]["python"])
    depends = runtime_dependencies(infos, [ROOT_PACKAGE], env, SUBSTITUTES)
    unused = sorted(set(infos) - set(depends))
    if unused:
        raise BuildError(f"pinned but not needed by {ROOT_PACKAGE}: {unused}")
    packages = {}
    for name in sorted(wheels):
        info, path, rel = wheels[name]
        packages[name] = {
            "name": name,
            "version": info.version,
            "file_name": rel,
            "install_dir": "site",
            "sha256": sha256_file(path),
            "package_type": "package",
            "imports": info.top_level,
            "depends": sorted(depends[name]),
            "unvendored_tests": False,
        }
    return {"info": stock_lock["info"], "packages": packages}


def build(*, force: bool = False, precompile_bytecode: bool = True, log=print) -> BuildResult:
    """Bring static/ up to date. Concurrent builds (parallel test runs) wait for each other."""
    import fcntl

    (ROOT / ".cache").mkdir(exist_ok=True)
    with open(ROOT / ".cache" / "build.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        return _build(force=force, precompile_bytecode=precompile_bytecode, log=log)


def _build(*, force: bool, precompile_bytecode: bool, log) -> BuildResult:
    t0 = time.monotonic()
    static = ROOT / "static"
    cache = ROOT / ".cache"
    if force and static.exists():
        shutil.rmtree(static)
    changed: list[str] = []
    pyodide_dir = check_node_modules()

    # Previous runs' options: switching bytecode on/off must not keep the other variant's files.
    info_path = static / "build-info.json"

    out_pyodide = static / "pyodide"
    for f in PYODIDE_CORE_FILES:
        if f != "python_stdlib.zip":
            _copy_if_changed(pyodide_dir / f, out_pyodide / f, changed, static)

    for name in OBSOLETE:
        if (static / name).exists():
            shutil.rmtree(static / name)
            changed.append(name)

    copy_vendor(static, changed)

    downloaded = download_wheels(cache / "wheels", log)
    local = build_local_wheels(cache / "local-wheels")
    sources = downloaded + local
    stdlib_src = pyodide_dir / "python_stdlib.zip"

    if precompile_bytecode:
        site = "/lib/python3.14/site-packages/"
        # Bytecode only, our own code too (its source was a quarter of a first visit's wheel
        # bytes): a traceback in the browser still names the file and line.
        jobs = [{"input": str(p), "prefix": site, "keep_source": False, "stored": True,
                 "drop_dirs": [] if p in local else list(UNUSED_PACKAGE_DIRS)} for p in sources]
        jobs.append({"input": str(stdlib_src), "prefix": "/lib/python314.zip/",
                     "keep_source": False, "stored": True})
        compiled = precompile(jobs, pyodide_dir, cache / "pyc", log)
        wheel_files = dict(zip(sources, compiled[:-1]))
        stdlib = compiled[-1]
        app = next(p for p in local if p.name.startswith(ROOT_PACKAGE + "-"))
        wheel_files[app] = with_dataclass_code(list(wheel_files.values()), wheel_files[app],
                                               pyodide_dir, cache / "dataclass-code", log)
    else:
        wheel_files = {p: p for p in sources}
        stdlib = stdlib_src
    core, rest = stdlib_trim.split(stdlib_trim.trim(stdlib.read_bytes()), stdlib_trim.core_modules())
    _write_if_changed(out_pyodide / "python_stdlib.zip", core, changed, static)
    _write_if_changed(out_pyodide / stdlib_trim.REST_ARCHIVE, rest, changed, static)

    wheels_dir = out_pyodide / "wheels"
    placed: dict[str, tuple[WheelInfo, Path, str]] = {}
    keep_dirs = set()
    for source, built in wheel_files.items():
        info = read_wheel(built)
        digest = sha256_file(built)[:16]
        keep_dirs.add(digest)
        # The wheel keeps its own file name (Pyodide parses it); the folder carries the hash.
        target = wheels_dir / digest / source.name
        _copy_if_changed(built, target, changed, static)
        placed[info.name] = (info, target, f"wheels/{digest}/{source.name}")
    if wheels_dir.exists():
        for d in wheels_dir.iterdir():
            if d.name not in keep_dirs:
                shutil.rmtree(d)

    stock_lock = json.loads((pyodide_dir / "pyodide-lock.json").read_text())
    lock = make_lock(stock_lock, placed)
    _write_if_changed(out_pyodide / "pyodide-lock.json",
                      (json.dumps(lock, indent=1, sort_keys=True) + "\n").encode(), changed, static)

    compressible = [p for p in static.rglob("*") if p.is_file() and p.suffix in GZIP_SUFFIXES]
    for p in compressible:
        _gzip_sibling(p)
    brotli_siblings(compressible, cache / "br", log)
    for packed in [*static.rglob("*.gz"), *static.rglob("*.br")]:
        if not packed.with_suffix("").exists():
            packed.unlink()

    build_info = {
        "pyodide": _npm_version(pyodide_dir),
        "runtime_id": runtime_id(out_pyodide),
        "precompiled": precompile_bytecode,
        "root_package": ROOT_PACKAGE,
        "wheels": {name: rel for name, (_, _, rel) in sorted(placed.items())},
    }
    _write_if_changed(info_path, (json.dumps(build_info, indent=1) + "\n").encode(), changed, static)
    return BuildResult(static=static, wheels={n: p for n, (_, p, _) in placed.items()},
                       changed=changed, seconds=time.monotonic() - t0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyapp.build", description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="delete static/ and rebuild it")
    parser.add_argument("--no-precompile", action="store_true",
                        help="ship sources only (no bytecode step; slower imports in the browser)")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args(argv)
    log = (lambda *a: None) if args.quiet else (lambda *a: print("[build]", *a, flush=True))
    try:
        result = build(force=args.force, precompile_bytecode=not args.no_precompile, log=log)
    except BuildError as e:
        print(f"[build] error: {e}", file=sys.stderr)
        return 1
    log(f"static/ ready in {result.seconds:.2f}s ({len(result.changed)} file(s) updated)")
    return 0
