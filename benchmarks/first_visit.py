"""Where a first visit's time goes: our event page in a new profile (empty cache, stored
session, as a returning user on a new browser), stage by stage, from the browser's own clocks.

    .venv/bin/python benchmarks/first_visit.py [--runs 5] [--variant web/chat/om-chat.js=FILE ...]

Per visit, ms since navigation: the loader's marks (window.omChat.timings, web/chat/om-chat.js),
the Resource Timing of the runtime's files (request start -> response end) and of the first
/sync, and "ready" by compare.py's rule (the latest message visible and the composer enabled).
--variant PATH=FILE (repeatable) serves FILE as PATH (under the worktree) on every other visit,
A and B interleaved on the same stack, so that the shared machine's load hits both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.chat import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from benchmarks.compare import Bench, Room, StaticServer  # noqa: E402
from pyapp.server.stack import StackOptions  # noqa: E402
from tests.support.stack_thread import StackThread  # noqa: E402

# Marks inside Pyodide's start that it does not make itself: the wasm instantiation and the
# messages of loadPackage (web/chat/om-chat.js logs them with console.debug).
PROBE = r"""
(() => {
  const marks = window.__marks = {};
  const orig = WebAssembly.instantiateStreaming;
  let n = 0;
  WebAssembly.instantiateStreaming = function (...a) {
    const i = n++;
    marks['wasm' + i + ' instantiate start'] = performance.now();
    return orig.apply(this, a).then((r) => { marks['wasm' + i + ' instantiate end'] = performance.now(); return r; });
  };
  const debug = console.debug;
  console.debug = function (...a) {
    const m = String(a[0]);
    marks['msg ' + m.slice(0, 40)] = performance.now();
    return debug.apply(this, a);
  };
})();
"""

RESOURCES = r"""() => {
  const out = {};
  for (const e of performance.getEntriesByType('resource')) {
    const name = e.name.split('?')[0];
    let key = name.slice(name.lastIndexOf('/') + 1);
    if (name.includes('/_matrix/client/') && name.includes('/sync')) key = 'sync#' + Object.keys(out).filter(k => k.startsWith('sync#')).length;
    if (!key) continue;
    out[key] = [Math.round(e.startTime), Math.round(e.responseEnd), e.transferSize];
  }
  return out;
}"""


def visit(bench: Bench) -> dict:
    ctx = bench.context("ours", "alice")
    ctx.add_init_script(PROBE)
    try:
        page = ctx.new_page()
        page.goto(bench.url("ours", "alice"), wait_until="commit")
        ready = bench.wait_ready(page)
        timings = page.evaluate("() => ({...window.omChat.timings, ...window.__marks})")
        res = page.evaluate(RESOURCES)
        stderr = page.evaluate("() => window.__stderr || null")  # a variant's own record
        return {"ready": ready, "timings": timings, "resources": res, "stderr": stderr}
    finally:
        ctx.close()


def summary(samples: list[dict]) -> str:
    keys: dict[str, list] = {}
    for s in samples:
        keys.setdefault("ready", []).append(s["ready"])
        for k, v in s["timings"].items():
            keys.setdefault(k, []).append(v * 1000 if k == "importSeconds" else v)
        for k, (start, end, _size) in s["resources"].items():
            keys.setdefault(f"{k} start", []).append(start)
            keys.setdefault(f"{k} end", []).append(end)
    rows = sorted(keys.items(), key=lambda kv: statistics.median(kv[1]))
    return "\n".join(f"  {k:45} {statistics.median(v):7.0f}  {[round(x) for x in v]}"
                     for k, v in rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--variant", action="append", default=[],
                    help="PATH=FILE: serve FILE as PATH on every other visit (repeatable)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    swaps = []  # (served path, its own bytes, the variant's bytes)
    for variant in args.variant:
        path, file = variant.split("=", 1)
        target = ROOT / path
        swaps.append((target, target.read_bytes(), Path(file).read_bytes()))
    work = Path(tempfile.mkdtemp(prefix="bench-first-"))
    runner = StackThread(StackOptions.for_tests(work / "stack", auth="password",
                                                extra_config={"debug_run_python": True}))
    stack = runner.start()
    anchors = StaticServer(work)  # unused: Bench wants one
    out: dict[str, list] = {"A": [], "B": []}
    print(f"load before {os.getloadavg()}", flush=True)
    try:
        runner.call(stack.orchestrator.drain())
        room = Room(stack)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                bench = Bench(browser, stack, anchors, room, 120_000)
                visit(bench)  # warm the browser itself, uncounted
                for i in range(args.runs * (2 if swaps else 1)):
                    which = "B" if swaps and i % 2 else "A"
                    for target, own, variant in swaps:
                        target.write_bytes(variant if which == "B" else own)
                    s = visit(bench)
                    out[which].append(s)
                    print(f"[{which}] ready {s['ready']:.0f} ms", flush=True)
            finally:
                browser.close()
                for target, own, _ in swaps:
                    target.write_bytes(own)
    finally:
        anchors.stop()
        runner.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"load after {os.getloadavg()}")
    for which, samples in out.items():
        if samples:
            print(f"{which}: median ms since navigation (n={len(samples)})\n{summary(samples)}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
