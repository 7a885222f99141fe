"""Wait for a condition instead of sleeping: poll often, fail with what was awaited."""

from __future__ import annotations

import asyncio
import time


async def until(predicate, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
