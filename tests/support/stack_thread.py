"""Run the demo stack (pyapp.server.stack) on its own event loop in a thread, so synchronous
Playwright tests can drive browsers against it."""

from __future__ import annotations

import asyncio
import threading

from pyapp.server.stack import Stack, StackOptions


class StackThread:
    def __init__(self, options: StackOptions):
        self.stack = Stack(options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def call(self, coro, timeout: float = 120):
        """Run a coroutine on the stack's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def start(self) -> Stack:
        self._thread.start()
        self.call(self.stack.start())
        return self.stack

    def stop(self) -> None:
        try:
            self.call(self.stack.stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
