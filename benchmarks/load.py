"""Load test: many simulated members chatting in event rooms while two real browsers chat and
measure their latency. Loopback only, bounded in count and time; stops by itself.

    .venv/bin/python benchmarks/load.py [--members 200] [--rooms 20] [--duration 120]
        [--interval 45] [--jitter 0.33] [--idle-samples 20] [--append]

What it does, on one machine:
1. Starts the demo stack as the tests do (pyapp.server.stack: Synapse, platform, orchestrator,
   web server with the same-origin proxy), password mode, in a temporary folder.
2. Creates --members platform users with Matrix accounts (shared-secret registration) and
   --rooms events through the platform API; each member attends one event through the
   platform API, so the orchestrator invites it. Browser users alice and bob attend the first.
3. Starts the load generator in its own process (so its CPU is its own and does not compete
   with the stack for one interpreter): one asyncio loop, one aiohttp client per member,
   each member joins its room and long-polls /sync through the same-origin proxy (--via).
4. Two Chromium pages (Playwright) open the first event's page as alice and bob and measure
   Enter pressed in one -> text rendered in the other, both ways: first with the members
   online but quiet (idle), then while every member sends one message every --interval
   seconds (+- --jitter) for --duration seconds.
5. Each load message carries a unique id. After the sends, every member (and both browsers)
   must have received every message of its room exactly once; the generator backfills
   /messages after a limited (gapped) sync, as a client must.
6. Every few seconds during the run: health of Synapse, the proxy and the platform, and an
   orchestrator probe (a role change through the platform API, applied to the room).

Prints the figures with the machine; --append writes them into docs/benchmarks.md as the
"Latest run" of its "Load" section (replacing the previous run; the rest stays). Exit status
1 if a message was lost or duplicated, a service failed a check, or a browser sample failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlsplit

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.load_ledger import (Ledger, backfill_events, message_body,  # noqa: E402
                                    send_times, uid_of)

LOOPBACK = {"127.0.0.1", "localhost"}
ORGANIZER = "loadorg"
ROOM_SLUG = "load-{:02d}"
SYNC_TIMEOUT_MS = 30_000
# Members see their room's messages and state; typing and receipts are the browsers' business.
MEMBER_FILTER = json.dumps({
    "room": {"timeline": {"limit": 50}, "state": {"lazy_load_members": True},
             "ephemeral": {"not_types": ["*"]}, "account_data": {"not_types": ["*"]}},
    "presence": {"not_types": ["*"]}, "account_data": {"not_types": ["*"]}})
LIMITS = {"members": (1, 1000), "rooms": (1, 100), "duration": (1, 1800)}


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def p50_p95(values: list[float], unit: str = "ms") -> str:
    if not values:
        return "no samples"
    return (f"p50 {statistics.median(values):.0f} {unit}, p95 {pct(values, 0.95):.0f} {unit} "
            f"(n={len(values)})")


# == the load generator (a child process) ==================================================
async def retry_after(response) -> float:
    """Seconds a refused request should wait (429/503 from Synapse or the proxy), else 1."""
    try:
        return max(0.1, (await response.json()).get("retry_after_ms", 1000) / 1000)
    except (aiohttp.ClientError, ValueError, AttributeError, OSError):
        return 1.0


class Member:
    def __init__(self, gen: "Generator", index: int, spec: dict):
        self.gen, self.index = gen, index
        self.name, self.room_id, self.token = spec["name"], spec["room_id"], spec["token"]
        self.headers = {"Authorization": f"Bearer {self.token}"}
        self.since: str | None = None
        self.retry_s = 1.0  # after a failed sync: the server's Retry-After, else 1 s
        self.known: set[str] = set()  # event ids seen, to stop backfilling

    def url(self, path: str) -> str:
        return self.gen.hs + path

    async def join(self) -> None:
        async with self.gen.http.post(self.url(f"/_matrix/client/v3/join/{quote(self.room_id)}"),
                                      json={}, headers=self.headers) as r:
            if r.status != 200:
                raise RuntimeError(f"{self.name} join: {r.status} {await r.text()}")

    async def first_sync(self) -> None:
        body = await self._sync({"filter": MEMBER_FILTER})
        if body is None:
            raise RuntimeError(f"{self.name}: first sync failed")
        self._take(body, backfill=False)

    async def _sync(self, params: dict) -> dict | None:
        try:
            async with self.gen.http.get(self.url("/_matrix/client/v3/sync"), params=params,
                                         headers=self.headers) as r:
                if r.status == 200:
                    return await r.json()
                self.gen.count("sync_errors", f"HTTP {r.status}")
                self.retry_s = await retry_after(r)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError) as e:
            self.gen.count("sync_errors", type(e).__name__)
            self.retry_s = 1.0
        return None

    def _take(self, body: dict, backfill: bool) -> list[dict] | None:
        """Record a sync's events; returns the timeline if it was limited (gapped)."""
        self.since = body["next_batch"]
        room = ((body.get("rooms") or {}).get("join") or {}).get(self.room_id)
        if not room:
            return None
        timeline = room.get("timeline") or {}
        events = timeline.get("events") or []
        gapped = backfill and timeline.get("limited")
        if not gapped:
            self._record(events)
        return timeline if gapped else None

    def _record(self, events: list[dict]) -> None:
        now = time.monotonic()
        for e in events:
            self.known.add(e.get("event_id"))
            uid = uid_of(e)
            if uid is not None:
                self.gen.ledger.record_received(self.name, uid)
                started = self.gen.send_started.get(uid)
                if started is not None:
                    self.gen.delivery_ms.append((now - started) * 1000)

    async def sync_forever(self) -> None:
        while True:
            body = await self._sync({"since": self.since, "timeout": str(SYNC_TIMEOUT_MS),
                                     "filter": MEMBER_FILTER})
            if body is None:
                await asyncio.sleep(self.retry_s)
                continue
            gapped = self._take(body, backfill=True)
            if gapped is not None:
                self.gen.count("limited_syncs")
                events = gapped.get("events") or []
                older = await self._backfill(gapped.get("prev_batch"),
                                             {e.get("event_id") for e in events})
                self._record(older + events)

    async def _backfill(self, token: str | None, in_chunk: set[str]) -> list[dict]:
        """The events between what we had and a limited sync's timeline, oldest first."""
        found: list[dict] = []
        for _ in range(50):
            if not token:
                break
            try:
                async with self.gen.http.get(
                        self.url(f"/_matrix/client/v3/rooms/{quote(self.room_id)}/messages"),
                        params={"from": token, "dir": "b", "limit": "100"},
                        headers=self.headers) as r:
                    if r.status != 200:
                        self.gen.count("backfill_errors", f"HTTP {r.status}")
                        await asyncio.sleep(1)
                        continue
                    page = await r.json()
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError) as e:
                self.gen.count("backfill_errors", type(e).__name__)
                await asyncio.sleep(1)
                continue
            chunk = [e for e in page.get("chunk") or [] if e.get("event_id") not in in_chunk]
            new, done = backfill_events(chunk, self.known)
            found.extend(new)
            token = page.get("end")
            if done or not page.get("chunk"):
                break
        return list(reversed(found))

    async def speak(self, start: float, schedule: list[float]) -> None:
        for seq, at in enumerate(schedule):
            await asyncio.sleep(max(0.0, start + at - time.monotonic()))
            await self.send(f"{self.index}-{seq}")

    async def send(self, uid: str) -> None:
        """PUT with a transaction id; retried with the same id, so the server deduplicates."""
        ledger = self.gen.ledger
        t0 = self.gen.send_started[uid] = time.monotonic()
        url = self.url(f"/_matrix/client/v3/rooms/{quote(self.room_id)}/send/"
                       f"m.room.message/load{uid}")
        for attempt in range(4):
            try:
                async with self.gen.http.put(url, json={"msgtype": "m.text",
                                                        "body": message_body(uid)},
                                             headers=self.headers) as r:
                    if r.status == 200:
                        ledger.record_sent(uid, self.room_id)
                        self.gen.ack_ms.append((time.monotonic() - t0) * 1000)
                        return
                    self.gen.count("send_errors", f"HTTP {r.status}")
                    wait = max(await retry_after(r), 1.0 + attempt)
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as e:
                self.gen.count("send_errors", type(e).__name__)
                wait = 1.0 + attempt
            await asyncio.sleep(wait)
        ledger.record_unacknowledged(uid, self.room_id)


class Generator:
    def __init__(self, plan: dict):
        self.plan = plan
        self.hs = plan["homeserver"]
        self.ledger = Ledger()
        self.send_started: dict[str, float] = {}
        self.ack_ms: list[float] = []
        self.delivery_ms: list[float] = []
        self.counters: dict[str, int] = {}
        self.reasons: dict[str, int] = {}
        self.members = [Member(self, i, m) for i, m in enumerate(plan["members"])]
        for m in self.members:
            self.ledger.add_client(m.name, m.room_id)

    def count(self, what: str, reason: str | None = None) -> None:
        self.counters[what] = self.counters.get(what, 0) + 1
        if reason:
            key = f"{what}: {reason}"
            self.reasons[key] = self.reasons.get(key, 0) + 1

    @staticmethod
    def emit(kind: str, data: dict) -> None:
        print(kind, json.dumps(data), flush=True)

    async def run(self) -> None:
        p = self.plan
        limit = asyncio.Semaphore(8)  # setup requests in flight at once

        async def limited(coro):
            async with limit:
                return await coro

        # No connection cap: every member keeps a long-poll open and may send meanwhile.
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=SYNC_TIMEOUT_MS / 1000 + 60))
        syncs: list[asyncio.Task] = []
        try:
            t0 = time.monotonic()
            await asyncio.gather(*(limited(m.join()) for m in self.members))
            await asyncio.gather(*(limited(m.first_sync()) for m in self.members))
            syncs = [asyncio.create_task(m.sync_forever()) for m in self.members]
            self.emit("READY", {"setup_s": time.monotonic() - t0})
            line = await asyncio.wait_for(
                asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline),
                p["wait_for_go"])
            if line.strip() != "GO":
                return  # the runner went away
            rng = random.Random(p["seed"])
            start = time.monotonic()
            cpu0 = time.process_time()
            await asyncio.gather(*(m.speak(start, send_times(p["duration"], p["interval"],
                                                             p["jitter"], rng))
                                   for m in self.members))
            sending_s = time.monotonic() - start
            drain0 = time.monotonic()
            while not self.ledger.complete() and time.monotonic() - drain0 < p["drain_timeout"]:
                await asyncio.sleep(0.1)
            wall = time.monotonic() - start
            cpu = time.process_time() - cpu0
            self.emit("RESULT", {
                **self.ledger.report(), "sending_s": sending_s,
                "drain_s": time.monotonic() - drain0, "cpu_s": cpu, "wall_s": wall,
                "ack_ms": self.ack_ms, "delivery_ms": self.delivery_ms,
                "counters": self.counters, "reasons": self.reasons,
                "sent_by_room": {room: sorted(u for u, r in self.ledger.sent.items() if r == room)
                                 for room in {m.room_id for m in self.members}},
            })
        finally:
            for t in syncs:
                t.cancel()
            await asyncio.gather(*syncs, return_exceptions=True)
            await self.http.close()


def generator_main(plan_file: str) -> None:
    plan = json.loads(Path(plan_file).read_text())
    asyncio.run(Generator(plan).run())


# == the runner: stack, accounts, browsers, health ========================================
def cpu_ticks(pid: int, tid: int | None = None) -> int:
    """utime + stime of a process (or one of its threads), in clock ticks."""
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    try:
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def process_tree(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parents[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return tree


def machine_busy_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU used by each part between start() and stop(), in % of one core."""

    def __init__(self, parts: dict[str, callable]):
        self.parts = parts

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.before = {k: f() for k, f in self.parts.items()}
        self.busy0 = machine_busy_ticks()

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self.t0
        hz = os.sysconf("SC_CLK_TCK")
        out = {k: (f() - self.before[k]) / hz / wall * 100 for k, f in self.parts.items()}
        busy1 = machine_busy_ticks()
        out["machine"] = ((busy1[0] - self.busy0[0]) / max(1, busy1[1] - self.busy0[1])
                          * 100 * (os.cpu_count() or 1))
        return out


def http(method: str, url: str, body=None, cookie: str | None = None,
         timeout: float = 30) -> tuple[int, dict]:
    req = urllib.request.Request(url, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if cookie:
        req.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read())
        except ValueError:
            return e.code, {}


class Health:
    """Checks every few seconds in a thread: each service answers, and the orchestrator
    applies a role change made through the platform API."""

    def __init__(self, stack, cookie: str, probe_room: str, probe_member: str, every: float):
        self.stack, self.cookie, self.every = stack, cookie, every
        self.probe = f"{stack.url}/api/events/{probe_room}/attendees/{probe_member}/role"
        self.results: dict[str, list[bool]] = {k: [] for k in
                                               ("synapse", "proxy", "platform", "orchestrator")}
        self.failures: list[str] = []
        self.probe_ms: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._role = "organizer"

    def _check(self, name: str, fn) -> None:
        try:
            ok, detail = fn()
        except (OSError, ValueError) as e:
            ok, detail = False, f"{type(e).__name__}: {e}"
        self.results[name].append(ok)
        if not ok:
            self.failures.append(f"{time.strftime('%H:%M:%S')} {name}: {detail}")

    def once(self) -> None:
        s = self.stack
        self._check("synapse", lambda: (
            s.synapse.process.poll() is None
            and http("GET", s.synapse.base_url + "/_matrix/client/versions", timeout=10)[0] == 200,
            "not answering"))
        self._check("proxy", lambda: (
            http("GET", s.url + "/_matrix/client/versions", timeout=10)[0] == 200, "not answering"))
        self._check("platform", lambda: (
            http("GET", s.url + "/api/me", cookie=self.cookie, timeout=10)[0] == 200,
            "not answering"))
        self._check("orchestrator", self._probe)

    def _probe(self) -> tuple[bool, str]:
        t0 = time.monotonic()
        status, body = http("PUT", self.probe, {"role": self._role}, cookie=self.cookie)
        applied = status == 200 and body.get("matrix", {}).get("status") == "applied"
        if applied:
            self.probe_ms.append((time.monotonic() - t0) * 1000)
            self._role = "attendee" if self._role == "organizer" else "organizer"
        return applied, f"role change: {status} {body}"

    def _run(self) -> None:
        while not self._stop.is_set():
            self.once()
            self._stop.wait(self.every)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)

    def summary(self) -> str:
        parts = [f"{k} {sum(v)}/{len(v)}" for k, v in self.results.items()]
        return (", ".join(parts) + f"; the orchestrator probe (role change through the API, "
                f"applied to the room) {p50_p95(self.probe_ms)}")

    def all_ok(self) -> bool:
        return all(v and all(v) for v in self.results.values())


# -- browsers ------------------------------------------------------------------------------
INSTRUMENT = """() => {
    window.__seen = {}; window.__sent = {};
    const scan = () => {
        for (const el of document.querySelectorAll('om-chat .omc-body')) {
            const t = el.textContent;
            if ((t.startsWith('lat-') || t.startsWith('load ')) && !(t in window.__seen))
                window.__seen[t] = Date.now();
        }
    };
    new MutationObserver(scan).observe(document.body,
        {subtree: true, childList: true, characterData: true});
    scan();
    document.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' && !e.shiftKey && e.target.tagName === 'TEXTAREA')
            window.__sent[e.target.value] = Date.now();
    }, true);
}"""
COUNT_LOAD = """() => {
    const dom = {};
    for (const el of document.querySelectorAll('om-chat .omc-body')) {
        const t = el.textContent;
        if (t.startsWith('load ')) dom[t] = (dom[t] || 0) + 1;
    }
    return {seen: Object.keys(window.__seen).filter((t) => t.startsWith('load ')), dom};
}"""


def latency_sample(a, b, composer: str) -> float:
    """Enter in page a -> the text rendered in page b, in ms (both clocks: this machine's)."""
    text = f"lat-{time.time_ns()}"
    a.locator(composer).fill(text)
    # As when a person types: the "is typing" notice has reached b before Enter.
    b.wait_for_function("() => /typing/.test(document.querySelector('om-chat .omc-typing')"
                        "?.textContent || '')", timeout=30_000)
    a.locator(composer).press("Enter")
    b.wait_for_function("(t) => t in window.__seen", arg=text, timeout=30_000)
    return float(b.evaluate("(t) => window.__seen[t]", text)
                 - a.evaluate("(t) => window.__sent[t]", text))


def sample_pairs(a, b, composer: str, until, every: float, out: list[float],
                 failures: list[str]) -> None:
    """Both directions, one pair every `every` seconds (paced, as people chat), until until()."""
    while not until():
        t0 = time.monotonic()
        for x, y in ((a, b), (b, a)):
            try:
                out.append(latency_sample(x, y, composer))
            except Exception as e:  # noqa: BLE001  (a Playwright timeout is a failed sample)
                failures.append(f"{type(e).__name__}: {str(e).splitlines()[0][:200]}")
        time.sleep(max(0.0, every - (time.monotonic() - t0)))  # pacing, not synchronisation


# -- setup through the platform -------------------------------------------------------------
async def setup_platform(stack, runner, n_members: int, n_rooms: int, cookie_for) -> dict:
    """Accounts, events, attendance; returns {room slug: room id}, member specs, timings."""
    from pyapp.identity import matrix_localpart
    from pyapp.platform.service import Platform

    tenant = stack.options.tenant
    names = [f"lm{i:04d}" for i in range(n_members)]
    timings = {}

    async def create_users():
        p = Platform(stack.store)
        for slug in [ORGANIZER] + names:
            p.create_user(tenant, slug, f"Load {slug}", matrix_ready=True)

    t0 = time.monotonic()
    runner.call(create_users())
    # Matrix accounts through shared-secret registration, a few at once.
    loop = asyncio.get_running_loop()
    sem = asyncio.Semaphore(4)

    async def register(slug):
        async with sem:
            return await loop.run_in_executor(None, stack.synapse.register_user,
                                              matrix_localpart(slug, tenant), "load-password")

    logins = await asyncio.gather(*(register(s) for s in [ORGANIZER] + names))
    tokens = {s: r["access_token"] for s, r in zip([ORGANIZER] + names, logins)}
    timings["accounts_s"] = time.monotonic() - t0

    rooms: dict[str, str] = {}
    async with aiohttp.ClientSession() as s:
        t0 = time.monotonic()
        for r in range(n_rooms):
            slug = ROOM_SLUG.format(r)
            async with s.post(stack.url + "/api/events", json={"slug": slug,
                              "name": f"Load event {r}"},
                              headers={"Cookie": cookie_for(ORGANIZER)}) as resp:
                body = await resp.json()
                if resp.status != 201:
                    raise RuntimeError(f"creating {slug}: {resp.status} {body}")
                rooms[slug] = body["matrix_room_id"]
        timings["rooms_s"] = time.monotonic() - t0

        t0 = time.monotonic()
        attendees = [(ROOM_SLUG.format(i % n_rooms), slug) for i, slug in enumerate(names)]
        attendees += [(ROOM_SLUG.format(0), u) for u in ("alice", "bob")]

        async def attend(room_slug, user):
            async with sem:
                async with s.post(f"{stack.url}/api/events/{room_slug}/attend",
                                  headers={"Cookie": cookie_for(user)}) as resp:
                    body = await resp.json()
                    if resp.status != 200:
                        raise RuntimeError(f"{user} attending {room_slug}: {resp.status} {body}")

        await asyncio.gather(*(attend(r, u) for r, u in attendees))
        timings["attend_s"] = time.monotonic() - t0
    members = [{"name": slug, "room_id": rooms[ROOM_SLUG.format(i % n_rooms)],
                "token": tokens[slug]} for i, slug in enumerate(names)]
    return {"rooms": rooms, "members": members, "timings": timings}


class GeneratorProcess:
    def __init__(self, plan: dict, workdir: Path):
        plan_file = workdir / "plan.json"
        plan_file.write_text(json.dumps(plan))
        self.stderr = open(workdir / "generator.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--generator", str(plan_file)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.messages: dict[str, dict] = {}
        self._got = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            kind, _, data = line.partition(" ")
            with self._got:
                self.messages[kind] = json.loads(data) if data.strip() else {}
                self._got.notify_all()
        with self._got:
            self.messages.setdefault("EXIT", {})
            self._got.notify_all()

    def wait(self, kind: str, timeout: float) -> dict:
        with self._got:
            if not self._got.wait_for(lambda: kind in self.messages or "EXIT" in self.messages,
                                      timeout):
                raise TimeoutError(f"the load generator did not report {kind} in {timeout:.0f} s")
            if kind not in self.messages:
                raise RuntimeError(f"the load generator exited ({self.proc.poll()}) before {kind}; "
                                   f"see {self.stderr.name}")
            return self.messages[kind]

    def go(self) -> None:
        self.proc.stdin.write("GO\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)
        self.stderr.close()


def run(args) -> tuple[list[str], bool]:
    from playwright.sync_api import sync_playwright

    from benchmarks.chat import (CHROMIUM, CHROMIUM_ARGS, COMPOSER, READY, chat_ready_ms,
                                 signed_in_context)
    from pyapp.platform.api import COOKIE
    from pyapp.platform.sessions import Sessions
    from pyapp.server.process import persistent_secret
    from pyapp.server.stack import StackOptions
    from tests.support.stack_thread import StackThread

    workdir = Path(tempfile.mkdtemp(prefix="bench-load-"))
    runner = StackThread(StackOptions.for_tests(workdir / "stack", auth="password"))
    stack = runner.start()
    gen = None
    health = None
    try:
        for url in (stack.url, stack.synapse.base_url):
            assert urlsplit(url).hostname in LOOPBACK, url
        runner.call(stack.orchestrator.drain())
        sessions = Sessions(stack.store,
                            persistent_secret(stack.data_dir / "session-secret").encode())
        tenant = stack.options.tenant
        cookies: dict[str, str] = {}

        async def new_session(user: str) -> str:
            return sessions.create(tenant, user)

        def cookie_for(user: str) -> str:
            # Sessions as a signed-in browser holds them, made in the platform's store (on
            # the stack's thread, which owns the connection): a password check per member
            # would only slow the setup.
            if user not in cookies:
                cookies[user] = f"{COOKIE}={runner.call(new_session(user))}"
            return cookies[user]

        setup = asyncio.run(setup_platform(stack, runner, args.members, args.rooms, cookie_for))
        hs = stack.url if args.via == "proxy" else stack.synapse.base_url
        plan = {"homeserver": hs, "members": setup["members"], "duration": args.duration,
                "interval": args.interval, "jitter": args.jitter, "seed": args.seed,
                "drain_timeout": args.drain_timeout, "wait_for_go": 900}
        t0 = time.monotonic()
        gen = GeneratorProcess(plan, workdir)
        ready = gen.wait("READY", 600)
        setup["timings"]["online_s"] = time.monotonic() - t0

        stack_tid = runner._thread.native_id
        main_pid = os.getpid()
        meter = CpuMeter({
            "generator": lambda: cpu_ticks(gen.proc.pid),
            "synapse": lambda: cpu_ticks(stack.synapse.process.pid),
            "stack": lambda: cpu_ticks(main_pid, stack_tid),
            "runner": lambda: cpu_ticks(main_pid) - cpu_ticks(main_pid, stack_tid),
            "browsers": lambda: sum(cpu_ticks(p) for p in process_tree(main_pid)
                                    if p not in (main_pid, gen.proc.pid)
                                    and p != stack.synapse.process.pid),
        })
        probe_member = f"lm{args.rooms - 1:04d}"  # attends the last room, not the browsers'
        health = Health(stack, cookie_for(ORGANIZER), ROOM_SLUG.format(args.rooms - 1),
                        probe_member, args.health_every)
        health.start()

        idle: list[float] = []
        busy: list[float] = []
        failures: list[str] = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                url = f"{stack.url}/event.html?slug={ROOM_SLUG.format(0)}"
                a = signed_in_context(browser, stack, "alice").new_page()
                b = signed_in_context(browser, stack, "bob").new_page()
                for page in (a, b):
                    chat_ready_ms(page, url)
                    page.evaluate(INSTRUMENT)
                latency_sample(a, b, COMPOSER)  # warm-up, not counted

                def idle_done():
                    return len(idle) + len(failures) >= 2 * args.idle_samples

                sample_pairs(a, b, COMPOSER, idle_done, args.sample_every, idle, failures)
                idle_failures = len(failures)
                meter.start()
                gen.go()
                load_start = time.monotonic()
                sample_pairs(a, b, COMPOSER,
                             lambda: time.monotonic() - load_start >= args.duration,
                             args.sample_every, busy, failures)
                result = gen.wait("RESULT", args.duration + args.drain_timeout + 120)
                cpu = meter.stop()
                room0 = setup["rooms"][ROOM_SLUG.format(0)]
                want = [message_body(u) for u in result["sent_by_room"].get(room0, [])]
                browser_counts = []
                for page in (a, b):
                    try:
                        page.wait_for_function(
                            "(want) => want.every((t) => t in window.__seen)", arg=want,
                            timeout=args.drain_timeout * 1000)
                    except Exception:  # noqa: BLE001  (counted below as lost)
                        pass
                    c = page.evaluate(COUNT_LOAD)
                    browser_counts.append({
                        "expected": len(want), "lost": len(set(want) - set(c["seen"])),
                        "duplicated": sum(1 for v in c["dom"].values() if v > 1)})
            finally:
                browser.close()
        health.stop()
        health.once()  # and once more after the load
    finally:
        if health is not None:
            health.stop()
        if gen is not None:
            gen.stop()
        runner.stop()
    shutil.rmtree(workdir, ignore_errors=True)  # kept (generator.log, Synapse's log) on errors

    per_room = args.members / args.rooms
    target_rate = args.members / args.interval
    sent_rate = result["sent"] / result["sending_s"]
    c = result["counters"]
    lost = result["lost"] + sum(b["lost"] for b in browser_counts)
    dup = result["duplicated"] + sum(b["duplicated"] for b in browser_counts)
    ok = (lost == 0 and dup == 0 and not failures and health.all_ok()
          and result["unacknowledged"] == 0 and result["unexpected"] == 0)
    t = setup["timings"]
    lines = [
        f"- Configuration: {args.members} members in {args.rooms} event rooms "
        f"({per_room:.0f} per room), each sending one message every {args.interval:.0f} s "
        f"+-{args.jitter * 100:.0f}% for {args.duration:.0f} s, syncing through "
        f"{'the same-origin proxy' if args.via == 'proxy' else 'Synapse directly'}; "
        f"browsers alice and bob on the page of the first event (a loaded room)",
        f"- Setup: {args.members + 1} Matrix accounts {t['accounts_s']:.1f} s, {args.rooms} events "
        f"through the platform API {t['rooms_s']:.1f} s, {args.members + 2} attendances "
        f"(orchestrator invites) {t['attend_s']:.1f} s, members joined and synced "
        f"{t['online_s']:.1f} s",
        f"- Browser latency, Enter in one -> rendered in the other, both directions, one pair "
        f"per {args.sample_every:.0f} s: idle (members online, quiet) {p50_p95(idle)}; under "
        f"load {p50_p95(busy)}; failed samples {len(failures)}"
        + (f" ({idle_failures} idle)" if failures else ""),
        f"- Sent {result['sent']} messages in {result['sending_s']:.0f} s: {sent_rate:.2f} msg/s "
        f"(target {target_rate:.2f}); server acknowledged {p50_p95(result['ack_ms'])}; "
        f"unacknowledged {result['unacknowledged']}",
        f"- Members: {result['deliveries']}/{result['expected_deliveries']} deliveries, "
        f"lost {result['lost']}, duplicated {result['duplicated']}, unexpected "
        f"{result['unexpected']}; send -> received by each member "
        f"{p50_p95(result['delivery_ms'])}; "
        f"limited syncs backfilled {c.get('limited_syncs', 0)}, sync errors "
        f"{c.get('sync_errors', 0)}, send errors (retried) {c.get('send_errors', 0)}",
        "- Browsers (room " + ROOM_SLUG.format(0) + "): " + "; ".join(
            f"{who} lost {b['lost']}/{b['expected']}, duplicated {b['duplicated']}"
            for who, b in zip(("alice", "bob"), browser_counts)),
        f"- Health every {args.health_every:.0f} s and once after: {health.summary()}",
        f"- CPU during the load (% of one core; {os.cpu_count()} cores): load generator "
        f"{cpu['generator']:.0f}% (by its own count {result['cpu_s']:.1f} s CPU in "
        f"{result['wall_s']:.0f} s), Synapse {cpu['synapse']:.0f}%, stack thread (platform, "
        f"orchestrator, proxy, web) {cpu['stack']:.0f}%, this runner (Playwright) "
        f"{cpu['runner']:.0f}%, Chromium {cpu['browsers']:.0f}%; whole machine "
        f"{cpu['machine']:.0f}% (other users of the machine included)",
    ]
    if failures:
        lines.append("- Failed samples: " + "; ".join(sorted(set(failures))[:5]))
    if health.failures:
        lines.append("- Failed checks: " + "; ".join(health.failures[:5]))
    if result["reasons"]:
        lines.append("- Errors: " + ", ".join(f"{k} x{v}" for k, v in result["reasons"].items()))
    lines.append(f"- Verdict: {'PASS' if ok else 'FAIL'} (passing means: 0 lost, 0 duplicated, "
                 f"0 unacknowledged, every health check and browser sample succeeded)")
    return lines, ok


def bounded(name: str, kind=int):
    lo, hi = LIMITS[name]

    def parse(text: str):
        v = kind(text)
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"--{name} must be within {lo}..{hi}")
        return v
    return parse


LATEST = "### Latest run"


def with_latest_run(doc: str, figures: str) -> str:
    """docs/benchmarks.md with the "Load" section's latest run replaced by `figures`; the
    section's own text (how to run, how to read) and the other sections stay."""
    block = f"{LATEST}\n\n{figures.strip()}\n"
    start = doc.find("\n## Load\n")
    if start < 0:
        return doc.rstrip("\n") + "\n\n## Load\n\n" + block
    end = doc.find("\n## ", start + 1)
    end = len(doc) if end < 0 else end + 1
    section = doc[start + 1:end]
    at = section.find(LATEST)
    if at < 0:
        section = section.rstrip("\n") + "\n\n" + block
    else:
        after = section.find("\n### ", at + 1)
        rest = "" if after < 0 else "\n" + section[after + 1:]
        section = section[:at] + block + rest
    if end < len(doc) and not section.endswith("\n\n"):
        section = section.rstrip("\n") + "\n\n"
    return doc[:start + 1] + section + doc[end:]


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--generator":
        generator_main(sys.argv[2])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--members", type=bounded("members"), default=200)
    ap.add_argument("--rooms", type=bounded("rooms"), default=20)
    ap.add_argument("--duration", type=bounded("duration", float), default=120.0,
                    help="seconds of load")
    ap.add_argument("--interval", type=float, default=45.0,
                    help="mean seconds between one member's messages")
    ap.add_argument("--jitter", type=float, default=1 / 3,
                    help="each gap is interval * (1 +- jitter)")
    ap.add_argument("--idle-samples", type=int, default=20, help="per direction")
    ap.add_argument("--sample-every", type=float, default=1.0, help="seconds per latency pair")
    ap.add_argument("--via", choices=("proxy", "direct"), default="proxy")
    ap.add_argument("--health-every", type=float, default=5.0)
    ap.add_argument("--drain-timeout", type=float, default=60.0,
                    help="seconds to wait after the sends for every delivery")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--append", action="store_true")
    args = ap.parse_args()
    if args.rooms > args.members:
        ap.error("--rooms must not exceed --members")
    if args.interval < 1 or not 0 <= args.jitter < 1:
        ap.error("--interval must be >= 1 and --jitter within [0, 1)")

    from benchmarks.chat import chromium_version, machine

    load0 = os.getloadavg()
    lines, ok = run(args)
    load1 = os.getloadavg()
    head = (f"Machine: {machine()}, Chromium {chromium_version()}, {time.strftime('%Y-%m-%d')}; "
            f"1-min load average {load0[0]:.2f} before, {load1[0]:.2f} after")
    text = head + "\n" + "\n".join(lines)
    print(text)
    if args.append:
        doc = ROOT / "docs" / "benchmarks.md"
        doc.write_text(with_latest_run(doc.read_text() if doc.exists() else "# Benchmarks\n",
                                       text))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
