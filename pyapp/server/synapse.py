"""A local Synapse homeserver: config generated into a data folder, started and stopped as a child.

Used by serve.py (the demo) and by the test fixtures, so both run the same homeserver setup.
The generated homeserver.yaml is kept as Synapse wrote it (signing key, secrets); everything we
need differently lives in an overrides file rewritten at every start and layered after it, so a
changed option takes effect without deleting the data folder.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qsl, unquote, urlsplit
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pyapp.server.process import (PRIVATE_UMASK, open_private_log, persistent_secret, private_dir,
                                  stop_process_group, write_private)
from pyapp.server.proxy_routes import DEFAULT_MAX_UPLOAD_SIZE, parse_size

# The custom state type that names the platform entity a room belongs to (defined with the other
# naming conventions). Listed in room_prejoin_state so an invited client can read it before joining.
from pyapp.identity import ROOM_METADATA_TYPE  # noqa: E402  (re-exported)

_GENEROUS = {"per_second": 1000, "burst_count": 10000}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SynapseOptions:
    data_dir: Path
    port: int = 8008
    server_name: str = "localhost"
    bind: str = "127.0.0.1"
    # Lifetime of access tokens handed out with refresh tokens; None: non-expiring tokens.
    access_token_lifetime: str | None = "5m"
    app_service_files: list[Path] = field(default_factory=list)
    # Delegated auth (matrix-authentication-service contract): {"endpoint": url, "secret": s}.
    mas: dict[str, str] | None = None
    # The platform bot's user id: load pyapp.server.tenant_guard, which keeps every client
    # inside its tenant (None: no tenant boundary in the homeserver).
    tenant_guard_bot: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # PostgreSQL (postgresql://user:password@host:port/dbname) instead of the SQLite file.
    database: str | None = None
    # Generic workers taking /sync and client reads (routes: pyapp.server.worker_routes). They
    # share the database, so they need PostgreSQL, and Redis (redis://host:port) for replication.
    workers: int = 0
    redis: str | None = None
    # The main process's replication listener and the workers' client listeners; free ports
    # are picked when not given.
    replication_port: int | None = None
    worker_ports: list[int] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://{self.bind}:{self.port}"


def postgres_database_config(url: str) -> dict[str, Any]:
    """Synapse's `database` section for a postgresql:// URL (query parameters become
    connection arguments, e.g. ?sslmode=require)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres") or not parts.path.strip("/"):
        raise ValueError(f"not a PostgreSQL database URL: {url!r} "
                         "(expected postgresql://user:password@host:port/dbname)")
    args: dict[str, Any] = {"dbname": unquote(parts.path.strip("/")), "cp_min": 1, "cp_max": 10}
    if parts.username:
        args["user"] = unquote(parts.username)
    if parts.password:
        args["password"] = unquote(parts.password)
    if parts.hostname:
        args["host"] = parts.hostname
    if parts.port:
        args["port"] = parts.port
    args.update(parse_qsl(parts.query))
    return {"name": "psycopg2", "args": args}


def redis_config(url: str) -> dict[str, Any]:
    """Synapse's `redis` section for a redis://[:password@]host:port[/dbid] URL."""
    parts = urlsplit(url)
    if parts.scheme != "redis" or not parts.hostname:
        raise ValueError(f"not a Redis URL: {url!r} (expected redis://host:port)")
    cfg: dict[str, Any] = {"enabled": True, "host": parts.hostname, "port": parts.port or 6379}
    if parts.password:
        cfg["password"] = unquote(parts.password)
    if parts.path.strip("/"):
        cfg["dbid"] = int(parts.path.strip("/"))
    return cfg


def wait_answering(url: str, process: subprocess.Popen | None, log: Path,
                   timeout: float) -> None:
    """Wait until a Synapse process answers 200 on `url`; fail early if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"Synapse exited with {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"Synapse did not answer on {url} within {timeout}s")


class Synapse:
    """One homeserver process. Use as a context manager or call start()/stop()."""

    def __init__(self, options: SynapseOptions):
        self.options = options
        self.process: subprocess.Popen | None = None
        self.worker_processes: list[subprocess.Popen] = []
        self.data_dir = Path(options.data_dir).resolve()
        if options.workers:
            if not options.database or not options.redis:
                raise ValueError("Synapse workers need a PostgreSQL database and Redis: "
                                 "set SynapseOptions.database and SynapseOptions.redis")
            options.replication_port = options.replication_port or free_port()
            while len(options.worker_ports) < options.workers:
                options.worker_ports.append(free_port())

    # -- configuration -----------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.data_dir / "homeserver.yaml"

    @property
    def overrides_path(self) -> Path:
        return self.data_dir / "overrides.yaml"

    @property
    def base_url(self) -> str:
        return self.options.base_url

    @property
    def server_name(self) -> str:
        return self.options.server_name

    @property
    def worker_names(self) -> list[str]:
        return [f"generic_worker{i + 1}" for i in range(self.options.workers)]

    @property
    def worker_urls(self) -> list[str]:
        """Client listeners of the workers, in the order pyapp.server.worker_routes numbers them."""
        return [f"http://{self.options.bind}:{p}"
                for p in self.options.worker_ports[:self.options.workers]]

    def worker_config_path(self, name: str) -> Path:
        return self.data_dir / f"{name}.yaml"

    def metrics_url(self, worker: int | None = None) -> str:
        """Prometheus metrics of the main process (None) or of one worker: per-process request
        counts show which process served what. Only with workers."""
        if worker is None:
            return f"http://{self.options.bind}:{self.options.replication_port}/_synapse/metrics"
        return self.worker_urls[worker] + "/_synapse/metrics"

    def shared_secret(self) -> str:
        return self._generated()["registration_shared_secret"]

    def _generated(self) -> dict[str, Any]:
        return yaml.safe_load(self.config_path.read_text())

    def max_upload_size(self) -> int:
        """The largest media upload this homeserver accepts, in bytes (what a proxy in front of
        it must let through): the overrides win over the generated file, as when Synapse loads
        them."""
        value = self.options.extra.get("max_upload_size")
        if value is None and self.config_path.exists():
            value = (self._generated() or {}).get("max_upload_size")
        return parse_size(value) if value is not None else DEFAULT_MAX_UPLOAD_SIZE

    def ensure_config(self) -> None:
        private_dir(self.data_dir)
        if not self.config_path.exists():
            subprocess.run(
                [
                    sys.executable, "-m", "synapse.app.homeserver",
                    "--server-name", self.options.server_name,
                    "--config-path", str(self.config_path),
                    "--generate-config", "--report-stats=no",
                    "--data-directory", str(self.data_dir),
                ],
                check=True, cwd=self.data_dir, stdout=subprocess.DEVNULL,
                umask=PRIVATE_UMASK,  # the config, signing key and log config it writes
            )
            config = self._generated()
            if not config.get("registration_shared_secret"):
                config["registration_shared_secret"] = secrets.token_hex(32)
                write_private(self.config_path, yaml.safe_dump(config))
        # Holds registration_shared_secret (and a data folder from an older version may have
        # it readable).
        os.chmod(self.config_path, 0o600)
        write_private(self.overrides_path, yaml.safe_dump(self.overrides(), sort_keys=False))
        for i, name in enumerate(self.worker_names):
            write_private(self.worker_config_path(name),
                          yaml.safe_dump(self.worker_config(i), sort_keys=False))

    def worker_config(self, index: int) -> dict[str, Any]:
        """One generic worker's own file, layered after the shared configuration."""
        o = self.options
        return {
            "worker_app": "synapse.app.generic_worker",
            "worker_name": self.worker_names[index],
            "worker_listeners": [{
                "type": "http", "port": o.worker_ports[index], "bind_addresses": [o.bind],
                "x_forwarded": False, "tls": False,
                "resources": [{"names": ["client", "metrics"], "compress": False}],
            }],
            # No worker_log_config: the worker logs to its <name>.log (see start_workers).
        }

    def overrides(self) -> dict[str, Any]:
        o = self.options
        cfg: dict[str, Any] = {
            "public_baseurl": o.base_url + "/",
            "listeners": self.overrides_listeners(),
            "report_stats": False,
            "enable_registration": False,
            "bcrypt_rounds": 4,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "url_preview_enabled": False,
            "presence": {"enabled": False},
            "room_prejoin_state": {"additional_event_types": [ROOM_METADATA_TYPE]},
            # Local use: many logins, rooms and messages per second from tests and the bot.
            "rc_message": _GENEROUS,
            "rc_registration": _GENEROUS,
            "rc_joins": {"local": _GENEROUS, "remote": _GENEROUS},
            "rc_joins_per_room": _GENEROUS,
            "rc_invites": {"per_room": _GENEROUS, "per_user": _GENEROUS, "per_issuer": _GENEROUS},
            "rc_login": {"address": _GENEROUS, "account": _GENEROUS, "failed_attempts": _GENEROUS},
            "rc_admin_redaction": _GENEROUS,
            "rc_room_creation": _GENEROUS,
            "rc_key_requests": _GENEROUS,
            "rc_3pid_validation": _GENEROUS,
            "rc_delayed_event_mgmt": _GENEROUS,
            "rc_reports": _GENEROUS,
            "rc_presence": {"per_user": _GENEROUS},
        }
        if o.access_token_lifetime:
            cfg["refreshable_access_token_lifetime"] = o.access_token_lifetime
        if o.app_service_files:
            cfg["app_service_config_files"] = [str(Path(p).resolve()) for p in o.app_service_files]
        if o.mas:
            cfg["matrix_authentication_service"] = {"enabled": True, **o.mas}
            cfg["password_config"] = {"enabled": False}
        if o.database:
            cfg["database"] = postgres_database_config(o.database)
        if o.workers:
            cfg.update(self._worker_overrides())
        if o.tenant_guard_bot:
            cfg["modules"] = [{"module": "pyapp.server.tenant_guard.TenantGuard",
                               "config": {"bot_user_id": o.tenant_guard_bot}}]
        cfg.update(o.extra)
        return cfg

    def _worker_overrides(self) -> dict[str, Any]:
        """What the main process and its workers share when the homeserver runs with workers:
        the main process's replication listener (internal: replication and metrics, never
        routed to from outside), Redis for the replication streams, and a secret for the
        replication requests workers make to the main process."""
        o = self.options
        return {
            "listeners": [
                *self.overrides_listeners(),
                {"port": o.replication_port, "bind_addresses": [o.bind], "type": "http",
                 "tls": False, "x_forwarded": False,
                 "resources": [{"names": ["replication", "metrics"], "compress": False}]},
            ],
            "instance_map": {"main": {"host": o.bind, "port": o.replication_port}},
            "redis": redis_config(o.redis),
            "worker_replication_secret": persistent_secret(self.data_dir / "replication-secret"),
            "enable_metrics": True,
        }

    def overrides_listeners(self) -> list[dict[str, Any]]:
        o = self.options
        return [{
            "port": o.port, "bind_addresses": [o.bind], "type": "http", "tls": False,
            "x_forwarded": False,
            "resources": [{"names": ["client"], "compress": False}],
        }]

    # -- process -----------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> "Synapse":
        self.ensure_config()
        with open_private_log(self.data_dir / "stdout.log") as log:  # the child keeps its copy
            self.process = subprocess.Popen(
                [sys.executable, "-m", "synapse.app.homeserver",
                 "-c", str(self.config_path), "-c", str(self.overrides_path)],
                cwd=self.data_dir, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, umask=PRIVATE_UMASK,
            )
        self.wait_ready(timeout)
        try:
            self.start_workers(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def start_workers(self, timeout: float = 60.0) -> None:
        """Start the generic workers once the main process answers (it has created or
        upgraded the database schema by then), and wait until each answers too."""
        for name in self.worker_names:
            with open_private_log(self.data_dir / f"{name}.log") as log:  # the child keeps its copy
                self.worker_processes.append(subprocess.Popen(
                    [sys.executable, "-m", "synapse.app.generic_worker",
                     "-c", str(self.config_path), "-c", str(self.overrides_path),
                     "-c", str(self.worker_config_path(name))],
                    cwd=self.data_dir, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True, umask=PRIVATE_UMASK,
                ))
        for name, process, url in zip(self.worker_names, self.worker_processes,
                                      self.worker_urls):
            wait_answering(url + "/_matrix/client/versions", process,
                           self.data_dir / f"{name}.log", timeout)

    def wait_ready(self, timeout: float = 60.0) -> None:
        wait_answering(self.base_url + "/_matrix/client/versions", self.process,
                       self.data_dir / "stdout.log", timeout)

    def stop(self) -> None:
        workers, self.worker_processes = self.worker_processes, []
        for w in workers:
            stop_process_group(w)
        p, self.process = self.process, None
        stop_process_group(p)

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> "Synapse":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- admin helpers (blocking; used by seeding and tests) ---------------------------
    def request(self, method: str, path: str, body: Any = None, token: str | None = None,
                timeout: float = 30) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, {"error": raw.decode(errors="replace")}

    def register_user(self, localpart: str, password: str, admin: bool = False,
                      displayname: str | None = None) -> dict[str, Any]:
        """Create a user through the shared-secret admin API. Returns the login response
        (user_id, access_token, device_id). An existing user is logged in instead."""
        status, body = self.request("GET", "/_synapse/admin/v1/register")
        nonce = body["nonce"]
        # The MAC covers the fields above joined by NUL, without a trailing NUL.
        mac = hmac.new(self.shared_secret().encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join(p.encode() for p in
                                (nonce, localpart, password, "admin" if admin else "notadmin")))
        payload = {"nonce": nonce, "username": localpart, "password": password,
                   "admin": admin, "mac": mac.hexdigest()}
        if displayname:
            payload["displayname"] = displayname
        status, body = self.request("POST", "/_synapse/admin/v1/register", payload)
        if status == 400 and body.get("errcode") == "M_USER_IN_USE":
            return self.login(localpart, password)
        if status != 200:
            raise RuntimeError(f"register {localpart}: {status} {body}")
        return body

    def login(self, localpart: str, password: str) -> dict[str, Any]:
        status, body = self.request("POST", "/_matrix/client/v3/login", {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": localpart},
            "password": password,
        })
        if status != 200:
            raise RuntimeError(f"login {localpart}: {status} {body}")
        return body

    def user_id(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"
