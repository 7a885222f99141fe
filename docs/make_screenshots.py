"""Screenshots of the demo for the README, taken from the stack serve.py starts.

    .venv/bin/python docs/make_screenshots.py

Writes docs/screenshots/{event-sidebar,group-tab,messages-dashboard,phone-event}.png.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.chat import CHROMIUM, CHROMIUM_ARGS, READY, signed_in_context  # noqa: E402
from pyapp.server.stack import StackOptions  # noqa: E402
from tests.support.stack_thread import StackThread  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
CONVERSATION = [
    ("bob", "event", "Hi all! Doors open at 18:30, see you there."),
    ("alice", "event", "Great. Is there a talk on PyScript?"),
    ("bob", "event", "Yes, the second one: Python in the browser, no server needed."),
    ("bob", "group", "Anyone up for a sprint next weekend?"),
    ("alice", "group", "Count me in!"),
]


def say(stack, user: str, kind: str, text: str, n: int) -> None:
    hs = stack.synapse
    token = hs.login(f"{user}_demo", "demo-password")["access_token"]
    slug = "python-meetup" if kind == "event" else "pythonistas"
    status, room = hs.request("GET", f"/_matrix/client/v3/directory/room/%23{kind}-{slug}-demo"
                              f"%3Alocalhost", token=token)
    assert status == 200, room
    hs.request("POST", f"/_matrix/client/v3/join/{room['room_id']}", {}, token=token)
    status, body = hs.request("PUT", f"/_matrix/client/v3/rooms/{room['room_id']}/send/"
                              f"m.room.message/shot{n}", {"msgtype": "m.text", "body": text},
                              token=token)
    assert status == 200, body


def main() -> None:
    from playwright.sync_api import sync_playwright

    runner = StackThread(StackOptions.for_tests(Path(tempfile.mkdtemp(prefix="shots-")),
                                                auth="password"))
    stack = runner.start()
    try:
        runner.call(stack.orchestrator.drain())
        for n, (user, kind, text) in enumerate(CONVERSATION):
            say(stack, user, kind, text, n)
        OUT.mkdir(parents=True, exist_ok=True)
        shots = [
            ("event-sidebar", "/event.html?slug=python-meetup", {"width": 1280, "height": 760}),
            ("group-tab", "/group.html?slug=pythonistas#discussion", {"width": 1280, "height": 760}),
            ("messages-dashboard", "/messages.html", {"width": 1280, "height": 760}),
            ("phone-event", "/event.html?slug=python-meetup", {"width": 375, "height": 740}),
        ]
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            ctx = signed_in_context(browser, stack, "alice")
            for name, path, viewport in shots:
                page = ctx.new_page()
                page.set_viewport_size(viewport)
                page.goto(stack.url + path)
                page.wait_for_selector(READY, timeout=120_000)
                page.wait_for_selector("om-chat .omc-body", timeout=30_000)
                if viewport["width"] < 500:
                    page.locator("om-chat").scroll_into_view_if_needed()
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=viewport["width"] < 500)
                page.close()
                print("wrote", OUT / f"{name}.png")
            browser.close()
    finally:
        runner.stop()


if __name__ == "__main__":
    main()
