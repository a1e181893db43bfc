"""Ray Data's catalog types: a :class:`Catalog` resolves a table name to a readable source.

``read_parquet(table, catalog=my_catalog)`` calls ``my_catalog.resolve(table,
reader=ReaderFormat.PARQUET)`` and reads the :class:`ResolvedSource` 's ``path`` with its
``filesystem``. Ray ships no concrete catalog clients in the public API; subclass
:class:`Catalog` for yours.

A base module: imports nothing of streamdata but the errors.

Example:
    >>> class Fixed(Catalog):
    ...     def resolve(self, table, *, reader, mode=CatalogAccessMode.READ):
    ...         return ResolvedSource(path="/data/" + table, data_format=reader)
    >>> Fixed().resolve("t", reader=ReaderFormat.PARQUET).path
    '/data/t'
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from streamdata.errors import PlanError

__all__ = ["Catalog", "CatalogAccessMode", "ReaderFormat", "ResolvedSource", "resolve_table"]


class CatalogAccessMode(str, enum.Enum):
    """Whether a table is resolved to be read or written."""

    READ = "read"
    WRITE = "write"


class ReaderFormat(str, enum.Enum):
    """The reader a resolved source is meant for."""

    DELTA = "delta"
    PARQUET = "parquet"
    ICEBERG = "iceberg"


@dataclass
class ResolvedSource:
    """Where and how to read a table (the fields a reader does not use stay None)."""

    path: str | None = None
    filesystem: Any = None
    storage_options: dict[str, Any] | None = None
    catalog_kwargs: dict[str, Any] | None = None
    table_identifier: str | None = None
    data_format: ReaderFormat | None = None


class Catalog(ABC):
    """A directory service resolving a table name to a :class:`ResolvedSource`."""

    @abstractmethod
    def resolve(self, table: str, *, reader: ReaderFormat,
                mode: CatalogAccessMode = CatalogAccessMode.READ) -> ResolvedSource:
        """Resolve ``table`` for ``reader`` and access ``mode``."""


def resolve_table(catalog: Any, table: Any, reader: ReaderFormat) -> ResolvedSource:
    """``catalog.resolve(table, reader=reader)``, checked.

    Example:
        >>> resolve_table(object(), "t", ReaderFormat.PARQUET)
        Traceback (most recent call last):
        ...
        streamdata.errors.PlanError: catalog must be a streamdata.Catalog (with resolve()), got object
    """
    if not callable(getattr(catalog, "resolve", None)):
        raise PlanError(f"catalog must be a streamdata.Catalog (with resolve()), got {type(catalog).__name__}")
    if not isinstance(table, str):
        raise PlanError(f"with catalog=, paths must be the table name (a str), got {table!r}")
    out = catalog.resolve(table, reader=reader)
    if not getattr(out, "path", None):
        raise PlanError(f"catalog {type(catalog).__name__} resolved table {table!r} to no path "
                        f"(got {out!r}); read_parquet needs ResolvedSource.path")
    return out
