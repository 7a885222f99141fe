"""Where the local echo's time goes: Enter in the composer -> my own text in the DOM, with the
steps in between as performance marks on the page's one clock.

    .venv/bin/python benchmarks/local_echo.py [--messages 20]

The demo's event chat, signed in, with the room's history shown; each message is typed and
sent with Enter (Playwright's keyboard, a real keydown). Marks: Enter (keydown, capture phase,
before the chat's own handler), the chat's key handling in Python (ChatViewModel.on_key), each
view refresh (compute the view state + render it, ChatViewModel.refresh), the outbox's
send_text, the PUT's fetch() call, the outbox's storage write, and the text's first appearance
in the DOM (MutationObserver). Python functions are wrapped through runPython (the deployment's
debug_run_python), so the shipped code is measured unchanged, plus the wrappers' own few
microseconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.chat import (CHROMIUM, CHROMIUM_ARGS, READY, chromium_version,  # noqa: E402
                             machine, signed_in_context)
from pyapp.server.stack import StackOptions  # noqa: E402
from tests.support.stack_thread import StackThread  # noqa: E402

PROBE_JS = r"""
(() => {
  const b = window.__echo = { expected: null, marks: [] };
  const mark = (name) => b.marks.push([name, performance.now()]);
  b.mark = mark;
  addEventListener('keydown', (e) => { if (e.key === 'Enter' && !e.shiftKey) mark('enter'); }, true);
  new MutationObserver((records) => {
    if (!b.expected) return;
    for (const r of records) {
      const nodes = r.type === 'characterData' ? [r.target] : [...r.addedNodes];
      for (const n of nodes) if (n.textContent && n.textContent.includes(b.expected)) {
        mark('dom'); b.expected = null;
        requestAnimationFrame(() => mark('frame'));
        return;
      }
    }
  }).observe(document, { subtree: true, childList: true, characterData: true });
})();
"""

WRAP = r"""
import js, functools
from pyapp.ui import viewmodel
from pyapp.client import outbox
from pyapp.browser import fetch_transport

def wrap(cls, name, label, only=None):
    orig = getattr(cls, name)
    if getattr(orig, "_echo_wrapped", False):
        return
    if __import__("inspect").iscoroutinefunction(orig):
        @functools.wraps(orig)
        async def w(*a, **k):
            if only is None or only(*a, **k):
                js.window.__echo.mark(label)
            return await orig(*a, **k)
    else:
        @functools.wraps(orig)
        def w(*a, **k):
            js.window.__echo.mark(label + ":start")
            try:
                return orig(*a, **k)
            finally:
                js.window.__echo.mark(label + ":end")
    w._echo_wrapped = True
    setattr(cls, name, w)

wrap(viewmodel.ChatViewModel, "on_key", "on_key")
wrap(viewmodel.ChatViewModel, "refresh", "refresh")
wrap(viewmodel.ChatViewModel, "_compute", "compute")
wrap(outbox.Outbox, "_save", "save")
wrap(outbox.Outbox, "send_text", "send_text")
wrap(fetch_transport.FetchTransport, "request", "PUT fetch", only=lambda self, method, *a, **k: method == "PUT")
if DETAIL:
    from pyapp.client import nio_client, http, timeline
    wrap(outbox, "text_content", "markdown")  # a module: wrap() sets the name outbox uses
    wrap(timeline.Timeline, "add_local_echo", "add_local_echo")
    wrap(nio_client.SeamClient, "room_send", "nio room_send")
    wrap(nio_client.SeamClient, "send", "nio send", only=lambda self, method, *a, **k: method == "PUT")
    wrap(http.MatrixHttp, "request", "MatrixHttp", only=lambda self, method, *a, **k: method == "PUT")
"""


def run(n: int, detail: bool = False, python: str = "") -> list[list]:
    from playwright.sync_api import sync_playwright

    runner = StackThread(StackOptions.for_tests(
        Path(tempfile.mkdtemp(prefix="bench-")), auth="password",
        extra_config={"debug_run_python": True}))
    stack = runner.start()
    samples = []
    try:
        runner.call(stack.orchestrator.drain())
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                ctx = signed_in_context(browser, stack, "alice")
                ctx.add_init_script(PROBE_JS)
                page = ctx.new_page()
                page.goto(stack.url + "/event.html?slug=python-meetup")
                page.wait_for_selector(READY, timeout=120_000)
                page.evaluate("(code) => window.omChat.runPython(code)",
                              f"DETAIL = {detail}\n" + WRAP)
                if python:
                    page.evaluate("(code) => window.omChat.runPython(code)", python)
                box = page.locator(READY)
                for i in range(n + 2):  # the first two warm up (first send, first PUT)
                    text = f"echo-{i}-{time.time_ns()}"
                    box.fill(text)
                    page.evaluate("(t) => { window.__echo.expected = t; window.__echo.marks = []; }",
                                  text)
                    box.press("Enter")
                    page.wait_for_function("() => window.__echo.marks.some(m => m[0] === 'frame')"
                                           " && window.__echo.marks.some(m => m[0] === 'save:end')",
                                           timeout=30_000, polling=10)
                    # the message confirmed before the next one: one message at a time
                    page.wait_for_function(
                        "(t) => [...document.querySelectorAll('om-chat .omc-msg')].some(e =>"
                        " e.textContent.includes(t) && !e.matches('.is-pending'))",
                        arg=text, timeout=30_000, polling=20)
                    marks = page.evaluate("() => window.__echo.marks")
                    if i >= 2:
                        samples.append(marks)
            finally:
                browser.close()
    finally:
        runner.stop()
    return samples


def summarize(samples: list[list]) -> str:
    """Median time of each mark's first occurrence after Enter, in the order they happen."""
    rel: dict[str, list[float]] = {}
    for marks in samples:
        enter = next(t for name, t in marks if name == "enter")
        seen: dict[str, int] = {}
        for name, t in marks:
            if t < enter:
                continue
            seen[name] = seen.get(name, 0) + 1
            key = name if seen[name] == 1 else f"{name}#{seen[name]}"
            rel.setdefault(key, []).append(t - enter)
    order = sorted(rel, key=lambda k: statistics.median(rel[k]))
    return "\n".join(f"  {statistics.median(rel[k]):7.1f} ms  {k}  (n={len(rel[k])})"
                     for k in order if len(rel[k]) >= len(samples) // 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20)
    ap.add_argument("--python", default="", help="Python run in the page before measuring"
                    " (to try a change without a build)")
    ap.add_argument("--detail", action="store_true",
                    help="also mark Markdown, the timeline, nio and the HTTP layer (more overhead)")
    args = ap.parse_args()
    import os
    load = os.getloadavg()[0]
    samples = run(args.messages, args.detail, args.python)
    print(f"Machine: {machine()}, Chromium {chromium_version()}, {time.strftime('%Y-%m-%d %H:%M')};"
          f" 1-min load average {load:.1f} before, {os.getloadavg()[0]:.1f} after;"
          f" {len(samples)} messages; median ms after Enter:")
    print(summarize(samples))


if __name__ == "__main__":
    main()
