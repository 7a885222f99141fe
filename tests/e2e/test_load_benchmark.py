"""benchmarks/load.py at a tiny size: the whole path (stack, accounts, events through the
platform, members syncing through the proxy, two browsers, counting, health) works and the
count comes out clean. The full-size figures are in docs/benchmarks.md."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def test_tiny_load_run_counts_every_delivery(built_static):
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "load.py"), "--members", "4", "--rooms", "2",
         "--duration", "6", "--interval", "3", "--idle-samples", "2", "--health-every", "2",
         "--drain-timeout", "20"],
        capture_output=True, text=True, timeout=240, cwd=ROOT)
    out = run.stdout
    assert run.returncode == 0, out + run.stderr[-3000:]
    deliveries = re.search(r"Members: (\d+)/(\d+) deliveries, lost 0, duplicated 0, "
                           r"unexpected 0", out)
    assert deliveries, out
    got, expected = map(int, deliveries.groups())
    # 4 members, each a message every ~3 s for 6 s, each seen by both members of its room.
    assert got == expected >= 8, out
    assert re.search(r"alice lost 0/[1-9]\d*, duplicated 0; bob lost 0/[1-9]\d*, duplicated 0",
                     out), out
    health = re.search(r"synapse (\d+)/\1, proxy (\d+)/\2, platform (\d+)/\3, "
                       r"orchestrator (\d+)/\4", out)
    assert health and int(health.group(4)) >= 2, out
    assert "Verdict: PASS" in out
