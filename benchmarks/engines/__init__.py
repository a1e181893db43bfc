"""One module per engine, each with the same small protocol.

``import_engine(engine) -> handle`` (the timed import), ``start(handle, params, workload)
-> ctx`` (the timed start-up: ``init`` for Ray and streamdata), ``WORKLOADS[name](ctx,
params) -> check dict`` (timed; an optional ``"metrics"`` entry carries extra figures),
``stop(ctx)``, and ``FORMS``: how the engine expresses a workload where it differs from
the Ray Data form.

Example:
    >>> module_for("ray").__name__, module_for("streamdata").__name__
    ('engines.raylike', 'engines.raylike')
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

MODULES: dict[str, str] = {
    "streamdata": "engines.raylike",
    "ray": "engines.raylike",
    "daft": "engines.daft_engine",
    "polars": "engines.polars_engine",
    "duckdb": "engines.duckdb_engine",
    "pyarrow": "engines.pyarrow_engine",
}

PACKAGES: dict[str, str] = {
    "streamdata": "streamdata", "ray": "ray", "daft": "daft", "polars": "polars",
    "duckdb": "duckdb", "pyarrow": "pyarrow",
}
"""The importable top-level package of each engine (its distribution has the same name)."""


def module_for(engine: str) -> ModuleType:
    """The benchmark module implementing ``engine``."""
    try:
        return importlib.import_module(MODULES[engine])
    except KeyError:
        raise ValueError(f"unknown engine {engine!r}; valid: {list(MODULES)}") from None


def is_installed(engine: str) -> bool:
    """Whether the engine's package can be imported (checked without importing it)."""
    return importlib.util.find_spec(PACKAGES[engine]) is not None


def version_of(engine: str) -> str | None:
    """The installed version of the engine's distribution, or None."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(PACKAGES[engine])
    except PackageNotFoundError:
        return None
