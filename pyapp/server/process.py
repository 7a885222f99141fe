"""What the services we start as child processes share: stopping a whole process group, and
secrets generated once and kept in their data folder."""

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


def persistent_secret(path: Path) -> str:
    """A random secret made on first use and kept (mode 600), so restarts keep sessions."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()
