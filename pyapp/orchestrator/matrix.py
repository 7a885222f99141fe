"""The bot's HTTP seam to the homeserver: client-server API calls with the application
service token. Returns results as data (status, body) so decisions stay in pure code."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from pyapp.orchestrator.retry import Outcome, classify


class MatrixCallError(Exception):
    def __init__(self, what: str, outcome: Outcome):
        super().__init__(f"{what}: {outcome.error}")
        self.outcome = outcome


@dataclass
class Reply:
    status: int | None
    body: Any
    outcome: Outcome


def q(s: str) -> str:
    return quote(s, safe="")


class MatrixBot:
    def __init__(self, base_url: str, as_token: str, bot_user_id: str,
                 admin_token: str | None = None, timeout: float = 15.0):
        self.base_url = base_url.rstrip("/")
        self.as_token = as_token
        self.user_id = bot_user_id
        self.admin_token = admin_token
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # force_close=False keeps loopback connections alive; TCP_NODELAY is aiohttp's default.
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def call(self, method: str, path: str, body: Any = None, admin: bool = False) -> Reply:
        token = self.admin_token if admin else self.as_token
        s = await self.session()
        try:
            async with s.request(method, self.base_url + path, json=body,
                                 headers={"Authorization": f"Bearer {token}"}) as r:
                try:
                    data = await r.json(content_type=None)
                except ValueError:
                    data = {"error": (await r.text())[:200]}
                return Reply(r.status, data, classify(r.status, data,
                                                      retry_after_header=r.headers.get("Retry-After")))
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            return Reply(None, None, classify(None, network_error=f"{type(e).__name__}: {e}"))

    async def ok(self, what: str, method: str, path: str, body: Any = None,
                 admin: bool = False) -> Any:
        r = await self.call(method, path, body, admin)
        if not r.outcome.ok:
            raise MatrixCallError(what, r.outcome)
        return r.body

    # -- the calls the orchestrator makes ------------------------------------------------
    async def create_room(self, body: dict) -> Reply:
        return await self.call("POST", "/_matrix/client/v3/createRoom", body)

    async def resolve_alias(self, alias: str) -> Reply:
        return await self.call("GET", f"/_matrix/client/v3/directory/room/{q(alias)}")

    async def state(self, room_id: str) -> Reply:
        return await self.call("GET", f"/_matrix/client/v3/rooms/{q(room_id)}/state")

    async def put_state(self, room_id: str, type_: str, content: dict, state_key: str = "") -> Reply:
        return await self.call(
            "PUT", f"/_matrix/client/v3/rooms/{q(room_id)}/state/{q(type_)}/{q(state_key)}",
            content)

    async def membership(self, room_id: str, action: str, user_id: str,
                         reason: str | None = None) -> Reply:
        body = {"user_id": user_id}
        if reason:
            body["reason"] = reason
        return await self.call("POST", f"/_matrix/client/v3/rooms/{q(room_id)}/{action}", body)

    async def user_exists(self, user_id: str) -> bool | None:
        """True/False, or None when the homeserver could not tell (unreachable)."""
        r = await self.call("GET", f"/_matrix/client/v3/profile/{q(user_id)}")
        if r.status == 200:
            return True
        if r.status == 404:
            return False
        return None

    async def admin_room_exists(self, room_id: str) -> bool | None:
        if not self.admin_token:
            return None
        r = await self.call("GET", f"/_synapse/admin/v1/rooms/{q(room_id)}", admin=True)
        if r.status == 200:
            return True
        if r.status == 404:
            return False
        return None
