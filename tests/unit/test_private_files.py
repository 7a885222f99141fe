"""Secrets on disk are never readable by others, not even for a moment: files are created 0600
(under any umask), data folders 0700. A watcher looks at the folder at every file-system call
the code under test makes, so a file written readable and chmod-ed after is caught in between."""

from __future__ import annotations

import os
import stat
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from pyapp.orchestrator.appservice import ensure_registration
from pyapp.server.process import (open_private_log, persistent_secret, private_dir,
                                  private_file, write_private)

_watch: dict = {"root": None, "seen": None}
_busy = threading.local()
_EVENTS = {"open", "os.chmod", "os.rename", "os.replace", "os.link", "os.remove", "os.mkdir"}


def _audit(event: str, args) -> None:
    root = _watch["root"]
    if root is None or event not in _EVENTS or getattr(_busy, "on", False):
        return
    _busy.on = True
    try:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                try:
                    mode = os.lstat(path).st_mode
                except FileNotFoundError:
                    continue
                if stat.S_IMODE(mode) & 0o077:
                    _watch["seen"].add((os.path.relpath(path, root), oct(stat.S_IMODE(mode))))
    finally:
        _busy.on = False


sys.addaudithook(_audit)  # audit hooks cannot be removed; it idles while no folder is watched


@contextmanager
def watched(root: Path, umask: int = 0):
    """Everything readable by group/other that appears under root while the block runs
    (the root itself excluded), with the process umask set to let every bit through."""
    old = os.umask(umask)
    _watch["root"], _watch["seen"] = str(root), set()
    seen = _watch["seen"]
    try:
        yield seen
    finally:
        _watch["root"] = None
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_write_private_creates_0600_with_no_readable_moment(tmp_path):
    with watched(tmp_path) as seen:
        assert write_private(tmp_path / "a.secret", "s3cret")
        assert write_private(tmp_path / "a.secret", "new")  # replaced in one step
        assert not write_private(tmp_path / "a.secret", "other", replace=False)
    assert seen == set()
    assert mode(tmp_path / "a.secret") == 0o600
    assert (tmp_path / "a.secret").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.secret"]  # no temporary file left


def test_write_private_never_follows_a_planted_link(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("theirs")
    (tmp_path / "conf").symlink_to(target)
    write_private(tmp_path / "conf", "ours")
    assert target.read_text() == "theirs"  # the link was replaced, not written through
    assert not (tmp_path / "conf").is_symlink() and mode(tmp_path / "conf") == 0o600


def test_secrets_registration_dirs_and_logs_are_private_from_the_start(tmp_path):
    with watched(tmp_path) as seen:
        data = private_dir(tmp_path / "data" / "synapse")
        secret = persistent_secret(tmp_path / "data" / "session-secret")
        assert persistent_secret(tmp_path / "data" / "session-secret") == secret
        reg = ensure_registration(tmp_path / "data" / "appservice.yaml", "hs")
        with open_private_log(data / "stdout.log") as log:
            log.write(b"token ...\n")
        private_file(tmp_path / "data" / "platform.sqlite3")
    assert seen == set(), seen
    assert mode(data) == 0o700 and mode(tmp_path / "data") == 0o700
    assert yaml.safe_load((tmp_path / "data" / "appservice.yaml").read_text()) == reg
    for name in ("session-secret", "appservice.yaml", "synapse/stdout.log", "platform.sqlite3"):
        assert mode(tmp_path / "data" / name) == 0o600, name


def test_files_left_readable_by_an_older_version_are_tightened(tmp_path):
    loose = tmp_path / "data"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    (loose / "session-secret").write_text("old")
    os.chmod(loose / "session-secret", 0o644)
    private_dir(loose)
    assert persistent_secret(loose / "session-secret") == "old"
    assert mode(loose) == 0o700 and mode(loose / "session-secret") == 0o600


@pytest.mark.parametrize("umask", [0o022, 0o277])
def test_private_files_are_exactly_0600_under_other_umasks(tmp_path, umask):
    with watched(tmp_path, umask) as seen:
        write_private(tmp_path / "x", "y")
    assert seen == set() and mode(tmp_path / "x") == 0o600
