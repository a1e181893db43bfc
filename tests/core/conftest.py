"""Fixtures of the runtime tests: one runtime per module.

A module picks its ``sd.init`` arguments with a module-level ``RUNTIME_INIT``
dict (default ``{"num_cpus": 2}``); the fixture shuts the runtime down at the
end of the module, so modules never share a runtime.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

import streamdata as sd


@pytest.fixture(scope="module")
def runtime(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The module's runtime (the driver's ``Runtime`` object, for inspecting internals)."""
    kwargs = getattr(request.module, "RUNTIME_INIT", {"num_cpus": 2})
    if sd.is_initialized():
        sd.shutdown()
    sd.init(**kwargs)
    rt = sd.core.api._runtime_for_tests()
    assert rt is not None
    yield rt
    gc.collect()
    sd.shutdown()
