"""The dashboard's room list after the first sync, with 50 rooms and 20 direct messages, in
real Chromium (Pyodide).

    .venv/bin/python benchmarks/dm_dashboard.py [--rooms 50] [--dms 20] [--runs 20] [--append]

The page is the demo's Messages page (the dashboard), signed in. Per run, a first-sync answer
as Synapse shapes it (each room: name or heroes, members' state, 5 messages, unread counts;
the DMs listed in `m.direct` account data) goes through what a live first sync goes through
after the network: the checks (clean_sync, check_sync), the room list (RoomList.apply_sync),
the view model (ChatViewModel._compute: room items, DM names, badges) and the view's render of
a list built from nothing, then a forced layout. performance.now() around each part.
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
                             machine, summary)
from benchmarks.chat import signed_in_context  # noqa: E402
from pyapp.server.stack import StackOptions  # noqa: E402
from tests.support.stack_thread import StackThread  # noqa: E402

MEASURE = r"""
import copy, json, js
from pyapp.ui import mount
from pyapp.client.rooms import RoomList
from pyapp.client.sync_events import clean_sync
from pyapp.client.sync_validation import check_sync

ROOMS, DMS, RUNS = %(rooms)d, %(dms)d, %(runs)d
view = next(v for v in mount._views.values() if v.vm.room_list is not None)
vm, service = view.vm, view.vm.service
me = service.user_id
server = me.split(":", 1)[1]

def member(uid, name):
    return {"type": "m.room.member", "state_key": uid, "sender": uid, "event_id": f"$m{uid}",
            "origin_server_ts": 1, "content": {"membership": "join", "displayname": name}}

def room(i, people, name=None):
    events = [member(uid, n) for uid, n in people]
    if name:
        events.append({"type": "m.room.name", "state_key": "", "sender": me,
                       "event_id": f"$n{i}", "origin_server_ts": 1, "content": {"name": name}})
    timeline = [{"type": "m.room.message", "sender": people[(k + 1) %% len(people)][0],
                 "event_id": f"$e{i}_{k}", "origin_server_ts": 1_700_000_000_000 + i * 100 + k,
                 "content": {"msgtype": "m.text", "body": f"message {k} in room {i}"}}
                for k in range(5)]
    return {"state": {"events": events},
            "timeline": {"events": timeline, "limited": True, "prev_batch": f"p{i}"},
            "summary": {"m.heroes": [uid for uid, _ in people if uid != me][:5],
                        "m.joined_member_count": len(people), "m.invited_member_count": 0},
            "unread_notifications": {"notification_count": i %% 4, "highlight_count": i %% 2},
            "ephemeral": {"events": []}, "account_data": {"events": []}}

join, direct = {}, {}
for i in range(ROOMS):
    people = [(me, "Me")] + [(f"@p{i}_{k}_demo:{server}", f"Person {i}-{k}") for k in range(4)]
    join[f"!room{i}:{server}"] = room(i, people, f"Room number {i}")
for d in range(DMS):
    other = f"@friend{d}_demo:{server}"
    join[f"!dm{d}:{server}"] = room(ROOMS + d, [(me, "Me"), (other, f"Friend {d}")])
    direct[other] = [f"!dm{d}:{server}"]
BODY = {"next_batch": "s_bench", "rooms": {"join": join, "invite": {}, "leave": {}},
        "account_data": {"events": [{"type": "m.direct", "content": direct}]}}

parts = {"checks": [], "room list": [], "view model": [], "DOM and layout": []}
totals, shown = [], 0
for r in range(RUNS):
    body = copy.deepcopy(BODY)
    view.list_ul.replaceChildren()
    view._list_nodes.clear()
    view._list_sigs.clear()
    service.rooms = RoomList(me, service.rooms.bot_user_id)
    t0 = js.performance.now()
    clean_sync(body)
    check_sync(body)
    t1 = js.performance.now()
    service.rooms.apply_sync(body)
    t2 = js.performance.now()
    vm.state = vm._compute()
    t3 = js.performance.now()
    view.render(vm.state)
    view.list_ul.scrollHeight  # the layout the browser would do before painting
    t4 = js.performance.now()
    for name, value in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
        parts[name].append(value)
    totals.append(t4 - t0)
    shown = view.list_ul.querySelectorAll("li").length
    dm_names = sum(1 for item in vm.state.rooms if item.dm and item.name.startswith("Friend"))
json.dumps({"totals": totals, "parts": parts, "shown": shown, "dm_names": dm_names})
"""


def run(rooms: int, dms: int, runs: int) -> dict:
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
                page.goto(stack.url + "/messages.html")
                page.wait_for_selector(READY, timeout=120_000)
                raw = page.evaluate("(code) => window.omChat.runPython(code)",
                                    MEASURE % {"rooms": rooms, "dms": dms, "runs": runs})
            finally:
                browser.close()
    finally:
        runner.stop()
    return json.loads(raw)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rooms", type=int, default=50)
    ap.add_argument("--dms", type=int, default=20)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--append", action="store_true", help="add the results to docs/benchmarks.md")
    args = ap.parse_args()
    load = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
    result = run(args.rooms, args.dms, args.runs)
    lines = [f"Machine: {machine()}, Chromium {chromium_version()}, {time.strftime('%Y-%m-%d')}, "
             f"load average {load} at the start",
             f"- {args.rooms} rooms and {args.dms} DMs, first sync to room list rendered "
             f"({result['shown']} items; {result['dm_names']} DMs named after the other "
             f"person): {summary(result['totals'])}",
             "  - where the time goes (p50): " + ", ".join(
                 f"{name} {statistics.median(values):.1f} ms"
                 for name, values in result["parts"].items())]
    text = "\n".join(lines)
    print(text)
    if args.append:
        doc = ROOT / "docs" / "benchmarks.md"
        doc.write_text(doc.read_text().rstrip() + "\n\n## Dashboard: 50 rooms and 20 DMs after the "
                       "first sync (issue 10)\n\n`.venv/bin/python benchmarks/dm_dashboard.py "
                       "--append`\n\n" + text + "\n")


if __name__ == "__main__":
    main()
