"""A throwaway Redis (Debian's redis-server) on a free loopback port, nothing saved to disk:
the replication bus of a Synapse with workers, for tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from pyapp.server.process import stop_process_group
from pyapp.server.synapse import free_port

REDIS_SERVER = "redis-server"


def find_redis_server() -> str | None:
    return shutil.which(REDIS_SERVER) or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)


class RedisServer:
    def __init__(self, base: Path):
        self.base = Path(base)
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> "RedisServer":
        self.base.mkdir(parents=True, exist_ok=True)
        log = open(self.base / "redis.log", "ab")
        self.process = subprocess.Popen(
            [find_redis_server(), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.base),
             "--protected-mode", "yes"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self._pong():
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited; see {self.base / 'redis.log'}")
            if time.monotonic() > deadline:
                raise TimeoutError("redis-server did not answer PING")
            time.sleep(0.05)
        return self

    def _pong(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        p, self.process = self.process, None
        stop_process_group(p)
