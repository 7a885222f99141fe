"""Naming conventions shared by the browser chat and the server-side orchestrator.

Pure and dependency-free so Pyodide can import it too. A platform user (tenant, slug) is the
Matrix user ``@{slug}_{tenant}:{server}``; an event or group room has the alias
``#{kind}-{slug}-{tenant}:{server}`` and a ``com.openmeet.room.metadata`` state event.
Tenant ids may contain neither ``_`` nor ``-`` so both names split back unambiguously at the
last separator.
"""

from __future__ import annotations

import re

ROOM_METADATA_TYPE = "com.openmeet.room.metadata"
BOT_LOCALPART = "openmeet-bot"
ENTITY_KINDS = ("event", "group")

# Matrix localparts allow a-z 0-9 . _ = - / +; slugs leave out "_" (our tenant separator)
# and "/" "+" (awkward in URLs) and must start and end with an alphanumeric.
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9.=-]{0,62}[a-z0-9])?$")
_TENANT = re.compile(r"^[a-z0-9]{1,32}$")
_USER_ID = re.compile(r"^@([^:]+):(.+)$")


class IdentityError(ValueError):
    """An identifier that cannot be mapped to Matrix names."""


def normalize_slug(slug: str) -> str:
    s = (slug or "").strip().lower()
    if not _SLUG.match(s):
        raise IdentityError(
            f"invalid slug {slug!r}: use 1-64 of a-z 0-9 . = - starting and ending alphanumeric")
    return s


def normalize_tenant(tenant: str) -> str:
    t = (tenant or "").strip().lower()
    if not _TENANT.match(t):
        raise IdentityError(f"invalid tenant {tenant!r}: use 1-32 of a-z 0-9")
    return t


def matrix_localpart(slug: str, tenant: str) -> str:
    return f"{normalize_slug(slug)}_{normalize_tenant(tenant)}"


def matrix_user_id(slug: str, tenant: str, server_name: str) -> str:
    return f"@{matrix_localpart(slug, tenant)}:{server_name}"


def bot_user_id(server_name: str, localpart: str = BOT_LOCALPART) -> str:
    return f"@{localpart}:{server_name}"


def parse_localpart(localpart: str) -> tuple[str, str] | None:
    """(slug, tenant) of a platform user's localpart, or None if it is not one."""
    slug, sep, tenant = localpart.rpartition("_")
    if not sep:
        return None
    try:
        return normalize_slug(slug), normalize_tenant(tenant)
    except IdentityError:
        return None


def split_user_id(user_id: str) -> tuple[str, str]:
    """(localpart, server) of any Matrix user id; a bare user name ("alice") has no server."""
    local, _, server = (user_id[1:] if user_id.startswith("@") else user_id).partition(":")
    return local, server


def parse_user_id(user_id: str) -> tuple[str, str, str] | None:
    """(slug, tenant, server) of a platform user's Matrix id, or None."""
    m = _USER_ID.match(user_id or "")
    if not m:
        return None
    parsed = parse_localpart(m.group(1))
    return None if parsed is None else (parsed[0], parsed[1], m.group(2))


def _kind(kind: str) -> str:
    if kind not in ENTITY_KINDS:
        raise IdentityError(f"invalid entity kind {kind!r}: use event or group")
    return kind


def room_alias_localpart(kind: str, slug: str, tenant: str) -> str:
    return f"{_kind(kind)}-{normalize_slug(slug)}-{normalize_tenant(tenant)}"


def room_alias(kind: str, slug: str, tenant: str, server_name: str) -> str:
    return f"#{room_alias_localpart(kind, slug, tenant)}:{server_name}"


def parse_room_alias(alias: str) -> tuple[str, str, str, str] | None:
    """(kind, slug, tenant, server) of a platform room's alias, or None if it is not one."""
    local, sep, server = (alias or "").partition(":")
    if not local.startswith("#") or not sep:
        return None
    kind, sep, rest = local[1:].partition("-")
    slug, sep2, tenant = rest.rpartition("-")
    if kind not in ENTITY_KINDS or not sep or not sep2:
        return None
    try:
        return kind, normalize_slug(slug), normalize_tenant(tenant), server
    except IdentityError:
        return None


def room_metadata(kind: str, slug: str, tenant: str, created_by: str) -> dict[str, str]:
    return {"entity_type": _kind(kind), "entity_slug": normalize_slug(slug),
            "tenant_id": normalize_tenant(tenant), "created_by": created_by}


def metadata_is_for(content: dict | None, kind: str, slug: str, tenant: str) -> bool:
    return bool(content) and content.get("entity_type") == kind \
        and content.get("entity_slug") == slug and content.get("tenant_id") == tenant


def should_auto_accept(inviter: str, metadata: dict | None, own_user_id: str,
                       bot_localpart: str = BOT_LOCALPART) -> bool:
    """Whether a client auto-joins an invite: only from the bot of its own server, for a room
    whose metadata names the client user's own tenant. Anything else is shown, not joined."""
    me = parse_user_id(own_user_id)
    if me is None or not metadata:
        return False
    return inviter == bot_user_id(me[2], bot_localpart) and metadata.get("tenant_id") == me[1] \
        and metadata.get("entity_type") in ENTITY_KINDS
