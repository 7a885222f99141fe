"""Relational store for the platform and the orchestrator's outbox: SQLite or PostgreSQL.

SQL is written once with ``?`` placeholders and portable types; the PostgreSQL dialect only
swaps placeholders and the auto-increment column. One connection per Store guarded by a lock:
the platform runs in one event loop, and several processes (or machines, with PostgreSQL)
coordinate through row-level leases rather than through shared connections.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    slug TEXT NOT NULL,
    display_name TEXT NOT NULL,
    is_platform_admin INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT,
    matrix_ready INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, slug)
);
CREATE TABLE IF NOT EXISTS entities (
    tenant TEXT NOT NULL REFERENCES tenants(id),
    kind TEXT NOT NULL,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    matrix_room_id TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (tenant, kind, slug)
);
CREATE TABLE IF NOT EXISTS memberships (
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    entity_slug TEXT NOT NULL,
    user_slug TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (tenant, kind, entity_slug, user_slug)
);
CREATE TABLE IF NOT EXISTS outbox (
    id {serial},
    room_key TEXT NOT NULL,
    tenant TEXT NOT NULL,
    kind TEXT NOT NULL,
    entity_slug TEXT NOT NULL,
    op TEXT NOT NULL,
    user_slug TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DOUBLE PRECISION NOT NULL,
    last_error TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbox_room ON outbox (room_key, status);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    user_slug TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (tenant, user_slug);
CREATE TABLE IF NOT EXISTS room_leases (
    room_key TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    until DOUBLE PRECISION NOT NULL,
    generation BIGINT NOT NULL DEFAULT 0
);
"""

# Columns added after a table first shipped: (table, column, definition).
ADDED_COLUMNS = [
    ("room_leases", "generation", "BIGINT NOT NULL DEFAULT 0"),
    # The "encrypted chat" setting of an event or group: its room is made with
    # m.room.encryption in the initial state (one-way: the spec has no turning it off).
    ("entities", "encrypted", "INTEGER NOT NULL DEFAULT 0"),
]


class Store:
    """``Store.open("path.db" | "sqlite:///path.db" | "postgresql://...")``."""

    def __init__(self, conn: Any, dialect: str, url: str):
        self.conn = conn
        self.dialect = dialect
        self.url = url
        self._lock = threading.RLock()
        self._depth = 0

    @classmethod
    def open(cls, url: str | Path) -> "Store":
        url = str(url)
        if url.startswith(("postgresql://", "postgres://")):
            import psycopg

            conn = psycopg.connect(url, autocommit=True)
            store = cls(conn, "postgresql", url)
        else:
            path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
            if path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN ourselves, so a transaction spans exactly the
            # platform change and its outbox rows.
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit is atomic and survives a crash of the process (the outbox's
            # promise); only an OS crash or power loss can drop the last commits, and in exchange
            # a commit does not wait for an fsync while it holds the event loop.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            store = cls(conn, "sqlite", url)
        store.migrate()
        return store

    def migrate(self) -> None:
        serial = ("INTEGER PRIMARY KEY AUTOINCREMENT" if self.dialect == "sqlite"
                  else "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
        with self.tx() as c:
            for stmt in SCHEMA.replace("{serial}", serial).split(";"):
                if stmt.strip():
                    c.execute(stmt)
            for table, column, definition in ADDED_COLUMNS:
                if column not in c.columns(table):
                    c.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    def close(self) -> None:
        self.conn.close()

    def _sql(self, sql: str) -> str:
        return sql if self.dialect == "sqlite" else sql.replace("?", "%s")

    @contextmanager
    def tx(self) -> Iterator["Cursor"]:
        """One transaction; nested calls join the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield Cursor(self)
                finally:
                    self._depth -= 1
                return
            # IMMEDIATE takes SQLite's write lock up front, so two processes claiming the same
            # outbox rows serialize instead of failing at commit.
            self.conn.execute("BEGIN IMMEDIATE" if self.dialect == "sqlite" else "BEGIN")
            self._depth = 1
            try:
                yield Cursor(self)
            except BaseException:
                self._depth = 0
                self.conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self.conn.execute("COMMIT")

    def all(self, sql: str, params: tuple = ()) -> list[dict]:
        with self.tx() as c:
            return c.all(sql, params)

    def one(self, sql: str, params: tuple = ()) -> dict | None:
        with self.tx() as c:
            return c.one(sql, params)

    def execute(self, sql: str, params: tuple = ()) -> int:
        with self.tx() as c:
            return c.execute(sql, params)


class Cursor:
    def __init__(self, store: Store):
        self.store = store

    def _run(self, sql: str, params: tuple):
        cur = self.store.conn.cursor()
        cur.execute(self.store._sql(sql), params)
        return cur

    def execute(self, sql: str, params: tuple = ()) -> int:
        cur = self._run(sql, params)
        return cur.rowcount

    def all(self, sql: str, params: tuple = ()) -> list[dict]:
        cur = self._run(sql, params)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row)) for row in cur.fetchall()]

    def one(self, sql: str, params: tuple = ()) -> dict | None:
        rows = self.all(sql, params)
        return rows[0] if rows else None

    def columns(self, table: str) -> set[str]:
        return {d[0] for d in self._run(f"SELECT * FROM {table} LIMIT 0", ()).description}

    @property
    def for_update(self) -> str:
        """Row-lock suffix for a SELECT inside a transaction. SQLite needs none: BEGIN
        IMMEDIATE already holds the database's single write lock."""
        return " FOR UPDATE" if self.store.dialect == "postgresql" else ""

    def insert_returning_id(self, sql: str, params: tuple = ()) -> int:
        cur = self._run(sql + " RETURNING id", params)
        return int(cur.fetchone()[0])
