"""Issue 8's shape: ChatService is a thin front over parts with one job each, and each part
imports nothing above it (not the service, not the UI, not the browser or auth layers), so it
can be driven alone by its unit tests. Read from the source, not by importing it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "pyapp" / "client"
PARTS = ["sync_loop", "outbox", "timeline_model", "timeline", "actions", "markdown",
         "room_state", "rooms", "sync_events", "media", "uploads"]
ABOVE = ("pyapp.client.service", "pyapp.ui", "pyapp.browser", "pyapp.auth", "js", "pyodide")


def imported(module: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse((CLIENT / f"{module}.py").read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            package = {0: "", 1: "pyapp.client", 2: "pyapp"}.get(node.level, "pyapp")
            base = ".".join(p for p in (package, node.module) if p)
            names.add(base)
            names |= {f"{base}.{a.name}" for a in node.names}
    return names


@pytest.mark.parametrize("module", PARTS)
def test_each_part_imports_nothing_above_it(module):
    above = sorted(n for n in imported(module)
                   if any(n == a or n.startswith(a + ".") for a in ABOVE))
    assert above == [], f"pyapp.client.{module} imports {above}"


def test_the_timeline_model_is_pure_python_over_dicts():
    allowed = {"__future__", "logging", "re", "dataclasses", "typing"}
    outside = {n.split(".")[0] for n in imported("timeline_model")
               if not n.startswith("pyapp.client.")} - allowed
    assert outside == set(), outside
