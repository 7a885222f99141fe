"""Our chat beside two JavaScript Matrix clients, in one run, against one Synapse and one room.

    .venv/bin/python benchmarks/compare.py [--cold-runs 3] [--reloads 3] [--messages 20]
                                           [--clients ours,jssdk,hydrogen] [--append]

The comparison pages (benchmarks/anchors/: matrix-js-sdk and hydrogen-view-sdk, pinned in
package.json's devDependencies) are bundled with esbuild into .cache/bench-anchors/ at the
start of each run and served by a small static server here (gzip, ETag, revalidated on every
use like our own static files); they are never shipped. Ours is the event page of the demo
stack (same-origin homeserver proxy, stored session).

One rule for "ready", checked in the page by the same observer for every client: the room's
latest message (a marker sent just before the run) is visible AND the composer is enabled.
Times are ms since navigation start (the page's performance.now()).

Per client: first visit (new profile: empty cache; ours with a stored session, the JS pages
log in with a password, as they always do) -> ready; reload -> ready; bytes on the wire of a
first visit (response bodies as transferred, up to ready and once the page is quiet); memory
after ready (JS heap after a forced GC, plus the wasm memories the page instantiated);
Enter in A -> text rendered in B (p50/p95) and Enter -> own text shown in A (local echo).
The floor: raw HTTP (PUT /send, receiver long-polling /sync) against the same Synapse.
Cold runs are interleaved across clients so that the shared machine's load hits all alike.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import mimetypes
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.chat import (  # noqa: E402
    CHROMIUM, CHROMIUM_ARGS, chromium_version, machine, measure_floor, pct, signed_in_context,
)
from pyapp.server.stack import StackOptions  # noqa: E402
from tests.support.stack_thread import StackThread  # noqa: E402

ANCHORS = ROOT / "benchmarks" / "anchors"
ROOM_ALIAS = "#event-python-meetup-demo:localhost"
PASSWORD = "demo-password"
SEED_MESSAGES = 30

# Per client: where its page is, what counts as a message and as the composer.
CLIENTS = {
    "ours": {"message": "om-chat .omc-body", "composer": "om-chat textarea.omc-textarea",
             "typing": "om-chat .omc-typing"},
    "jssdk": {"page": "jssdk.html", "message": "#log .body", "composer": "#composer"},
    "hydrogen": {"page": "hydrogen.html", "message": ".Timeline_messageBody",
                 "composer": ".MessageComposer_input textarea"},
}

# Injected before the page's own scripts. window.__ready: performance.now() at the first DOM
# state where the marker message is visible and the composer enabled. __bench.sent/seen:
# Enter pressed in a text field (by its text) and first appearance of expected texts.
# __bench.memories: wasm memories the page instantiated (Pyodide's is internal to its module).
PROBE_JS = r"""
(() => {
  const cfg = %s;
  const now = () => performance.timeOrigin + performance.now();
  const b = window.__bench = { sent: {}, seen: {}, pending: new Set(), memories: [] };
  const keep = (result) => {
    const inst = result && (result.instance || result);
    for (const v of Object.values((inst && inst.exports) || {}))
      if (v instanceof WebAssembly.Memory) b.memories.push(v);
    return result;
  };
  for (const name of ['instantiate', 'instantiateStreaming']) {
    const orig = WebAssembly[name];
    if (orig) WebAssembly[name] = function (...a) { return orig.apply(this, a).then(keep); };
  }
  b.wasmBytes = () => b.memories.reduce((n, m) => n + m.buffer.byteLength, 0);
  b.expect = (t) => b.pending.add(t);
  addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && 'value' in e.target) b.sent[e.target.value] = now();
  }, true);
  const isReady = () => {
    const c = document.querySelector(cfg.composer);
    if (!c || c.disabled || c.readOnly) return false;
    for (const el of document.querySelectorAll(cfg.message))
      if (el.textContent.includes(cfg.marker) && el.checkVisibility()) return true;
    return false;
  };
  const look = (text) => {
    for (const t of b.pending) if (text && text.includes(t)) { b.seen[t] = now(); b.pending.delete(t); }
  };
  new MutationObserver((records) => {
    if (window.__ready === undefined && isReady()) window.__ready = performance.now();
    if (!b.pending.size) return;
    for (const r of records) {
      if (r.type === 'characterData') look(r.target.data);
      else for (const n of r.addedNodes) look(n.textContent);
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
})();
"""


# -- the comparison pages -------------------------------------------------------------------
def build_anchors(out: Path) -> None:
    subprocess.run(["node", str(ANCHORS / "build.mjs"), str(out)], check=True, cwd=ROOT)


class StaticServer:
    """The built comparison pages on 127.0.0.1, gzip when accepted, ETag + no-cache (a reload
    revalidates each file), like pyapp.server.web serves ours."""

    COMPRESS = {".js", ".css", ".html", ".json", ".svg"}

    def __init__(self, root: Path):
        files: dict[str, tuple[bytes, bytes | None, str]] = {}
        for p in root.rglob("*"):
            if p.is_file():
                data = p.read_bytes()
                packed = gzip.compress(data, 6, mtime=0) if p.suffix in self.COMPRESS else None
                files["/" + p.relative_to(root).as_posix()] = (
                    data, packed, '"%s"' % hashlib.sha256(data).hexdigest()[:20])

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                path = urllib.parse.urlsplit(self.path).path
                if path not in files:
                    self.send_error(404)
                    return
                data, packed, etag = files[path]
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                ctype = mimetypes.guess_type(path)[0] or "application/octet-stream"
                self.send_header("Content-Type", ctype)
                self.send_header("Cache-Control", "no-cache")
                self.send_header("ETag", etag)
                if packed and "gzip" in self.headers.get("Accept-Encoding", ""):
                    data = packed
                    self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# -- the room -------------------------------------------------------------------------------
class Room:
    """The event's room with both users joined and a short history. `new_marker()` sends a
    unique message, the room's latest, which the ready rule waits for (a JS page shows only the
    last 20 events, so each phase that follows sent messages starts with a new marker)."""

    def __init__(self, stack):
        self.hs = hs = stack.synapse
        self.tokens = [hs.login(u, PASSWORD)["access_token"] for u in ("alice_demo", "bob_demo")]
        status, room = hs.request("GET", "/_matrix/client/v3/directory/room/"
                                  + urllib.parse.quote(ROOM_ALIAS), token=self.tokens[0])
        assert status == 200, room
        self.room_id = room["room_id"]
        for token in self.tokens:  # invited by the orchestrator; a browser would auto-join
            hs.request("POST", f"/_matrix/client/v3/join/{urllib.parse.quote(self.room_id)}", {},
                       token=token)
        for i in range(SEED_MESSAGES):
            self.send(i % 2, f"earlier message {i:02d}")

    def send(self, who: int, body: str) -> None:
        status, r = self.hs.request(
            "PUT", f"/_matrix/client/v3/rooms/{urllib.parse.quote(self.room_id)}/send/"
            f"m.room.message/b{time.time_ns()}", {"msgtype": "m.text", "body": body},
            token=self.tokens[who])
        assert status == 200, r

    def new_marker(self) -> str:
        marker = f"ready-marker-{time.time_ns()}"
        self.send(1, marker)
        return marker


# -- the browser ----------------------------------------------------------------------------
class Bench:
    def __init__(self, browser, stack, anchors: StaticServer, room: Room, timeout_ms: float):
        self.browser, self.stack, self.anchors = browser, stack, anchors
        self.room, self.timeout_ms = room, timeout_ms
        self.marker = room.new_marker()
        self.boot_stages: list[dict] = []
        self.breakdown: dict[str, list] = {}  # client -> latency_stages per message

    def url(self, name: str, user: str) -> str:
        if name == "ours":
            return self.stack.url + "/event.html?slug=python-meetup"
        q = urllib.parse.urlencode({"hs": self.stack.synapse.base_url, "user": f"{user}_demo",
                                    "password": PASSWORD, "room": self.room.room_id})
        return f"{self.anchors.url}/{CLIENTS[name]['page']}?{q}"

    def context(self, name: str, user: str):
        if name == "ours":
            ctx = signed_in_context(self.browser, self.stack, user)  # bypasses the CSP
        else:
            ctx = self.browser.new_context(bypass_csp=True)
        cfg = {k: CLIENTS[name][k] for k in ("message", "composer")} | {"marker": self.marker}
        ctx.add_init_script(PROBE_JS % json.dumps(cfg))
        return ctx

    def wait_ready(self, page) -> float:
        page.wait_for_function("() => window.__ready !== undefined || window.__error !== undefined"
                               " || (window.omChat && window.omChat.state === 'failed')",
                               timeout=self.timeout_ms, polling=10)
        err = page.evaluate("() => window.__error || (window.omChat && window.omChat.error"
                            " && window.omChat.error.message)")
        if err:
            raise RuntimeError(f"page failed: {err}")
        return page.evaluate("() => window.__ready")

    def settle(self, name: str, page) -> None:
        """Ours makes its Python memory snapshot in a worker after the chat is ready (see
        web/chat/om-chat.js): let it finish, so that reloads are those of a returning user whose
        browser holds it and the worker's CPU does not weigh on the latency runs."""
        if name == "ours":
            page.wait_for_function("() => !('snapshot' in window.omChat) || ['stored', 'failed',"
                                   " 'unavailable'].includes(window.omChat.snapshot)",
                                   timeout=self.timeout_ms)

    def first_visit(self, name: str) -> dict:
        ctx = self.context(name, "alice")
        try:
            finished = []
            ctx.on("requestfinished", lambda r: finished.append(r))
            page = ctx.new_page()
            page.goto(self.url(name, "alice"), wait_until="commit")
            ready = self.wait_ready(page)
            ready_epoch = page.evaluate("() => performance.timeOrigin") + ready
            memory = page.evaluate("() => { gc(); return [performance.memory.usedJSHeapSize,"
                                   " window.__bench.wasmBytes()]; }")
            # Quiet: no request finished for 500 ms (fonts and calls made right after ready).
            seen, quiet_since, end = len(finished), time.monotonic(), time.monotonic() + 5
            while time.monotonic() < end and time.monotonic() - quiet_since < 0.5:
                page.wait_for_timeout(50)
                if len(finished) != seen:
                    seen, quiet_since = len(finished), time.monotonic()
            at_ready, settled = wire_bytes(finished, ready_epoch)
            return {"ready_ms": ready, "heap": memory[0], "wasm": memory[1],
                    "wire_ready": at_ready, "wire_settled": settled}
        finally:
            ctx.close()

    def reloads(self, name: str, n: int) -> list[float]:
        ctx = self.context(name, "alice")
        try:
            page = ctx.new_page()
            page.goto(self.url(name, "alice"), wait_until="commit")
            self.wait_ready(page)  # the first load is a first visit, not counted here
            self.settle(name, page)
            # Whether the reloads can use a snapshot, and if not why (a run at 00:00 on
            # 2026-12-06 booted its reloads normally without saying so).
            made = page.evaluate("() => window.omChat ? [window.omChat.snapshot,"
                                 " window.omChat.snapshotError || null] : null") \
                if name == "ours" else None
            out = []
            for _ in range(n):
                page.reload(wait_until="commit")
                out.append(self.wait_ready(page))
                if name == "ours":  # where the reload's time went (web/chat/om-chat.js stages)
                    self.boot_stages.append(page.evaluate(
                        "() => ({...window.omChat.timings, mode: window.omChat.bootMode,"
                        " refused: window.omChat.snapshotError || null})") | {"made": made})
            return out
        finally:
            ctx.close()

    def runtime_alone(self) -> tuple[int, int]:
        """The runtime's own floor, for the memory column: a page of the same origin that only
        starts Pyodide (from static/, nothing of ours imported), measured like a client after
        ready: JS heap after a forced GC, wasm memory."""
        ctx = self.browser.new_context(bypass_csp=True)
        try:
            ctx.add_init_script(PROBE_JS % json.dumps({"message": "x", "composer": "x",
                                                       "marker": "x"}))
            page = ctx.new_page()
            page.goto(self.stack.url + "/config.json")
            page.evaluate("async (base) => { const { loadPyodide } = await import(base +"
                          " 'pyodide.mjs'); window.__py = await loadPyodide({ indexURL: base }); }",
                          self.stack.url + "/static/pyodide/")
            return page.evaluate("() => { gc(); return [performance.memory.usedJSHeapSize,"
                                 " window.__bench.wasmBytes()]; }")
        finally:
            ctx.close()

    def sync_parse(self, name: str) -> float | None:
        """Ours only: parse + apply of a first sync of 50 rooms x 20 events in the page's
        Python, our client's path (benchmarks/sync_parse.py: json, clean_sync, check_sync with
        nio's compiled schemas, RoomList.apply_sync), best of 5, ms."""
        if name != "ours":
            return None
        from benchmarks.sync_parse import BENCH
        code = (BENCH.split("_use(_jsonschema)")[0]
                + "nio_validation.install()\njson.dumps(_best(_ours))\n")
        ctx = self.context(name, "alice")
        try:
            page = ctx.new_page()
            page.goto(self.url(name, "alice"), wait_until="commit")
            self.wait_ready(page)
            self.settle(name, page)
            return json.loads(page.evaluate("(code) => window.omChat.runPython(code)", code))
        finally:
            ctx.close()

    def latency(self, name: str, n: int) -> tuple[list[float], list[float]]:
        """Enter in A -> text in B's DOM, and Enter -> text in A's DOM (local echo)."""
        ca, cb = self.context(name, "alice"), self.context(name, "bob")
        try:
            a, b = ca.new_page(), cb.new_page()
            a.goto(self.url(name, "alice"), wait_until="commit")
            b.goto(self.url(name, "bob"), wait_until="commit")
            self.wait_ready(a)
            self.wait_ready(b)
            self.settle(name, a)
            self.settle(name, b)
            for page in (a, b):
                page.evaluate("() => performance.setResourceTimingBufferSize(100000)")
            composer = a.locator(CLIENTS[name]["composer"])
            typing = CLIENTS[name].get("typing")
            lat, echo = [], []
            for i in range(n):
                text = f"lat-{i}-{time.time_ns()}"
                a.evaluate("(t) => window.__bench.expect(t)", text)
                b.evaluate("(t) => window.__bench.expect(t)", text)
                composer.fill(text)
                if typing:  # as when a person types: the "is typing" notice reached B first
                    b.wait_for_function(
                        "(s) => /typing/.test(document.querySelector(s)?.textContent || '')",
                        arg=typing, timeout=30_000, polling=10)
                composer.press("Enter")
                b.wait_for_function("(t) => t in window.__bench.seen", arg=text,
                                    timeout=30_000, polling=10)
                a.wait_for_function("(t) => t in window.__bench.seen", arg=text,
                                    timeout=30_000, polling=10)
                sent = a.evaluate("(t) => window.__bench.sent[t]", text)
                lat.append(b.evaluate("(t) => window.__bench.seen[t]", text) - sent)
                self.breakdown.setdefault(name, []).append(latency_stages(a, b, text, sent))
                echo.append(a.evaluate("(t) => window.__bench.seen[t]", text) - sent)
                if typing:  # the next message starts from a quiet "typing" state again
                    b.wait_for_function(
                        "(s) => !/typing/.test(document.querySelector(s)?.textContent || '')",
                        arg=typing, timeout=30_000, polling=10)
            return lat, echo
        finally:
            ca.close()
            cb.close()


# Where one message's time goes, from the browsers' own Resource Timing (epoch ms, one clock):
# Enter -> A's PUT /send starts, the PUT itself, PUT answered -> B's /sync answer complete,
# B's /sync answer -> text in B's DOM.
STAGES_JS = """([kind, t]) => {
  const o = performance.timeOrigin;
  const es = performance.getEntriesByType('resource').filter((e) => e.name.includes(kind));
  if (kind === '/sync') {
    const seen = window.__bench.seen[t];
    const done = es.filter((e) => o + e.responseEnd <= seen + 0.5);
    const e = done[done.length - 1];
    return e ? [o + e.startTime, o + e.responseEnd, seen] : null;
  }
  const e = es[es.length - 1];
  return e ? [o + e.startTime, o + e.responseEnd] : null;
}"""


def latency_stages(a, b, text: str, sent: float) -> dict | None:
    put = a.evaluate(STAGES_JS, ["/send/", text])
    sync = b.evaluate(STAGES_JS, ["/sync", text])
    if not put or not sync:
        return None
    return {"before PUT": put[0] - sent, "PUT": put[1] - put[0],
            "PUT done -> B sync answered": sync[1] - put[1], "B sync -> DOM": sync[2] - sync[1]}


def stages_line(name: str, samples: list) -> str:
    samples = [s for s in samples if s]
    if not samples:
        return f"{name}: no stage timings"
    return f"{name}: " + ", ".join(f"{k} {med([s[k] for s in samples]):.0f}"
                                   for k in samples[0]) + f" ms (p50, n={len(samples)})"


def wire_bytes(requests, ready_epoch: float) -> tuple[dict, dict]:
    """Response bodies as transferred (after gzip), up to ready and in all. A response a
    service worker answered counts 0 (the worker's own fetch is counted instead)."""
    at_ready = {"static": 0, "api": 0, "requests": 0}
    settled = {"static": 0, "api": 0, "requests": 0}
    for r in requests:
        try:
            resp = r.response()
            if resp is not None and resp.from_service_worker:
                continue
            size = max(0, r.sizes().get("responseBodySize") or 0)
            timing = r.timing
            end = timing["startTime"] + max(timing["responseEnd"], 0)
        except Exception:  # noqa: BLE001 - the page went away under a late request
            continue
        kind = "api" if "/_matrix/" in r.url else "static"
        for tot in ([at_ready, settled] if end <= ready_epoch else [settled]):
            tot[kind] += size
            tot["requests"] += 1
    return at_ready, settled


# -- report ---------------------------------------------------------------------------------
def boot_stages(samples: list[dict]) -> str:
    """Medians of our reloads' boot stages (window.omChat.timings, ms since navigation)."""
    keys = [k for k in samples[0] if isinstance(samples[0][k], (int, float))]
    keys.sort(key=lambda k: med([s.get(k, 0) for s in samples]))
    parts = []
    for k in keys:
        values = [s[k] for s in samples if isinstance(s.get(k), (int, float))]
        parts.append(f"{k} {med(values) * (1000 if k.endswith('Seconds') else 1):.0f}")
    modes = ", ".join(sorted({str(s.get("mode")) for s in samples}))
    why = ""
    if any(s.get("mode") != "snapshot" for s in samples):
        # A normal reload: no snapshot was stored (made = [state, error] after the first load;
        # "unavailable": no build id or no worker), or a stored one was refused, or the build's
        # id changed between the loads (static/ rebuilt during the run).
        why = f" [snapshot after the first load: {samples[0].get('made')}; refused: " \
              f"{sorted({str(s.get('refused')) for s in samples})}]"
    return (f"Our reloads ({modes} boot{why}), stages (median ms since navigation; importSeconds"
            " as ms): " + ", ".join(parts))


def med(values):
    return statistics.median(values) if values else None


def fmt_range(values, nd=0):
    if not values:
        return "-"
    return f"{med(values):.{nd}f} ({min(values):.{nd}f}-{max(values):.{nd}f})"


def table(results: dict, floor: list[float], runtime: tuple[int, int] | None = None) -> str:
    jssdk_p50 = med(results.get("jssdk", {}).get("latency", []))
    rows = [["client", "first visit -> ready, ms", "reload -> ready, ms",
             "first visit wire KiB @ready (static+api) / settled", "reqs",
             "memory after ready MiB (JS heap + wasm)", "Enter A -> B p50/p95 ms",
             "local echo p50 ms", "first sync 50x20 parse+apply ms"]]
    for name, r in results.items():
        cold = r["cold"]
        w = [c["wire_ready"] for c in cold]
        ws = [c["wire_settled"] for c in cold]
        heap = med([c["heap"] for c in cold]) / 2**20
        wasm = med([c["wasm"] for c in cold]) / 2**20
        lat = r["latency"]
        ratio = f", {med(lat) / jssdk_p50:.2f}x jssdk" if jssdk_p50 and name != "jssdk" else ""
        rows.append([
            name, fmt_range([c["ready_ms"] for c in cold]), fmt_range(r["reload"]),
            f"{med([x['static'] + x['api'] for x in w]) / 1024:.0f} "
            f"({med([x['static'] for x in w]) / 1024:.0f}+{med([x['api'] for x in w]) / 1024:.0f})"
            f" / {med([x['static'] + x['api'] for x in ws]) / 1024:.0f}",
            f"{med([x['requests'] for x in w]):.0f}",
            f"{heap + wasm:.1f} ({heap:.1f} + {wasm:.1f})",
            f"{med(lat):.0f}/{pct(lat, 0.95):.0f}{ratio}", f"{med(r['echo']):.1f}",
            "-" if r.get("sync_parse") is None else f"{r['sync_parse']:.0f}",
        ])
    if runtime:
        heap, wasm = runtime[0] / 2**20, runtime[1] / 2**20
        rows.append(["Pyodide alone (started, nothing imported)", "", "", "", "",
                     f"{heap + wasm:.1f} ({heap:.1f} + {wasm:.1f})", "", "", ""])
    rows.append(["floor (raw HTTP)", "", "", "", "", "", f"{med(floor):.0f}/{pct(floor, 0.95):.0f}",
                 "", ""])
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", default="ours,jssdk,hydrogen")
    ap.add_argument("--cold-runs", type=int, default=3)
    ap.add_argument("--reloads", type=int, default=3)
    ap.add_argument("--messages", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=120, help="seconds to ready, per load")
    ap.add_argument("--append", action="store_true",
                    help="write the table into docs/benchmarks.md (replaces its latest run)")
    ap.add_argument("--json", type=Path, help="also write the raw samples here")
    args = ap.parse_args()
    names = args.clients.split(",")
    unknown = set(names) - set(CLIENTS)
    if unknown:
        ap.error(f"unknown clients: {sorted(unknown)}")

    from playwright.sync_api import sync_playwright

    t_start = time.perf_counter()
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    anchors_dir = ROOT / ".cache" / "bench-anchors"
    build_anchors(anchors_dir)
    # debug_run_python: the sync-parse step runs Python in our page (window.omChat.runPython).
    runner = StackThread(StackOptions.for_tests(work / "stack", auth="password",
                                                extra_config={"debug_run_python": True}))
    stack = runner.start()
    anchors = StaticServer(anchors_dir)
    results: dict = {n: {"cold": [], "reload": [], "latency": [], "echo": []} for n in names}
    results["_boot_stages"] = []
    try:
        runner.call(stack.orchestrator.drain())
        room = Room(stack)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + [
                "--enable-precise-memory-info", "--js-flags=--expose-gc"])
            try:
                bench = Bench(browser, stack, anchors, room, args.timeout * 1000)
                for name in names:  # warm the browser itself (processes, fonts), uncounted
                    bench.first_visit(name)
                for i in range(args.cold_runs):
                    for name in (names if i % 2 == 0 else names[::-1]):
                        results[name]["cold"].append(bench.first_visit(name))
                        print(f"[{name}] first visit {results[name]['cold'][-1]['ready_ms']:.0f} ms",
                              flush=True)
                for name in names:
                    results[name]["reload"] = bench.reloads(name, args.reloads)
                    print(f"[{name}] reloads {[round(x) for x in results[name]['reload']]}", flush=True)
                results["_boot_stages"] = bench.boot_stages
                if "ours" in names:
                    results["_runtime"] = bench.runtime_alone()
                for name in names:
                    results[name]["sync_parse"] = bench.sync_parse(name)
                for name in names:
                    bench.marker = room.new_marker()
                    results[name]["latency"], results[name]["echo"] = bench.latency(name, args.messages)
                    print(f"[{name}] latency p50 {med(results[name]['latency']):.0f} ms", flush=True)
                    print(f"[{name}] " + stages_line("stages", bench.breakdown.get(name, [])),
                          flush=True)
            finally:
                browser.close()
        floor = measure_floor(stack, args.messages)
    finally:
        anchors.stop()
        runner.stop()
        shutil.rmtree(work, ignore_errors=True)
    seconds = time.perf_counter() - t_start
    head = (f"Machine: nproc {os.cpu_count()}, {machine().split(', ', 2)[1]}, Chromium "
            f"{chromium_version()}, {time.strftime('%Y-%m-%d %H:%M')}; {args.cold_runs} first "
            f"visits, {args.reloads} reloads, {args.messages} messages per client; 1-min load "
            f"average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after; {seconds:.0f} s")
    text = head + "\n\n" + table({n: results[n] for n in names}, floor, results.get("_runtime"))
    if results["_boot_stages"]:
        text += "\n\n" + boot_stages(results["_boot_stages"])
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"results": results, "floor": floor, "head": head}, indent=1))
    if args.append:
        append(text)
    return 0


SECTION = "### Latest side-by-side run"


def append(text: str) -> None:
    doc = ROOT / "docs" / "benchmarks.md"
    body = doc.read_text()
    start = body.find(SECTION)
    if start < 0:
        raise SystemExit(f"docs/benchmarks.md has no '{SECTION}' section")
    end = body.find("\n#", start + len(SECTION))
    end = len(body) if end < 0 else end
    doc.write_text(body[:start] + SECTION + "\n\n" + text + "\n" + body[end:])


if __name__ == "__main__":
    sys.exit(main())
