"""Helpers shared by the serve integration tests."""

from __future__ import annotations

import time
from typing import Any, Callable


def wait_until(predicate: Callable[[], bool], timeout: float = 60.0, what: Any = "condition") -> None:
    """Wait for ``predicate`` (checked every 20 ms) at most ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001 - e.g. a controller that restarts: ask again
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what() if callable(what) else what}")
        time.sleep(0.02)
