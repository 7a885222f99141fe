"""Parse + apply of a first sync of 50 rooms x 20 events, in CPython and in Pyodide in Chromium.

    .venv/bin/python benchmarks/sync_parse.py

Our path as the client runs it (pyapp.client.service._fetch_sync/_apply_sync): json.loads,
sync_events.clean_sync, sync_validation.check_sync (nio's schemas, compiled), RoomList.apply_sync;
beside nio's SyncResponse.from_dict with jsonschema (one validator per schema, what shipped
before), with the compiled schemas, and without validation. Best of 5, ms.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCH = """
import copy, json, time
import nio.events.misc, nio.responses, nio.schemas
from nio import SyncResponse
from pyapp.client import nio_validation
from pyapp.client.rooms import RoomList
from pyapp.client.sync_events import clean_sync
from pyapp.client.sync_validation import check_sync

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
_raw = json.dumps({"next_batch": "s1", "rooms": {"join": _rooms, "invite": {}, "leave": {}}})

_cache = {}
def _jsonschema(instance, schema):
    v = _cache.get(id(schema))
    if v is None:
        v = _cache[id(schema)] = nio.schemas.Validator(schema, format_checker=nio.schemas.Checker)
    v.validate(instance)

def _use(fn):
    for m in (nio.schemas, nio.responses, nio.events.misc):
        m.validate_json = fn

def _best(step, n=5):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return round(min(times) * 1000, 1)

def _nio():
    SyncResponse.from_dict(json.loads(_raw))

_parts = {}
def _ours():
    t0 = time.perf_counter(); body = json.loads(_raw)
    t1 = time.perf_counter(); clean_sync(body)
    t2 = time.perf_counter(); check_sync(body)
    t3 = time.perf_counter(); RoomList("@me:hs").apply_sync(body)
    t4 = time.perf_counter()
    for k, v in (("json", t1 - t0), ("clean", t2 - t1), ("check", t3 - t2), ("apply", t4 - t3)):
        _parts[k] = min(_parts.get(k, 1e9), round(v * 1000, 1))

_use(_jsonschema); _r_js = _best(_nio)
_use(nio_validation.validate_json); _r_compiled = _best(_nio)
_use(lambda i, s: None); _r_none = _best(_nio)
nio_validation.install()
_r_ours = _best(_ours)
_result = json.dumps({"nio_jsonschema": _r_js, "nio_compiled": _r_compiled, "nio_no_validation": _r_none, "ours": _r_ours, "ours_parts": _parts, "kb": len(_raw) // 1024})
_result
"""


def run_cpython() -> dict:
    namespace: dict = {}
    *body, last = BENCH.strip().splitlines()
    exec("\n".join(body), namespace)
    return json.loads(eval(last, namespace))


def run_pyodide() -> dict:
    from playwright.sync_api import sync_playwright

    from benchmarks.chat import CHROMIUM, CHROMIUM_ARGS, READY, signed_in_context
    from pyapp.server.stack import StackOptions
    from tests.support.stack_thread import StackThread

    runner = StackThread(StackOptions.for_tests(
        Path(tempfile.mkdtemp(prefix="bench-")), auth="password",
        extra_config={"debug_run_python": True}))
    stack = runner.start()
    try:
        runner.call(stack.orchestrator.drain())
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = signed_in_context(browser, stack, "alice").new_page()
                page.goto(stack.url + "/event.html?slug=python-meetup")
                page.wait_for_selector(READY, timeout=120_000)
                return json.loads(page.evaluate("(code) => window.omChat.runPython(code)", BENCH))
            finally:
                browser.close()
    finally:
        runner.stop()


def line(where: str, r: dict) -> str:
    p = r["ours_parts"]
    return (f"- {where}, {r['kb']} KB sync: our path {r['ours']} ms (json {p['json']}, "
            f"clean_sync {p['clean']}, nio schemas via check_sync {p['check']}, apply "
            f"{p['apply']}); nio SyncResponse.from_dict {r['nio_jsonschema']} ms with "
            f"jsonschema (cached validators), {r['nio_compiled']} ms with the compiled schemas, "
            f"{r['nio_no_validation']} ms without validation")


if __name__ == "__main__":
    import os
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(line("CPython 3.11", run_cpython()))
    result = run_pyodide()
    print(line("Pyodide in Chromium", result))
    print(f"load average {os.getloadavg()[0]:.1f}")
