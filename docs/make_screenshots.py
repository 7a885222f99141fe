"""Screenshots of the demo for the README, taken from the stack serve.py starts.

    .venv/bin/python docs/make_screenshots.py

Writes docs/screenshots/{event-sidebar,group-tab,messages-dashboard,phone-event,event-dm}.png.

The conversation is seeded through the real Synapse by a CPython client speaking for each
demo user, with the contents the chat itself sends (pyapp.client.actions, pyapp.client.markdown,
pyapp.client.mentions): Markdown (bold, a link, a code span), a reply, an edit, reactions and a
mention of alice (highlighted in her view); and a direct chat bob started with alice the
standard way (pyapp.client.direct), opened from the event page's attendee list, where bob
sends a picture (uploaded to the homeserver, the content the chat sends: pyapp.client.media,
shown in alice's view through authenticated media). The screenshots are taken as alice. Emoji need a colour emoji font (Debian: fonts-noto-color-emoji).
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.chat import CHROMIUM, CHROMIUM_ARGS, READY, signed_in_context  # noqa: E402
from pyapp.client.direct import DIRECT_TYPE, create_body, with_room  # noqa: E402
from pyapp.client.actions import edit_content, reaction_content, reply_content  # noqa: E402
from pyapp.client.markdown import text_content  # noqa: E402
from pyapp.client.media import UPLOAD_PATH, upload_content, with_url  # noqa: E402
from pyapp.client.mentions import Pill, message_content  # noqa: E402
from pyapp.platform.demo import DEMO_PASSWORD, DEMO_TENANT  # noqa: E402
from pyapp.platform.service import Platform  # noqa: E402
from pyapp.server.stack import StackOptions  # noqa: E402
from tests.support.stack_thread import StackThread  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
ROOMS = {"event": "python-meetup", "group": "pythonistas"}


class Demo:
    """The demo users as Matrix clients: each says, replies, edits and reacts in a room."""

    def __init__(self, stack):
        self.hs = stack.synapse
        self.tokens: dict[str, str] = {}
        self.user_ids: dict[str, str] = {}
        self.n = 0
        self.rooms: dict[tuple[str, str], str] = {}

    def _token(self, user: str) -> str:
        if user not in self.tokens:
            login = self.hs.login(f"{user}_{DEMO_TENANT}", DEMO_PASSWORD)
            self.tokens[user], self.user_ids[user] = login["access_token"], login["user_id"]
        return self.tokens[user]

    def room(self, user: str, kind: str) -> str:
        if (user, kind) in self.rooms:
            return self.rooms[user, kind]
        token = self._token(user)
        status, room = self.hs.request(
            "GET", f"/_matrix/client/v3/directory/room/%23{kind}-{ROOMS[kind]}-{DEMO_TENANT}"
            f"%3Alocalhost", token=token)
        assert status == 200, room
        status, body = self.hs.request("POST", f"/_matrix/client/v3/join/{room['room_id']}", {},
                                       token=token)
        assert status == 200, body
        self.rooms[user, kind] = room["room_id"]
        return room["room_id"]

    def send(self, user: str, kind: str, content: dict, event_type: str = "m.room.message") -> str:
        room_id = self.room(user, kind)
        self.n += 1
        status, body = self.hs.request(
            "PUT", f"/_matrix/client/v3/rooms/{room_id}/send/{event_type}/shot{self.n}",
            content, token=self.tokens[user])
        assert status == 200, body
        return body["event_id"]

    def dm(self, user: str, other: str) -> str:
        """`user` starts a direct chat with `other`, who accepts: both list it in m.direct."""
        self._token(user), self._token(other)
        # The chat makes a DM encrypted from its first event; this seeding client speaks
        # plaintext only, so its DM leaves the encryption state out (no lock in the picture).
        body = {k: v for k, v in create_body(self.user_ids[other]).items()
                if k != "initial_state"}
        status, body = self.hs.request("POST", "/_matrix/client/v3/createRoom", body,
                                       token=self.tokens[user])
        assert status == 200, body
        room_id = body["room_id"]
        status, body = self.hs.request("POST", f"/_matrix/client/v3/join/{room_id}", {},
                                       token=self.tokens[other])
        assert status == 200, body
        for me, them in ((user, other), (other, user)):
            status, body = self.hs.request(
                "PUT", f"/_matrix/client/v3/user/{self.user_ids[me]}/account_data/{DIRECT_TYPE}",
                with_room({}, self.user_ids[them], room_id), token=self.tokens[me])
            assert status == 200, body
            self.rooms[me, "dm"] = room_id
        return room_id

    def say(self, user: str, kind: str, text: str) -> str:
        return self.send(user, kind, text_content(text))

    def reply(self, user: str, kind: str, text: str, to: str, to_user: str) -> str:
        self._token(to_user)
        return self.send(user, kind, reply_content(text, to, self.user_ids[to_user],
                                                   self.user_ids[user]))

    def mention(self, user: str, kind: str, text: str, who: str) -> str:
        """`text` holding "@Name" for the demo user `who` (their display name), as a pill."""
        token = self._token(who)
        status, body = self.hs.request(
            "GET", f"/_matrix/client/v3/profile/{self.user_ids[who]}/displayname", token=token)
        name = body.get("displayname") if status == 200 else None
        pill = Pill(self.user_ids[who], name or who)
        return self.send(user, kind, message_content(text.replace("@Name", pill.text), [pill]))

    def picture(self, user: str, kind: str, name: str, png: bytes, size: tuple[int, int]) -> str:
        """An image message, uploaded as the chat uploads it."""
        import json
        import urllib.request
        self._token(user)
        req = urllib.request.Request(f"{self.hs.base_url}{UPLOAD_PATH}?filename={name}",
                                     data=png, method="POST")
        req.add_header("Content-Type", "image/png")
        req.add_header("Authorization", f"Bearer {self.tokens[user]}")
        with urllib.request.urlopen(req, timeout=30) as response:
            mxc = json.loads(response.read())["content_uri"]
        return self.send(user, kind, with_url(upload_content(name, "image/png", len(png), *size),
                                              mxc))

    def read(self, user: str, kind: str, event_id: str) -> None:
        status, body = self.hs.request(
            "POST", f"/_matrix/client/v3/rooms/{self.room(user, kind)}/receipt/m.read/{event_id}",
            {}, token=self.tokens[user])
        assert status == 200, body

    def edit(self, user: str, kind: str, event_id: str, text: str) -> str:
        return self.send(user, kind, edit_content(text, event_id))

    def react(self, user: str, kind: str, event_id: str, key: str) -> str:
        return self.send(user, kind, reaction_content(event_id, key), "m.reaction")


def seed(demo: Demo) -> None:
    demo.dm("bob", "alice")  # first: the event's and group's chats stay the newest
    demo.say("bob", "dm", "Alice, could you open the doors at 18:15? My train is late.")
    demo.picture("bob", "dm", "side-door.png", side_door(), (480, 270))
    demo.say("bob", "dm", "The side door, please: the main one stays locked.")
    answer = demo.say("alice", "dm", "Sure, I'll be there early. Safe travels!")
    demo.read("alice", "dm", answer)  # she answered on her phone, which read bob's messages
    for user in ("alice", "bob", "carol"):  # everyone in first: one "joined" line on top
        for kind in ROOMS:
            demo.room(user, kind)
    hello = demo.say("bob", "event", "Hi all! Doors open at **18:30**; the agenda is "
                     "[on the wiki](https://example.org/python-meetup).")
    question = demo.say("alice", "event", "Great. Is there a talk on PyScript?")
    demo.edit("alice", "event", question, "Great. Is there a talk on Pyodide?")
    demo.reply("bob", "event", "Yes, the second one: Python in the browser. Try "
               "`import micropip` before you come.", question, "alice")
    demo.mention("carol", "event", "@Name, I'll bring the *projector*.", "alice")
    for user, key in (("alice", "🎉"), ("carol", "🎉"), ("carol", "👍")):
        demo.react(user, "event", hello, key)
    demo.react("carol", "event", question, "👀")

    sprint = demo.say("bob", "group", "Anyone up for a sprint next weekend?")
    demo.reply("alice", "group", "Count me in! I'll bring **two** laptops and "
               "look at `asyncio` in the browser.",
               sprint, "bob")
    for user, key in (("alice", "🙌"), ("carol", "🙌")):
        demo.react(user, "group", sprint, key)


def side_door() -> bytes:
    """A small drawn picture: the venue's side door (a PNG made here, no stock photo)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (480, 270), "#bfe3f5")
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 200, 480, 270), fill="#8fbf6a")  # grass
    draw.rectangle((60, 70, 420, 215), fill="#d98b5f", outline="#8a4b2a", width=3)  # wall
    draw.polygon([(40, 75), (240, 15), (440, 75)], fill="#7a3b2e")  # roof
    for x in (90, 170, 330):
        draw.rectangle((x, 100, x + 50, 140), fill="#fff6c8", outline="#8a4b2a", width=2)
    draw.rectangle((250, 130, 300, 215), fill="#3f5f8f", outline="#26324a", width=3)  # door
    draw.ellipse((288, 170, 294, 176), fill="#f2d16b")
    draw.polygon([(400, 175), (340, 175), (340, 163), (312, 185), (340, 207), (340, 195),
                  (400, 195)], fill="#ffffff", outline="#26324a")  # arrow to the door
    draw.text((335, 145), "side door", fill="#26324a")
    out = io.BytesIO()
    img.save(out, "PNG", optimize=True)
    return out.getvalue()


def optimise(png: bytes) -> bytes:
    """Lossless re-encode with zlib's best effort (Chromium writes fast, larger PNGs)."""
    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(png)).save(out, "PNG", optimize=True)
    return min(png, out.getvalue(), key=len)


def main() -> None:
    from playwright.sync_api import sync_playwright

    runner = StackThread(StackOptions.for_tests(Path(tempfile.mkdtemp(prefix="shots-")),
                                                auth="password"))
    stack = runner.start()
    try:
        async def carol_attends():
            for kind, slug in ROOMS.items():  # a third voice, so reactions add up
                Platform(stack.store).join(DEMO_TENANT, kind, slug, "carol")
            await stack.orchestrator.drain()

        runner.call(stack.orchestrator.drain())
        runner.call(carol_attends())
        seed(Demo(stack))
        OUT.mkdir(parents=True, exist_ok=True)
        shots = [
            ("event-sidebar", "/event.html?slug=python-meetup", {"width": 1280, "height": 800}),
            ("group-tab", "/group.html?slug=pythonistas#discussion", {"width": 1280, "height": 800}),
            ("messages-dashboard", "/messages.html", {"width": 1280, "height": 800}),
            ("phone-event", "/event.html?slug=python-meetup", {"width": 375, "height": 812}),
            ("event-dm", "/event.html?slug=python-meetup", {"width": 1280, "height": 800}),
        ]
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            ctx = signed_in_context(browser, stack, "alice")
            for name, path, viewport in shots:
                page = ctx.new_page()
                page.set_viewport_size(viewport)
                page.goto(stack.url + path)
                page.wait_for_selector(READY, timeout=120_000)
                # the whole seeded conversation: the edit and the reactions applied
                page.wait_for_selector("om-chat .omc-body", timeout=30_000)
                page.wait_for_selector("om-chat .omc-reaction", timeout=30_000)
                # the open room's unread count clears once its read receipt comes back in a sync
                page.locator("om-chat [aria-current] .omc-unread").wait_for(state="detached",
                                                                            timeout=30_000)
                if viewport["width"] < 500:
                    # the phone's chat is short: start it at the formatted message, not the end
                    page.locator("om-chat .omc-msg", has_text="Doors open").evaluate(
                        "e => e.scrollIntoView({block: 'start'})")
                if name == "event-dm":  # "Message" beside bob in the attendee list
                    page.get_by_role("button", name="Message Bob Example").click()
                    page.locator("#site-dm om-chat .omc-body", has_text="Safe travels").wait_for(
                        timeout=30_000)
                    page.locator("#site-dm om-chat .omc-picture-img[src]").wait_for(
                        timeout=30_000)  # bob's picture, fetched as authenticated media
                png = page.screenshot(full_page=viewport["width"] < 500)
                (OUT / f"{name}.png").write_bytes(optimise(png))
                page.close()
                print("wrote", OUT / f"{name}.png", (OUT / f"{name}.png").stat().st_size, "bytes")
            browser.close()
    finally:
        runner.stop()


if __name__ == "__main__":
    main()
