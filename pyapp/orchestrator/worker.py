"""The outbox worker: leases one room at a time, reads its state once, writes power levels
once and applies membership actions. Every run is computed from the platform's current data,
so replaying an item (after a crash, a retry, a duplicate) converges instead of repeating."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Callable

from pyapp.identity import (ROOM_METADATA_TYPE, matrix_user_id, metadata_is_for, room_alias,
                            split_user_id)
from pyapp.orchestrator import outbox
from pyapp.orchestrator.appservice import OrchestratorConfig
from pyapp.orchestrator.matrix import MatrixBot, MatrixCallError
from pyapp.orchestrator.policy import (BANNED, CREATOR_POWER_VERSIONS, Member, RoomState, create_room_body, desired_levels,
                                       plan_encryption, plan_memberships, plan_power_levels)
from pyapp.orchestrator.outbox import Lease, LeaseLost
from pyapp.orchestrator.retry import FAILED, OK, PENDING, Backoff, Outcome, transition, unexpected
from pyapp.platform.store import Store

log = logging.getLogger(__name__)


class Refused(Exception):
    """A decision of ours not to act (tenant boundary, foreign alias): not retried."""


class Orchestrator:
    def __init__(self, store: Store, config: OrchestratorConfig, *, concurrency: int = 2,
                 poll_interval: float = 2.0, account_poll: float = 15.0, lease: float = 30.0,
                 backoff: Backoff = Backoff(), partial_state_max: int = 8,
                 membership_concurrency: int = 2, renew_every: float | None = None):
        self.store = store
        self.config = config
        self.bot = MatrixBot(config.homeserver_url, config.as_token, config.bot_user_id,
                             admin_token=config.admin_token)
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.account_poll = account_poll
        # Seconds a claim holds a room. Renewed every third of it while the room is worked on,
        # so it only runs out when this worker stalls or loses the database; then another
        # worker takes the room over after at most this long.
        self.lease = lease
        self.renew_every = lease / 3 if renew_every is None else renew_every
        self.backoff = backoff
        # Per-user changes touching at most this many users read only the state they need.
        self.partial_state_max = partial_state_max
        # Bans, kicks and invites in flight at once per room. The homeserver serializes the
        # events of one room: two hide the round trip, more only queue and contend there
        # (measured: 1 -> 11.4, 2 -> 12.0, 4 -> 9.8 invites/s on the benchmark machine).
        self.membership_concurrency = membership_concurrency
        self._create_events: dict[str, dict] = {}  # room id -> its m.room.create (immutable)
        self.owner = f"w-{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._changed = asyncio.Condition()
        self._tasks: list[asyncio.Task] = []
        # Test seam: called with a point name; raising there simulates a crash at that point.
        self.fault: Callable[[str], None] = lambda point: None

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        if self._tasks:
            return
        self._wake = asyncio.Event()
        self._changed = asyncio.Condition()
        self._tasks = [asyncio.create_task(self._loop(i)) for i in range(self.concurrency)]
        self._tasks.append(asyncio.create_task(self._account_loop()))

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.bot.close()

    def wake(self) -> None:
        self._wake.set()

    async def _loop(self, n: int) -> None:
        owner = f"{self.owner}-{n}"
        while True:
            # Cleared before looking for work, so a wake() that arrives while we look is kept.
            self._wake.clear()
            try:
                worked = await self.run_once(owner)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The store failed (items' own failures are counted in run_once): wait a full
                # poll interval, as the due item would make the lease-aware wait below zero.
                log.exception("outbox worker iteration failed")
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                except asyncio.TimeoutError:
                    pass
                continue
            if worked:
                continue
            # Lease-aware: a room another writer holds is not due until its lease ends, so this
            # task sleeps (until a wake-up, the poll interval or the lease end) instead of
            # spinning on the database and the CPU the homeserver needs.
            due = outbox.next_due(self.store, owner)
            wait = self.poll_interval if due is None else \
                min(self.poll_interval, max(0.0, due - time.time()))
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
            except asyncio.TimeoutError:
                pass

    async def _account_loop(self) -> None:
        while True:
            await asyncio.sleep(self.account_poll)
            try:
                await self.check_waiting_accounts()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("account check failed")

    async def drain(self, timeout: float = 60.0) -> None:
        """Process until nothing is due (used by the CLI and tests without a running loop)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not await self.run_once(self.owner):
                due = outbox.next_due(self.store)
                if due is None or due > time.time() + (deadline - time.monotonic()):
                    return
                # Items of a room another writer holds: wait for it without spinning.
                claimable = outbox.next_due(self.store, self.owner) or due
                await asyncio.sleep(min(0.2, max(0.02 if claimable > due else 0.0,
                                                 claimable - time.time())))
        raise TimeoutError("outbox not drained")

    async def wait_items(self, ids: list[int], timeout: float) -> dict[int, dict]:
        """Wait until the items are done or failed, or the timeout passes; their rows."""
        deadline = time.monotonic() + timeout
        async with self._changed:
            while True:
                rows = outbox.statuses(self.store, ids)
                if all(r["status"] != PENDING for r in rows.values()):
                    return rows
                left = deadline - time.monotonic()
                if left <= 0:
                    return rows
                try:
                    # The timeout also covers a worker in another process finishing the items.
                    await asyncio.wait_for(self._changed.wait(), min(left, 0.5))
                except asyncio.TimeoutError:
                    pass

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- one room -----------------------------------------------------------------------
    async def run_once(self, owner: str) -> bool:
        claimed = outbox.claim(self.store, owner, self.lease)
        if claimed is None:
            return False
        lease, items = claimed
        work = asyncio.ensure_future(self._process(items, lease))
        beat = asyncio.create_task(self._heartbeat(lease, work))
        saved = False
        try:
            await asyncio.wait([work])
            beat.cancel()
            if work.cancelled() or isinstance(work.exception(), LeaseLost):
                # Another writer has (or may have) the room now: it starts from the platform's
                # data again, so nothing of ours is recorded, not even the attempt.
                log.warning("lease %s on %s lost while working; stopped writing",
                            lease.generation, lease.key)
            else:
                saved = self._save(lease, items, work.result())
        finally:
            for t in (beat, work):
                t.cancel()
            # Settled before the lease goes: nothing of this run may write after it.
            await asyncio.gather(beat, work, return_exceptions=True)
            if not saved and not lease.lost:
                outbox.release(self.store, lease)
        await self._notify()
        return True

    def _save(self, lease: Lease, items: list[dict], results: dict[int, Outcome]) -> bool:
        """Record the outcomes and release the room, fenced in one transaction."""
        now = time.time()
        with self.store.tx() as c:
            try:
                outbox.check(c, lease)
            except LeaseLost:
                log.warning("lease %s on %s lost before saving; outcomes dropped",
                            lease.generation, lease.key)
                return False
            for item in items:
                st = transition(outbox.state_of(item), results.get(item["id"], OK), now,
                                self.backoff)
                outbox.save(c, item["id"], st)
                if st.status == FAILED:
                    log.warning("outbox item %s %s failed: %s", item["id"], item["op"],
                                st.last_error)
                elif st.status == PENDING:
                    log.info("outbox item %s %s will be retried (attempt %s): %s", item["id"],
                             item["op"], st.attempts, st.last_error)
            outbox.release(c, lease)
        return True

    async def _heartbeat(self, lease: Lease, work: asyncio.Future) -> None:
        """Keep the lease while the work runs (account checks and slow homeserver calls can
        outlast it); stop the work as soon as the lease cannot be proven held any more."""
        every = self.renew_every
        while True:
            await asyncio.sleep(every)
            try:
                self.fault("renew")
                if outbox.renew(self.store, lease, self.lease):
                    continue
            except Exception:
                log.exception("renewing lease %s on %s failed", lease.generation, lease.key)
                if lease.until - time.time() > every:
                    continue  # still safely ours; try again at the next beat
                lease.lost = True
            work.cancel()
            return

    def _fence(self, lease: Lease) -> None:
        """Before every write to the homeserver: a third of the lease must remain, the time
        the heartbeat has to renew it, so the write is sent well inside the lease."""
        try:
            outbox.check(self.store, lease, margin=self.lease / 3)
        except LeaseLost:
            raise
        except Exception as e:  # the database did not answer: the lease is not proven held
            raise LeaseLost(f"cannot check lease {lease.generation} on {lease.key}: {e}") from e

    async def _process(self, items: list[dict], lease: Lease) -> dict[int, Outcome]:
        try:
            tenant, kind, slug = items[0]["tenant"], items[0]["kind"], items[0]["entity_slug"]
            entity = self.store.one("SELECT * FROM entities WHERE tenant = ? AND kind = ? AND "
                                    "slug = ?", (tenant, kind, slug))
            if entity is None:
                return {}  # the entity was removed (its creation was rolled back): nothing to do
            return await self._apply(entity, items, lease)
        except MatrixCallError as e:
            return {i["id"]: e.outcome for i in items}
        except Refused as e:
            return {i["id"]: Outcome(False, retryable=False, error=str(e)) for i in items}
        except LeaseLost:
            raise
        except Exception as e:
            # A bug or a surprise of the homeserver: one attempt, retried after a backoff like
            # any failure. Releasing the room without counting it would retry it at once,
            # forever, in a tight loop.
            log.exception("outbox items %s failed unexpectedly", [i["id"] for i in items])
            return {i["id"]: unexpected(e) for i in items}

    def members(self, tenant: str, kind: str, slug: str) -> dict[str, Member]:
        rows = self.store.all(
            "SELECT m.user_slug, m.role, u.is_platform_admin, u.matrix_ready FROM memberships m "
            "JOIN users u ON u.tenant = m.tenant AND u.slug = m.user_slug "
            "WHERE m.tenant = ? AND m.kind = ? AND m.entity_slug = ?", (tenant, kind, slug))
        sn = self.config.server_name
        return {matrix_user_id(r["user_slug"], tenant, sn):
                Member(matrix_user_id(r["user_slug"], tenant, sn), r["role"],
                       bool(r["is_platform_admin"]), bool(r["matrix_ready"])) for r in rows}

    async def _apply(self, entity: dict, items: list[dict], lease: Lease
                     ) -> dict[int, Outcome]:
        tenant, kind, slug = entity["tenant"], entity["kind"], entity["slug"]
        cfg, bot_id = self.config, self.config.bot_user_id
        members = self.members(tenant, kind, slug)
        room_id, state = entity["matrix_room_id"], None
        if room_id is None:
            room_id, state = await self._ensure_room(entity, members, lease)
        full = any(i["op"] != outbox.SYNC_MEMBER for i in items)
        scope = set() if full else {matrix_user_id(i["user_slug"], tenant, cfg.server_name)
                                    for i in items if i["user_slug"]}
        if state is None and not full and len(scope) <= self.partial_state_max:
            state = await self._read_partial_state(room_id, scope)
        if state is None:
            state = RoomState.from_events(await self.bot.ok(
                "read room state", "GET", f"/_matrix/client/v3/rooms/{_q(room_id)}/state"))
        if not metadata_is_for(state.metadata, kind, slug, tenant):
            # Never act on a room that does not say it belongs to this entity and tenant.
            raise Refused(f"room {room_id} metadata {state.metadata!r} does not match "
                          f"{kind} {slug!r} of tenant {tenant!r}")
        if full:
            scope = set(members) | set(state.memberships)
        await self._refresh_accounts(tenant, [m for u, m in members.items()
                                              if u in scope and not m.matrix_ready])
        members = self.members(tenant, kind, slug)

        desired = desired_levels(kind, members.values(), cfg.policy)
        new_pl = plan_power_levels(state, desired, bot_id, cfg.policy,
                                   scope=None if full else scope)
        if new_pl is not None:
            self._fence(lease)
            await self.bot.ok("write power levels", "PUT",
                              f"/_matrix/client/v3/rooms/{_q(room_id)}/state/m.room.power_levels/",
                              new_pl)
        self.fault("after_power_levels")
        encryption = plan_encryption(state, bool(entity.get("encrypted"))) if full else None
        if encryption is not None:
            # The organizer turned the setting on for an existing room (one-way).
            self._fence(lease)
            await self.bot.ok("turn on encryption", "PUT",
                              f"/_matrix/client/v3/rooms/{_q(room_id)}/state/m.room.encryption/",
                              encryption)
        actions, _waiting = plan_memberships(state, members, scope, bot_id, full=full)
        failures: dict[str, Outcome] = {}
        sem = asyncio.Semaphore(self.membership_concurrency)

        async def act(a):
            async with sem:
                self._fence(lease)
                r = await self.bot.membership(room_id, a.kind, a.user_id)
                if not r.outcome.ok:
                    failures[a.user_id] = r.outcome

        # Bans, kicks and unbans before invites: an unban must precede the re-invite.
        first = [a for a in actions if a.kind != "invite"]
        invites = [a for a in actions if a.kind == "invite"]
        for batch in (first, invites):
            for i in range(0, len(batch), 64):
                done = await asyncio.gather(*(act(a) for a in batch[i:i + 64]),
                                            return_exceptions=True)
                # Every action has settled (none is left writing behind our back); the first
                # error, a lost lease or a bug, ends the run.
                err = next((e for e in done if isinstance(e, BaseException)), None)
                if err is not None:
                    raise err
        results: dict[int, Outcome] = {}
        for item in items:
            if item["user_slug"]:
                uid = matrix_user_id(item["user_slug"], tenant, cfg.server_name)
                if uid in failures:
                    results[item["id"]] = failures[uid]
            elif failures and item["op"] == outbox.SYNC_ROOM:
                worst = next(iter(failures.values()))
                results[item["id"]] = worst
        return results

    async def _read_partial_state(self, room_id: str, users: set[str]) -> RoomState | None:
        """The state a per-user change needs, without the whole room: the create event (room
        version and creators, immutable, so cached), power levels, metadata and the users'
        member events, read in parallel. A room of thousands of members costs the same as a
        room of two. None when the homeserver cannot give whole events (then read it all)."""
        base = f"/_matrix/client/v3/rooms/{_q(room_id)}/state"
        wanted = [("m.room.power_levels", ""), (ROOM_METADATA_TYPE, "")] + \
            [("m.room.member", u) for u in sorted(users)]
        create = self._create_events.get(room_id)
        if create is None:
            wanted.append(("m.room.create", ""))
        replies = await asyncio.gather(*(
            self.bot.call("GET", f"{base}/{_q(t)}/{_q(k)}?format=event") for t, k in wanted))
        events = [] if create is None else [create]
        for (t, k), r in zip(wanted, replies):
            if r.status == 404:
                continue  # no such state: no metadata, no membership
            if not r.outcome.ok:
                raise MatrixCallError(f"read room state {t}", r.outcome)
            if not isinstance(r.body, dict) or r.body.get("type") != t:
                return None  # only the content came back (format=event unsupported)
            events.append(r.body)
        if create is None:
            create = next((e for e in events if e["type"] == "m.room.create"), None)
            if create is None:
                return None
            if len(self._create_events) >= 10_000:
                self._create_events.clear()  # a bound, not an LRU: re-reading is only slower
            self._create_events[room_id] = create
        return RoomState.from_events(events)

    async def _ensure_room(self, entity: dict, members: dict[str, Member], lease: Lease
                           ) -> tuple[str, RoomState | None]:
        """The entity's room id, created or adopted; with the room's state when we know it
        without asking (we just created it), saving a round trip."""
        tenant, kind, slug = entity["tenant"], entity["kind"], entity["slug"]
        cfg = self.config
        ready = [m for m in members.values() if m.matrix_ready]
        levels = desired_levels(kind, ready, cfg.policy)
        body = create_room_body(kind, slug, tenant, entity["name"], entity["description"],
                                entity["created_by"], levels, cfg.policy, cfg.rooms,
                                encrypted=bool(entity.get("encrypted")))
        # Members known at creation are invited by createRoom itself: one request, not N.
        invite = sorted(m.user_id for m in ready if m.role != BANNED)
        body["invite"] = invite
        self._fence(lease)
        r = await self.bot.create_room(body)
        known: RoomState | None = None
        if r.outcome.ok and cfg.rooms.room_version not in CREATOR_POWER_VERSIONS:
            room_id = r.body["room_id"]  # older versions: the bot's own level is Synapse's pick
        elif r.outcome.ok:
            room_id = r.body["room_id"]
            bot = cfg.bot_user_id
            known = RoomState(
                cfg.rooms.room_version, frozenset({bot}),
                {**body["power_level_content_override"], "users": levels},
                {bot: ("join", bot), **{u: ("invite", bot) for u in invite}},
                next(e["content"] for e in body["initial_state"]
                     if e["type"] == ROOM_METADATA_TYPE),
                next((e["content"] for e in body["initial_state"]
                      if e["type"] == "m.room.encryption"), None))
        elif isinstance(r.body, dict) and r.body.get("errcode") == "M_ROOM_IN_USE":
            # A previous run created it and died before recording it: adopt, never duplicate.
            alias = room_alias(kind, slug, tenant, cfg.server_name)
            room_id = (await self.bot.ok("resolve alias", "GET",
                                         f"/_matrix/client/v3/directory/room/{_q(alias)}"))["room_id"]
            st = await self.bot.state(room_id)
            meta = RoomState.from_events(st.body).metadata if st.outcome.ok else None
            if not metadata_is_for(meta, kind, slug, tenant):
                raise Refused(f"alias {alias} is taken by room {room_id}, which is not this "
                              f"{kind}'s room")
        else:
            raise MatrixCallError("create room", r.outcome)
        self.fault("after_create_room")
        with self.store.tx() as c:
            outbox.check(c, lease)
            c.execute("UPDATE entities SET matrix_room_id = ? WHERE tenant = ? AND kind = ? AND "
                      "slug = ? AND matrix_room_id IS NULL", (room_id, tenant, kind, slug))
        return room_id, known

    # -- accounts that appear later --------------------------------------------------------
    async def _refresh_accounts(self, tenant: str, waiting: list[Member]) -> list[str]:
        found = []
        for m in waiting:
            if await self.bot.user_exists(m.user_id):
                found.append(m.user_id)
        for uid in found:
            slug = split_user_id(uid)[0].rpartition("_")[0]
            self.store.execute("UPDATE users SET matrix_ready = 1 WHERE tenant = ? AND slug = ?",
                               (tenant, slug))
        return found

    async def check_waiting_accounts(self, limit: int = 100) -> int:
        """Users with memberships but no Matrix account yet: if the account exists now, mark it
        and queue their rooms, so pending invites are applied without any hook."""
        from pyapp.platform.service import queue_user_rooms

        rows = self.store.all(
            "SELECT DISTINCT u.tenant, u.slug FROM users u JOIN memberships m ON m.tenant = "
            "u.tenant AND m.user_slug = u.slug WHERE u.matrix_ready = 0 LIMIT ?", (limit,))
        n = 0
        for r in rows:
            uid = matrix_user_id(r["slug"], r["tenant"], self.config.server_name)
            if await self.bot.user_exists(uid):
                with self.store.tx() as c:
                    c.execute("UPDATE users SET matrix_ready = 1 WHERE tenant = ? AND slug = ?",
                              (r["tenant"], r["slug"]))
                    queue_user_rooms(c, r["tenant"], r["slug"])
                n += 1
        if n:
            self.wake()
        return n


def _q(s: str) -> str:
    from urllib.parse import quote
    return quote(s, safe="")
