"""End-to-end encryption in real Chromium against a local Synapse (issue 11):

    .venv/bin/python benchmarks/encryption.py [--runs 5] [--messages 200] [--latency 20]

- Opening history: a fresh page (reloaded, the same device) loads the room's `--messages`
  earlier messages in one page of history (ChatService.paginate) until the oldest is in the
  DOM: in an encrypted room (megolm, sent by an independent nio + vodozemac client) and in an
  unencrypted one with the same texts, same run; with the time spent decrypting (the
  CryptoSession's decrypt_page) on its own. p50 over `--runs` reloads.
- Message latency, Enter in browser A -> rendered in browser B, in an encrypted room and in an
  unencrypted one, alternating blocks of five in the same run (benchmarks.chat's method: the
  typing notice reached B first, as when a person types).
Prints the machine and the load before and after.
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

from benchmarks.chat import CHROMIUM, CHROMIUM_ARGS, browser_latency  # noqa: E402
from benchmarks.timing import load, machine, summary  # noqa: E402
from pyapp.identity import BOT_LOCALPART  # noqa: E402
from pyapp.server.synapse import Synapse, SynapseOptions, free_port  # noqa: E402
from tests.e2e.chat_ui_support import make_room  # noqa: E402
from tests.e2e.conftest import ServerThread  # noqa: E402
from tests.e2e.crypto_peer import NioPeer  # noqa: E402

READY = "om-chat textarea.omc-textarea:enabled"

# Load one page of `n` earlier events the way scrolling up does, timing the decryption;
# the oldest message's appearance in the DOM is watched from JS (installed before).
PAGINATE = """
import js
from pyapp.client import crypto
from pyapp.client.service import ChatService
svc = ChatService._shared
spent = [0.0]
original = crypto.CryptoSession.decrypt_page
async def timed(self, room_id, events):
    t = js.performance.now()
    try:
        return await original(self, room_id, events)
    finally:
        spent[0] += js.performance.now() - t
crypto.CryptoSession.decrypt_page = timed
from pyapp.client.timeline_model import Message
def messages():
    return sum(isinstance(i, Message) for i in svc.room(ROOM).timeline.items())
before = messages()
try:
    t0 = js.performance.now()
    await svc.paginate(ROOM, limit=N)
    t1 = js.performance.now()
finally:
    crypto.CryptoSession.decrypt_page = original
[t0, t1 - t0, spent[0], messages() - before]
"""

# The last time messages were added to the DOM (the page's one render of the loaded page).
WATCH = """() => {
    const count = () => document.querySelectorAll('om-chat .omc-body').length;
    window.__grown = null; window.__base = count(); let seen = window.__base;
    new MutationObserver(() => {
        const now = count();
        if (now > seen) { seen = now; window.__grown = performance.now(); window.__count = now; }
    }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
WAITING = ("![...document.querySelectorAll('om-chat .omc-body')].some(e => "
           "e.textContent.includes(\"Waiting for this message\")) && "
           "document.querySelectorAll('om-chat .omc-body').length > 0")


def sign_in(page, base: str, slug: str, user: dict, password: str) -> None:
    page.goto(f"{base}/event.html?slug={slug}")
    page.locator("om-chat input[name=username]").fill(user["user_id"][1:].split(":")[0])
    page.locator("om-chat input[name=password]").fill(password)
    page.locator("om-chat form.omc-login button[type=submit]").click()
    page.locator(READY).wait_for(timeout=120_000)


def wait(page, predicate: str, what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(predicate):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        page.wait_for_timeout(20)


def open_history(page, base: str, slug: str, room_id: str, n: int
                 ) -> tuple[float, float, float, int]:
    """(loaded messages rendered, paginate returned, decrypting) in ms from the paginate's
    start, and how many messages were added, in a fresh page."""
    page.goto(f"{base}/event.html?slug={slug}")
    page.locator(READY).wait_for(timeout=120_000)
    # The stored sync's messages shown (and, encrypted, decrypted) before measuring.
    wait(page, WAITING, "the latest messages")
    page.evaluate(WATCH)
    t0, paginate, decrypt, added = page.evaluate(
        "(code) => window.omChat.runPython(code)",
        f"ROOM = {room_id!r}\nN = {n}\n" + PAGINATE)
    # Every loaded message in the DOM (the view may put them in over several frames).
    wait(page, f"window.__grown !== null && window.__count - window.__base >= {added}",
         "the loaded messages in the DOM")
    return page.evaluate("window.__grown") - t0, paginate, decrypt, added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--latency", type=int, default=20, help="messages per room")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from pyapp.build import build
    from pyapp.server.web import make_app

    build(log=lambda *a: None)
    load_before = load()
    with tempfile.TemporaryDirectory() as tmp:
        hs = Synapse(SynapseOptions(data_dir=Path(tmp) / "hs", port=free_port(),
                                    access_token_lifetime=None))
        hs.start()
        web = peer = None
        try:
            a = hs.register_user("alice" + secrets.token_hex(2), "pw-alice")
            b = hs.register_user("bob" + secrets.token_hex(2), "pw-bob")
            n_name = "nio" + secrets.token_hex(2)
            n = hs.register_user(n_name, "pw-nio")
            rooms = {}
            for slug in ("bench-e2e", "bench-plain"):
                rooms[slug] = make_room(hs, a["access_token"], "event", slug, [b, n])
                for member in (b, n):
                    hs.request("POST", f"/_matrix/client/v3/join/{quote(rooms[slug])}", {},
                               token=member["access_token"])
            bot = hs.register_user(BOT_LOCALPART, "pw-bot")
            status, body = hs.request(
                "PUT", f"/_matrix/client/v3/rooms/{quote(rooms['bench-e2e'])}/state/"
                       "m.room.encryption/", {"algorithm": "m.megolm.v1.aes-sha2"},
                token=bot["access_token"])
            assert status == 200, body
            web = ServerThread(make_app(ROOT / "web", ROOT / "static", {
                "homeserver": hs.base_url, "debug_run_python": True})).start()
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                version = browser.version
                pages = {}
                for who, user, password in (("a", a, "pw-alice"), ("b", b, "pw-bob")):
                    page = browser.new_context(bypass_csp=True,
                                               viewport={"width": 1000, "height": 800}
                                               ).new_page()
                    sign_in(page, web.base_url, "bench-e2e", user, password)
                    pages[who] = page
                page_a, page_b = pages["a"], pages["b"]

                # Both browsers' devices exist; the peer encrypts the history for them.
                (Path(tmp) / "nio").mkdir()
                peer = NioPeer(hs.base_url, n["user_id"], "pw-nio", str(Path(tmp) / "nio"))
                peer.wait_encrypted(rooms["bench-e2e"])
                for user in (a, b):
                    deadline = time.monotonic() + 120
                    while not peer.run(_devices(peer, user["user_id"])):
                        if time.monotonic() > deadline:
                            raise SystemExit(f"the peer never saw {user['user_id']}'s device")
                        time.sleep(0.2)
                peer.rotate(rooms["bench-e2e"])
                texts = [f"m-{i:03d} " + "words of a chat message " * 3
                         for i in range(args.messages + 40)]
                for i, text in enumerate(texts):
                    peer.send(rooms["bench-e2e"], text)
                    status, body = hs.request(
                        "PUT", f"/_matrix/client/v3/rooms/{quote(rooms['bench-plain'])}/send/"
                               f"m.room.message/p{i}", {"msgtype": "m.text", "body": text},
                        token=n["access_token"])
                    assert status == 200, body

                history = {"bench-e2e": [], "bench-plain": []}
                for _ in range(args.runs):
                    for slug in history:  # alternating: the load drifts alike for both
                        history[slug].append(open_history(page_a, web.base_url, slug,
                                                          rooms[slug], args.messages))

                latency = {"bench-e2e": [], "bench-plain": []}
                for slug in latency:  # the first message of each: a new room key is shared
                    for page in (page_a, page_b):
                        page.goto(f"{web.base_url}/event.html?slug={slug}")
                        page.locator(READY).wait_for(timeout=120_000)
                    browser_latency(page_a, page_b, 1)
                done = 0
                while done < args.latency:
                    for slug in latency:
                        for page in (page_a, page_b):
                            page.goto(f"{web.base_url}/event.html?slug={slug}")
                            page.locator(READY).wait_for(timeout=120_000)
                        latency[slug] += browser_latency(page_a, page_b, 5)
                    done += 5
                browser.close()
        finally:
            if peer is not None:
                peer.close()
            if web is not None:
                web.stop()
            hs.stop()
    print(f"Machine: {machine()}; Chromium {version}; load {load_before} before, "
          f"{load()} after")
    for slug, label in (("bench-e2e", "encrypted"), ("bench-plain", "unencrypted")):
        rendered = [r for r, _, _, _ in history[slug]]
        added = sorted({k for _, _, _, k in history[slug]})
        print(f"Open {args.messages} earlier messages ({added} rendered), {label}: paginate -> "
              f"in the DOM {summary(rendered)}; of which decrypting "
              f"{summary([d for _, _, d, _ in history[slug]], 1)}")
    for slug, label in (("bench-e2e", "encrypted"), ("bench-plain", "unencrypted")):
        print(f"Enter in A -> rendered in B, {label}: {summary(latency[slug])}")
    print(json.dumps({"history": history, "latency": latency}))


async def _devices(peer, user_id: str) -> bool:
    return bool(list(peer.client.device_store.active_user_devices(user_id)))


if __name__ == "__main__":
    main()
