"""Authenticated requests to the homeserver: token in the Authorization header only,
refreshed ahead of expiry, and one refresh-and-retry after a 401 M_UNKNOWN_TOKEN."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .session import SESSION_ENDED
from .tokens import SessionExpired, TokenManager
from .transport import HttpResponse, Transport


def strip_token_from_query(path: str) -> str:
    """nio's Api puts access_token in query strings; tokens must never travel in URLs."""
    parts = urlsplit(path)
    if "access_token" not in parts.query:
        return path
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if k != "access_token"])
    return urlunsplit(parts._replace(query=query))


def errcode(response: HttpResponse) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("errcode") if isinstance(body, dict) else None


class MatrixHttp:
    def __init__(self, transport: Transport, homeserver: str, tokens: TokenManager | None = None):
        self.transport = transport
        self.homeserver = homeserver.rstrip("/")
        self.tokens = tokens

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        auth: bool = True,
        transport: Transport | None = None,
    ) -> HttpResponse:
        """`body` is sent as JSON when it is a dict or list, else as is (str, bytes, or what
        `transport` sends: a browser Blob for uploads). `transport` replaces this client's
        for one request (media: upload progress, downloads into blob: URLs)."""
        headers = dict(headers or {})
        transport = transport or self.transport
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        url = self.homeserver + strip_token_from_query(path)
        if not (auth and self.tokens):
            return await transport.request(method, url, headers, body, timeout)
        token = await self.tokens.fresh_token()
        headers["Authorization"] = f"Bearer {token}"
        response = await transport.request(method, url, headers, body, timeout)
        if response.status == 401 and errcode(response) == "M_UNKNOWN_TOKEN":
            if not self.tokens.can_refresh:
                raise SessionExpired(SESSION_ENDED)
            token = await self.tokens.refresh(token)
            headers["Authorization"] = f"Bearer {token}"
            response = await transport.request(method, url, headers, body, timeout)
        return response
