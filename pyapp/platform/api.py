"""The platform's HTTP API under /api/ (aiohttp.web), used by the demo pages.

Changes answer once their Matrix work is applied (201/200 with the room id), or 202 when the
homeserver is unreachable and the outbox will apply it later. When the homeserver refuses the
change outright, the platform change is undone and the answer is 502: nothing half-done.
Errors are JSON ``{"error": code, "message": text}``.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from aiohttp import web

from pyapp.identity import matrix_user_id, room_alias
from pyapp.orchestrator.retry import DONE, FAILED
from pyapp.platform import csrf
from pyapp.platform.service import (MANAGER_ROLES, CrossTenant, NotFound, Platform,
                                    PlatformError)
from pyapp.platform.sessions import DEFAULT_TTL, Sessions
from pyapp.platform.throttle import LoginThrottle, Throttled

COOKIE = "pyapp_session"
PLATFORM = web.AppKey("platform", Platform)
CONFIG = web.AppKey("platform_api_config", dict)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


def error(status: int, code: str, message: str,
          headers: dict[str, str] | None = None) -> web.Response:
    resp = _json({"error": code, "message": message}, status)
    resp.headers.update(headers or {})
    return resp


@web.middleware
async def _errors(request: web.Request, handler):
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except ApiError as e:
        return error(e.status, e.code, e.message, e.headers)
    except PlatformError as e:
        return error(e.status, e.code, e.message)
    except web.HTTPException as e:
        if e.status >= 400:
            return error(e.status, e.reason.lower().replace(" ", "_"), e.text or e.reason)
        raise


# -- sessions and request origin ----------------------------------------------------------
def request_scheme(request: web.Request) -> str:
    if request.app[CONFIG]["trust_proxy"]:
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        if proto in ("http", "https"):
            return proto
    return request.scheme


@web.middleware
async def _same_origin_changes(request: web.Request, handler):
    if request.path.startswith("/api/"):
        cfg = request.app[CONFIG]
        why = csrf.refusal(request.method, request.headers.get("Origin"),
                           request.headers.get("Sec-Fetch-Site"),
                           request.headers.get("Content-Type"),
                           csrf.own_origins(request_scheme(request), request.host,
                                            cfg["allowed_origins"]),
                           has_body=request.body_exists)
        if why:
            raise ApiError(403, "cross_origin", why)
    return await handler(request)


def current_user(request: web.Request) -> tuple[str, str]:
    cfg = request.app[CONFIG]
    sess = cfg["sessions"].lookup(request.cookies.get(COOKIE))
    if sess is None:
        raise ApiError(401, "unauthenticated", "log in first (POST /api/session)")
    tenant, slug = sess
    host_tenant = cfg["host_tenants"].get(request.host.split(":")[0])
    asked = request.query.get("tenant") or request.headers.get("X-Tenant")
    for other in (host_tenant, asked):
        if other and other != tenant:
            raise CrossTenant(f"your session belongs to tenant {tenant!r}, not {other!r}")
    try:
        request.app[PLATFORM].user(tenant, slug)
    except NotFound:
        raise ApiError(401, "unauthenticated", "the session's user no longer exists") from None
    return tenant, slug


async def body(request: web.Request, check_tenant: bool = True) -> dict:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except ValueError:
        raise ApiError(400, "invalid_json", "the request body is not JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "the request body must be a JSON object")
    if check_tenant and "tenant" in data:
        tenant, _ = current_user(request)
        if data["tenant"] != tenant:
            raise CrossTenant(f"your session belongs to tenant {tenant!r}")
    return data


def _str(data: dict, key: str, required: bool = True) -> str:
    v = data.get(key)
    if v is None and not required:
        return ""
    if not isinstance(v, str) or (required and not v.strip()):
        raise ApiError(400, "invalid_input", f"{key!r} must be a non-empty string")
    return v


# -- Matrix work -------------------------------------------------------------------------
async def settle(request: web.Request, ids: list[int]) -> tuple[str, str | None]:
    """Wait for the outbox items: ('applied'|'pending'|'failed', error)."""
    orch = request.app[CONFIG].get("orchestrator")
    if orch is None:
        return "pending", None
    orch.wake()
    rows = await orch.wait_items(ids, request.app[CONFIG]["sync_timeout"])
    failed = [r for r in rows.values() if r["status"] == FAILED]
    if failed:
        return "failed", failed[0]["last_error"]
    if rows and all(r["status"] == DONE for r in rows.values()):
        return "applied", None
    return "pending", None


def entity_view(request: web.Request, tenant: str, kind: str, slug: str, me: str | None) -> dict:
    p = request.app[PLATFORM]
    e = p.entity(tenant, kind, slug)
    sn = request.app[CONFIG]["server_name"]
    members = p.members(tenant, kind, slug)
    mine = next((m["role"] for m in members if m["slug"] == me), None)
    key = "attendees" if kind == "event" else "members"
    view = {
        "kind": kind, "slug": e["slug"], "tenant": tenant, "name": e["name"],
        "description": e["description"], "created_by": e["created_by"],
        "matrix_room_id": e["matrix_room_id"],
        "room_alias": room_alias(kind, e["slug"], tenant, sn) if sn else None,
        key: [{"slug": m["slug"], "display_name": m["display_name"], "role": m["role"],
               "matrix_user_id": matrix_user_id(m["slug"], tenant, sn) if sn else None,
               "matrix_ready": bool(m["matrix_ready"])} for m in members],
        "my_role": mine,
        # The "encrypted chat" setting; managers may turn it on (one-way), see _encryption.
        "encrypted": bool(e.get("encrypted")),
        "can_manage": mine in MANAGER_ROLES[kind]
        or bool(me and p.user(tenant, me)["is_platform_admin"]),
    }
    view["is_attending" if kind == "event" else "is_member"] = mine not in (None, "banned")
    return view


def client_address(request: web.Request) -> str:
    if request.app[CONFIG]["trust_proxy"]:
        # The proxy appends the address it saw: the last entry is the one it vouches for.
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    return request.remote or "unknown"


# -- handlers ----------------------------------------------------------------------------
async def post_session(request: web.Request) -> web.Response:
    data = await body(request, check_tenant=False)
    tenant, slug, pw = _str(data, "tenant"), _str(data, "slug"), _str(data, "password")
    cfg = request.app[CONFIG]
    try:
        attempt = cfg["throttle"].begin(f"{tenant}/{slug}", client_address(request),
                                        cfg["clock"]())
    except Throttled as e:
        raise ApiError(429, "too_many_attempts",
                       f"{e}: try again in {e.retry_after} s",
                       {"Retry-After": str(e.retry_after)}) from None
    p = request.app[PLATFORM]
    # PBKDF2 takes tens of milliseconds by design: on the loop, a few bad tries a second
    # would stall every other request this server answers (the Matrix proxy included).
    ok = await asyncio.get_running_loop().run_in_executor(
        cfg["hashing"], p.verify_password, tenant, slug, pw)
    if not ok:
        raise ApiError(401, "invalid_credentials", "unknown user or wrong password")
    cfg["throttle"].succeeded(attempt)
    resp = _json(me_view(request, tenant, slug))
    sessions = cfg["sessions"]
    # Strict: the API is only ever called by the platform's own pages, never by a top-level
    # navigation from elsewhere. Secure whenever the page came over HTTPS.
    resp.set_cookie(COOKIE, sessions.create(tenant, slug), httponly=True, samesite="Strict",
                    secure=request_scheme(request) == "https", path="/",
                    max_age=int(sessions.ttl))
    return resp


async def delete_session(request: web.Request) -> web.Response:
    request.app[CONFIG]["sessions"].revoke(request.cookies.get(COOKIE))
    resp = _json({"ok": True})
    resp.del_cookie(COOKIE, path="/")
    return resp


def me_view(request: web.Request, tenant: str, slug: str) -> dict:
    u = request.app[PLATFORM].user(tenant, slug)
    sn = request.app[CONFIG]["server_name"]
    return {**u, "matrix_user_id": matrix_user_id(slug, tenant, sn) if sn else None}


async def get_me(request: web.Request) -> web.Response:
    tenant, slug = current_user(request)
    return _json(me_view(request, tenant, slug))


async def post_matrix_account(request: web.Request) -> web.Response:
    """The browser chat logged in: the account exists, so pending invites can be applied."""
    tenant, slug = current_user(request)
    ids = request.app[PLATFORM].matrix_account_ready(tenant, slug)
    status, err = await settle(request, ids) if ids else ("applied", None)
    return _json({"matrix": {"status": status, "error": err}})


def _list(kind: str):
    async def handler(request: web.Request) -> web.Response:
        tenant, slug = current_user(request)
        p = request.app[PLATFORM]
        return _json([entity_view(request, tenant, kind, e["slug"], slug)
                      for e in p.entities(tenant, kind)])
    return handler


def _get(kind: str):
    async def handler(request: web.Request) -> web.Response:
        tenant, me = current_user(request)
        return _json(entity_view(request, tenant, kind, request.match_info["slug"], me))
    return handler


def _create(kind: str):
    async def handler(request: web.Request) -> web.Response:
        tenant, me = current_user(request)
        data = await body(request)
        p = request.app[PLATFORM]
        encrypted = data.get("encrypted", False)
        if not isinstance(encrypted, bool):
            raise ApiError(400, "invalid_input", "'encrypted' must be true or false")
        ent, ids = p.create_entity(tenant, kind, _str(data, "slug"), _str(data, "name"), me,
                                   _str(data, "description", required=False), encrypted)
        status, err = await settle(request, ids)
        if status == "failed":
            p.delete_entity(tenant, kind, ent["slug"])
            raise ApiError(502, "homeserver_refused",
                           f"the chat room could not be created, so the {kind} was not "
                           f"created: {err}")
        view = entity_view(request, tenant, kind, ent["slug"], me)
        view["matrix"] = {"status": status}
        return _json(view, 201 if status == "applied" else 202)
    return handler


async def _membership_change(request, kind, tenant, slug, user, change, undo_role_of):
    """Apply a membership change; undo it if the homeserver refuses."""
    p = request.app[PLATFORM]
    prev, ids = change()
    status, err = await settle(request, ids)
    if status == "failed":
        p.revert_membership(tenant, kind, slug, user, undo_role_of(prev), ids)
        raise ApiError(502, "homeserver_refused",
                       f"the homeserver refused the change, nothing was changed: {err}")
    return {"matrix": {"status": status}, "role": p.role_of(tenant, kind, slug, user),
            "previous_role": prev}


def _own_membership(kind: str, joining: bool):
    """Attend/join or cancel/leave for the signed-in user."""
    async def handler(request: web.Request) -> web.Response:
        tenant, me = current_user(request)
        await body(request)  # an explicit other tenant in the body is refused
        slug = request.match_info["slug"]
        p = request.app[PLATFORM]
        change = p.join if joining else p.leave
        out = await _membership_change(request, kind, tenant, slug, me,
                                       lambda: change(tenant, kind, slug, me), lambda prev: prev)
        if joining:
            out["waiting_for_matrix_account"] = not p.user(tenant, me)["matrix_ready"]
        return _json(out, 200 if out["matrix"]["status"] == "applied" else 202)
    return handler


def _role(kind: str):
    async def handler(request: web.Request) -> web.Response:
        tenant, me = current_user(request)
        slug = request.match_info["slug"]
        p = request.app[PLATFORM]
        target = p.resolve_user_ref(tenant, request.match_info["user"])
        role = _str(await body(request), "role")
        out = await _membership_change(request, kind, tenant, slug, target,
                                       lambda: p.set_role(tenant, kind, slug, me, target, role),
                                       lambda prev: prev)
        return _json(out, 200 if out["matrix"]["status"] == "applied" else 202)
    return handler


def _encryption(kind: str):
    """PUT {"encrypted": true}: the organizer turns end-to-end encryption on for the room
    (one-way: `false` is refused, as the spec has no turning it off)."""
    async def handler(request: web.Request) -> web.Response:
        tenant, me = current_user(request)
        slug = request.match_info["slug"]
        data = await body(request)
        if data.get("encrypted") is not True:
            raise ApiError(400, "one_way", "Encryption can only be turned on: once a chat is "
                           "encrypted it stays encrypted.")
        p = request.app[PLATFORM]
        ids = p.turn_on_encryption(tenant, kind, slug, me)
        status, err = ("applied", None) if not ids else await settle(request, ids)
        if status == "failed":
            p.undo_encryption(tenant, kind, slug, ids)
            raise ApiError(502, "homeserver_refused",
                           f"the homeserver refused, encryption is still off: {err}")
        view = entity_view(request, tenant, kind, slug, me)
        view["matrix"] = {"status": status}
        return _json(view, 200 if status == "applied" else 202)
    return handler


def add_platform_routes(app: web.Application, platform: Platform, *, secret: bytes | str,
                        server_name: str | None = None, orchestrator=None,
                        sync_timeout: float = 5.0,
                        host_tenants: dict[str, str] | None = None,
                        login_throttle: LoginThrottle | None = None,
                        trust_proxy: bool = False,
                        allowed_origins: tuple[str, ...] = (),
                        session_ttl: float = DEFAULT_TTL,
                        clock: Callable[[], float] = time.monotonic) -> None:
    """Mount /api/ on ``app``. ``orchestrator`` (started by the caller) applies Matrix work;
    ``host_tenants`` maps a Host name to the only tenant its sessions may act on;
    ``trust_proxy``: a reverse proxy we trust sets X-Forwarded-For and X-Forwarded-Proto;
    ``allowed_origins``: page origins besides the API's own that may change things;
    ``secret`` keys the stored session ids (changing it ends every session)."""
    app[PLATFORM] = platform
    # Few threads: hashing is CPU-bound, more threads than cores only queue in the kernel,
    # and a flood of guesses must not take the default executor other work relies on.
    hashing = ThreadPoolExecutor(max_workers=2, thread_name_prefix="password-hash")
    secret = secret.encode() if isinstance(secret, str) else secret
    app[CONFIG] = {"sessions": Sessions(platform.store, secret, ttl=session_ttl),
                   "allowed_origins": tuple(allowed_origins), "server_name": server_name, "orchestrator": orchestrator,
                   "sync_timeout": sync_timeout, "host_tenants": host_tenants or {},
                   "throttle": login_throttle or LoginThrottle(), "trust_proxy": trust_proxy,
                   "clock": clock, "hashing": hashing}

    async def stop_hashing(_app: web.Application) -> None:
        hashing.shutdown(wait=False, cancel_futures=True)

    app.on_cleanup.append(stop_hashing)
    app.middlewares.append(_errors)
    app.middlewares.append(_same_origin_changes)
    r = app.router
    r.add_post("/api/session", post_session)
    r.add_delete("/api/session", delete_session)
    r.add_get("/api/me", get_me)
    r.add_post("/api/me/matrix-account", post_matrix_account)
    for kind, plural, member, join, leave, lmethod in (
            ("event", "events", "attendees", "attend", "cancel-attending", "POST"),
            ("group", "groups", "members", "join", "leave", "DELETE")):
        r.add_get(f"/api/{plural}", _list(kind))
        r.add_post(f"/api/{plural}", _create(kind))
        r.add_get(f"/api/{plural}/{{slug}}", _get(kind))
        r.add_post(f"/api/{plural}/{{slug}}/{join}", _own_membership(kind, joining=True))
        r.add_route(lmethod, f"/api/{plural}/{{slug}}/{leave}",
                    _own_membership(kind, joining=False))
        r.add_put(f"/api/{plural}/{{slug}}/{member}/{{user}}/role", _role(kind))
        r.add_put(f"/api/{plural}/{{slug}}/encryption", _encryption(kind))
