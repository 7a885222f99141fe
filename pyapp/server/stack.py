"""The whole demo stack in one place: homeserver, platform + orchestrator, web server.

serve.py runs it until Ctrl-C; end-to-end tests run the same stack on free ports, so what
the tests exercise is what a user starts.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from pyapp.server.accounts import PlatformDirectory, accounts_routes
from pyapp.server.auth_server import AuthServer, AuthServerOptions, chat_client, is_postgres_url
from pyapp.identity import bot_user_id, matrix_localpart
from pyapp.orchestrator.appservice import config_from_registration, ensure_registration
from pyapp.auth.browser import CALLBACK_PATH
from pyapp.orchestrator.worker import Orchestrator
from pyapp.platform.api import add_platform_routes
from pyapp.platform.demo import DEMO_PASSWORD, DEMO_TENANT, USERS, is_empty, register_demo_accounts, seed_demo
from pyapp.platform.service import Platform
from pyapp.platform.store import Store
from pyapp.server.matrix_proxy import add_matrix_proxy
from pyapp.server.process import persistent_secret, private_dir, private_file
from pyapp.server.synapse import Synapse, SynapseOptions, free_port
from pyapp.server.page_security import PageSecurity
from pyapp.server.web import make_app

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("pyapp.stack")


@dataclass
class StackOptions:
    data_dir: Path = ROOT / ".data"
    host: str = "127.0.0.1"
    port: int = 8080
    # An existing homeserver instead of the embedded one (then no Synapse is started).
    homeserver_url: str | None = None
    server_name: str = "localhost"
    synapse_port: int = 8008
    # "oauth": users sign in at the auth server (MAS's role), Synapse delegates auth to it;
    # "password": Synapse's own password login with refresh tokens.
    auth: str = "oauth"
    auth_port: int = 8009
    access_token_lifetime: str | None = "5m"
    oauth_access_token_ttl: int = 300  # seconds
    # Origins (besides this server's own URL) where browsers open the chat's pages, e.g. the
    # public https URL in front of it: their /oauth/callback.html is the trusted chat client's.
    chat_origins: list[str] = field(default_factory=list)
    database: str | None = None  # SQLite file by default; postgresql://... for several machines
    # The embedded Synapse on PostgreSQL (postgresql://...) instead of its SQLite file, and
    # generic workers taking /sync and client reads, with Redis (redis://host:port) carrying
    # replication between them; the same-origin proxy routes to the workers (docs/deploy.md).
    synapse_database: str | None = None
    synapse_workers: int = 0
    redis_url: str | None = None
    tenant: str = DEMO_TENANT
    # Serve the homeserver's client API under the page's origin (pyapp.server.matrix_proxy);
    # False: browsers talk to the homeserver's own URL, with CORS preflights.
    same_origin_matrix: bool = True
    # Enforce the tenant boundary inside the embedded homeserver (pyapp.server.tenant_guard).
    tenant_guard: bool = True
    seed: bool = True
    # A reverse proxy we trust sits in front: believe its X-Forwarded-For (login throttling)
    # and X-Forwarded-Proto (Secure cookies). Off, a client could make those headers up.
    behind_proxy: bool = False
    # Page origins besides the web server's own that may change platform state (CSRF check).
    allowed_origins: tuple[str, ...] = ()
    web_root: Path = ROOT / "web"
    static_root: Path = ROOT / "static"
    extra_config: dict = field(default_factory=dict)
    # Who may frame the pages (CSP frame-ancestors): "'none'", "'self'", "'self' https://x".
    frame_ancestors: str = "'none'"
    # Origins the pages may fetch from besides their own, the homeserver's and the embedded
    # auth server's (e.g. the auth server of an existing homeserver).
    connect_origins: tuple[str, ...] = ()

    @classmethod
    def for_tests(cls, data_dir: Path, **kw) -> "StackOptions":
        return cls(data_dir=Path(data_dir), port=free_port(), synapse_port=free_port(),
                   auth_port=free_port(), **kw)


class Stack:
    def __init__(self, options: StackOptions):
        self.options = options
        self.data_dir = Path(options.data_dir).resolve()
        self.synapse: Synapse | None = None
        self.store: Store | None = None
        self.orchestrator: Orchestrator | None = None
        self.auth_server: AuthServer | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.options.host}:{self.options.port}"

    @property
    def homeserver_url(self) -> str:
        return self.options.homeserver_url or self.synapse.base_url

    @property
    def browser_homeserver_url(self) -> str:
        """Where the browser reaches the homeserver."""
        return self.url if self.options.same_origin_matrix else self.homeserver_url

    def chat_client(self) -> dict:
        """The chat's own OAuth client: trusted by the auth server (no consent screen), named in
        /config.json so the chat uses it instead of registering itself."""
        origins = [self.url, *self.options.chat_origins]
        if self.options.host == "127.0.0.1":
            origins.append(f"http://localhost:{self.options.port}")
        return chat_client([o.rstrip("/") + CALLBACK_PATH for o in dict.fromkeys(origins)])

    def auth_server_options(self) -> AuthServerOptions:
        o = self.options
        return AuthServerOptions(
            data_dir=self.data_dir / "authserver", port=o.auth_port, host=o.host,
            synapse_url=f"http://127.0.0.1:{o.synapse_port}",
            synapse_secret=self._secret("mas-secret"),
            accounts_url=f"http://127.0.0.1:{o.port}/_internal/accounts",
            accounts_secret=self._secret("accounts-secret"),
            access_token_ttl=o.oauth_access_token_ttl,
            trusted_clients=[self.chat_client()],
            # On PostgreSQL the auth server keeps its state beside the platform's, so more
            # instances can share it; on SQLite, in its data folder.
            database=o.database if is_postgres_url(o.database) else None,
        )

    def demo_logins(self) -> list[tuple[str, str, str]]:
        """(tenant, login name, password) of each seeded user."""
        return [(tenant, slug, DEMO_PASSWORD) for tenant, users in USERS.items()
                for slug, _, _ in users]

    async def start(self) -> "Stack":
        o = self.options
        private_dir(self.data_dir)
        registration_file = self.data_dir / "appservice.yaml"
        registration = ensure_registration(registration_file, o.server_name)
        oauth = o.auth == "oauth"
        if oauth and not o.homeserver_url:
            self.auth_server = AuthServer(self.auth_server_options())
            await asyncio.to_thread(self.auth_server.start)
        if not o.homeserver_url:
            self.synapse = Synapse(SynapseOptions(
                data_dir=self.data_dir / "synapse", port=o.synapse_port,
                server_name=o.server_name,
                access_token_lifetime=None if oauth else o.access_token_lifetime,
                app_service_files=[registration_file],
                mas=self.auth_server.synapse_mas_options() if self.auth_server else None,
                database=o.synapse_database, workers=o.synapse_workers, redis=o.redis_url,
                tenant_guard_bot=bot_user_id(o.server_name, registration["sender_localpart"])
                if o.tenant_guard else None,
            ))
            await asyncio.to_thread(self.synapse.start)
        # Password hashes and sessions: private before SQLite first writes to it.
        self.store = Store.open(o.database or str(private_file(self.data_dir / "platform.sqlite3")))
        platform = Platform(self.store)
        if o.seed and is_empty(self.store):
            seed_demo(self.store)
            if self.synapse is not None:
                await asyncio.to_thread(self._create_demo_accounts, platform)
        config = config_from_registration(registration, self.homeserver_url, o.server_name)
        self.orchestrator = Orchestrator(self.store, config)
        self.orchestrator.start()
        self.orchestrator.wake()

        app = make_app(o.web_root, o.static_root, {
            "homeserver": self.browser_homeserver_url,
            "server_name": o.server_name,
            "tenant": o.tenant,
            "bot_user_id": config.bot_user_id,
            "auth": o.auth,
            **({"oauth_client": self.chat_client()} if self.auth_server is not None else {}),
            **o.extra_config,
        }, PageSecurity(frame_ancestors=o.frame_ancestors, connect_origins=(
            *([self.auth_server.issuer] if self.auth_server else []), *o.connect_origins)))
        if o.same_origin_matrix:
            add_matrix_proxy(app, self.homeserver_url, **(
                {"max_upload_size": self.synapse.max_upload_size(),
                 "workers": self.synapse.worker_urls} if self.synapse else {}))
        add_platform_routes(app, platform, secret=self._secret("session-secret"),
                            server_name=o.server_name, orchestrator=self.orchestrator,
                            trust_proxy=o.behind_proxy, allowed_origins=o.allowed_origins)
        if self.auth_server is not None:
            # The auth server's sign-in page checks the platform's own users here.
            app.router.add_routes(accounts_routes(PlatformDirectory(platform),
                                                  self._secret("accounts-secret"),
                                                  default_tenant=o.tenant))
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, o.host, o.port).start()
        return self

    def _create_demo_accounts(self, platform: Platform) -> None:
        """Demo users get Matrix accounts up front, so the orchestrator's invites go out
        before anyone signs in. With delegated auth, accounts are provisioned the way the
        auth server does it; otherwise through shared-secret registration."""
        if self.auth_server is None:
            register_demo_accounts(self.synapse, self.store)
            return
        secret = self.auth_server.options.synapse_secret
        for row in self.store.all("SELECT tenant, slug, display_name FROM users"):
            status, body = self.synapse.request(
                "POST", "/_synapse/mas/provision_user",
                {"localpart": matrix_localpart(row["slug"], row["tenant"]),
                 "set_displayname": row["display_name"]}, token=secret)
            if status not in (200, 201):
                raise RuntimeError(f"provisioning {row['slug']}: {status} {body}")
            platform.matrix_account_ready(row["tenant"], row["slug"])

    def _secret(self, name: str) -> str:
        return persistent_secret(self.data_dir / name)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.orchestrator is not None:
            await self.orchestrator.stop()
            self.orchestrator = None
        if self.store is not None:
            self.store.close()
            self.store = None
        if self.synapse is not None:
            await asyncio.to_thread(self.synapse.stop)
        if self.auth_server is not None:
            await asyncio.to_thread(self.auth_server.stop)
