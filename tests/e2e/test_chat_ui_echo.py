"""Enter in the composer: the message's PUT leaves before its local echo is drawn, and the
echo comes with the emptied composer, in real Chromium (the order, never a duration: the
benchmark, benchmarks/local_echo.py, measures the times)."""

from __future__ import annotations

import pytest

from tests.e2e.chat_ui_support import (BOOT_TIMEOUT_MS, chat, expect_message, make_room,
                                       open_and_sign_in)
from tests.support.waiting import page_until

pytestmark = pytest.mark.e2e

# When the text first appears in the DOM, and what the composer held at that moment.
PROBE = """
(() => {
  const b = window.__echoProbe = { text: null, drawnAt: null, composer: null };
  new MutationObserver((records) => {
    if (!b.text || b.drawnAt !== null) return;
    for (const r of records) for (const n of r.addedNodes) {
      if (n.textContent && n.textContent.includes(b.text)) {
        b.drawnAt = performance.now();
        b.composer = document.querySelector('om-chat textarea').value;
        return;
      }
    }
  }).observe(document, { subtree: true, childList: true });
})();
"""


def test_the_message_leaves_before_its_echo_is_drawn_with_the_emptied_composer(
        synapse, make_user, web_server, new_page):
    name, password, user = make_user("echo")
    make_room(synapse, user["access_token"], "event", "echo-order")
    page = new_page()
    page.context.add_init_script(PROBE)
    open_and_sign_in(page, f"{web_server}/event.html?slug=echo-order", name, password)
    box = chat(page).get_by_label("Message", exact=True)
    for i in range(3):
        text = f"echo order {i}"
        box.fill(text)
        page.evaluate("(t) => { window.__echoProbe.text = t; window.__echoProbe.drawnAt = null; }",
                      text)
        box.press("Enter")
        expect_message(page, text)
        page_until(page, "window.__echoProbe.drawnAt !== null", timeout_ms=BOOT_TIMEOUT_MS)
        probe = page.evaluate("() => window.__echoProbe")
        # A resource entry is listed once its response has arrived.
        puts_js = """() => performance.getEntriesByType('resource')
            .filter((e) => e.name.includes('/send/m.room.message/')).map((e) => e.startTime)"""
        page_until(page, f"({puts_js})().length === {i + 1}", timeout_ms=BOOT_TIMEOUT_MS)
        puts = page.evaluate(puts_js)
        assert puts[-1] < probe["drawnAt"], "the echo was drawn before the message left"
        assert probe["composer"] == "", "the echo was drawn before the composer was emptied"
