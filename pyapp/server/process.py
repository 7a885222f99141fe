"""What the services we start as child processes share: stopping a whole process group, and
files only their owner can read (configs holding secrets, keys, databases, logs).

Private files are created 0600 from the first moment (never written readable and chmod-ed
after) and data folders 0700; the children run with PRIVATE_UMASK so what they write (Synapse's
signing key and database, the auth server's keys) is private too.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
from pathlib import Path


def stop_process_group(process: subprocess.Popen | None, timeout: float = 15.0) -> None:
    """SIGTERM the child's process group (it was started with start_new_session=True), then
    SIGKILL if it does not end in time."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


PRIVATE_UMASK = 0o077


def private_dir(path: Path) -> Path:
    """A data folder only its owner can enter (an existing one is tightened); folders made on
    the way to it are 0700 too."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)  # exactly, whatever the umask took away
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: str | bytes, replace: bool = True) -> bool:
    """Write a file only its owner can read; returns whether it was written.

    The content goes to a new temporary file created 0600 (O_EXCL: never an existing file or a
    planted link) and then takes the target's name in one step, so readers see the old or the
    new content, never a part. ``replace=False`` keeps an existing target (returns False)."""
    path = Path(path)
    data = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)  # exactly 0600 whatever the umask took away
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)  # fails if the target exists: create-if-absent, atomically
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


def private_file(path: Path) -> Path:
    """Make sure a file exists and only its owner can read it (for files another library then
    fills, such as a SQLite database: SQLite gives its journal the database file's mode)."""
    path = Path(path)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600))
    os.chmod(path, 0o600)
    return path


def open_private_log(path: Path):
    """A log file opened for appending, created 0600: logs can carry tokens and secrets."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "ab")


def persistent_secret(path: Path) -> str:
    """A random secret made on first use and kept (0600), so restarts keep sessions."""
    path = Path(path)
    if not path.exists():
        private_dir(path.parent)
        write_private(path, secrets.token_urlsafe(32), replace=False)
    else:
        os.chmod(path, 0o600)  # one written readable by an older version
    return path.read_text().strip()
