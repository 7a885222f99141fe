"""Wheel helpers for the browser bundle: reproducible wheels from source folders, metadata and
dependency reading, and the pyodide-lock.json entries built from them."""

from __future__ import annotations

import base64
import email.parser
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement

# A fixed timestamp keeps rebuilt wheels byte-identical, so their hash (and URL) changes only
# when their content does.
FIXED_DATE = (2020, 1, 1, 0, 0, 0)


def canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _zip_entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, FIXED_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def make_wheel(name: str, version: str, files: dict[str, bytes], requires: list[str] = (),
               summary: str = "") -> tuple[str, bytes]:
    """A pure-Python wheel (py3-none-any) holding `files` (archive path -> content).
    Returns (file name, bytes); the same input always gives the same bytes."""
    dist = f"{name.replace('-', '_')}-{version}"
    dist_info = f"{dist}.dist-info"
    metadata = [f"Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    if summary:
        metadata.append(f"Summary: {summary}")
    metadata += [f"Requires-Dist: {r}" for r in requires]
    tops = sorted({p.split("/", 1)[0].removesuffix(".py") for p in files})
    generated = {
        f"{dist_info}/METADATA": ("\n".join(metadata) + "\n").encode(),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: pyapp.build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ).encode(),
        f"{dist_info}/top_level.txt": ("\n".join(tops) + "\n").encode(),
    }
    entries = sorted(files.items()) + sorted(generated.items())
    record = []
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for path, content in entries:
            z.writestr(_zip_entry(path), content)
            digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
            record.append(f"{path},sha256={digest.decode()},{len(content)}")
        record.append(f"{dist_info}/RECORD,,")
        z.writestr(_zip_entry(f"{dist_info}/RECORD"), "\n".join(record) + "\n")
    return f"{dist}-py3-none-any.whl", out.getvalue()


def collect_files(root: Path, package_dirs: list[str], exclude: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Files under root/<each of package_dirs> (a dir or a single file) keyed by their path
    relative to root, without bytecode caches and without paths starting with `exclude`."""
    files: dict[str, bytes] = {}
    for entry in package_dirs:
        base = root / entry
        paths = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for p in paths:
            rel = p.relative_to(root).as_posix()
            if "__pycache__" in rel.split("/") or rel.endswith((".pyc", ".pyo")):
                continue
            if any(rel == x or rel.startswith(x.rstrip("/") + "/") for x in exclude):
                continue
            files[rel] = p.read_bytes()
    return files


@dataclass
class WheelInfo:
    """What the lock file needs to know about one wheel."""
    name: str                 # canonical project name
    version: str
    file_name: str
    top_level: list[str]
    requires: list[Requirement] = field(default_factory=list)


def read_wheel(path: Path) -> WheelInfo:
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        dist_info = next(n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info"))
        meta = email.parser.BytesParser().parsebytes(z.read(f"{dist_info}/METADATA"))
        if f"{dist_info}/top_level.txt" in names:
            tops = [t for t in z.read(f"{dist_info}/top_level.txt").decode().split() if t]
        else:
            tops = sorted({n.split("/", 1)[0].removesuffix(".py").removesuffix(".pyc")
                           for n in names
                           if not n.split("/", 1)[0].endswith((".dist-info", ".data"))})
    return WheelInfo(
        name=canonical_name(meta["Name"]),
        version=meta["Version"],
        file_name=path.name,
        top_level=tops,
        requires=[Requirement(r) for r in meta.get_all("Requires-Dist") or []],
    )


def browser_environment(python_full_version: str) -> dict[str, str]:
    """PEP 508 marker values of Pyodide's interpreter."""
    major_minor = ".".join(python_full_version.split(".")[:2])
    return {
        "implementation_name": "cpython",
        "implementation_version": python_full_version,
        "os_name": "posix",
        "platform_machine": "wasm32",
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Emscripten",
        "platform_version": "",
        "python_full_version": python_full_version,
        "python_version": major_minor,
        "sys_platform": "emscripten",
    }


def runtime_dependencies(wheels: dict[str, WheelInfo], roots: list[str], env: dict[str, str],
                         substitutes: dict[str, str]) -> dict[str, list[str]]:
    """For every wheel, the canonical names of what it needs at run time in `env`, following the
    extras its dependents ask for, with `substitutes` applied (name -> replacement name).
    Raises LookupError when something needed is not in `wheels` (the bundle is not closed)."""
    extras: dict[str, set[str]] = {name: set() for name in wheels}
    depends: dict[str, list[str]] = {}
    pending = [canonical_name(r) for r in roots]
    seen_state: dict[str, frozenset[str]] = {}
    while pending:
        name = pending.pop()
        if name not in wheels:
            raise LookupError(f"{name} is needed in the browser but no wheel provides it")
        state = frozenset(extras[name])
        if seen_state.get(name) == state:
            continue
        seen_state[name] = state
        needed: list[str] = []
        for req in wheels[name].requires:
            active = any(_marker_true(req.marker, env, extra) for extra in [""] + sorted(state))
            if not active:
                continue
            dep = canonical_name(req.name)
            dep = substitutes.get(dep, dep)
            if dep not in wheels:
                raise LookupError(f"{name} requires {req}, which no browser wheel provides")
            if not req.specifier.contains(wheels[dep].version, prereleases=True) and \
                    canonical_name(req.name) not in substitutes:
                raise LookupError(f"{name} requires {req}, the bundle has {dep} {wheels[dep].version}")
            if dep not in needed:
                needed.append(dep)
            if not req.extras <= extras[dep]:
                extras[dep] |= set(req.extras)
            pending.append(dep)
        depends[name] = needed
    return depends


def _marker_true(marker: Marker | None, env: dict[str, str], extra: str) -> bool:
    if marker is None:
        return extra == ""
    return marker.evaluate({**env, "extra": extra})
