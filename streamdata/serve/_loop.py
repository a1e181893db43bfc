"""One asyncio event loop on a daemon thread: where serve's data plane (routers,
replica connections, the replica's server, the proxy's servers) runs inside a
process whose main thread belongs to someone else (the driver, or the
runtime's worker loop).

Example:
    >>> import asyncio
    >>> lt = EventLoopThread("doc")
    >>> async def add(a, b):
    ...     return a + b
    >>> lt.run(add(1, 2))
    3
    >>> lt.stop()
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Coroutine


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when installed (faster sockets), else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is part of the serve extra
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class EventLoopThread:
    """An event loop running forever on its own daemon thread."""

    def __init__(self, name: str, uvloop: bool = True) -> None:
        self.loop = new_event_loop() if uvloop else asyncio.new_event_loop()
        started = threading.Event()

        def main() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.call_soon(started.set)
            self.loop.run_forever()

        self.thread = threading.Thread(target=main, daemon=True, name=f"streamdata-serve-{name}")
        self.thread.start()
        started.wait()

    def in_loop(self) -> bool:
        """True when called from this loop's thread."""
        return threading.current_thread() is self.thread

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future:
        """Schedule ``coro`` on the loop; a thread-safe future of its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
        """Run ``coro`` on the loop and wait for its result (not from the loop's own thread)."""
        if self.in_loop():
            coro.close()
            raise RuntimeError("EventLoopThread.run() called from its own loop; await the coroutine instead")
        return self.submit(coro).result(timeout)

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        if not self.in_loop():
            self.thread.join(timeout=5)


__all__ = ["EventLoopThread", "new_event_loop"]
