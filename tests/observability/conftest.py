"""Fixtures of the observability tests: one runtime per module, and a deadline-bound wait."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import streamdata as sd


@pytest.fixture(scope="module")
def runtime(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The module's runtime, started with the module's ``RUNTIME_INIT`` (default 2 CPUs)."""
    kwargs = getattr(request.module, "RUNTIME_INIT", {"num_cpus": 2})
    if sd.is_initialized():
        sd.shutdown()
    info = sd.init(**kwargs)
    yield info
    gc.collect()
    sd.shutdown()


def wait_until(condition: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Poll ``condition`` until it is truthy (returned); AssertionError naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(0.02)
