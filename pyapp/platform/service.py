"""Platform domain operations. Every change that needs Matrix work writes its outbox rows in
the same transaction, so a crash can lose neither the change nor the work it implies."""

from __future__ import annotations

import hashlib
import hmac
import os
import time

from pyapp.identity import IdentityError, normalize_slug, normalize_tenant, parse_user_id
from pyapp.orchestrator import outbox
from pyapp.orchestrator.policy import BANNED, CREATOR_ROLE, DEFAULT_ROLE, ROLES, PowerPolicy
from pyapp.platform.store import Cursor, Store

MANAGER_ROLES = {"event": ("creator", "organizer"), "group": ("owner", "admin")}


class PlatformError(Exception):
    status = 400
    code = "invalid_input"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(PlatformError):
    status, code = 404, "not_found"


class Conflict(PlatformError):
    status, code = 409, "conflict"


class Forbidden(PlatformError):
    status, code = 403, "forbidden"


class CrossTenant(Forbidden):
    code = "cross_tenant"


def hash_password(password: str, salt: bytes | None = None, rounds: int = 100_000) -> str:
    salt = salt or os.urandom(16)
    dk = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, rounds)
    return f"pbkdf2_sha256${rounds}${salt.hex()}${dk.hex()}"


_UNKNOWN_USER_HASH: str | None = None


def _unknown_user_hash() -> str:
    """A hash no password matches, made with the default cost: checking a password against it
    takes as long as checking a real user's, so the answer's timing does not tell whether an
    account exists."""
    global _UNKNOWN_USER_HASH
    if _UNKNOWN_USER_HASH is None:
        _UNKNOWN_USER_HASH = hash_password(os.urandom(16).hex())
    return _UNKNOWN_USER_HASH


def check_password(password: str, encoded: str | None) -> bool:
    if not encoded:
        return False
    try:
        _, rounds, salt, digest = encoded.split("$")
        dk = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(salt), int(rounds))
    except ValueError:
        return False
    return hmac.compare_digest(dk.hex(), digest)


def queue_user_rooms(c: Cursor, tenant: str, slug: str) -> list[int]:
    rows = c.all("SELECT kind, entity_slug FROM memberships WHERE tenant = ? AND user_slug = ?",
                 (tenant, slug))
    return [outbox.enqueue(c, tenant, r["kind"], r["entity_slug"], outbox.SYNC_MEMBER, slug)
            for r in rows]


def _kind(kind: str) -> str:
    if kind not in ROLES:
        raise PlatformError(f"unknown entity kind {kind!r}")
    return kind


def _slug(value: str, what: str) -> str:
    try:
        return normalize_slug(value)
    except IdentityError as e:
        raise PlatformError(f"{what}: {e}") from None


class Platform:
    def __init__(self, store: Store, policy: PowerPolicy | None = None):
        self.store = store
        self.policy = policy or PowerPolicy()

    # -- tenants and users -------------------------------------------------------------
    def create_tenant(self, tenant: str, name: str | None = None) -> str:
        try:
            t = normalize_tenant(tenant)
        except IdentityError as e:
            raise PlatformError(str(e)) from None
        with self.store.tx() as c:
            if c.one("SELECT id FROM tenants WHERE id = ?", (t,)):
                raise Conflict(f"tenant {t!r} exists")
            c.execute("INSERT INTO tenants (id, name) VALUES (?, ?)", (t, name or t))
        return t

    def create_user(self, tenant: str, slug: str, display_name: str | None = None,
                    password: str | None = None, is_platform_admin: bool = False,
                    matrix_ready: bool = False) -> dict:
        slug = _slug(slug, "user slug")
        with self.store.tx() as c:
            self._tenant(c, tenant)
            if c.one("SELECT slug FROM users WHERE tenant = ? AND slug = ?", (tenant, slug)):
                raise Conflict(f"user {slug!r} exists in tenant {tenant!r}")
            c.execute("INSERT INTO users (tenant, slug, display_name, is_platform_admin, "
                      "password_hash, matrix_ready) VALUES (?,?,?,?,?,?)",
                      (tenant, slug, display_name or slug, int(is_platform_admin),
                       hash_password(password) if password else None, int(matrix_ready)))
        return self.user(tenant, slug)

    def user(self, tenant: str, slug: str) -> dict:
        row = self.store.one("SELECT tenant, slug, display_name, is_platform_admin, matrix_ready "
                             "FROM users WHERE tenant = ? AND slug = ?", (tenant, slug))
        if row is None:
            raise NotFound(f"no user {slug!r} in tenant {tenant!r}")
        row["is_platform_admin"] = bool(row["is_platform_admin"])
        row["matrix_ready"] = bool(row["matrix_ready"])
        return row

    def verify_password(self, tenant: str, slug: str, password: str) -> bool:
        """For the demo login and the OAuth server: does this platform user have this password?
        Deliberately slow (PBKDF2), the same for unknown users: call it off the event loop."""
        row = self.store.one("SELECT password_hash FROM users WHERE tenant = ? AND slug = ?",
                             (tenant, slug))
        if row is None or not row["password_hash"]:
            check_password(password, _unknown_user_hash())
            return False
        return check_password(password, row["password_hash"])

    def matrix_account_ready(self, tenant: str, slug: str) -> list[int]:
        """The user's Matrix account exists now: apply what was waiting for it."""
        with self.store.tx() as c:
            if not c.one("SELECT slug FROM users WHERE tenant = ? AND slug = ?", (tenant, slug)):
                raise NotFound(f"no user {slug!r} in tenant {tenant!r}")
            c.execute("UPDATE users SET matrix_ready = 1 WHERE tenant = ? AND slug = ?",
                      (tenant, slug))
            return queue_user_rooms(c, tenant, slug)

    def resolve_user_ref(self, tenant: str, ref: str) -> str:
        """A user named by slug or by Matrix id; another tenant's user is refused."""
        if ref.startswith("@"):
            parsed = parse_user_id(ref)
            if parsed is None:
                raise PlatformError(f"{ref!r} is not a platform user's Matrix id")
            if parsed[1] != tenant:
                raise CrossTenant(f"user {ref} belongs to another tenant")
            ref = parsed[0]
        return _slug(ref, "user slug")

    @staticmethod
    def _tenant(c: Cursor, tenant: str) -> None:
        if not c.one("SELECT id FROM tenants WHERE id = ?", (tenant,)):
            raise NotFound(f"no tenant {tenant!r}")

    @staticmethod
    def _user(c: Cursor, tenant: str, slug: str) -> dict:
        row = c.one("SELECT * FROM users WHERE tenant = ? AND slug = ?", (tenant, slug))
        if row is None:
            raise NotFound(f"no user {slug!r} in tenant {tenant!r}")
        return row

    # -- events and groups -------------------------------------------------------------
    def create_entity(self, tenant: str, kind: str, slug: str, name: str, creator: str,
                      description: str = "", encrypted: bool = False
                      ) -> tuple[dict, list[int]]:
        kind, slug = _kind(kind), _slug(slug, f"{kind} slug")
        if not (name or "").strip():
            raise PlatformError("name is required")
        with self.store.tx() as c:
            self._tenant(c, tenant)
            self._user(c, tenant, creator)
            if c.one("SELECT slug FROM entities WHERE tenant = ? AND kind = ? AND slug = ?",
                     (tenant, kind, slug)):
                raise Conflict(f"{kind} {slug!r} already exists")
            c.execute("INSERT INTO entities (tenant, kind, slug, name, description, created_by, "
                      "created_at, encrypted) VALUES (?,?,?,?,?,?,?,?)",
                      (tenant, kind, slug, name.strip(), description or "", creator, time.time(),
                       1 if encrypted else 0))
            c.execute("INSERT INTO memberships (tenant, kind, entity_slug, user_slug, role) "
                      "VALUES (?,?,?,?,?)", (tenant, kind, slug, creator, CREATOR_ROLE[kind]))
            ids = [outbox.enqueue(c, tenant, kind, slug, outbox.CREATE_ROOM)]
        return self.entity(tenant, kind, slug), ids

    def entity(self, tenant: str, kind: str, slug: str) -> dict:
        row = self.store.one("SELECT * FROM entities WHERE tenant = ? AND kind = ? AND slug = ?",
                             (tenant, _kind(kind), slug))
        if row is None:
            raise NotFound(f"no {kind} {slug!r}")
        return row

    def entities(self, tenant: str, kind: str) -> list[dict]:
        return self.store.all("SELECT * FROM entities WHERE tenant = ? AND kind = ? ORDER BY "
                              "created_at", (tenant, _kind(kind)))

    def members(self, tenant: str, kind: str, slug: str) -> list[dict]:
        return self.store.all(
            "SELECT m.user_slug AS slug, m.role, u.display_name, u.matrix_ready FROM memberships m "
            "JOIN users u ON u.tenant = m.tenant AND u.slug = m.user_slug WHERE m.tenant = ? AND "
            "m.kind = ? AND m.entity_slug = ? ORDER BY m.user_slug", (tenant, kind, slug))

    def role_of(self, tenant: str, kind: str, slug: str, user: str) -> str | None:
        row = self.store.one("SELECT role FROM memberships WHERE tenant = ? AND kind = ? AND "
                             "entity_slug = ? AND user_slug = ?", (tenant, kind, slug, user))
        return None if row is None else row["role"]

    def delete_entity(self, tenant: str, kind: str, slug: str) -> None:
        """Undo a creation whose room the homeserver refused (nothing half-done)."""
        with self.store.tx() as c:
            for table, col in (("outbox", "entity_slug"), ("memberships", "entity_slug"),
                               ("entities", "slug")):
                c.execute(f"DELETE FROM {table} WHERE tenant = ? AND kind = ? AND {col} = ?",
                          (tenant, kind, slug))

    def _set_membership(self, c: Cursor, tenant: str, kind: str, slug: str, user: str,
                        role: str | None) -> str | None:
        prev = c.one("SELECT role FROM memberships WHERE tenant = ? AND kind = ? AND "
                     "entity_slug = ? AND user_slug = ?", (tenant, kind, slug, user))
        prev_role = None if prev is None else prev["role"]
        if role is None:
            c.execute("DELETE FROM memberships WHERE tenant = ? AND kind = ? AND entity_slug = ? "
                      "AND user_slug = ?", (tenant, kind, slug, user))
        elif prev is None:
            c.execute("INSERT INTO memberships (tenant, kind, entity_slug, user_slug, role) "
                      "VALUES (?,?,?,?,?)", (tenant, kind, slug, user, role))
        else:
            c.execute("UPDATE memberships SET role = ? WHERE tenant = ? AND kind = ? AND "
                      "entity_slug = ? AND user_slug = ?", (role, tenant, kind, slug, user))
        return prev_role

    def _entity_in_tx(self, c: Cursor, tenant: str, kind: str, slug: str) -> dict:
        row = c.one("SELECT * FROM entities WHERE tenant = ? AND kind = ? AND slug = ?",
                    (tenant, _kind(kind), slug))
        if row is None:
            raise NotFound(f"no {kind} {slug!r}")
        return row

    def join(self, tenant: str, kind: str, slug: str, user: str) -> tuple[str | None, list[int]]:
        """Attend an event / join a group. Idempotent; a banned member stays banned."""
        with self.store.tx() as c:
            self._entity_in_tx(c, tenant, kind, slug)
            self._user(c, tenant, user)
            prev = c.one("SELECT role FROM memberships WHERE tenant = ? AND kind = ? AND "
                         "entity_slug = ? AND user_slug = ?", (tenant, kind, slug, user))
            if prev is not None and prev["role"] == BANNED:
                raise Forbidden(f"{user!r} is banned from this {kind}")
            if prev is None:
                self._set_membership(c, tenant, kind, slug, user, DEFAULT_ROLE[kind])
            ids = [outbox.enqueue(c, tenant, kind, slug, outbox.SYNC_MEMBER, user)]
        return (None if prev is None else prev["role"]), ids

    def leave(self, tenant: str, kind: str, slug: str, user: str) -> tuple[str | None, list[int]]:
        with self.store.tx() as c:
            ent = self._entity_in_tx(c, tenant, kind, slug)
            self._user(c, tenant, user)
            prev = c.one("SELECT role FROM memberships WHERE tenant = ? AND kind = ? AND "
                         "entity_slug = ? AND user_slug = ?", (tenant, kind, slug, user))
            if prev is None:
                raise NotFound(f"{user!r} is not a member of {kind} {slug!r}")
            if prev["role"] == BANNED:
                raise Forbidden("a banned member cannot leave (the ban would be lifted)")
            if user == ent["created_by"] and prev["role"] == CREATOR_ROLE[kind]:
                raise Conflict(f"the {CREATOR_ROLE[kind]} cannot leave their own {kind}")
            self._set_membership(c, tenant, kind, slug, user, None)
            ids = [outbox.enqueue(c, tenant, kind, slug, outbox.SYNC_MEMBER, user)]
        return prev["role"], ids

    def set_role(self, tenant: str, kind: str, slug: str, actor: str, target: str,
                 role: str) -> tuple[str | None, list[int]]:
        if role not in ROLES[_kind(kind)]:
            raise PlatformError(f"invalid {kind} role {role!r}; use one of "
                                f"{', '.join(ROLES[kind])}")
        with self.store.tx() as c:
            self._entity_in_tx(c, tenant, kind, slug)
            a = self._user(c, tenant, actor)
            self._user(c, tenant, target)
            actor_role = c.one("SELECT role FROM memberships WHERE tenant = ? AND kind = ? AND "
                               "entity_slug = ? AND user_slug = ?", (tenant, kind, slug, actor))
            admin = bool(a["is_platform_admin"])
            if not admin:
                if actor_role is None or actor_role["role"] not in MANAGER_ROLES[kind]:
                    raise Forbidden(f"only the {kind}'s {' or '.join(MANAGER_ROLES[kind])} "
                                    "can change roles")
                mine = self.policy.level(kind, actor_role["role"])
                if role != BANNED and self.policy.level(kind, role) > mine:
                    raise Forbidden(f"cannot grant {role!r}, above your own role")
            prev = c.one("SELECT role FROM memberships WHERE tenant = ? AND kind = ? AND "
                         "entity_slug = ? AND user_slug = ?", (tenant, kind, slug, target))
            if prev is None and role != BANNED:
                raise NotFound(f"{target!r} is not a member of {kind} {slug!r}")
            if prev is not None and not admin and prev["role"] != BANNED and \
                    self.policy.level(kind, prev["role"]) > self.policy.level(kind, actor_role["role"]):
                raise Forbidden(f"cannot change the role of a member above you")
            self._set_membership(c, tenant, kind, slug, target, role)
            ids = [outbox.enqueue(c, tenant, kind, slug, outbox.SYNC_MEMBER, target)]
        return (None if prev is None else prev["role"]), ids

    def turn_on_encryption(self, tenant: str, kind: str, slug: str, actor: str) -> list[int]:
        """The "encrypted chat" setting, turned on by the entity's managers (or a platform
        admin) for a room that exists: the orchestrator sends m.room.encryption. One-way (the
        spec has no turning it off), so there is no turning the setting off either. Nothing
        to do (no outbox item) when it is on already."""
        with self.store.tx() as c:
            ent = self._entity_in_tx(c, tenant, kind, slug)
            a = self._user(c, tenant, actor)
            role = c.one("SELECT role FROM memberships WHERE tenant = ? AND kind = ? AND "
                         "entity_slug = ? AND user_slug = ?", (tenant, kind, slug, actor))
            if not a["is_platform_admin"] and (role is None
                                               or role["role"] not in MANAGER_ROLES[kind]):
                raise Forbidden(f"only the {kind}'s {' or '.join(MANAGER_ROLES[kind])} "
                                "can turn on encryption")
            if ent["encrypted"]:
                return []
            c.execute("UPDATE entities SET encrypted = 1 WHERE tenant = ? AND kind = ? AND "
                      "slug = ?", (tenant, kind, slug))
            return [outbox.enqueue(c, tenant, kind, slug, outbox.SYNC_ROOM)]

    def undo_encryption(self, tenant: str, kind: str, slug: str, failed_ids: list[int]) -> None:
        """The homeserver refused m.room.encryption: the setting is off again, as the room."""
        with self.store.tx() as c:
            c.execute("UPDATE entities SET encrypted = 0 WHERE tenant = ? AND kind = ? AND "
                      "slug = ?", (tenant, kind, slug))
            marks = ",".join("?" * len(failed_ids))
            c.execute(f"DELETE FROM outbox WHERE id IN ({marks})", tuple(failed_ids))

    def revert_membership(self, tenant: str, kind: str, slug: str, user: str,
                          prev_role: str | None, failed_ids: list[int]) -> None:
        """Put a membership back as it was after the homeserver refused the change."""
        with self.store.tx() as c:
            self._set_membership(c, tenant, kind, slug, user, prev_role)
            marks = ",".join("?" * len(failed_ids))
            c.execute(f"DELETE FROM outbox WHERE id IN ({marks})", tuple(failed_ids))

    def reconcile(self, tenant: str | None = None, kind: str | None = None,
                  slug: str | None = None) -> list[int]:
        """Queue a full comparison of platform vs room for one entity or all of them."""
        q, p = "SELECT tenant, kind, slug FROM entities WHERE 1 = 1", []
        for col, v in (("tenant", tenant), ("kind", kind), ("slug", slug)):
            if v:
                q += f" AND {col} = ?"
                p.append(v)
        with self.store.tx() as c:
            rows = c.all(q, tuple(p))
            if slug and not rows:
                raise NotFound(f"no {kind or 'entity'} {slug!r}")
            return [outbox.enqueue(c, r["tenant"], r["kind"], r["slug"], outbox.SYNC_ROOM)
                    for r in rows]
