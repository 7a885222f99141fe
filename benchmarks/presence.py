"""What turning Synapse's presence on costs, measured: the same community run with presence
off (this project's setting) and on, side by side.

    .venv/bin/python benchmarks/presence.py [--users 30] [--seconds 60]

Per run: a fresh Synapse (SQLite, as embedded), `--users` members in one room (an event's
chat), each a raw HTTP client long-polling /sync the way the chat does (same filter, but
presence let through when it is on). During the measured window people come and go (every
5 s one stops syncing, one who had stopped comes back: browsers closed and opened) and a
message is sent every 3 s. Someone away stays away `--away` × 5 s (45 s by default: longer
than the 30 s after which Synapse calls a member who stopped syncing offline). Counted: sync answers and their bytes over all clients, the
presence events among them, and Synapse's CPU seconds (/proc). The numbers go to
docs/benchmarks.md by hand; the decision they support is in the README's notes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyapp.client.service import SYNC_FILTER  # noqa: E402
from pyapp.server.synapse import Synapse, SynapseOptions, free_port  # noqa: E402


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Client(threading.Thread):
    """One member's /sync loop; counts what it receives while `counting` is set."""

    def __init__(self, base: str, token: str, sync_filter: str, counts: dict, lock, counting,
                 stop):
        super().__init__(daemon=True)
        self.base, self.token, self.filter = base, token, sync_filter
        self.counts, self.lock, self.counting, self.stop_all = counts, lock, counting, stop
        self.paused = threading.Event()
        self.since: str | None = None

    def run(self) -> None:
        while not self.stop_all.is_set():
            if self.paused.is_set():
                self.stop_all.wait(0.2)
                continue
            query = f"?timeout=30000&filter={urllib.request.quote(self.filter)}"
            if self.since:
                query += f"&since={self.since}"
            req = urllib.request.Request(f"{self.base}/_matrix/client/v3/sync{query}")
            req.add_header("Authorization", f"Bearer {self.token}")
            try:
                with urllib.request.urlopen(req, timeout=40) as r:
                    raw = r.read()
            except (urllib.error.URLError, OSError):
                if self.stop_all.is_set():
                    return
                self.stop_all.wait(0.5)
                continue
            body = json.loads(raw)
            self.since = body.get("next_batch", self.since)
            if self.counting.is_set():
                presence = len((body.get("presence") or {}).get("events") or [])
                with self.lock:
                    self.counts["answers"] += 1
                    self.counts["bytes"] += len(raw)
                    self.counts["presence_events"] += presence
                    self.counts["answers_with_presence_only"] += int(
                        presence > 0 and not body.get("rooms"))


def run(presence: bool, users: int, seconds: float, away_ticks: int = 9, seed: int = 7) -> dict:
    data = Path(tempfile.mkdtemp(prefix=f"presence-{'on' if presence else 'off'}-"))
    hs = Synapse(SynapseOptions(data_dir=data, port=free_port(), access_token_lifetime=None,
                                extra={"presence": {"enabled": presence}}))
    hs.start()
    stop, counting, lock = threading.Event(), threading.Event(), threading.Lock()
    counts = {"answers": 0, "bytes": 0, "presence_events": 0, "answers_with_presence_only": 0}
    try:
        logins = [hs.register_user(f"member{i}", "pw-member", displayname=f"Member {i}")
                  for i in range(users)]
        status, room = hs.request("POST", "/_matrix/client/v3/createRoom", {
            "name": "Python Meetup", "preset": "private_chat",
            "invite": [u["user_id"] for u in logins[1:]]}, token=logins[0]["access_token"])
        assert status == 200, room
        for login in logins[1:]:
            status, body = hs.request("POST", f"/_matrix/client/v3/join/{room['room_id']}", {},
                                      token=login["access_token"])
            assert status == 200, body
        chat_filter = dict(SYNC_FILTER)
        if presence:
            chat_filter.pop("presence", None)
        sync_filter = json.dumps(chat_filter, separators=(",", ":"))
        clients = [Client(hs.base_url, u["access_token"], sync_filter, counts, lock, counting,
                          stop) for u in logins]
        for client in clients:
            client.start()
        time.sleep(5)  # everyone's first sync, and online
        rng = random.Random(seed)
        away: list[Client] = []
        counting.set()
        cpu_before, start = cpu_seconds(hs.process.pid), time.monotonic()
        n = 0
        while time.monotonic() - start < seconds:
            tick = time.monotonic() - start
            if int(tick) % 3 == 0:
                sender = rng.choice(logins)
                n += 1
                hs.request("PUT", f"/_matrix/client/v3/rooms/{room['room_id']}/send/"
                           f"m.room.message/bench{n}", {"msgtype": "m.text", "body": f"hi {n}"},
                           token=sender["access_token"])
            if int(tick) % 5 == 0:
                leaving = rng.choice([c for c in clients if c not in away])
                leaving.paused.set()
                away.append(leaving)
                if len(away) > away_ticks:
                    away.pop(0).paused.clear()
            time.sleep(1.0 - (time.monotonic() - start) % 1.0)
        elapsed = time.monotonic() - start
        cpu = cpu_seconds(hs.process.pid) - cpu_before
        counting.clear()
        return {"presence": presence, "users": users, "seconds": round(elapsed, 1),
                "messages": n, **counts, "synapse_cpu_s": round(cpu, 2)}
    finally:
        stop.set()
        hs.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=90)
    parser.add_argument("--away", type=int, default=9, help="5 s ticks someone stays away")
    args = parser.parse_args()
    print("load before:", Path("/proc/loadavg").read_text().strip())
    results = [run(False, args.users, args.seconds, args.away),
               run(True, args.users, args.seconds, args.away)]
    print("load after:", Path("/proc/loadavg").read_text().strip())
    for r in results:
        print(json.dumps(r))
    off, on = results
    print(f"presence on / off: sync answers x{on['answers'] / max(off['answers'], 1):.2f}, "
          f"bytes x{on['bytes'] / max(off['bytes'], 1):.2f}, "
          f"Synapse CPU x{on['synapse_cpu_s'] / max(off['synapse_cpu_s'], 0.01):.2f}")


if __name__ == "__main__":
    main()
