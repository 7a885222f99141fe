"""Where a received message's time goes in our page: the /sync answer back in Python -> text
in the DOM, with performance marks on the page's clock (Python functions wrapped through
runPython, the shipped code unchanged).

    .venv/bin/python benchmarks/sync_to_dom.py [messages, default 15]

bob's event page, signed in; alice's messages are sent by CPython straight to Synapse. Marks:
the sync request's end (FetchTransport.request returned, body read), clean_sync, check_sync,
the IndexedDB store (SyncPersistence.save), each view refresh, the next long poll's start, the
text's first appearance in the DOM and the next animation frame. Medians, ms after the answer.
"""
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.chat import CHROMIUM, CHROMIUM_ARGS, READY, signed_in_context
from benchmarks.local_echo import PROBE_JS
from benchmarks.compare import Room
from pyapp.server.stack import StackOptions
from tests.support.stack_thread import StackThread

WRAP = r'''
import js, functools, inspect
from pyapp.client import service, sync_store, sync_events, sync_validation
from pyapp.browser import fetch_transport
from pyapp.ui import viewmodel
def wrap(cls, name, label, only=None):
    orig = getattr(cls, name)
    if inspect.iscoroutinefunction(orig):
        @functools.wraps(orig)
        async def w(*a, **k):
            on = only is None or only(*a, **k)
            if on: js.window.__echo.mark(label + ":start")
            try:
                return await orig(*a, **k)
            finally:
                if on: js.window.__echo.mark(label + ":end")
    else:
        @functools.wraps(orig)
        def w(*a, **k):
            js.window.__echo.mark(label + ":start")
            try:
                return orig(*a, **k)
            finally:
                js.window.__echo.mark(label + ":end")
    setattr(cls, name, w)
wrap(fetch_transport.FetchTransport, "request", "GET sync", only=lambda self, m, url, *a, **k: "/sync" in url)
wrap(service, "clean_sync", "clean_sync")
wrap(service, "check_sync", "check_sync")
wrap(sync_store.SyncPersistence, "save", "persist.save")
wrap(service.ChatService, "_apply_sync", "apply_sync")
wrap(viewmodel.ChatViewModel, "refresh", "refresh")
'''
# The browser's side of each /sync: fetch()'s promise (headers) and arrayBuffer() resolving in
# the page, marked before Python's own callbacks run (registered first).
FETCH_MARKS_JS = r"""
(() => {
  const orig = window.fetch;
  window.fetch = function (url, init) {
    const p = orig.apply(this, arguments);
    if (String(url).includes('/sync')) p.then((r) => {
      window.__echo.mark('fetch headers');
      const body = r.arrayBuffer;
      r.arrayBuffer = function () {
        return body.call(this).then((x) => { window.__echo.mark('fetch body'); return x; });
      };
    }, () => {});
    return p;
  };
})();
"""
# The network's side from Resource Timing (same clock as performance.now()).
NET_MARKS_JS = """() => window.__echo.marks.concat(performance.getEntriesByType('resource')
  .filter((e) => e.name.includes('/sync') && e.responseEnd > 0)
  .flatMap((e) => [['net sync:responseStart', e.responseStart], ['net sync:responseEnd', e.responseEnd]]))
  .sort((x, y) => x[1] - y[1])"""


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    runner = StackThread(StackOptions.for_tests(Path(tempfile.mkdtemp(prefix="bench-")), auth="password", extra_config={"debug_run_python": True}))
    stack = runner.start()
    from playwright.sync_api import sync_playwright
    samples = []
    try:
        runner.call(stack.orchestrator.drain())
        room = Room(stack)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            ctx = signed_in_context(browser, stack, "bob")
            ctx.add_init_script(PROBE_JS)
            ctx.add_init_script(FETCH_MARKS_JS)
            page = ctx.new_page()
            page.goto(stack.url + "/event.html?slug=python-meetup")
            page.wait_for_selector(READY, timeout=120_000)
            page.wait_for_function("() => !('snapshot' in window.omChat) || ['stored','failed','unavailable'].includes(window.omChat.snapshot)", timeout=120_000)
            page.evaluate("(code) => window.omChat.runPython(code)", WRAP)
            for i in range(n):
                text = f"bprobe-{i}-{time.time_ns()}"
                page.evaluate("(t) => { window.__echo.expected = t; window.__echo.marks = []; }", text)
                room.send(0, text)
                page.wait_for_function("() => window.__echo.marks.some(m => m[0] === 'frame')", timeout=30000, polling=10)
                page.wait_for_timeout(300)
                samples.append(page.evaluate(NET_MARKS_JS))
            browser.close()
    finally:
        runner.stop()
    rel = {}
    for marks in samples:
        ends = [t for n, t in marks if n == "GET sync:end"]
        dom = next(t for n, t in marks if n == "dom")
        t0 = max(t for t in ends if t <= dom) if any(t <= dom for t in ends) else None
        if t0 is None: continue
        seen = {}
        for n, t in marks:
            if t < t0 - 15: continue  # the network and fetch() marks come before
            seen[n] = seen.get(n, 0) + 1
            k = n if seen[n] == 1 else f"{n}#{seen[n]}"
            rel.setdefault(k, []).append(t - t0)
    for k in sorted(rel, key=lambda k: statistics.median(rel[k])):
        if len(rel[k]) >= len(samples)//2:
            print(f"{statistics.median(rel[k]):7.1f} {k} (n={len(rel[k])})")


if __name__ == "__main__":
    main()
