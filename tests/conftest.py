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


# ------------------------------------------------------------------ the end of the test process
# One CI run of the whole suite ended with SIGSEGV *after* pytest had printed its summary: the
# kernel log showed an instruction fetch at a heap address, i.e. a C extension's function pointer
# called during the interpreter's final teardown of modules (this process loads torch, ray,
# grpc, lance, duckdb, pyarrow, ...). The tests' outcome was already decided and printed. So the
# session ends the way a worker does: shut down what the tests started (streamdata's runtime,
# a local Ray), flush, and leave with pytest's exit status without that teardown.
_EXIT_STATUS: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _EXIT_STATUS.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    import os
    import sys

    if not _EXIT_STATUS:
        return
    try:
        streamdata = sys.modules.get("streamdata")
        if streamdata is not None and streamdata.is_initialized():
            streamdata.shutdown()
        ray = sys.modules.get("ray")
        if ray is not None and getattr(ray, "is_initialized", lambda: False)():
            ray.shutdown()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS[-1])
