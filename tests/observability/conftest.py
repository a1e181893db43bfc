"""Fixtures of the observability tests: one runtime per module (helpers are in ``_obs_util``)."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from typing import Any

import pytest

import streamdata as sd


@pytest.fixture(scope="module")
def runtime(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The module's runtime, started with the module's ``RUNTIME_INIT`` (default 2 CPUs), its
    session directory under a root of its own (other drivers on the machine move ``session_latest``)."""
    kwargs = getattr(request.module, "RUNTIME_INIT", {"num_cpus": 2})
    if sd.is_initialized():
        sd.shutdown()
    saved = os.environ.get("STREAMDATA_TEMP_DIR")
    os.environ["STREAMDATA_TEMP_DIR"] = str(tmp_path_factory.mktemp("streamdata"))
    try:
        info = sd.init(**kwargs)
        yield info
    finally:
        gc.collect()
        sd.shutdown()
        if saved is None:
            os.environ.pop("STREAMDATA_TEMP_DIR", None)
        else:
            os.environ["STREAMDATA_TEMP_DIR"] = saved
