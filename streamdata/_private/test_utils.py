"""``wait_for_condition``: poll a predicate until it holds, as Ray's doc examples do.

Example:
    >>> calls = []
    >>> wait_for_condition(lambda: calls.append(1) or len(calls) >= 3, retry_interval_ms=1)
    >>> len(calls)
    3
"""

from __future__ import annotations

import time
import traceback
from typing import Any, Callable


def wait_for_condition(condition_predictor: Callable[..., Any], timeout: float = 10,
                       retry_interval_ms: float = 100, raise_exceptions: bool = False,
                       **kwargs: Any) -> None:
    """Return once ``condition_predictor(**kwargs)`` is truthy; ``RuntimeError`` after
    ``timeout`` seconds. An exception from the predictor counts as "not yet" (its last
    traceback is in the error) unless ``raise_exceptions``."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while True:
        try:
            if condition_predictor(**kwargs):
                return
        except Exception:  # noqa: BLE001 - retried, and reported if the time runs out
            if raise_exceptions:
                raise
            last_error = traceback.format_exc()
        if time.monotonic() >= deadline:
            break
        time.sleep(retry_interval_ms / 1000)
    message = f"The condition wasn't met within {timeout} s."
    raise RuntimeError(message + (f" Last exception:\n{last_error}" if last_error else ""))


__all__ = ["wait_for_condition"]
