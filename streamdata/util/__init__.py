"""``streamdata.util``: Ray's ``ray.util`` namespace (``state``, ``metrics``, ...).

Submodules load on first use, so ``import streamdata`` stays fast.

Example:
    >>> import streamdata.util as util
    >>> util.state.__name__
    'streamdata.util.state'
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = ("state", "metrics")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
