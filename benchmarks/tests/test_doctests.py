"""The docstring examples of the suite's modules stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["datagen", "workloads", "memsampler", "harness", "report", "worker", "core_micro", "settle",
           "engines", "engines.common", "engines.raylike"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
