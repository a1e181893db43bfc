"""Fixtures every test folder shares.

``data_runtime``: one local runtime for a test module (``sd.init(**RUNTIME_INIT)``, default
2 CPUs) with progress bars off, shut down and restored at the module's end. A module whose
every test needs it says ``pytestmark = pytest.mark.usefixtures("data_runtime")``. Folders
with fixtures of their own (tests/core, tests/exec, tests/util ...) keep them.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


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
