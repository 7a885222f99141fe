"""The sidebar's header at phone width (375 px, and the 320 px of the smallest phones), with
everything it can hold: a long room name, the unread-mentions count, the notification setting,
the connection and Sign out. Each part is whole inside the header, none overlaps another, and
nothing scrolls sideways (bounding boxes from Chromium against the real Synapse)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.chat_ui_support import LIVE_TIMEOUT_MS, chat, expect_message, make_room, \
    open_and_sign_in

pytestmark = pytest.mark.e2e

PARTS = (".omc-title", ".omc-lock", ".omc-header-mentions", ".omc-notify--header select",
         ".omc-conn", ".omc-header-end .omc-btn")


def boxes(page) -> dict[str, dict]:
    return page.evaluate("""parts => {
        const header = document.querySelector('om-chat .omc-header');
        const out = {header: header.getBoundingClientRect().toJSON(),
                     overflow: header.scrollWidth - header.clientWidth};
        for (const sel of parts) {
            const el = header.querySelector(sel);
            if (el && el.getClientRects().length) out[sel] = el.getBoundingClientRect().toJSON();
        }
        return out;
    }""", list(PARTS))


def overlap(a: dict, b: dict) -> bool:
    return a["left"] < b["right"] - 0.5 and b["left"] < a["right"] - 0.5 \
        and a["top"] < b["bottom"] - 0.5 and b["top"] < a["bottom"] - 0.5


@pytest.mark.parametrize("width", [375, 320])
def test_the_sidebar_header_fits_a_phone_without_overlap(synapse, make_user, web_server,
                                                          new_page, tmp_path, width):
    a_name, a_pw, a = make_user("alice")
    _, _, b = make_user("bob")
    room_id = make_room(synapse, a["access_token"], "event", f"phone-head-{width}", [b],
                        name="Python Meetup: an evening of talks about Python in the browser")
    synapse.request("PUT", f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/m1",
                    {"msgtype": "m.text", "body": "alice, see you there",
                     "m.mentions": {"user_ids": [a["user_id"]]}}, token=b["access_token"])
    page = new_page(viewport={"width": width, "height": 740})
    page.add_init_script("Object.defineProperty(document, 'visibilityState', "
                         "{get: () => 'hidden'})")  # not read at once: the count stays
    open_and_sign_in(page, f"{web_server}/event.html?slug=phone-head-{width}", a_name, a_pw)
    expect_message(page, "alice, see you there")
    expect(chat(page).locator(".omc-header-mentions")).to_have_text("@1",
                                                                    timeout=LIVE_TIMEOUT_MS)
    chat(page).scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / f"phone-header-{width}.png"))  # to look at on failure
    got = boxes(page)
    header = got.pop("header")
    assert got.pop("overflow") <= 0, "the header scrolls sideways"
    shown = dict(got)
    assert set(shown) >= {".omc-title", ".omc-header-mentions", ".omc-notify--header select",
                          ".omc-conn", ".omc-header-end .omc-btn"}, shown
    for name, box in shown.items():
        assert box["left"] >= header["left"] - 0.5 and box["right"] <= header["right"] + 0.5, \
            (name, box, header)
        assert box["top"] >= header["top"] - 0.5 and box["bottom"] <= header["bottom"] + 0.5, \
            (name, box, header)
        assert box["right"] <= width, (name, box)
    names = list(shown)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            assert not overlap(shown[first], shown[second]), (first, second, shown)
    # the room's name keeps a readable width, on its own line if need be
    assert shown[".omc-title"]["width"] >= 150, shown[".omc-title"]
