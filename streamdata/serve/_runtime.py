"""The runtime as serve sees it: the public runtime API (``remote``, ``get``, ``kill``,
named actors) of :mod:`streamdata.core.api`, resolved on first use so that importing
serve starts nothing and serve never reaches into core's internals.

Serve imports the runtime's API module, not the ``streamdata`` package: the package
imports serve, and importing it back would knot the two together.

Example:
    >>> callable(runtime().remote)
    True
"""

from __future__ import annotations

from types import ModuleType


def runtime() -> ModuleType:
    """:mod:`streamdata.core.api` (the public runtime functions ``sd.*`` re-exports)."""
    from streamdata.core import api

    return api


__all__ = ["runtime"]
