"""Chat benchmarks in real Chromium against the demo stack, beside a floor measured in the
same run.

    .venv/bin/python benchmarks/chat.py [--messages 50] [--append]

Prints, with the machine:
- time from navigation to chat ready (timeline rendered, composer enabled), with a fresh
  browser profile and on reload;
- message latency: Enter pressed in browser A -> text rendered in browser B (both clocks are
  the same machine's Date.now()), p50/p95;
- the floor: the same send -> receive with a raw CPython HTTP client (PUT send, the other side
  long-polling /sync) against the same Synapse;
- nio sync parsing under CPython with and without the cached validators.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyapp.server.stack import StackOptions  # noqa: E402
from tests.support.stack_thread import StackThread  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
]
READY = "om-chat [data-omc-ready='true']"
COMPOSER = "om-chat textarea"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def summary(values: list[float]) -> str:
    return (f"p50 {statistics.median(values):.0f} ms, p95 {pct(values, 0.95):.0f} ms "
            f"(n={len(values)})")


# -- the floor: raw HTTP ------------------------------------------------------------------
async def raw_latency(hs_url: str, sender_token: str, receiver_token: str, room_id: str,
                      n: int) -> list[float]:
    """PUT a message, measure until a receiver that long-polls /sync sees it."""
    async with aiohttp.ClientSession() as s:
        auth_r = {"Authorization": f"Bearer {receiver_token}"}
        auth_s = {"Authorization": f"Bearer {sender_token}"}
        flt = json.dumps({"room": {"timeline": {"limit": 1}}, "presence": {"not_types": ["*"]}})
        async with s.get(f"{hs_url}/_matrix/client/v3/sync", params={"filter": flt},
                         headers=auth_r) as r:
            since = (await r.json())["next_batch"]
        results = []
        for i in range(n):
            marker = f"floor-{i}-{time.time_ns()}"
            got = asyncio.get_running_loop().create_future()

            async def poll():
                nonlocal since
                while not got.done():
                    async with s.get(f"{hs_url}/_matrix/client/v3/sync",
                                     params={"since": since, "timeout": "30000", "filter": flt},
                                     headers=auth_r) as r:
                        body = await r.json()
                    since = body["next_batch"]
                    room = body.get("rooms", {}).get("join", {}).get(room_id, {})
                    for e in room.get("timeline", {}).get("events", []):
                        if e.get("content", {}).get("body") == marker:
                            got.set_result(time.perf_counter())

            poller = asyncio.ensure_future(poll())
            await asyncio.sleep(0.05)  # let the long-poll reach the server before sending
            t0 = time.perf_counter()
            async with s.put(f"{hs_url}/_matrix/client/v3/rooms/{room_id}/send/m.room.message/"
                             f"f{i}{time.time_ns()}", json={"msgtype": "m.text", "body": marker},
                             headers=auth_s) as r:
                assert r.status == 200, await r.text()
            t1 = await asyncio.wait_for(got, 30)
            await poller
            results.append((t1 - t0) * 1000)
        return results


# -- sync parsing under CPython -----------------------------------------------------------
def parse_benchmark() -> tuple[float, float, int]:
    import nio.events.misc
    import nio.responses
    import nio.schemas
    from nio import SyncResponse

    def event(i, r):
        return {"type": "m.room.message", "event_id": f"$e{r}_{i}", "sender": "@u:hs",
                "origin_server_ts": 1000 + i, "unsigned": {"age": 5},
                "content": {"msgtype": "m.text", "body": "hello " * 10}}

    rooms = {f"!r{r}:hs": {
        "timeline": {"events": [event(i, r) for i in range(20)], "limited": False,
                     "prev_batch": "p"},
        "state": {"events": [{"type": "m.room.name", "state_key": "", "event_id": f"$n{r}",
                              "sender": "@u:hs", "origin_server_ts": 1,
                              "content": {"name": f"Room {r}"}}]},
        "ephemeral": {"events": []}, "account_data": {"events": []},
        "unread_notifications": {"notification_count": 1, "highlight_count": 0}}
        for r in range(50)}
    body = {"next_batch": "s1", "rooms": {"join": rooms, "invite": {}, "leave": {}}}

    def best(n=5):
        times = []
        for _ in range(n):
            b = copy.deepcopy(body)
            t = time.perf_counter()
            SyncResponse.from_dict(b)
            times.append(time.perf_counter() - t)
        return min(times) * 1000

    original = nio.schemas.validate_json
    for m in (nio.schemas, nio.responses, nio.events.misc):
        m.validate_json = original
    plain = best()
    from pyapp.client import schema_cache

    schema_cache.install()
    cached = best()
    return plain, cached, len(json.dumps(body))


# -- the browser ----------------------------------------------------------------------------
def login(page, base: str, user: str) -> None:
    """Sign in to the platform (demo session) and to the chat (password mode)."""
    page.goto(base + "/index.html")
    page.evaluate("""async ([user]) => {
        const r = await fetch('/api/session', {method: 'POST', headers: {'Content-Type':
            'application/json'}, body: JSON.stringify({tenant: 'demo', slug: user,
            password: 'demo-password'})});
        if (!r.ok) throw new Error('platform login failed ' + r.status);
    }""", [user])


def chat_ready_ms(page, url: str) -> float:
    t0 = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(READY, timeout=120_000)
    page.wait_for_selector(COMPOSER + ":enabled", timeout=120_000)
    return (time.perf_counter() - t0) * 1000


def sign_in_chat(page, user: str) -> None:
    form = page.locator("om-chat form.omc-login")
    if form.count():
        form.locator("input[name=username]").fill(f"{user}_demo")
        form.locator("input[name=password]").fill("demo-password")
        form.locator("button[type=submit]").click()


def browser_benchmarks(stack, n: int) -> dict:
    from playwright.sync_api import sync_playwright

    out: dict = {}
    event_url = stack.url + "/event.html?slug=python-meetup"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            ctx_a, ctx_b = browser.new_context(), browser.new_context()
            a, b = ctx_a.new_page(), ctx_b.new_page()
            for page, user in ((a, "alice"), (b, "bob")):
                login(page, stack.url, user)
                page.goto(event_url)
                page.wait_for_selector("om-chat", timeout=60_000)
                sign_in_chat(page, user)
                page.wait_for_selector(READY, timeout=120_000)
            fresh_ctx = browser.new_context()
            fresh = fresh_ctx.new_page()
            login(fresh, stack.url, "alice")
            # a fresh profile has no session: measure boot to the sign-in form, then sign in
            t0 = time.perf_counter()
            fresh.goto(event_url)
            fresh.wait_for_selector("om-chat form.omc-login, " + READY, timeout=120_000)
            out["fresh_boot_ms"] = (time.perf_counter() - t0) * 1000
            sign_in_chat(fresh, "alice")
            fresh.wait_for_selector(READY, timeout=120_000)
            out["fresh_total_ms"] = (time.perf_counter() - t0) * 1000
            out["reload_ms"] = [chat_ready_ms(a, event_url) for _ in range(3)]
            fresh_ctx.close()
            out["latency_ms"] = browser_latency(a, b, n)
        finally:
            browser.close()
    return out


def browser_latency(a, b, n: int) -> list[float]:
    b.evaluate("""() => {
        window.__seen = {};
        new MutationObserver(() => {
            for (const el of document.querySelectorAll('om-chat .omc-body')) {
                const t = el.textContent;
                if (t.startsWith('lat-') && !(t in window.__seen)) window.__seen[t] = Date.now();
            }
        }).observe(document.body, {subtree: true, childList: true, characterData: true});
    }""")
    a.evaluate("""() => {
        window.__sent = {};
        document.addEventListener('keydown', (e) => {
            if (e.key === 'Enter' && !e.shiftKey && e.target.tagName === 'TEXTAREA')
                window.__sent[e.target.value] = Date.now();
        }, true);
    }""")
    composer = a.locator(COMPOSER)
    results = []
    for i in range(n):
        text = f"lat-{i}-{time.time_ns()}"
        composer.fill(text)
        composer.press("Enter")
        b.wait_for_function("(t) => t in window.__seen", arg=text, timeout=30_000)
        sent = a.evaluate("(t) => window.__sent[t]", text)
        seen = b.evaluate("(t) => window.__seen[t]", text)
        results.append(float(seen - sent))
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=50)
    ap.add_argument("--append", action="store_true", help="append the results to docs/benchmarks.md")
    args = ap.parse_args()

    lines = [f"Machine: {machine()}, Chromium {chromium_version()}, "
             f"{time.strftime('%Y-%m-%d')}"]
    plain, cached, size = parse_benchmark()
    lines.append(f"- nio SyncResponse.from_dict, {size // 1024} KB sync (50 rooms x 20 events), "
                 f"CPython: {plain:.0f} ms with nio's validation, {cached:.0f} ms with cached "
                 f"validators ({cached / plain:.2f}x)")
    runner = StackThread(StackOptions.for_tests(Path(tempfile.mkdtemp(prefix="bench-"))))
    stack = runner.start()
    try:
        stack.run = runner.call
        runner.call(stack.orchestrator.drain())
        hs = stack.synapse
        a = hs.login("alice_demo", "demo-password")
        b = hs.login("bob_demo", "demo-password")
        status, room = hs.request("GET", "/_matrix/client/v3/directory/room/"
                                  "%23event-python-meetup-demo%3Alocalhost",
                                  token=a["access_token"])
        room_id = room["room_id"]
        hs.request("POST", f"/_matrix/client/v3/join/{room_id}", {}, token=b["access_token"])
        floor = asyncio.run(raw_latency(hs.base_url, a["access_token"], b["access_token"],
                                        room_id, args.messages))
        result = browser_benchmarks(stack, args.messages)
    finally:
        runner.stop()
    lat = result["latency_ms"]
    lines += [
        f"- Chat ready, fresh profile: Python + chat booted to sign-in {result['fresh_boot_ms']:.0f} ms; "
        f"after password sign-in, chat ready at {result['fresh_total_ms']:.0f} ms from navigation",
        f"- Chat ready on reload (session restored): "
        + ", ".join(f"{v:.0f}" for v in result["reload_ms"])
        + f" ms (median {statistics.median(result['reload_ms']):.0f} ms)",
        f"- Message latency, Enter in browser A -> rendered in browser B: {summary(lat)}",
        f"- Floor, raw CPython HTTP (PUT send, receiver long-polling /sync), same Synapse, same "
        f"run: {summary(floor)}; browser/floor p50 ratio "
        f"{statistics.median(lat) / statistics.median(floor):.2f}",
    ]
    text = "\n".join(lines)
    print(text)
    if args.append:
        doc = ROOT / "docs" / "benchmarks.md"
        doc.write_text(doc.read_text().rstrip() + "\n\n## Chat in the browser\n\n"
                       "`.venv/bin/python benchmarks/chat.py --append`\n\n" + text + "\n")


def chromium_version() -> str:
    import subprocess

    try:
        return subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True,
                              timeout=20).stdout.strip().split()[-1]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


if __name__ == "__main__":
    main()
