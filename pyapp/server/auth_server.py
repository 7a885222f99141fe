"""The OAuth 2.0 / OpenID server (authserver/server.mjs) as a child process.

Plays matrix-authentication-service's role for Synapse: start it before Synapse, then give
Synapse ``SynapseOptions(mas=auth.synapse_mas_options())``. Used by serve.py and the test
fixtures, like pyapp.server.synapse.Synapse.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyapp.server.process import (PRIVATE_UMASK, open_private_log, persistent_secret, private_dir,
                                  stop_process_group, write_private)

ROOT = Path(__file__).resolve().parents[2]
SERVER_SCRIPT = ROOT / "authserver" / "server.mjs"


@dataclass
class AuthServerOptions:
    data_dir: Path
    port: int
    synapse_url: str
    # Shared with Synapse (matrix_authentication_service.secret): Synapse sends it to introspect,
    # the auth server sends it to provision users and devices.
    synapse_secret: str
    host: str = "127.0.0.1"
    issuer: str | None = None  # default http://{host}:{port}
    # The platform's account directory: POST {accounts_url}/verify and /register (docs/auth.md).
    accounts_url: str | None = None
    accounts_secret: str | None = None
    access_token_ttl: int = 300  # seconds
    refresh_token_ttl: int = 14 * 24 * 3600
    # The deployment's own chat clients, pre-registered and trusted (no consent screen):
    # [{"client_id": ..., "client_name": ..., "redirect_uris": [...]}]. Every other client
    # registers itself and the user must allow it on a consent screen naming its redirect host.
    trusted_clients: list[dict[str, Any]] = field(default_factory=list)
    # Sign-in form limits (authserver/server.mjs): account_failures / account_window (5 per
    # 600 s), address_failures / address_window (30 per 600 s), failure_floor_ms (400).
    login_throttle: dict[str, int] = field(default_factory=dict)
    # postgresql://...: grants, tokens, the signing key and the cookie key live in this database
    # (tables authserver_*), shared by every instance given the same URL and issuer. None: files
    # in data_dir (state.json, signing-keys.json), for exactly one instance.
    database: str | None = None
    verbose: bool = False

    @property
    def issuer_url(self) -> str:
        return (self.issuer or f"http://{self.host}:{self.port}").rstrip("/")


CHAT_CLIENT_ID = "om-chat"


def chat_client(redirect_uris: list[str], client_id: str = CHAT_CLIENT_ID) -> dict[str, Any]:
    """The deployment's own chat as a trusted client (AuthServerOptions.trusted_clients); the
    same dict goes to the chat's /config.json as `oauth_client`."""
    return {"client_id": client_id, "client_name": "Community chat",
            "redirect_uris": list(redirect_uris)}


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgresql://", "postgres://"))


def new_shared_secret() -> str:
    return secrets.token_urlsafe(32)


class AuthServer:
    """One auth server process. Use as a context manager or call start()/stop()."""

    def __init__(self, options: AuthServerOptions):
        self.options = options
        self.data_dir = Path(options.data_dir).resolve()
        self.process: subprocess.Popen | None = None
        self._log = None

    @property
    def issuer(self) -> str:
        return self.options.issuer_url

    @property
    def config_path(self) -> Path:
        return self.data_dir / "authserver.json"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "authserver.log"

    def synapse_mas_options(self) -> dict[str, str]:
        """What SynapseOptions(mas=...) needs: where the auth server is and the shared secret."""
        return {"endpoint": self.issuer + "/", "secret": self.options.synapse_secret}

    def config(self) -> dict[str, Any]:
        o = self.options
        return {
            "issuer": o.issuer_url,
            # Signing keys (signing-keys.json) and grants/tokens/devices (state.json) live here,
            # unless `database` names a PostgreSQL database to keep them in.
            "data_dir": str(self.data_dir),
            "database": o.database,
            "host": o.host,
            "port": o.port,
            "synapse_url": o.synapse_url,
            "synapse_secret": o.synapse_secret,
            "accounts_url": o.accounts_url,
            "accounts_secret": o.accounts_secret,
            "access_token_ttl": o.access_token_ttl,
            "refresh_token_ttl": o.refresh_token_ttl,
            "trusted_clients": o.trusted_clients,
            "login_throttle": o.login_throttle,
            "cookie_secret": self._cookie_secret(),
            "verbose": o.verbose,
        }

    def _cookie_secret(self) -> str:
        # Kept across restarts so a sign-in page open during a restart still works.
        return persistent_secret(self.data_dir / "cookie.secret")

    def start(self, timeout: float = 30.0) -> "AuthServer":
        if self.options.database and not is_postgres_url(self.options.database):
            raise ValueError(f"the auth server keeps its state in PostgreSQL or in files, not in "
                             f"{self.options.database.split(':', 1)[0]!r}: give a postgresql:// URL "
                             f"or none")
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not installed (the auth server needs Node.js 20+)")
        private_dir(self.data_dir)
        write_private(self.config_path, json.dumps(self.config()))  # holds the shared secret
        self._log = open_private_log(self.log_path)
        self.process = subprocess.Popen(
            # The warning about Node 20 being below oidc-provider's supported range is noise here.
            [node, "--no-warnings", str(SERVER_SCRIPT), str(self.config_path)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=self._log, start_new_session=True,
            umask=PRIVATE_UMASK,  # the keys and grants it keeps
        )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        """The server prints `READY <issuer>` once it listens; block on that line."""
        assert self.process is not None and self.process.stdout is not None
        ready = threading.Event()
        line_holder: list[bytes] = []

        def read() -> None:
            for line in self.process.stdout:
                if not ready.is_set():
                    line_holder.append(line)
                    if line.startswith(b"READY"):
                        ready.set()
                self._log.write(line)
                self._log.flush()
            ready.set()  # EOF: the process ended

        threading.Thread(target=read, daemon=True, name="authserver-stdout").start()
        if not ready.wait(timeout) or not any(x.startswith(b"READY") for x in line_holder):
            code = self.process.poll()
            tail = self.log_path.read_text(errors="replace")[-2000:]
            self.stop()
            raise RuntimeError(f"auth server did not start (exit {code}):\n{tail}")

    def stop(self) -> None:
        p, self.process = self.process, None
        stop_process_group(p, timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> "AuthServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
