"""What every pytest run of this repository shares (``tests/`` and the package's doctests).

**Temporary files.** The run's temporary files go under one directory of its own, removed
when the run ends: worker sockets and spill files, checkpoints a doctest copies, the
``tempfile.mkdtemp()`` a training loop calls as Ray's examples do. ``TMPDIR`` is set before
anything imports streamdata, so the workers' template and every process started after it
use the same directory. It is readable by others, as ``/tmp`` is, so the tests of the
runtime's own file permissions still test those permissions.

**The end of the run.** One CI run of the whole suite ended with SIGSEGV *after* pytest had
printed its summary: the kernel log showed an instruction fetch at a heap address, i.e. a C
extension's function pointer called during the interpreter's final teardown of modules (this
process loads torch, ray, grpc, lance, duckdb, pyarrow, ...). The tests' outcome was already
decided and printed. So the session ends the way a worker does: shut down what the tests
started (streamdata's runtime, a local Ray), remove the temporary directory, flush, and leave
with pytest's exit status without that teardown.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

import pytest

_RUN_TEMP_DIR = tempfile.mkdtemp(prefix="sd-pytest-")
os.chmod(_RUN_TEMP_DIR, 0o755)
os.environ["TMPDIR"] = _RUN_TEMP_DIR
tempfile.tempdir = _RUN_TEMP_DIR

_EXIT_STATUS: list[int] = []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _EXIT_STATUS.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    if not _EXIT_STATUS:
        shutil.rmtree(_RUN_TEMP_DIR, ignore_errors=True)
        return
    try:
        streamdata = sys.modules.get("streamdata")
        if streamdata is not None and streamdata.is_initialized():
            streamdata.shutdown()
        ray = sys.modules.get("ray")
        if ray is not None and getattr(ray, "is_initialized", lambda: False)():
            ray.shutdown()
    finally:
        shutil.rmtree(_RUN_TEMP_DIR, ignore_errors=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS[-1])
