"""Browser fixtures for end-to-end tests: real Chromium (Playwright, sync API), the real web
server (pyapp.server.web.make_app) in a thread, and pages that fail the test when the browser
talks to any host but this machine.

Use them from plain (non-async) test functions: Playwright's sync API must not run inside a
running asyncio loop. While it is alive it also marks this thread's asyncio loop as running, so
async tests cannot run then: the browser is module-scoped (closed when the module's tests are
done) and a test module should not mix async tests with browser tests.

    def test_something(web_server, new_page):
        page = new_page()
        page.goto(web_server + "/chat/embed-example.html")
        page_until(page, "window.omChat.state === 'mounted'")  # tests/support/waiting.py

Fixtures:
- built_static (session): runs `python -m pyapp.build` once (a no-op when nothing changed).
- serve_app (session): serve_app(aiohttp_app) -> base URL; the server stops with the session.
- web_server (session): base URL of make_app(web/, static/, {"homeserver": synapse URL}).
- browser (module): Chromium from /usr/bin/chromium with offline-friendly flags.
- new_page (function): new_page(**context_options) -> Page in a fresh context (empty profile).
  The pages run under their real Content-Security-Policy: wait with page_until, not
  page.wait_for_function (which the CSP refuses).
  Every request of that context (workers included) is recorded in page.requests; at teardown
  the test fails if one went to a host other than 127.0.0.1/localhost. Console messages and
  page errors are kept in page.console_messages / page.page_errors for assertions/debugging.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pyapp.server.synapse import free_port

ROOT = Path(__file__).resolve().parents[2]
WEB_ROOT = ROOT / "web"
STATIC_ROOT = ROOT / "static"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # A container's /dev/shm is often 64 MiB: a renderer holding Pyodide's wasm memory
    # outgrows it and the page crashes ("Page crashed" seen in CI); /tmp has room.
    "--disable-dev-shm-usage",
    # Without it Chromium still resolves Google hosts for its own services.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# Schemes that never leave the browser.
LOCAL_SCHEMES = {"data", "blob", "about", "chrome-extension"}


class ServerThread:
    """An aiohttp Application served from a background thread with its own event loop."""

    def __init__(self, app, host: str = "127.0.0.1", port: int | None = None):
        self.app = app
        self.host = host
        self.port = port or free_port()
        self.loop = asyncio.new_event_loop()
        self._runner = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"web:{self.port}", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        from aiohttp import web

        asyncio.set_event_loop(self.loop)
        try:
            self._runner = web.AppRunner(self.app, access_log=None)
            self.loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, self.port)
            self.loop.run_until_complete(site.start())
        except BaseException as e:  # noqa: BLE001  (reported to the starting thread)
            self._error = e
            self._started.set()
            return
        self._started.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self._runner.cleanup())
        self.loop.close()

    def start(self) -> "ServerThread":
        self._thread.start()
        if not self._started.wait(30):
            raise TimeoutError("web server did not start")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(30)


@pytest.fixture(scope="session")
def built_static() -> Path:
    from pyapp.build import build

    build(log=lambda *a: None)
    return STATIC_ROOT


@pytest.fixture(scope="session")
def serve_app():
    servers: list[ServerThread] = []

    def serve(app) -> str:
        server = ServerThread(app).start()
        servers.append(server)
        return server.base_url

    yield serve
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def web_server(built_static, serve_app, synapse) -> str:
    from pyapp.server.web import make_app

    return serve_app(make_app(WEB_ROOT, built_static, {"homeserver": synapse.base_url,
                                                        "debug_run_python": True}))


@pytest.fixture(scope="module")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright_instance):
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or parts.hostname in LOCAL_HOSTS


@pytest.fixture
def new_page(browser):
    contexts = []
    pages = []

    def make(**context_options):
        context = browser.new_context(**context_options)
        contexts.append(context)
        page = context.new_page()
        page.requests = []
        page.console_messages = []
        page.page_errors = []
        context.on("request", lambda request: page.requests.append(request.url))
        page.on("console", lambda msg: page.console_messages.append(f"{msg.type}: {msg.text}"))
        page.on("pageerror", lambda error: page.page_errors.append(str(error)))
        pages.append(page)
        return page

    yield make
    outside = [url for page in pages for url in page.requests if not is_local(url)]
    for context in contexts:
        context.close()
    assert not outside, f"the browser made requests outside this machine: {outside}"
