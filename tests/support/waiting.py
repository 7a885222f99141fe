"""Wait for a condition instead of sleeping: poll often, fail with what was awaited."""

from __future__ import annotations

import asyncio
import time


async def until(predicate, timeout: float = 20.0, what: str = "condition",
                interval: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(interval)


def page_until(page, expression: str, timeout_ms: float = 30_000, what: str | None = None) -> None:
    """Playwright's page.wait_for_function for pages under a strict Content-Security-Policy:
    wait_for_function compiles its predicate with Function() inside the page, which the CSP
    refuses ('unsafe-eval'), while page.evaluate goes through the DevTools protocol, which the
    CSP does not govern. Polls `expression` (JavaScript) until it is truthy."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or expression}")
        page.wait_for_timeout(50)
