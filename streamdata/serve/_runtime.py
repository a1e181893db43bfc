"""The runtime as serve sees it: streamdata's public API (``sd.remote``,
``sd.get``, ``sd.kill``, named actors), resolved on first use so that importing
serve starts nothing and serve never reaches into core's internals.

Example:
    >>> callable(runtime().remote)
    True
"""

from __future__ import annotations

from types import ModuleType


def runtime() -> ModuleType:
    """The ``streamdata`` package (its public runtime functions)."""
    import streamdata

    return streamdata


__all__ = ["runtime"]
