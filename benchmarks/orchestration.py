"""Orchestration benchmark: room creation through the platform API vs raw createRoom, role
change -> power level visible to a client, and 1,000 memberships applied in bulk.

    .venv/bin/python benchmarks/orchestration.py [--samples 30] [--bulk 1000] [--append]

Starts its own Synapse (SQLite) with the bot's registration in a temporary directory.
--append writes the results into docs/benchmarks.md as its "Orchestration" section (replacing
the previous one; other sections are left alone).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pyapp.identity import matrix_user_id  # noqa: E402
from pyapp.orchestrator.appservice import config_from_registration, ensure_registration  # noqa: E402
from pyapp.orchestrator.policy import PowerPolicy, RoomSettings, create_room_body  # noqa: E402
from pyapp.orchestrator.worker import Orchestrator  # noqa: E402
from pyapp.platform.api import add_platform_routes  # noqa: E402
from pyapp.platform.service import Platform  # noqa: E402
from pyapp.platform.store import Store  # noqa: E402
from pyapp.server.synapse import Synapse, SynapseOptions, free_port  # noqa: E402

PW = "bench-password"


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * len(xs) + 0.5) - 1))]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ms(x: float) -> str:
    return f"{x * 1000:.0f} ms"


async def run(samples: int, bulk: int, invite_concurrency: int = 2) -> list[str]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-orch-"))
    reg_path = tmp / "as.yaml"
    reg = ensure_registration(reg_path, "localhost")
    hs = Synapse(SynapseOptions(data_dir=tmp / "hs", port=free_port(),
                                app_service_files=[reg_path], access_token_lifetime=None))
    hs.start()
    store = Store.open(tmp / "platform.db")
    p = Platform(store)
    orch = Orchestrator(store, config_from_registration(reg, hs.base_url, "localhost"),
                        concurrency=2, membership_concurrency=invite_concurrency)
    app = web.Application()
    add_platform_routes(app, p, secret="bench", server_name="localhost", orchestrator=orch,
                        sync_timeout=30)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}"
    lines: list[str] = []
    try:
        orch.start()
        p.create_tenant("bench")
        for s in ("alice", "bob"):
            p.create_user("bench", s, password=PW, matrix_ready=True)
        alice = hs.register_user("alice_bench", PW)
        bob = hs.register_user("bob_bench", PW)
        as_h = {"Authorization": f"Bearer {reg['as_token']}"}
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            r = await http.post(base + "/api/session",
                                json={"tenant": "bench", "slug": "alice", "password": PW})
            assert r.status == 200, await r.text()

            async def state_exists(room_id: str) -> None:
                async with http.get(f"{hs.base_url}/_matrix/client/v3/rooms/{room_id}/state/"
                                    "com.openmeet.room.metadata/", headers=as_h) as r:
                    assert r.status == 200, await r.text()

            api, raw, exact = [], [], []
            for i in range(samples + 2):  # two warm-up rounds
                t0 = time.perf_counter()
                async with http.post(base + "/api/events",
                                     json={"slug": f"ev{i}", "name": f"Event {i}"}) as r:
                    body = await r.json()
                    assert r.status == 201, body
                await state_exists(body["matrix_room_id"])
                t1 = time.perf_counter()
                rb = create_room_body("event", f"raw{i}", "bench", f"Raw {i}", "", "alice",
                                      {matrix_user_id("alice", "bench", "localhost"): 75},
                                      PowerPolicy(), RoomSettings())
                rb.pop("room_alias_name")
                async with http.post(hs.base_url + "/_matrix/client/v3/createRoom", json=rb,
                                     headers=as_h) as r:
                    assert r.status == 200
                t2 = time.perf_counter()
                # The exact request the bot sends: with the alias and the creator's invite.
                eb = create_room_body("event", f"exact{i}", "bench", f"Exact {i}", "", "alice",
                                      {matrix_user_id("alice", "bench", "localhost"): 75},
                                      PowerPolicy(), RoomSettings())
                eb["invite"] = [matrix_user_id("alice", "bench", "localhost")]
                async with http.post(hs.base_url + "/_matrix/client/v3/createRoom", json=eb,
                                     headers=as_h) as r:
                    assert r.status == 200
                t3 = time.perf_counter()
                if i >= 2:
                    api.append(t1 - t0)
                    raw.append(t2 - t1)
                    exact.append(t3 - t2)
            lines.append(f"- Room creation, platform API -> room exists with its state (n={samples}): "
                         f"p50 {ms(pct(api, 50))}, p95 {ms(pct(api, 95))}")
            lines.append(f"- Raw createRoom, same body, same Synapse, same run (n={samples}): "
                         f"p50 {ms(pct(raw, 50))}, p95 {ms(pct(raw, 95))}")
            lines.append(f"- Raw createRoom with the alias and the creator's invite (the bot's exact "
                         f"request), same run (n={samples}): "
                         f"p50 {ms(pct(exact, 50))}, p95 {ms(pct(exact, 95))}")

            # Role change -> the new level visible to bob's own client.
            r = await http.post(base + "/api/events/ev0/attend")
            p.join("bench", "event", "ev0", "bob")
            orch.wake()
            await orch.drain()
            room = p.entity("bench", "event", "ev0")["matrix_room_id"]
            bob_h = {"Authorization": f"Bearer {bob['access_token']}"}
            async with http.post(f"{hs.base_url}/_matrix/client/v3/join/{room}", json={},
                                 headers=bob_h) as r:
                assert r.status == 200, await r.text()
            bob_id = matrix_user_id("bob", "bench", "localhost")
            roles = ["organizer", "attendee"]
            lat = []
            for i in range(samples):
                role = roles[i % 2]
                want = 50 if role == "organizer" else None
                t0 = time.perf_counter()
                async with http.put(base + f"/api/events/ev0/attendees/bob/role",
                                    json={"role": role}) as r:
                    assert r.status == 200, await r.text()
                while True:
                    async with http.get(f"{hs.base_url}/_matrix/client/v3/rooms/{room}/state/"
                                        "m.room.power_levels/", headers=bob_h) as r:
                        if (await r.json())["users"].get(bob_id) == want:
                            break
                    if time.perf_counter() - t0 > 10:
                        raise TimeoutError("power level not visible")
                lat.append(time.perf_counter() - t0)
            lines.append(f"- Role change via API -> new power level visible to the member's client "
                         f"(n={samples}): p50 {ms(pct(lat, 50))}, p95 {ms(pct(lat, 95))}")

            # Bulk: a big group's room, memberships committed at once, applied by the worker.
            p.create_entity("bench", "group", "big", "Big group", "alice")
            await orch.drain()
            with store.tx() as c:
                for i in range(bulk):
                    c.execute("INSERT INTO users (tenant, slug, display_name, matrix_ready) "
                              "VALUES (?,?,?,1)", ("bench", f"m{i}", f"Member {i}"))
            t0 = time.perf_counter()
            with store.tx():
                for i in range(bulk):
                    p.join("bench", "group", "big", f"m{i}")
            t_commit = time.perf_counter() - t0
            orch.wake()
            while store.one("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending'")["n"]:
                await asyncio.sleep(0.05)
            total = time.perf_counter() - t0
            room = p.entity("bench", "group", "big")["matrix_room_id"]
            async with http.get(f"{hs.base_url}/_matrix/client/v3/rooms/{room}/joined_members",
                                headers=as_h) as r:
                pass
            async with http.get(f"{hs.base_url}/_matrix/client/v3/rooms/{room}/state",
                                headers=as_h) as r:
                invited = sum(1 for e in await r.json() if e["type"] == "m.room.member"
                              and e["content"]["membership"] == "invite")
            # The floor: the same number of invites sent straight to Synapse, one by one.
            s_, rr = hs.request("POST", "/_matrix/client/v3/createRoom", {"preset": "private_chat"},
                                token=reg["as_token"])
            n_raw = min(bulk, 100)
            t1 = time.perf_counter()
            for i in range(n_raw):
                async with http.post(f"{hs.base_url}/_matrix/client/v3/rooms/{rr['room_id']}/invite",
                                     json={"user_id": f"@raw{i}:localhost"}, headers=as_h) as r:
                    assert r.status == 200
            raw_rate = n_raw / (time.perf_counter() - t1)
            # Invites get dearer as a room grows: the same number straight into the big room.
            t1 = time.perf_counter()
            for i in range(n_raw):
                async with http.post(f"{hs.base_url}/_matrix/client/v3/rooms/{room}/invite",
                                     json={"user_id": f"@rawbig{i}:localhost"},
                                     headers=as_h) as r:
                    assert r.status == 200
            raw_big_rate = n_raw / (time.perf_counter() - t1)
            failed = store.one("SELECT COUNT(*) AS n FROM outbox WHERE status = 'failed'")["n"]
            lines.append(f"- {bulk} memberships in bulk (one transaction, then the worker, "
                         f"{invite_concurrency} invites at once): "
                         f"commit {ms(t_commit)}, all invites applied in {total:.1f} s "
                         f"({bulk / total:.1f} memberships/s); invited {invited}, failed {failed}; "
                         f"raw serial /invite on the same Synapse: {raw_rate:.1f} invites/s "
                         f"into an empty room, {raw_big_rate:.1f} invites/s into that "
                         f"{bulk + 1}-member room")

            # Role change in the big room: a per-user change must not cost a read of the
            # whole room's state.
            big_lat = []
            n_big = max(2, samples // 3)
            for i in range(n_big):
                role = ("admin", "member")[i % 2]
                want = 50 if role == "admin" else None
                t0 = time.perf_counter()
                async with http.put(base + "/api/groups/big/members/m0/role",
                                    json={"role": role}) as r:
                    assert r.status == 200, await r.text()
                while True:
                    async with http.get(f"{hs.base_url}/_matrix/client/v3/rooms/{room}/state/"
                                        "m.room.power_levels/", headers=as_h) as r:
                        if (await r.json())["users"].get(
                                matrix_user_id("m0", "bench", "localhost")) == want:
                            break
                    if time.perf_counter() - t0 > 10:
                        raise TimeoutError("power level not visible")
                big_lat.append(time.perf_counter() - t0)
            lines.append(f"- Role change via API in that room ({bulk + 1 + n_raw} members) -> new level "
                         f"visible (n={n_big}): p50 {ms(pct(big_lat, 50))}, "
                         f"p95 {ms(pct(big_lat, 95))}")
    finally:
        await orch.stop()
        await runner.cleanup()
        store.close()
        hs.stop()
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=30)
    ap.add_argument("--bulk", type=int, default=1000)
    ap.add_argument("--append", action="store_true")
    ap.add_argument("--invite-concurrency", type=int, default=2)
    a = ap.parse_args()
    machine = f"nproc {os.cpu_count()}, {cpu_model()}, Python {platform.python_version()}, " \
              f"Synapse (SQLite) on loopback, {time.strftime('%Y-%m-%d')}"
    lines = asyncio.run(run(a.samples, a.bulk, a.invite_concurrency))
    print("Machine: " + machine)
    print("\n".join(lines))
    if a.append:
        doc = ROOT / "docs" / "benchmarks.md"
        text = doc.read_text() if doc.exists() else "# Benchmarks\n"
        load = os.getloadavg()
        section = "## Orchestration\n\n`.venv/bin/python benchmarks/orchestration.py --append`\n\n" \
                  f"Machine: {machine}; load average at the end {load[0]:.2f} / {load[1]:.2f} / " \
                  f"{load[2]:.2f} (1/5/15 min)\n\n" + "\n".join(lines) + "\n"
        # Replace this section only (up to the next "## " heading); other sections stay.
        start = text.find("\n## Orchestration\n")
        if start < 0:
            doc.write_text(text.rstrip("\n") + "\n\n" + section)
        else:
            end = text.find("\n## ", start + 1)
            rest = "" if end < 0 else "\n" + text[end + 1:]
            doc.write_text(text[:start + 1] + section + rest)


if __name__ == "__main__":
    main()
