"""Fixtures every test folder shares.

``data_runtime``: one local runtime for a test module (``sd.init(**RUNTIME_INIT)``, default
2 CPUs) with progress bars off, shut down and restored at the module's end. A module whose
every test needs it says ``pytestmark = pytest.mark.usefixtures("data_runtime")``.
``executor_only``: the current DataContext, whose ``driver_reads_small_data`` a test may turn
off (the driver-side paths compared with the executor's), restored afterwards. Folders with
fixtures of their own (tests/core, tests/exec, tests/util ...) keep them. What every pytest run
shares (its temporary directory, the end of the run) is in the root ``conftest.py``.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from streamdata.context import DataContext


@pytest.fixture(scope="module")
def data_runtime(request: pytest.FixtureRequest) -> Iterator[None]:
    """The module's runtime for Dataset tests (progress bars off while it runs)."""
    import streamdata as sd
    from streamdata.context import DataContext

    kwargs = getattr(request.module, "RUNTIME_INIT", {"num_cpus": 2})
    if sd.is_initialized():
        sd.shutdown()
    sd.init(**kwargs)
    ctx = DataContext.get_current()
    saved = ctx.enable_progress_bars
    ctx.enable_progress_bars = False
    yield
    ctx.enable_progress_bars = saved
    gc.collect()
    sd.shutdown()


@pytest.fixture
def executor_only() -> Iterator[DataContext]:
    """The current DataContext, for a test that turns ``driver_reads_small_data`` off to
    compare the driver-side path with the executor's; restored afterwards."""
    from streamdata.context import DataContext

    ctx = DataContext.get_current()
    saved = ctx.driver_reads_small_data
    yield ctx
    ctx.driver_reads_small_data = saved
