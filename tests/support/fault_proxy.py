"""A reverse proxy in front of the real Synapse that can fail on request, as a flaky load
balancer or network would: answer 5xx for some paths, forward a request and then drop
the connection before the client sees the answer (the "did it arrive?" case), hold
requests before forwarding them (a slow homeserver), or edit an answer (events a federating
server could deliver)."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

import aiohttp
from aiohttp import web

from pyapp.server.synapse import free_port

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding",
        "host"}


@dataclass(frozen=True)
class Forwarded:
    """One request the homeserver received through the proxy: when it was handed to the
    homeserver and when its answer came back (time.monotonic())."""

    method: str
    path: str
    status: int
    sent: float
    answered: float


class FaultProxy:
    def __init__(self, target: str):
        self.target = target.rstrip("/")
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.error_status: dict[str, int] = {}  # path regex -> status to answer
        self.drop_after_forward: set[str] = set()  # path regexes (matched on method + path)
        self.delay: dict[str, float] = {}  # method+path regex -> seconds held before forwarding
        self.unreachable = False  # every request's connection is closed without an answer
        # path regex -> edits a 200 JSON answer in place (what a federating server could
        # deliver but Synapse refuses from clients); returns True once it edited, then retires.
        self.rewrite: dict[str, Callable[[Any], bool]] = {}
        self.log: list[tuple[str, str, int]] = []
        self.forwarded: list[Forwarded] = []
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _match(self, patterns, key: str) -> str | None:
        return next((p for p in patterns if re.search(p, key)), None)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        key = f"{request.method} {request.path}"
        if self.unreachable:
            self.log.append((request.method, request.path, 0))
            request.transport.close()
            raise asyncio.CancelledError
        # CORS preflights pass: the fault is the homeserver's answer, not the browser's check.
        hit = None if request.method == "OPTIONS" else self._match(self.error_status, key)
        if hit:
            self.log.append((request.method, request.path, self.error_status[hit]))
            # With CORS headers, as a real homeserver's error page would have them, so a
            # browser sees the status instead of a network failure.
            return web.json_response({"errcode": "M_UNKNOWN", "error": "injected fault"},
                                     status=self.error_status[hit],
                                     headers={"Access-Control-Allow-Origin": "*"})
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        body = await request.read()
        slow = self._match(self.delay, key)
        if slow:
            await asyncio.sleep(self.delay[slow])
        sent = time.monotonic()
        async with self._session.request(request.method, self.target + request.path_qs,
                                         headers=headers, data=body or None) as upstream:
            payload = await upstream.read()
            self.log.append((request.method, request.path, upstream.status))
            self.forwarded.append(Forwarded(request.method, request.path, upstream.status, sent,
                                            time.monotonic()))
            drop = self._match(self.drop_after_forward, key)
            if drop:
                self.drop_after_forward.discard(drop)  # once: the retry must get through
                request.transport.close()
                raise asyncio.CancelledError
            edit = self._match(self.rewrite, key)
            if edit and upstream.status == 200:
                answer = json.loads(payload)
                if self.rewrite[edit](answer):
                    self.rewrite.pop(edit, None)
                    payload = json.dumps(answer).encode()
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP}
            return web.Response(status=upstream.status, body=payload, headers=out)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start():
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            # Long-polls in flight must not hold up stopping the proxy.
            self._runner = web.AppRunner(app, shutdown_timeout=0.5)
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    def start(self) -> "FaultProxy":
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        async def shutdown():
            await self._runner.cleanup()
            await self._session.close()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
