"""matrix-nio's AsyncClient with its HTTP routed through our seam.

nio keeps doing what it is good at (request paths and parsing the answers of sends, joins,
typing, read markers, members); the network, the tokens and the retries are ours, so the same
client runs on window.fetch in the browser and on aiohttp under CPython. Sync answers are not
nio's: ChatService reads them once, raw (see pyapp.client.rooms).
"""

from __future__ import annotations

from nio import AsyncClient, AsyncClientConfig

from . import nio_validation
from .http import MatrixHttp
from .transport import NioResponse

nio_validation.install()

_DROPPED_HEADERS = {"authorization", "content-length", "host"}


class _NoAiohttpSession:
    """Truthy stand-in so nio's @client_session never builds an aiohttp session (there is
    no socket layer in the browser); every request goes through send() below."""

    closed = False

    async def close(self) -> None:
        pass


class SeamClient(AsyncClient):
    def __init__(self, http: MatrixHttp, user_id: str, device_id: str):
        config = AsyncClientConfig(
            encryption_enabled=False,
            store_sync_tokens=False,
            # Failures surface to our sync loop, which owns backoff and offline state.
            max_timeouts=0,
            max_limit_exceeded=3,
        )
        super().__init__(http.homeserver, user_id, device_id, config=config)
        self.http = http
        # nio fills user_id only in its own login(); ours happened outside nio.
        self.user_id = user_id
        self.client_session = _NoAiohttpSession()
        if http.tokens:
            # nio only strips query tokens and checks login state when it knows a token.
            self.access_token = http.tokens.access_token

    async def send(self, method, path, data=None, headers=None, trace_context=None, timeout=None):
        headers = {k: v for k, v in (headers or {}).items() if k.lower() not in _DROPPED_HEADERS}
        response = await self.http.request(
            method.upper(), path, body=data, headers=headers, timeout=timeout
        )
        if self.http.tokens:
            self.access_token = self.http.tokens.access_token
        return NioResponse(response)

    async def close(self) -> None:
        self.client_session = None
