"""Fixtures of the executor tests: one runtime per module, and small helpers.

A module picks its ``rt.init`` arguments with a module-level ``RUNTIME_INIT`` dict
(default ``{"num_cpus": 2}``).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from streamdata.context import DataContext


@pytest.fixture(scope="module")
def runtime(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A runtime for the module (shut down at its end)."""
    from streamdata.core import api as rt

    kwargs = getattr(request.module, "RUNTIME_INIT", {"num_cpus": 2})
    if rt.is_initialized():
        rt.shutdown()
    rt.init(**kwargs)
    yield rt
    gc.collect()
    rt.shutdown()


@pytest.fixture()
def ctx() -> Iterator[DataContext]:
    """A fresh DataContext installed as the current one (restored afterwards)."""
    old = DataContext.get_current()
    new = DataContext(enable_progress_bars=False)
    DataContext._set_current(new)
    yield new
    DataContext._set_current(old)
