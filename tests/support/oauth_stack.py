"""A whole OAuth stack for tests and local trials: accounts endpoint + auth server + Synapse
delegating to it, and a user agent that signs in through the auth server's form over HTTP.

    with OAuthStack(tmp_path, access_token_ttl=30) as stack:
        stack.directory.add("alice", "acme", "secret-pw")
        ...
"""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from pyapp.server.synapse import Synapse, SynapseOptions, free_port

from pyapp.server.accounts import MemoryDirectory, accounts_app
from pyapp.server.auth_server import AuthServer, AuthServerOptions, new_shared_secret

ACCOUNTS_PREFIX = "/_internal/accounts"


class AccountsThread:
    """The accounts endpoint in its own thread and event loop, so it answers while the test's
    loop (or a blocking test) waits on the auth server."""

    def __init__(self, directory, secret: str, port: int | None = None):
        self.directory = directory
        self.secret = secret
        self.port = port or free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{ACCOUNTS_PREFIX}"

    def start(self) -> "AccountsThread":
        from aiohttp import web

        started = threading.Event()
        errors: list[BaseException] = []

        async def serve():
            self._runner = web.AppRunner(accounts_app(self.directory, self.secret,
                                                      prefix=ACCOUNTS_PREFIX))
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

        def run():
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(serve())
            except BaseException as e:  # reported to start()
                errors.append(e)
                started.set()
                return
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True, name="accounts")
        self._thread.start()
        started.wait(10)
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        fut.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None


class OAuthStack:
    def __init__(self, data_dir: Path, access_token_ttl: int = 300,
                 refresh_token_ttl: int = 3600, verbose: bool = False,
                 trusted_clients: list[dict] | None = None, database: str | None = None):
        data_dir = Path(data_dir)
        self.directory = MemoryDirectory()
        self.secret = new_shared_secret()
        self.accounts = AccountsThread(self.directory, new_shared_secret())
        synapse_port, auth_port = free_port(), free_port()
        self.auth = AuthServer(AuthServerOptions(
            data_dir=data_dir / "authserver", port=auth_port,
            synapse_url=f"http://127.0.0.1:{synapse_port}", synapse_secret=self.secret,
            accounts_url=self.accounts.url, accounts_secret=self.accounts.secret,
            access_token_ttl=access_token_ttl, refresh_token_ttl=refresh_token_ttl,
            trusted_clients=trusted_clients or [], verbose=verbose, database=database,
        ))
        self.synapse = Synapse(SynapseOptions(
            data_dir=data_dir / "synapse", port=synapse_port, access_token_lifetime=None,
            mas=self.auth.synapse_mas_options(),
        ))

    def start(self) -> "OAuthStack":
        self.accounts.start()
        self.auth.start()
        try:
            self.synapse.start()
        except BaseException:
            self.auth.stop()
            self.accounts.stop()
            raise
        return self

    def stop(self) -> None:
        self.synapse.stop()
        self.auth.stop()
        self.accounts.stop()

    def __enter__(self) -> "OAuthStack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


_FORM_ACTION = re.compile(r'<form method="post" action="([^"]+/(?:login|create))"')


_CONSENT_ACTION = re.compile(r'<form method="post" action="([^"]+/allow)"')


async def sign_in_over_http(authorization_url: str, redirect_uri: str, username: str,
                            password: str, create: bool = False,
                            display_name: str | None = None, allow: bool = True) -> str:
    """Play the browser: open the authorization URL, submit the sign-in form, follow redirects
    until the one to `redirect_uri`, and return that URL (with the code). A client that is not
    the deployment's own gets the consent screen: `allow` clicks Allow there. Raises
    AssertionError with the page text if the form refuses the credentials."""
    import aiohttp

    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async def follow(method: str, url: str, data=None) -> tuple[str, str]:
            for _ in range(10):
                async with http.request(method, url, data=data, allow_redirects=False) as r:
                    if r.status in (302, 303):
                        location = urljoin(url, r.headers["Location"])
                        if location.startswith(redirect_uri):
                            return location, ""
                        method, url, data = "GET", location, None
                        continue
                    return url, await r.text()
            raise AssertionError("too many redirects")

        url, page = await follow("GET", authorization_url)
        if url.startswith(redirect_uri):
            return url
        m = _FORM_ACTION.search(page)
        assert m, f"no sign-in form at {url}:\n{page[:2000]}"
        action = urljoin(url, m.group(1))
        form = {"username": username, "password": password}
        if create and display_name:
            form["display_name"] = display_name
        url, page = await follow("POST", action, form)
        consent = _CONSENT_ACTION.search(page)
        if consent and allow and not url.startswith(redirect_uri):
            url, page = await follow("POST", urljoin(url, consent.group(1)), {})
        if not url.startswith(redirect_uri):
            raise AssertionError(f"sign-in did not return to the client:\n{page[:2000]}")
        return url


def origin_of(url: str) -> str:
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}"
