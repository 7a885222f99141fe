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
- nio sync parsing (CPython and Pyodide) with nio's validation as shipped, with cached
  validators, and without validation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.timing import machine, pct, summary  # noqa: E402,F401  (re-exported)
from pyapp.server.stack import StackOptions  # noqa: E402
from tests.support.stack_thread import StackThread  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
]
COMPOSER = "om-chat textarea.omc-textarea"


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


# -- sync parsing: nio's validation as shipped vs cached validators -------------------------
# Runs as is under CPython and, through omChat.runPython, in Pyodide in the page.
PARSE_BENCH = """
import copy, json, time
import nio.events.misc, nio.responses, nio.schemas
from nio import SyncResponse
from pyapp.client import nio_validation

def _nio_validate(instance, schema):  # nio's own validate_json: a validator per call
    nio.schemas.Validator(schema, format_checker=nio.schemas.Checker).validate(instance)

def _use(fn):
    for m in (nio.schemas, nio.responses, nio.events.misc):
        m.validate_json = fn

def _event(i, r):
    return {"type": "m.room.message", "event_id": f"$e{r}_{i}", "sender": "@u:hs",
            "origin_server_ts": 1000 + i, "unsigned": {"age": 5},
            "content": {"msgtype": "m.text", "body": "hello " * 10}}

_rooms = {f"!r{r}:hs": {
    "timeline": {"events": [_event(i, r) for i in range(20)], "limited": False, "prev_batch": "p"},
    "state": {"events": [{"type": "m.room.name", "state_key": "", "event_id": f"$n{r}",
                          "sender": "@u:hs", "origin_server_ts": 1, "content": {"name": f"R{r}"}}]},
    "ephemeral": {"events": []}, "account_data": {"events": []},
    "unread_notifications": {"notification_count": 1, "highlight_count": 0}} for r in range(50)}
_body = {"next_batch": "s1", "rooms": {"join": _rooms, "invite": {}, "leave": {}}}

def _best(n=5):
    times = []
    for _ in range(n):
        b = copy.deepcopy(_body)
        t = time.perf_counter()
        SyncResponse.from_dict(b)
        times.append(time.perf_counter() - t)
    return min(times) * 1000

_use(_nio_validate)
_plain = _best()
_use(nio_validation.validate_json)
_cached = _best()
_use(lambda instance, schema: None)
_none = _best()
nio_validation.install()
[_plain, _cached, _none, len(json.dumps(_body))]
"""


def parse_benchmark() -> list[float]:
    namespace: dict = {}
    *body, last = PARSE_BENCH.strip().splitlines()
    exec("\n".join(body), namespace)
    return eval(last, namespace)


def parse_line(where: str, result) -> str:
    plain, cached, none, size = result
    return (f"- nio SyncResponse.from_dict, {size // 1024} KB sync (50 rooms x 20 events), "
            f"{where}: {plain:.0f} ms with nio's validation as shipped, {cached:.0f} ms with "
            f"cached validators ({cached / plain:.2f}x), {none:.0f} ms without validation")


# -- the browser ----------------------------------------------------------------------------
READY = "om-chat textarea.omc-textarea:enabled"  # timeline rendered, composer enabled
SESSION_KEY = "om-chat:om-chat.session"  # pyapp.browser.storage prefix + pyapp.client.session key


def signed_in_context(browser, stack, user: str):
    """A fresh profile (empty cache) already signed in: the platform cookie, and a chat
    session in localStorage as a previous visit would have left it."""
    from pyapp.client.session import session_from_login

    # bypass_csp: the measuring code uses page.wait_for_function, whose predicate Playwright
    # compiles with Function() in the page, which the pages' CSP refuses (no 'unsafe-eval').
    ctx = browser.new_context(bypass_csp=True)
    r = ctx.request.post(stack.url + "/api/session", data={
        "tenant": "demo", "slug": user, "password": "demo-password"})
    assert r.ok, r.status
    status, body = stack.synapse.request("POST", "/_matrix/client/v3/login", {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": f"{user}_demo"},
        "password": "demo-password", "refresh_token": True})
    assert status == 200, body
    session = session_from_login(stack.browser_homeserver_url, body, time.time())
    ctx.add_init_script(
        "if (!localStorage.getItem(%s)) localStorage.setItem(%s, %s);"
        % (json.dumps(SESSION_KEY), json.dumps(SESSION_KEY), json.dumps(json.dumps(session.to_json()))))
    return ctx


def chat_ready_ms(page, url: str, reload: bool = False) -> float:
    t0 = time.perf_counter()
    if reload:
        page.reload()
    else:
        page.goto(url)
    page.wait_for_selector(READY, timeout=120_000)
    return (time.perf_counter() - t0) * 1000


def browser_benchmarks(stack, n: int, reloads: int = 5) -> dict:
    from playwright.sync_api import sync_playwright

    out: dict = {"fresh_ms": [], "reload_ms": []}
    event_url = stack.url + "/event.html?slug=python-meetup"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for _ in range(3):
                ctx = signed_in_context(browser, stack, "alice")
                out["fresh_ms"].append(chat_ready_ms(ctx.new_page(), event_url))
                ctx.close()
            a = signed_in_context(browser, stack, "alice").new_page()
            b = signed_in_context(browser, stack, "bob").new_page()
            chat_ready_ms(a, event_url)
            chat_ready_ms(b, event_url)
            out["reload_ms"] = [chat_ready_ms(a, event_url, reload=True) for _ in range(reloads)]
            out["latency_ms"] = browser_latency(a, b, n)
            out["parse"] = a.evaluate("(code) => window.omChat.runPython(code)", PARSE_BENCH)
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
        # As when a person types: the "is typing" notice has reached B before Enter.
        b.wait_for_function("() => /typing/.test(document.querySelector('om-chat .omc-typing')"
                            "?.textContent || '')", timeout=30_000)
        composer.press("Enter")
        b.wait_for_function("(t) => t in window.__seen", arg=text, timeout=30_000)
        sent = a.evaluate("(t) => window.__sent[t]", text)
        seen = b.evaluate("(t) => window.__seen[t]", text)
        results.append(float(seen - sent))
    return results


def measure_floor(stack, n: int) -> list[float]:
    hs = stack.synapse
    a = hs.login("alice_demo", "demo-password")
    b = hs.login("bob_demo", "demo-password")
    status, room = hs.request("GET", "/_matrix/client/v3/directory/room/"
                              "%23event-python-meetup-demo%3Alocalhost", token=a["access_token"])
    assert status == 200, room
    for member in (a, b):  # invited by the bot; a browser would auto-join
        hs.request("POST", f"/_matrix/client/v3/join/{room['room_id']}", {},
                   token=member["access_token"])
    return asyncio.run(raw_latency(hs.base_url, a["access_token"], b["access_token"],
                                   room["room_id"], n))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=50)
    ap.add_argument("--append", action="store_true", help="append the results to docs/benchmarks.md")
    args = ap.parse_args()

    lines = [f"Machine: {machine()}, Chromium {chromium_version()}, "
             f"{time.strftime('%Y-%m-%d')}"]
    lines.append(parse_line("CPython 3.11", parse_benchmark()))
    results = {}
    for same_origin in (True, False):
        runner = StackThread(StackOptions.for_tests(
            Path(tempfile.mkdtemp(prefix="bench-")), auth="password",
            same_origin_matrix=same_origin, extra_config={"debug_run_python": True}))
        stack = runner.start()
        try:
            runner.call(stack.orchestrator.drain())
            if same_origin:
                floor = measure_floor(stack, args.messages)
            results[same_origin] = browser_benchmarks(stack, args.messages)
        finally:
            runner.stop()
    for same_origin, result in results.items():
        where = ("homeserver API under the page's origin (default)" if same_origin else
                 "homeserver on its own origin (CORS preflights)")
        lat = result["latency_ms"]
        lines += [
            f"- {where}:",
            "  - chat ready (navigation -> timeline rendered, composer enabled), fresh profile "
            "(empty cache, stored session): " + ", ".join(f"{v:.0f}" for v in result["fresh_ms"])
            + f" ms (median {statistics.median(result['fresh_ms']):.0f} ms)",
            "  - chat ready on reload: " + ", ".join(f"{v:.0f}" for v in result["reload_ms"])
            + f" ms (median {statistics.median(result['reload_ms']):.0f} ms)",
            f"  - message latency, Enter in browser A -> rendered in browser B: {summary(lat)}; "
            f"p50 {statistics.median(lat) / statistics.median(floor):.2f}x the floor",
        ]
    lines.append(parse_line("Pyodide in Chromium", results[True]["parse"]))
    lines.append(f"- Floor, raw CPython HTTP (PUT send, receiver long-polling /sync), same "
                 f"Synapse, same run: {summary(floor)}")
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
                              timeout=20).stdout.strip().split()[1]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


if __name__ == "__main__":
    main()
