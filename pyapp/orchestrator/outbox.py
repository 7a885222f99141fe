"""Outbox rows: written in the platform's transaction, claimed per room by the worker.

A room is claimed through a lease row so exactly one writer touches a room's state (power
levels above all) at a time, across tasks, processes and machines sharing the database. The
worker renews the lease while it works and checks it (owner and generation, the fencing
token) before every write, so a writer that stalled past its lease and was taken over stops
instead of writing beside the new holder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pyapp.orchestrator.retry import DONE, FAILED, PENDING, ItemState
from pyapp.platform.store import Cursor, Store

CREATE_ROOM, SYNC_MEMBER, SYNC_ROOM = "create_room", "sync_member", "sync_room"


def room_key(tenant: str, kind: str, slug: str) -> str:
    return f"{tenant}/{kind}/{slug}"


def enqueue(c: Cursor, tenant: str, kind: str, slug: str, op: str,
            user_slug: str | None = None, now: float | None = None) -> int:
    now = time.time() if now is None else now
    return c.insert_returning_id(
        "INSERT INTO outbox (room_key, tenant, kind, entity_slug, op, user_slug, status, "
        "attempts, next_attempt_at, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (room_key(tenant, kind, slug), tenant, kind, slug, op, user_slug, PENDING, 0, now, now,
         now))


@dataclass
class Lease:
    """One writer's hold on one room.

    ``generation`` is the fencing token: every claim of the room increments it, so a writer
    whose lease expired and was taken over finds out (even if it claims the room again later
    under the same owner name) and must not write any more."""

    key: str
    owner: str
    generation: int
    until: float  # as last written by this writer
    lost: bool = False


class LeaseLost(Exception):
    """Another writer holds the room now (or may, any moment): stop writing."""


def claim(store: Store, owner: str, lease: float = 30.0, now: float | None = None
          ) -> tuple[Lease, list[dict]] | None:
    """Lease one room with due items and return them, oldest first; None if nothing is due."""
    now = time.time() if now is None else now
    with store.tx() as c:
        rows = c.all(
            "SELECT room_key FROM outbox o WHERE status = ? AND next_attempt_at <= ? AND NOT "
            "EXISTS (SELECT 1 FROM room_leases l WHERE l.room_key = o.room_key AND l.until > ? "
            "AND l.owner <> ?) GROUP BY room_key ORDER BY MIN(id) LIMIT 1",
            (PENDING, now, now, owner))
        if not rows:
            return None
        key = rows[0]["room_key"]
        got = c.execute(
            "INSERT INTO room_leases (room_key, owner, until, generation) VALUES (?,?,?,1) "
            "ON CONFLICT (room_key) DO UPDATE SET owner = excluded.owner, until = excluded.until, "
            "generation = room_leases.generation + 1 "
            "WHERE room_leases.until <= ? OR room_leases.owner = excluded.owner",
            (key, owner, now + lease, now))
        if got != 1:
            return None
        gen = c.one("SELECT generation FROM room_leases WHERE room_key = ?", (key,))["generation"]
        items = c.all("SELECT * FROM outbox WHERE room_key = ? AND status = ? AND "
                      "next_attempt_at <= ? ORDER BY id", (key, PENDING, now))
        return Lease(key, owner, int(gen), now + lease), items


def renew(store: Store, lease: Lease, duration: float = 30.0, now: float | None = None) -> bool:
    """Extend the lease; False if it was taken over. An expired lease nobody claimed is still
    ours (its generation is unchanged, so nobody else wrote) and is extended."""
    now = time.time() if now is None else now
    if lease.lost:
        return False
    got = store.execute("UPDATE room_leases SET until = ? WHERE room_key = ? AND owner = ? AND "
                        "generation = ?", (now + duration, lease.key, lease.owner,
                                           lease.generation))
    if got != 1:
        lease.lost = True
        return False
    lease.until = now + duration
    return True


def check(c: Store | Cursor, lease: Lease, margin: float = 0.0, now: float | None = None) -> None:
    """The fence before a write: raise LeaseLost unless this lease is still the room's current
    one with at least ``margin`` seconds left. Inside a transaction the row stays locked until
    commit, so no claim can slip in between this check and the write it guards."""
    now = time.time() if now is None else now
    if not lease.lost:
        lock = c.for_update if isinstance(c, Cursor) else ""
        row = c.one("SELECT until FROM room_leases WHERE room_key = ? AND owner = ? AND "
                    "generation = ?" + lock, (lease.key, lease.owner, lease.generation))
        if row is None:
            lease.lost = True
        elif row["until"] > now + margin:
            return
    raise LeaseLost(f"lease {lease.generation} on {lease.key} is no longer held by "
                    f"{lease.owner}")


def release(store: Store | Cursor, lease: Lease) -> None:
    # The row stays (expired) so the next claim continues its generation count.
    store.execute("UPDATE room_leases SET until = 0 WHERE room_key = ? AND owner = ? AND "
                  "generation = ?", (lease.key, lease.owner, lease.generation))


def save(c: Cursor, item_id: int, st: ItemState) -> None:
    c.execute("UPDATE outbox SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, "
              "updated_at = ? WHERE id = ? AND status = ?",
              (st.status, st.attempts, st.next_attempt_at, st.last_error, time.time(), item_id,
               PENDING))


def state_of(row: dict) -> ItemState:
    return ItemState(row["status"], row["attempts"], row["next_attempt_at"], row["last_error"])


def statuses(store: Store, ids: list[int]) -> dict[int, dict]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = store.all(f"SELECT id, status, last_error, attempts FROM outbox WHERE id IN ({marks})",
                     tuple(ids))
    return {r["id"]: r for r in rows}


def next_due(store: Store, owner: str | None = None, now: float | None = None) -> float | None:
    """When the next pending item is due; None if there is none.

    With ``owner``: when this owner could next claim one. An item of a room leased by another
    owner is not claimable before that lease ends (or is released, which wakes us), so a worker
    waits instead of spinning on work someone else is doing."""
    if owner is None:
        row = store.one("SELECT MIN(next_attempt_at) AS t FROM outbox WHERE status = ?",
                        (PENDING,))
    else:
        now = time.time() if now is None else now
        row = store.one(
            "SELECT MIN(CASE WHEN l.until > ? AND l.owner <> ? AND l.until > o.next_attempt_at "
            "THEN l.until ELSE o.next_attempt_at END) AS t FROM outbox o "
            "LEFT JOIN room_leases l ON l.room_key = o.room_key WHERE o.status = ?",
            (now, owner, PENDING))
    return None if row is None or row["t"] is None else float(row["t"])


def retry_failed(store: Store, tenant: str | None = None) -> int:
    q, p = "UPDATE outbox SET status = ?, next_attempt_at = ? WHERE status = ?", \
        [PENDING, time.time(), FAILED]
    if tenant:
        q += " AND tenant = ?"
        p.append(tenant)
    return store.execute(q, tuple(p))


def purge_done(store: Store, older_than: float) -> int:
    return store.execute("DELETE FROM outbox WHERE status = ? AND updated_at < ?",
                         (DONE, time.time() - older_than))
