"""Conversation benchmarks in real Chromium against a local Synapse (issue 8).

    .venv/bin/python benchmarks/conversation.py [--messages 1100] [--renders 30]

Prints, with the machine:
- scroll-back: the log scrolled to its top -> the next 50 older messages in the DOM and a
  frame painted (the /messages request, taking the page in, rendering), p50/p95 over every
  full page while scrolling back through the room;
- with 1,000+ messages loaded: one new incoming message taken into the timeline model and
  rendered (view model + keyed DOM update), p50/p95, measured inside Pyodide; and how many of
  the existing message nodes were replaced (must be 0: a keyed update, not a re-render).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.chat import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from benchmarks.timing import machine, summary  # noqa: E402
from pyapp.server.synapse import Synapse, SynapseOptions, free_port  # noqa: E402
from tests.e2e.chat_ui_support import make_room  # noqa: E402
from tests.e2e.conftest import ServerThread  # noqa: E402

SCROLL = "om-chat .omc-scroll"

SCROLL_BACK_JS = """async (sel) => {
    const log = document.querySelector(sel);
    const count = () => log.querySelectorAll('.omc-msg').length;
    const before = count();
    const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
    const t0 = performance.now();
    log.scrollTop = 0;
    log.dispatchEvent(new Event('scroll'));
    while (count() < before + 50 && !log.querySelector('.omc-start')) {
        await frame();
        if (performance.now() - t0 > 30000) return null;
    }
    await frame();
    return [performance.now() - t0, count() - before, !!log.querySelector('.omc-start')];
}"""

RENDER_ONE_PY = """
import time
from pyapp.ui import mount
view = next(iter(mount._views.values()))
vm = view.vm
room = vm.current_room()
n = len(room.timeline.items())
event = {"type": "m.room.message", "sender": %(sender)r, "event_id": "$bench" + str(n),
         "origin_server_ts": int(time.time() * 1000),
         "content": {"msgtype": "m.text", "body": "incoming " + str(n)}}
t0 = time.perf_counter()
room.timeline.apply_sync({"events": [event]})
t1 = time.perf_counter()
vm.refresh()
t2 = time.perf_counter()
[(t2 - t0) * 1000, (t2 - t1) * 1000]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1100)
    parser.add_argument("--renders", type=int, default=30)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from pyapp.build import build
    from pyapp.server.web import make_app

    build(log=lambda *a: None)
    with tempfile.TemporaryDirectory() as tmp:
        hs = Synapse(SynapseOptions(data_dir=Path(tmp), port=free_port(),
                                    access_token_lifetime=None))
        hs.start()
        web = None
        try:
            a = hs.register_user("alice" + secrets.token_hex(2), "pw-alice")
            b = hs.register_user("bob" + secrets.token_hex(2), "pw-bob")
            room_id = make_room(hs, a["access_token"], "event", "bench-history", [b])
            t0 = time.monotonic()
            for n in range(args.messages):
                status, body = hs.request(
                    "PUT", f"/_matrix/client/v3/rooms/{quote(room_id)}/send/m.room.message/"
                           f"b{n}", {"msgtype": "m.text", "body": f"history {n:04d}"},
                    token=b["access_token"])
                assert status == 200, body
            print(f"# {args.messages} messages sent in {time.monotonic() - t0:.0f} s",
                  file=sys.stderr)
            web = ServerThread(make_app(ROOT / "web", ROOT / "static", {
                "homeserver": hs.base_url, "debug_run_python": True})).start()
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_context(viewport={"width": 1100, "height": 800}).new_page()
                page.goto(f"{web.base_url}/event.html?slug=bench-history")
                page.locator("om-chat input[name=username]").fill(a["user_id"][1:].split(":")[0])
                page.locator("om-chat input[name=password]").fill("pw-alice")
                page.locator("om-chat form.omc-login button[type=submit]").click()
                page.locator("om-chat .omc-msg").first.wait_for(timeout=90_000)
                pages = []
                while True:
                    result = page.evaluate(SCROLL_BACK_JS, SCROLL)
                    if result is None:
                        raise SystemExit("scroll-back timed out")
                    ms, added, at_start = result
                    if added >= 50:
                        pages.append(ms)
                    if at_start:
                        break
                loaded = page.locator("om-chat .omc-msg").count()
                page.evaluate("(sel) => { window.__nodes = [...document.querySelectorAll("
                              "sel + ' .omc-msg')]; }", SCROLL)
                sender = b["user_id"]
                totals, renders = [], []
                for _ in range(args.renders):
                    total, render = page.evaluate(
                        "(code) => window.omChat.runPython(code).then((r) => r.toJs ? "
                        "r.toJs() : r)", RENDER_ONE_PY % {"sender": sender})
                    totals.append(total)
                    renders.append(render)
                replaced = page.evaluate("""(sel) => {
                    const now = [...document.querySelectorAll(sel + ' .omc-msg')];
                    return window.__nodes.filter((n, i) => now[i] !== n || !n.isConnected).length;
                }""", SCROLL)
                version = browser.version
                browser.close()
        finally:
            if web is not None:
                web.stop()
            hs.stop()
    print(f"Machine: {machine()}; Chromium {version}")
    print(f"Scroll-back, scroll to top -> 50 older messages rendered: {summary(pages)}")
    print(f"Messages loaded after scrolling back to the start: {loaded}")
    print(f"One new message with {loaded}+ loaded, model + view model + DOM: "
          f"{summary(totals, 1)}; of which view model + DOM: {summary(renders, 1)}")
    print(f"Existing message nodes replaced by {args.renders} new messages: {replaced} "
          f"of {loaded}")
    print(json.dumps({"scroll_back_ms": pages, "render_one_ms": totals, "loaded": loaded,
                      "replaced": replaced}))


if __name__ == "__main__":
    main()
