"""A throwaway PostgreSQL cluster (initdb + pg_ctl) for tests and the benchmark.

PostgreSQL refuses to run as root; when we are root (CI), the cluster belongs to the Debian
package's ``postgres`` account and the server is started through ``runuser``."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

from pyapp.server.synapse import free_port


def find_pg_bin() -> Path | None:
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, "initdb")):
            return Path(d)
    return None


class PostgresCluster:
    def __init__(self, base: Path):
        self.bin = find_pg_bin()
        self.base = Path(base)
        self.data = self.base / "data"
        self.sock = self.base / "sock"
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres"
            pwd.getpwnam(self.user)  # the Debian package creates it

    def _run(self, *args: str) -> None:
        cmd = list(args)
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> None:
        self.sock.mkdir(parents=True, exist_ok=True)
        if self.user:
            for p in (self.base, self.sock):
                shutil.chown(p, self.user, self.user)
            # The postgres account must reach its directory through pytest's temp tree.
            p = self.base
            while p != p.parent:
                os.chmod(p, os.stat(p).st_mode | 0o011)
                p = p.parent
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-sync")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-l",
                  str(self.base / "log"), "-o",
                  f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off",
                  "start")

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")
        except subprocess.CalledProcessError:
            pass


@contextmanager
def temporary_cluster(prefix: str):
    """A started cluster in a fresh directory, removed afterwards."""
    if find_pg_bin() is None:
        pytest.fail("PostgreSQL's server is required (./run.sh test installs it)")
    # Not under pytest's temp tree: the cluster runs as the postgres account when we are root,
    # and any pytest starting meanwhile on this machine makes /tmp/pytest-of-<user> private
    # again (initdb or the server then fails to reach its directory).
    base = Path(tempfile.mkdtemp(prefix=prefix))
    cluster = PostgresCluster(base)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)
