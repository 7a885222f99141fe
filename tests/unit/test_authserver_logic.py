"""The auth server's pure JavaScript parts (throttle windows, the state store's refresh-token
grace, key generation) under Node's built-in test runner: authserver/tests/logic.test.mjs."""

import subprocess
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]


def test_authserver_logic():
    r = subprocess.run(["node", "--test", str(ROOT / "authserver" / "tests" / "logic.test.mjs")],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
