"""The HTTP seam between the Matrix client and the network.

The client logic only needs "send this request, give me status, headers and body". In the
browser that is window.fetch (pyapp.browser.fetch_transport); under CPython it is aiohttp
(AiohttpTransport below). NioResponse adapts an HttpResponse to the few attributes matrix-nio
reads from a transport response, so nio's response parsing is used unchanged.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Protocol


class TransportError(ConnectionError):
    """The request did not get an HTTP answer (network down, server unreachable)."""


# What a request raises when no answer came: worth retrying later, never the user's fault.
NETWORK_ERRORS = (TransportError, TimeoutError, asyncio.TimeoutError, OSError)


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    url: str = ""

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


class Transport(Protocol):
    async def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | str | None = None,
        timeout: float | None = None,
    ) -> HttpResponse:
        """Send one request. Raises TransportError without an answer, TimeoutError on timeout.
        timeout None or 0 means no client-side limit."""


class AiohttpTransport:
    """Transport for CPython (tests, command-line peers, benchmarks)."""

    def __init__(self) -> None:
        self._session = None

    async def request(self, method, url, headers, body=None, timeout=None) -> HttpResponse:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        client_timeout = aiohttp.ClientTimeout(total=timeout or None)
        try:
            async with self._session.request(
                method, url, headers=headers, data=body, timeout=client_timeout
            ) as r:
                data = await r.read()
                return HttpResponse(
                    r.status, {k.lower(): v for k, v in r.headers.items()}, data, str(r.url)
                )
        except aiohttp.ClientConnectionError as e:
            raise TransportError(str(e) or type(e).__name__) from e

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class _Chunks:
    def __init__(self, body: bytes):
        self._body = body

    async def iter_chunked(self, n: int):
        for i in range(0, len(self._body), n):
            yield self._body[i : i + n]


class _Disposition:
    def __init__(self, header: str):
        self.filename = None
        for part in header.split(";"):
            key, _, value = part.strip().partition("=")
            if key.lower() == "filename":
                self.filename = value.strip('"')


class NioResponse:
    """What matrix-nio reads from a transport response (see AsyncClient.create_matrix_response)."""

    def __init__(self, response: HttpResponse):
        self.response = response
        self.status = response.status
        self.headers = response.headers
        self.url = response.url
        self.content_type = response.content_type
        disposition = response.headers.get("content-disposition")
        self.content_disposition = _Disposition(disposition) if disposition else None
        self.content = _Chunks(response.body)

    async def json(self) -> Any:
        # nio falls back to text() on a JSONDecodeError, which this raises on bad bodies.
        return json.loads(self.response.body)

    async def text(self) -> str:
        return self.response.body.decode("utf-8", errors="replace")

    async def read(self) -> bytes:
        return self.response.body

    def release(self) -> None:
        pass
