"""Operations and migration CLI (``pyapp-rooms``).

  pyapp-rooms --db URL --registration FILE --homeserver URL --server-name NAME <command>

  validate            check every stored room id against the homeserver (valid / missing /
                      inaccessible)
  clear-missing       forget room ids the homeserver confirms missing (dry run unless --apply);
                      the next reconcile creates a new room for them
  users-without-matrix  list platform users who have no Matrix account yet
  audit [--fix]       check metadata and settings of existing rooms; --fix queues a reconcile
                      of rooms whose metadata is right (legacy rooms are only reported)
  reconcile [--tenant T] [--kind K] [--slug S]   queue a full sync and apply it now
  outbox              list pending and failed outbox items; --retry-failed re-queues failures

It never creates a room for an entity whose room exists, so no chat history is lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

import yaml

from pyapp.orchestrator import outbox
from pyapp.orchestrator.appservice import config_from_registration
from pyapp.orchestrator.policy import RoomSettings, RoomState, audit_room
from pyapp.orchestrator.worker import Orchestrator
from pyapp.platform.service import Platform
from pyapp.platform.store import Store


def _rooms(store: Store, tenant: str | None) -> list[dict]:
    q, p = "SELECT tenant, kind, slug, matrix_room_id FROM entities WHERE matrix_room_id IS NOT " \
           "NULL", ()
    if tenant:
        q, p = q + " AND tenant = ?", (tenant,)
    return store.all(q + " ORDER BY tenant, kind, slug", p)


async def validate(orch: Orchestrator, tenant: str | None) -> list[dict]:
    out = []
    for r in _rooms(orch.store, tenant):
        reply = await orch.bot.state(r["matrix_room_id"])
        if reply.outcome.ok:
            verdict = "valid"
        else:
            # The bot cannot see rooms it is not in; only the admin API can tell "missing" from
            # "exists without the bot", and without it we never call a room missing.
            exists = await orch.bot.admin_room_exists(r["matrix_room_id"])
            verdict = "missing" if exists is False else (
                "inaccessible" if exists else "unknown" if reply.status is None else "inaccessible")
        out.append({**r, "status": verdict})
    return out


async def audit(orch: Orchestrator, tenant: str | None, fix: bool) -> list[dict]:
    out = []
    settings = orch.config.rooms
    for r in _rooms(orch.store, tenant):
        reply = await orch.bot.state(r["matrix_room_id"])
        if not reply.outcome.ok:
            out.append({**r, "problems": [f"cannot read room state: {reply.outcome.error}"]})
            continue
        st = RoomState.from_events(reply.body)
        problems = audit_room(st, r["kind"], r["slug"], r["tenant"], settings)
        plain = {(e["type"], e["state_key"]): e["content"] for e in reply.body}
        for t, k, want in (("m.room.join_rules", "join_rule", "invite"),
                           ("m.room.guest_access", "guest_access", "forbidden"),
                           ("m.room.history_visibility", "history_visibility",
                            settings.history_visibility)):
            have = plain.get((t, ""), {}).get(k)
            if have != want:
                problems.append(f"{k} is {have!r}, expected {want!r}")
        legacy = st.metadata is None
        row = {**r, "problems": problems, "legacy": legacy}
        if fix and not legacy and problems == []:
            pass
        if fix and not legacy:
            Platform(orch.store).reconcile(r["tenant"], r["kind"], r["slug"])
            row["fix"] = "reconcile queued"
        out.append(row)
    if fix:
        await orch.drain(timeout=300)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pyapp-rooms", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default=os.environ.get("PYAPP_DB", "data/platform.db"))
    ap.add_argument("--registration", default=os.environ.get("PYAPP_AS_REGISTRATION"),
                    help="application service registration YAML (holds the bot's token)")
    ap.add_argument("--homeserver", default=os.environ.get("PYAPP_HOMESERVER",
                                                           "http://127.0.0.1:8008"))
    ap.add_argument("--server-name", default=os.environ.get("PYAPP_SERVER_NAME", "localhost"))
    ap.add_argument("--admin-token", default=os.environ.get("MATRIX_ADMIN_TOKEN"),
                    help="a Synapse admin token: lets validate tell missing rooms apart")
    ap.add_argument("--tenant")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("validate")
    cm = sub.add_parser("clear-missing")
    cm.add_argument("--apply", action="store_true", help="really clear (default: dry run)")
    sub.add_parser("users-without-matrix")
    au = sub.add_parser("audit")
    au.add_argument("--fix", action="store_true")
    rc = sub.add_parser("reconcile")
    rc.add_argument("--kind", choices=["event", "group"])
    rc.add_argument("--slug")
    ob = sub.add_parser("outbox")
    ob.add_argument("--retry-failed", action="store_true")
    args = ap.parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except CliError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


class CliError(Exception):
    pass


def _print(args, rows, fmt) -> None:
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for r in rows:
            print(fmt(r))


async def _run(args) -> int:
    store = Store.open(args.db)
    try:
        if args.cmd == "users-without-matrix":
            q, p = "SELECT tenant, slug, display_name FROM users WHERE matrix_ready = 0", ()
            if args.tenant:
                q, p = q + " AND tenant = ?", (args.tenant,)
            rows = store.all(q + " ORDER BY tenant, slug", p)
            _print(args, rows, lambda r: f"{r['tenant']}\t{r['slug']}\t{r['display_name']}")
            return 0
        if args.cmd == "outbox":
            if args.retry_failed:
                print(f"re-queued {outbox.retry_failed(store, args.tenant)} failed items")
            rows = store.all("SELECT id, room_key, op, user_slug, status, attempts, last_error "
                             "FROM outbox WHERE status <> 'done' ORDER BY id")
            _print(args, rows, lambda r: "\t".join(str(r[k]) for k in r))
            return 0
        if not args.registration or not Path(args.registration).exists():
            raise CliError("--registration FILE (the bot's application service registration) "
                           "is required and must exist")
        reg = yaml.safe_load(Path(args.registration).read_text())
        cfg = config_from_registration(reg, args.homeserver, args.server_name,
                                       admin_token=args.admin_token)
        orch = Orchestrator(store, cfg)
        try:
            if args.cmd == "validate":
                rows = await validate(orch, args.tenant)
                _print(args, rows, lambda r: f"{r['status']}\t{r['tenant']}\t{r['kind']}\t"
                                             f"{r['slug']}\t{r['matrix_room_id']}")
                counts = {s: sum(r["status"] == s for r in rows)
                          for s in ("valid", "missing", "inaccessible", "unknown")}
                print("summary: " + ", ".join(f"{k} {v}" for k, v in counts.items()),
                      file=sys.stderr)
                return 0
            if args.cmd == "clear-missing":
                rows = [r for r in await validate(orch, args.tenant) if r["status"] == "missing"]
                for r in rows:
                    if args.apply:
                        store.execute("UPDATE entities SET matrix_room_id = NULL WHERE tenant = ? "
                                      "AND kind = ? AND slug = ? AND matrix_room_id = ?",
                                      (r["tenant"], r["kind"], r["slug"], r["matrix_room_id"]))
                    print(f"{'cleared' if args.apply else 'would clear'}\t{r['tenant']}\t"
                          f"{r['kind']}\t{r['slug']}\t{r['matrix_room_id']}")
                if not args.apply and rows:
                    print("dry run: nothing changed; add --apply", file=sys.stderr)
                return 0
            if args.cmd == "audit":
                rows = await audit(orch, args.tenant, args.fix)
                _print(args, rows, lambda r: f"{'LEGACY' if r.get('legacy') else 'ok' if not r['problems'] else 'DRIFT'}"
                                             f"\t{r['tenant']}\t{r['kind']}\t{r['slug']}\t"
                                             f"{r['matrix_room_id']}\t{'; '.join(r['problems'])}")
                return 0
            if args.cmd == "reconcile":
                try:
                    ids = Platform(store).reconcile(args.tenant, args.kind, args.slug)
                except Exception as e:
                    raise CliError(str(e)) from None
                await orch.drain(timeout=600)
                rows = outbox.statuses(store, ids)
                bad = [r for r in rows.values() if r["status"] != "done"]
                for r in bad:
                    print(f"{r['status']}\titem {r['id']}\t{r['last_error']}")
                print(f"reconciled {len(ids) - len(bad)} of {len(ids)} rooms", file=sys.stderr)
                return 1 if bad else 0
        finally:
            await orch.bot.close()
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
