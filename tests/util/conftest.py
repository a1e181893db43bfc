"""Fixtures of the ``streamdata.util`` tests: one runtime per module (as tests/core), and the
runtime tests' helpers (``tests/core/_core_util.py``: ``wait_for``, ``block_until_file``, ``touch``)
importable here; workers import them by reference through the driver's ``sys.path``.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import streamdata as sd

_CORE_TESTS = str(Path(__file__).resolve().parent.parent / "core")
if _CORE_TESTS not in sys.path:
    sys.path.append(_CORE_TESTS)  # appended: tests/core/conftest.py must not shadow this conftest


@pytest.fixture(scope="module")
def runtime(request: pytest.FixtureRequest) -> Iterator[None]:
    """The module's runtime: ``sd.init(**RUNTIME_INIT)`` (default 2 CPUs), shut down after the module."""
    kwargs = getattr(request.module, "RUNTIME_INIT", {"num_cpus": 2})
    if sd.is_initialized():
        sd.shutdown()
    sd.init(**kwargs)
    yield
    gc.collect()
    sd.shutdown()
