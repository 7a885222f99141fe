"""The accounts endpoint the auth server's login page calls (server side, CPython).

Contract (docs/auth.md): the auth server POSTs JSON with ``Authorization: Bearer <secret>``
  {base}/verify    {"username", "password"}                  -> 200 {"localpart", "display_name"}
  {base}/register  {"username", "password", "display_name"?} -> 200 {"localpart", "display_name"}
Refusals answer 401 (verify) or 400/409 (register) with {"error": "<message fit to show>"}.

The demo platform owns its users and password hashes; it plugs its checks in as a Directory and
mounts ``accounts_routes(directory, secret)`` on its own aiohttp app (or runs ``accounts_app``).
``MemoryDirectory`` is the stand-in used by tests.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Awaitable, Protocol

from pyapp.identity import (IdentityError, matrix_localpart, normalize_slug, normalize_tenant,
                            split_user_id)


@dataclass
class Account:
    localpart: str
    display_name: str | None = None


class AccountError(Exception):
    """A refusal whose message can be shown on the login page."""


class Directory(Protocol):
    def verify(self, tenant: str, slug: str, password: str) -> Awaitable[Account | None]: ...
    def register(self, tenant: str, slug: str, password: str,
                 display_name: str | None) -> Awaitable[Account]: ...


def parse_login_name(name: str, default_tenant: str | None = None) -> tuple[str, str]:
    """(slug, tenant) from what a user types: ``slug@tenant``, ``@slug_tenant:server``,
    ``slug_tenant`` or a bare ``slug`` (with the platform's default tenant)."""
    n = (name or "").strip()
    try:
        if n.startswith("@") and ":" in n:
            n = split_user_id(n)[0]
        if "@" in n:
            slug, tenant = n.rsplit("@", 1)
            return normalize_slug(slug), normalize_tenant(tenant)
        if "_" in n:
            slug, tenant = n.rsplit("_", 1)
            return normalize_slug(slug), normalize_tenant(tenant)
        if default_tenant:
            return normalize_slug(n), normalize_tenant(default_tenant)
    except IdentityError as e:
        raise AccountError("That is not a valid username.") from e
    raise AccountError("Enter your username as name@community.")


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt, digest = stored.split("$")
    return hmac.compare_digest(hash_password(password, bytes.fromhex(salt)).split("$")[2], digest)


class MemoryDirectory:
    """Users in memory (tests, demo without the platform)."""

    def __init__(self) -> None:
        self.users: dict[tuple[str, str], tuple[str, str | None]] = {}
        self.allow_register = True

    def add(self, slug: str, tenant: str, password: str, display_name: str | None = None) -> str:
        key = (normalize_slug(slug), normalize_tenant(tenant))
        self.users[key] = (hash_password(password), display_name)
        return matrix_localpart(*key)

    async def verify(self, tenant: str, slug: str, password: str) -> Account | None:
        entry = self.users.get((slug, tenant))
        if entry is None or not check_password(password, entry[0]):
            return None
        return Account(matrix_localpart(slug, tenant), entry[1])

    async def register(self, tenant: str, slug: str, password: str,
                       display_name: str | None) -> Account:
        if not self.allow_register:
            raise AccountError("Accounts are created on the community platform.")
        if (slug, tenant) in self.users:
            raise AccountError("That username is taken.")
        if len(password) < 8:
            raise AccountError("Use a password of at least 8 characters.")
        self.add(slug, tenant, password, display_name)
        return Account(matrix_localpart(slug, tenant), display_name)


def accounts_routes(directory: Directory, secret: str | None, default_tenant: str | None = None,
                    prefix: str = "/_internal/accounts"):
    """aiohttp route table for the contract above."""
    from aiohttp import web

    def authorized(request) -> bool:
        if not secret:
            return True
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {secret}".encode())

    async def read(request):
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text='{"error":"bad request"}', content_type="application/json")
        return (str(body.get("username") or ""), str(body.get("password") or ""),
                body.get("display_name"))

    async def verify(request):
        if not authorized(request):
            return web.json_response({"error": "forbidden"}, status=403)
        username, password, _ = await read(request)
        try:
            slug, tenant = parse_login_name(username, default_tenant)
        except AccountError:
            return web.json_response({"error": "Wrong username or password."}, status=401)
        account = await directory.verify(tenant, slug, password)
        if account is None:
            return web.json_response({"error": "Wrong username or password."}, status=401)
        return web.json_response({"localpart": account.localpart,
                                  "display_name": account.display_name})

    async def register(request):
        if not authorized(request):
            return web.json_response({"error": "forbidden"}, status=403)
        username, password, display_name = await read(request)
        try:
            slug, tenant = parse_login_name(username, default_tenant)
            account = await directory.register(tenant, slug, password,
                                               str(display_name) if display_name else None)
        except AccountError as e:
            return web.json_response({"error": str(e)}, status=400)
        return web.json_response({"localpart": account.localpart,
                                  "display_name": account.display_name})

    return [web.post(prefix + "/verify", verify), web.post(prefix + "/register", register)]


def accounts_app(directory: Directory, secret: str | None, default_tenant: str | None = None,
                 prefix: str = "/_internal/accounts"):
    from aiohttp import web

    app = web.Application()
    app.add_routes(accounts_routes(directory, secret, default_tenant, prefix))
    return app


class PlatformDirectory:
    """The demo platform's users (pyapp.platform.service.Platform: verify_password, user,
    create_user) as a Directory. Blocking store calls run in a thread: password hashing is
    deliberately slow and must not stall the web server's loop."""

    def __init__(self, platform, allow_register: bool = False):
        self.platform = platform
        self.allow_register = allow_register

    async def verify(self, tenant: str, slug: str, password: str) -> Account | None:
        import asyncio

        def check():
            if not self.platform.verify_password(tenant, slug, password):
                return None
            user = self.platform.user(tenant, slug)
            return Account(matrix_localpart(slug, tenant), user.get("display_name"))

        return await asyncio.to_thread(check)

    async def register(self, tenant: str, slug: str, password: str,
                       display_name: str | None) -> Account:
        import asyncio

        if not self.allow_register:
            raise AccountError("Accounts are created on the community platform.")
        if len(password) < 8:
            raise AccountError("Use a password of at least 8 characters.")

        def create():
            try:
                self.platform.user(tenant, slug)
            except Exception:  # NotFound: free to create
                user = self.platform.create_user(tenant, slug, display_name, password=password)
                return Account(matrix_localpart(slug, tenant), user.get("display_name"))
            raise AccountError("That username is taken.")

        return await asyncio.to_thread(create)
