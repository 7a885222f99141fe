"""Start the demo: a local Synapse (SQLite), the auth server it delegates sign-in to, the demo
platform with its room orchestrator, and the web server for the host pages and the browser
runtime. Ctrl-C stops everything.

    python serve.py                       # embedded defaults
    python serve.py --homeserver URL      # use an existing homeserver instead
    python serve.py --help
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from pyapp.server.stack import ROOT, Stack, StackOptions


def parse_args(argv: list[str]) -> StackOptions:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1", help="address of the web server")
    p.add_argument("--port", type=int, default=8080, help="port of the web server")
    p.add_argument("--data-dir", type=Path, default=ROOT / ".data",
                   help="where the homeserver, the platform database and secrets live")
    p.add_argument("--synapse-port", type=int, default=8008,
                   help="port of the embedded Synapse")
    p.add_argument("--auth", choices=("oauth", "password"), default="oauth",
                   help="oauth: sign-in at the local auth server (Matrix OAuth 2.0, MAS's role); "
                        "password: the homeserver's own password login")
    p.add_argument("--auth-port", type=int, default=8009, help="port of the auth server")
    p.add_argument("--homeserver", metavar="URL",
                   help="an existing homeserver (its bot registration must be installed there)")
    p.add_argument("--server-name", default="localhost", help="the homeserver's server name")
    p.add_argument("--database", metavar="URL",
                   help="platform database: a SQLite path (default) or postgresql://...")
    p.add_argument("--synapse-database", metavar="URL",
                   help="the embedded Synapse on PostgreSQL (postgresql://user@host:port/db, "
                        "C collation) instead of its SQLite file")
    p.add_argument("--synapse-workers", type=int, default=0, metavar="N",
                   help="generic workers taking /sync and client reads (needs "
                        "--synapse-database and --redis; see docs/deploy.md)")
    p.add_argument("--redis", metavar="URL",
                   help="Redis for replication between Synapse's processes (redis://host:port)")
    p.add_argument("--no-seed", action="store_true", help="do not create demo data")
    p.add_argument("--behind-proxy", action="store_true",
                   help="a trusted reverse proxy sets X-Forwarded-For/-Proto (client address "
                        "for login throttling, Secure cookies behind HTTPS)")
    p.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                   help="another page origin allowed to change platform state (repeatable)")
    p.add_argument("--frame-ancestors", default="'none'", metavar="SOURCES",
                   help="who may frame the pages (CSP frame-ancestors), e.g. \"'self'\" or "
                        "\"'self' https://portal.example\"; default: nobody")
    p.add_argument("--connect-origin", action="append", default=[], metavar="ORIGIN",
                   help="another origin the pages may fetch from, e.g. the auth server of "
                        "--homeserver (repeatable)")
    a = p.parse_args(argv)
    if a.synapse_workers and not (a.synapse_database and a.redis):
        p.error("--synapse-workers needs --synapse-database (PostgreSQL) and --redis")
    static = ROOT / "static"
    if not (static / "pyodide" / "pyodide.mjs").exists():
        p.error("static/ is not built: run `./run.sh demo` (or `python -m pyapp.build`) first")
    return StackOptions(data_dir=a.data_dir, host=a.host, port=a.port,
                        homeserver_url=a.homeserver, server_name=a.server_name,
                        synapse_port=a.synapse_port, database=a.database, seed=not a.no_seed,
                        auth=a.auth, auth_port=a.auth_port,
                        synapse_database=a.synapse_database, synapse_workers=a.synapse_workers,
                        redis_url=a.redis, behind_proxy=a.behind_proxy,
                        allowed_origins=tuple(a.allow_origin),
                        frame_ancestors=a.frame_ancestors,
                        connect_origins=tuple(a.connect_origin))


async def main(options: StackOptions) -> None:
    stack = Stack(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print("Starting the homeserver and the demo platform…", flush=True)
    try:
        await stack.start()
        print(f"\nChat demo ready: {stack.url}/\n")
        print(f"  Event page:     {stack.url}/event.html?slug=python-meetup")
        print(f"  Group page:     {stack.url}/group.html?slug=pythonistas")
        print(f"  Messages page:  {stack.url}/messages.html")
        print(f"  Homeserver:     {stack.homeserver_url}"
              + ("  (pages reach it at /_matrix/ on their own origin)"
                 if stack.browser_homeserver_url != stack.homeserver_url else ""))
        if stack.synapse is not None and stack.synapse.worker_urls:
            print(f"  Synapse workers: {', '.join(stack.synapse.worker_urls)}"
                  "  (/sync and client reads; see docs/deploy.md)")
        if stack.auth_server is not None:
            print(f"  Auth server:    {stack.auth_server.issuer}")
        print("\nDemo logins (tenant / user / password):")
        for tenant, user, password in stack.demo_logins():
            print(f"  {tenant:8} {user:8} {password}")
        print("\nCtrl-C stops everything.", flush=True)
        await stop.wait()
    finally:
        print("\nStopping…", flush=True)
        await stack.stop()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(main(parse_args(sys.argv[1:])))
    except KeyboardInterrupt:
        pass
