"""Bad input and faults as the user sees them: a clear message in the component, nothing typed
lost, nothing sent twice (checked in what the homeserver stores)."""

from __future__ import annotations


import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError, expect

from pyapp.server.synapse import Synapse, SynapseOptions, free_port
from tests.e2e.chat_ui_support import (BOOT_TIMEOUT_MS, LIVE_TIMEOUT_MS, chat, expect_message,
                                       expect_ready, make_room, open_and_sign_in, send, sign_in,
                                       stored_messages)
from tests.e2e.conftest import WEB_ROOT
from tests.support.fault_proxy import FaultProxy

pytestmark = pytest.mark.e2e


def chat_server(serve_app, built_static, homeserver: str) -> str:
    from pyapp.server.web import make_app

    return serve_app(make_app(WEB_ROOT, built_static, {"homeserver": homeserver}))


def test_a_wrong_password_is_explained_and_the_username_kept(
        make_user, web_server, new_page):
    name, password, _ = make_user("alice")
    page = new_page()
    page.goto(f"{web_server}/messages.html")
    expect(chat(page).get_by_label("Username")).to_be_visible(timeout=BOOT_TIMEOUT_MS)
    sign_in(page, name, "not-the-password")
    expect(chat(page).locator(".omc-login-error")).to_have_text("Wrong username or password.",
                                                                timeout=LIVE_TIMEOUT_MS)
    expect(chat(page).get_by_label("Username")).to_have_value(name)
    chat(page).get_by_label("Password").fill(password)
    chat(page).get_by_role("button", name="Sign in").click()
    expect(chat(page).locator(".omc-empty")).to_contain_text("You have no conversations yet",
                                                             timeout=LIVE_TIMEOUT_MS)


def test_a_context_without_a_room_says_there_is_no_chat(make_user, web_server, new_page):
    page = new_page()
    name, password, _ = make_user("alice")
    page.goto(f"{web_server}/event.html?slug=no-such-event")
    expect(chat(page).get_by_label("Username")).to_be_visible(timeout=BOOT_TIMEOUT_MS)
    sign_in(page, name, password)
    expect(chat(page).locator(".omc-notice")).to_contain_text(
        "There is no chat for this event yet", timeout=LIVE_TIMEOUT_MS)
    expect(chat(page).get_by_label("Message", exact=True)).to_be_hidden()


@pytest.fixture
def proxy(synapse):
    p = FaultProxy(synapse.base_url).start()
    yield p
    p.stop()


def test_server_errors_during_sync_show_a_banner_and_retry_recovers_without_losing_text(
        synapse, make_user, proxy, serve_app, built_static, new_page):
    base = chat_server(serve_app, built_static, proxy.base_url)
    a_name, a_pw, a = make_user("alice")
    b_name, b_pw, b = make_user("bob")
    room_id = make_room(synapse, a["access_token"], "event", "flaky-sync", [b])
    page = new_page()
    open_and_sign_in(page, f"{base}/event.html?slug=flaky-sync", a_name, a_pw)
    box = chat(page).get_by_label("Message", exact=True)
    box.fill("a thought in progress")
    proxy.error_status[r"GET .*/sync"] = 500
    # Something happens in the room, so the running long-poll returns and the next one fails.
    synapse.request("PUT", f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/t1",
                    {"msgtype": "m.text", "body": "while it was failing"},
                    token=b["access_token"])
    banner = chat(page).locator(".omc-banner")
    expect(banner).to_be_visible(timeout=LIVE_TIMEOUT_MS * 2)
    # The server's 500 reaches the page as such: the banner says the homeserver has a problem.
    expect(banner).to_contain_text("problem")
    expect(chat(page).locator(".omc-conn")).to_have_text("Offline")
    expect(box).to_have_value("a thought in progress")
    proxy.error_status.clear()
    banner.get_by_role("button", name="Retry").click()
    expect(banner).to_be_hidden(timeout=LIVE_TIMEOUT_MS)
    expect_message(page, "while it was failing")
    expect(box).to_have_value("a thought in progress")
    box.press("Enter")
    expect_message(page, "a thought in progress")
    expect(chat(page).locator(".omc-msg.is-mine[data-status=sent]")).to_have_count(1,
                                                                          timeout=LIVE_TIMEOUT_MS)
    assert stored_messages(synapse, room_id, a["access_token"]) == [
        "while it was failing", "a thought in progress"]


YEAR_10000_MS = 253_402_300_800_000


def odd_events(sender: str) -> list:
    """Events Synapse refuses from its clients but a federating server can deliver."""
    base = {"sender": sender, "origin_server_ts": 1_700_000_000_000}
    return [
        {**base, "type": "m.room.message", "event_id": "$odd-empty-list", "content": []},
        {**base, "type": "m.room.message", "event_id": "$odd-list", "content": ["body"]},
        {**base, "type": "m.room.message", "event_id": "$odd-sender", "sender": 42,
         "content": {"msgtype": "m.text", "body": "numeric sender"}},
        {**base, "type": "com.openmeet.room.metadata", "state_key": "",
         "event_id": "$odd-meta", "content": ["event"]},
        {**base, "type": "m.room.message", "event_id": "$odd-future",
         "origin_server_ts": YEAR_10000_MS,
         "content": {"msgtype": "m.text", "body": "sent from the year 10000"}},
    ]


def test_odd_federated_events_cost_only_themselves_and_later_messages_still_arrive(
        synapse, make_user, proxy, serve_app, built_static, new_page):
    base = chat_server(serve_app, built_static, proxy.base_url)
    a_name, a_pw, a = make_user("alice")
    b_name, b_pw, b = make_user("bob")
    room_id = make_room(synapse, a["access_token"], "event", "odd-events", [b])
    page = new_page()
    open_and_sign_in(page, f"{base}/event.html?slug=odd-events", a_name, a_pw)

    def inject(body) -> bool:
        room = body.get("rooms", {}).get("join", {}).get(room_id)
        if room is None:
            return False
        room["timeline"]["events"] += odd_events(b["user_id"])
        return True

    proxy.rewrite[r"GET .*/sync$"] = inject
    synapse.request("PUT", f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/o1",
                    {"msgtype": "m.text", "body": "carrying the odd ones"},
                    token=b["access_token"])
    expect_message(page, "carrying the odd ones")
    assert not proxy.rewrite, "the odd events were not delivered"
    expect_message(page, "sent from the year 10000")
    expect(chat(page).locator(".omc-day", has_text="Unknown date")).to_have_count(1)
    synapse.request("PUT", f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/o2",
                    {"msgtype": "m.text", "body": "a normal message after them"},
                    token=b["access_token"])
    expect_message(page, "a normal message after them")
    expect(chat(page).locator(".omc-conn")).to_have_text("Online")
    expect(chat(page).locator(".omc-title")).to_have_text("Event odd-events")
    send(page, "and I can still reply")
    expect(chat(page).locator(".omc-msg.is-mine[data-status=sent]")).to_have_count(
        1, timeout=LIVE_TIMEOUT_MS)
    assert stored_messages(synapse, room_id, a["access_token"])[-1] == "and I can still reply"
    assert not page.page_errors


def test_sign_out_discards_unsent_messages_after_saying_so_and_no_later_sign_in_sends_them(
        synapse, make_user, proxy, serve_app, built_static, new_page):
    base = chat_server(serve_app, built_static, proxy.base_url)
    a_name, a_pw, a = make_user("alice")
    b_name, b_pw, b = make_user("bob")
    room_id = make_room(synapse, a["access_token"], "event", "shared-browser", [b])
    url = f"{base}/event.html?slug=shared-browser"
    page = new_page()
    open_and_sign_in(page, url, a_name, a_pw)
    proxy.unreachable = True
    send(page, "typed while unreachable")
    expect(chat(page).locator(".omc-msg[data-status=failed]")).to_contain_text(
        "Not sent", timeout=LIVE_TIMEOUT_MS)
    outbox = "localStorage.getItem('om-chat:om-chat.outbox')"
    assert "typed while unreachable" in page.evaluate(outbox)

    chat(page).locator(".omc-header").get_by_role("button", name="Sign out").click()
    question = chat(page).get_by_role("alertdialog", name="Sign out")
    expect(question).to_contain_text("1 message has not been sent. Signing out discards it.")
    question.get_by_role("button", name="Keep them").click()
    expect(question).to_be_hidden()
    expect(chat(page).locator(".omc-msg[data-status=failed]")).to_have_count(1)
    chat(page).locator(".omc-header").get_by_role("button", name="Sign out").click()
    question.get_by_role("button", name="Discard and sign out").click()
    expect(chat(page).get_by_label("Username")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    assert page.evaluate(outbox) is None
    proxy.unreachable = False

    # Another person on the same browser, then the author again: neither sends nor sees it.
    sign_in(page, b_name, b_pw)
    expect_ready(page)
    synapse.request("PUT", f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/s1",
                    {"msgtype": "m.text", "body": "bob checks in"}, token=b["access_token"])
    expect_message(page, "bob checks in")
    chat(page).locator(".omc-header").get_by_role("button", name="Sign out").click()
    expect(chat(page).get_by_label("Username")).to_be_visible(timeout=LIVE_TIMEOUT_MS)
    sign_in(page, a_name, a_pw)
    expect_ready(page)
    synapse.request("PUT", f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/s2",
                    {"msgtype": "m.text", "body": "after alice is back"}, token=b["access_token"])
    expect_message(page, "after alice is back")
    page.reload()
    expect_ready(page)
    expect_message(page, "after alice is back", timeout=BOOT_TIMEOUT_MS)
    expect(chat(page).locator(".omc-body", has_text="typed while unreachable")).to_have_count(0)
    assert stored_messages(synapse, room_id, a["access_token"]) == [
        "bob checks in", "after alice is back"]
    # The only attempt was made while unreachable (dropped): none reached the homeserver since.
    sends = [status for _, path, status in proxy.log if "/send/" in path]
    assert sends and set(sends) == {0}


@pytest.fixture
def own_synapse(tmp_path):
    """A homeserver this test may stop and start without disturbing the others."""
    hs = Synapse(SynapseOptions(data_dir=tmp_path / "hs", port=free_port()))
    hs.start()
    yield hs
    hs.stop()


def test_a_homeserver_restart_mid_chat_loses_nothing_and_sends_nothing_twice(
        own_synapse, serve_app, built_static, new_page):
    hs = own_synapse
    base = chat_server(serve_app, built_static, hs.base_url)
    a = hs.register_user("alice", "alice-pw")
    b = hs.register_user("bob", "bob-pw")
    room_id = make_room(hs, a["access_token"], "event", "restart-room", [b])
    page = new_page()
    open_and_sign_in(page, f"{base}/event.html?slug=restart-room", "alice", "alice-pw")
    send(page, "before the restart")
    expect(chat(page).locator(".omc-msg[data-status=sent]")).to_have_count(1,
                                                                          timeout=LIVE_TIMEOUT_MS)
    hs.stop()
    expect(chat(page).locator(".omc-banner")).to_contain_text("Connection lost",
                                                              timeout=LIVE_TIMEOUT_MS * 2)
    send(page, "during the outage")
    failed = chat(page).locator(".omc-msg[data-status=failed]")
    expect(failed).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    expect(failed).to_contain_text("Not sent")
    box = chat(page).get_by_label("Message", exact=True)
    box.fill("still typing")
    hs.start()
    try:
        chat(page).locator(".omc-banner").get_by_role("button", name="Retry").click(
            timeout=LIVE_TIMEOUT_MS)
    except PlaywrightTimeoutError:
        pass  # the loop's own backoff reconnected first and the banner (with Retry) went
    expect(chat(page).locator(".omc-banner")).to_be_hidden(timeout=LIVE_TIMEOUT_MS * 2)
    failed.get_by_role("button", name="Retry").click()
    expect(chat(page).locator(".omc-msg[data-status=sent]")).to_have_count(2,
                                                                          timeout=LIVE_TIMEOUT_MS)
    expect(box).to_have_value("still typing")
    # The retry used the same transaction id; a reload re-reads the room from the server.
    page.reload()
    expect_ready(page)
    expect_message(page, "during the outage", timeout=BOOT_TIMEOUT_MS)
    assert stored_messages(hs, room_id, a["access_token"]) == ["before the restart",
                                                               "during the outage"]
