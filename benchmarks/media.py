"""Image benchmark in real Chromium against a local Synapse behind the same-origin proxy
(issue 10): an image of about 1 MB chosen in browser A -> its thumbnail loaded in browser B.

    .venv/bin/python benchmarks/media.py [--runs 10] [--kib 1024]

Prints, with the machine and the load:
- chosen -> visible in B: from the file being handed to A's file input (Playwright, wall
  clock) to the `load` event of the picture in B (Date.now(), the same machine's clock), p50/p95;
- the floor in the same run: the same bytes uploaded and sent as an m.image by a raw HTTP
  client (CPython, through the same proxy), until the homeserver acknowledged the send.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.chat import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from benchmarks.timing import machine, summary  # noqa: E402
from pyapp.server.synapse import Synapse, SynapseOptions, free_port  # noqa: E402
from tests.e2e.chat_ui_support import make_room  # noqa: E402
from tests.e2e.conftest import ServerThread  # noqa: E402
from tests.e2e.test_chat_ui_media import png  # noqa: E402

WATCH_JS = """() => {
    window.__loads = {};
    document.addEventListener('load', (e) => {
        const img = e.target;
        if (img.classList && img.classList.contains('omc-picture-img') && !(img.alt in __loads))
            window.__loads[img.alt] = Date.now();
    }, true);
}"""


def floor_once(base: str, token: str, room_id: str, data: bytes, n: int) -> float:
    t0 = time.time()
    req = urllib.request.Request(f"{base}/_matrix/media/v3/upload?filename=floor{n}.png",
                                 data=data, method="POST")
    req.add_header("Content-Type", "image/png")
    req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=60) as r:
        mxc = json.loads(r.read())["content_uri"]
    content = {"msgtype": "m.image", "body": f"floor{n}.png", "url": mxc,
               "info": {"mimetype": "image/png", "size": len(data)}}
    req = urllib.request.Request(
        f"{base}/_matrix/client/v3/rooms/{quote(room_id)}/send/m.room.message/floor{n}",
        data=json.dumps(content).encode(), method="PUT")
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=60) as r:
        r.read()
    return (time.time() - t0) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--kib", type=int, default=1024, help="image size, about")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from pyapp.build import build
    from pyapp.server.matrix_proxy import add_matrix_proxy
    from pyapp.server.web import CONFIG_KEY, make_app

    build(log=lambda *a: None)
    side = int((args.kib * 1024 / 3) ** 0.5)
    with tempfile.TemporaryDirectory() as tmp:
        hs = Synapse(SynapseOptions(data_dir=Path(tmp), port=free_port(),
                                    access_token_lifetime=None))
        hs.start()
        web = None
        try:
            a = hs.register_user("alice" + secrets.token_hex(2), "pw-alice")
            b = hs.register_user("bob" + secrets.token_hex(2), "pw-bob")
            room_id = make_room(hs, a["access_token"], "event", "bench-media", [b])
            app = make_app(ROOT / "web", ROOT / "static", {"homeserver": "",
                                                          "debug_run_python": True})
            add_matrix_proxy(app, hs.base_url, max_upload_size=hs.max_upload_size())
            web = ServerThread(app).start()
            app[CONFIG_KEY]["homeserver"] = web.base_url
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                pages = []
                for login, pw in ((a, "pw-alice"), (b, "pw-bob")):
                    page = browser.new_context(viewport={"width": 1000, "height": 800}
                                               ).new_page()
                    page.goto(f"{web.base_url}/event.html?slug=bench-media")
                    page.locator("om-chat input[name=username]").fill(
                        login["user_id"][1:].split(":")[0])
                    page.locator("om-chat input[name=password]").fill(pw)
                    page.locator("om-chat form.omc-login button[type=submit]").click()
                    page.locator("om-chat textarea:enabled").wait_for(timeout=120_000)
                    pages.append(page)
                page_a, page_b = pages
                page_b.evaluate(WATCH_JS)
                shown, floors = [], []
                for n in range(args.runs):
                    data = png(side, side, noise=True)
                    path = Path(tmp) / f"photo{n}.png"
                    path.write_bytes(data)
                    t0 = time.time() * 1000
                    page_a.locator("om-chat input[type=file]").set_input_files(str(path))
                    deadline = time.monotonic() + 60
                    name = json.dumps(f"photo{n}.png")
                    while not page_b.evaluate(f"{name} in window.__loads"):
                        if time.monotonic() > deadline:
                            raise SystemExit(f"image {n} did not show in B")
                        page_b.wait_for_timeout(20)
                    shown.append(page_b.evaluate(f"window.__loads[{name}]") - t0)
                    floors.append(floor_once(web.base_url, a["access_token"], room_id, data, n))
                version = browser.version
                browser.close()
        finally:
            if web is not None:
                web.stop()
            hs.stop()
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"Machine: {machine()}; Chromium {version}; load {' '.join(load)}")
    print(f"Image of {len(data):,} bytes, chosen in A -> visible in B: {summary(shown)}")
    print(f"Floor, raw upload + send (CPython, same proxy): {summary(floors)}")
    print(json.dumps({"bytes": len(data), "shown_ms": shown, "floor_ms": floors}))


if __name__ == "__main__":
    main()
