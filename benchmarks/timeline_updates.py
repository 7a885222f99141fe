"""The cost of one edit or one reaction in a room with 1,000 loaded messages, in real Chromium
(Pyodide), beside one new message in the same room as a reference.

    .venv/bin/python benchmarks/timeline_updates.py [--messages 1000] [--runs 50] [--append]

The page is the demo's event chat, signed in. 1,000 messages are fed to the room's timeline
model as one sync section, and rendered. Then, per run, one event goes in the way a sync
delivers it (TimelineModel.apply_sync), the view model recomputes the conversation and the
view renders it (ChatViewModel.refresh, synchronous), and a layout is forced (scrollHeight):
the time is performance.now() around all of that. A MutationObserver counts which message
elements changed: a keyed update touches one, a re-render would touch all.
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
                             machine, signed_in_context, summary)
from pyapp.server.stack import StackOptions  # noqa: E402
from tests.support.stack_thread import StackThread  # noqa: E402

MEASURE = r"""
import json, js
from pyapp.ui import mount

N, RUNS = %(n)d, %(runs)d
view = next(v for v in mount._views.values() if v.vm.current_room() is not None)
vm = view.vm
room = vm.current_room()
room.timeline.limit = N + 10 * RUNS + 100  # hold them all: this measures updates, not trimming
BOB = "@bench_bob:bench"

def message(i):
    return {"type": "m.room.message", "event_id": f"$bench{i}", "sender": BOB,
            "origin_server_ts": 1_700_000_000_000 + i * 1000,
            "content": {"msgtype": "m.text", "body": f"message number {i}"}}

room.timeline.apply_sync({"events": [message(i) for i in range(N)], "limited": False})
vm.refresh()
shown = view.messages.querySelectorAll("li.omc-msg").length

observer = js.MutationObserver.new(lambda *_: None)
observer.observe(view.messages, js.Object.fromEntries(
    [["childList", True], ["subtree", True], ["characterData", True], ["attributes", True]]))

def touched():
    '''How many message elements (li) the last update changed.'''
    keys = set()
    for record in observer.takeRecords():
        node = record.target
        while node and not (node.tagName == "LI" and node.parentNode == view.messages):
            node = node.parentNode if node != view.messages else None
        if node:
            keys.add(node.dataset.key or "new")
        for added in record.addedNodes:
            if added.parentNode == view.messages:
                keys.add(added.dataset.key or "new")
    return len(keys)

parts = {"model": [], "view model": [], "DOM and layout": []}

def timed(event):
    observer.takeRecords()
    t0 = js.performance.now()
    room.timeline.apply_sync({"events": [event], "limited": False})
    t1 = js.performance.now()
    vm.state = vm._compute()  # what vm.refresh() does, in its two steps
    t2 = js.performance.now()
    view.render(vm.state)
    view.scroll.scrollHeight  # force the layout the browser would do before painting
    t3 = js.performance.now()
    for name, value in zip(parts, (t1 - t0, t2 - t1, t3 - t2)):
        parts[name].append(value)
    return t3 - t0, touched()

out = {"shown": shown, "edit": [], "reaction": [], "new": [], "touched": {}}
for r in range(RUNS):
    target = f"$bench{N // 2 + r}"
    out["edit"].append(timed({
        "type": "m.room.message", "event_id": f"$edit{r}", "sender": BOB,
        "origin_server_ts": 1_800_000_000_000 + r,
        "content": {"msgtype": "m.text", "body": "* edited", "m.new_content": {
            "msgtype": "m.text", "body": f"edited {r}"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": target}}}))
    out["reaction"].append(timed({
        "type": "m.reaction", "event_id": f"$react{r}", "sender": BOB,
        "origin_server_ts": 1_800_000_000_000 + r,
        "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": target,
                                     "key": "👍"}}}))
    out["new"].append(timed(message(N + r)))
observer.disconnect()
json.dumps({k: v if k in ("shown",) else ([t for t, _ in v] if isinstance(v, list) else v)
            for k, v in out.items()} | {"parts": parts, "touched": {k: sorted({c for _, c in out[k]})
                                                    for k in ("edit", "reaction", "new")}})
"""


def run(n: int, runs: int) -> dict:
    from playwright.sync_api import sync_playwright

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
                raw = page.evaluate("(code) => window.omChat.runPython(code)",
                                    MEASURE % {"n": n, "runs": runs})
            finally:
                browser.close()
    finally:
        runner.stop()
    return json.loads(raw)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--append", action="store_true",
                    help="add the results to docs/benchmarks.md")
    args = ap.parse_args()
    result = run(args.messages, args.runs)
    touched = result["touched"]
    lines = [f"Machine: {machine()}, Chromium {chromium_version()}, {time.strftime('%Y-%m-%d')}",
             f"- room with {result['shown']} messages rendered; one event applied (model -> view "
             "model -> DOM -> layout):"]
    for kind, what in (("edit", "an edit of a message in the middle"),
                       ("reaction", "a reaction to it"),
                       ("new", "a new message at the end (reference)")):
        lines.append(f"  - {what}: {summary(result[kind])}; message elements changed per "
                     f"update: {', '.join(map(str, touched[kind]))}")
    parts = result["parts"]
    lines.append("  - where the time goes (p50 over all three): " + ", ".join(
        f"{name} {statistics.median(values):.1f} ms" for name, values in parts.items()))
    text = "\n".join(lines)
    print(text)
    if args.append:
        doc = ROOT / "docs" / "benchmarks.md"
        doc.write_text(doc.read_text().rstrip() + "\n\n### One edit or reaction among 1,000 "
                       "messages\n\n`.venv/bin/python benchmarks/timeline_updates.py --append`"
                       "\n\n" + text + "\n")


if __name__ == "__main__":
    main()
