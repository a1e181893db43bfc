"""The interface between sources of data and the engine.

A :class:`Datasource` describes data that can be read; the planner asks it for
:class:`ReadTask` s, each a small serializable callable that runs in a worker
and yields Arrow tables (blocks). The optimizer may push projections, predicates
and limits into a source that says it accepts them; a source returns a *new*
source with the pushdown applied (sources are immutable, like plan nodes).

A source written for Ray's older interface implements ``create_reader(**read_args)``, returning a
:class:`Reader`, (or ``prepare_read(parallelism, **read_args)``) instead of ``get_read_tasks``;
``read_datasource(source, **read_args)`` binds it to its arguments (:func:`bind_reader`), as Ray
still does (with a deprecation warning).

Example:
    >>> import pyarrow as pa
    >>> from streamdata.read_task import BlockMetadata, ReadTask
    >>> task = ReadTask(lambda: [pa.table({"x": [1, 2]})], BlockMetadata(num_rows=2, size_bytes=16))
    >>> [t.num_rows for t in task()]
    [2]
"""

from __future__ import annotations

import warnings
from abc import ABC
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from streamdata.block_metadata import BlockMetadata  # noqa: F401 - re-exported with ReadTask, as Ray does
from streamdata.io.named import NamedConnector
from streamdata.read_task import ReadTask

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.expressions import Expr


class Datasource(NamedConnector, ABC):
    """A source of data. Subclasses implement :meth:`get_read_tasks` at least (or, Ray's older
    interface, :meth:`create_reader` or :meth:`prepare_read`)."""

    #: short name shown in plans and stats, e.g. ``"ReadParquet"``
    name: str = "Read"

    @property
    def supports_distributed_reads(self) -> bool:
        """Whether read tasks may run in any worker (Ray's property; always true locally)."""
        return True

    def get_read_tasks(self, parallelism: int) -> list[ReadTask]:
        """Split the source into about ``parallelism`` read tasks (fewer if the data is small)."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_read_tasks(parallelism) "
                                  f"(or Ray's older create_reader(**read_args))")

    def create_reader(self, **read_args: Any) -> "Reader":
        """Ray's older interface: a :class:`Reader` bound to ``read_args`` (the extra arguments of
        ``read_datasource``). By default its read tasks come from :meth:`prepare_read`."""
        return _PrepareReadReader(self, read_args)

    def prepare_read(self, parallelism: int, **read_args: Any) -> list[ReadTask]:
        """Ray's oldest interface: the read tasks for ``read_args``."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_read_tasks(parallelism) "
                                  f"(or Ray's older create_reader(**read_args) or prepare_read)")

    def estimate_inmemory_data_size(self) -> int | None:
        """Bytes the data takes in memory once read, or None when unknown."""
        return None

    def num_rows(self) -> int | None:
        """Exact row count when known without reading the data (e.g. Parquet footers)."""
        return None

    def schema(self) -> pa.Schema | None:
        """The schema when known without reading the data."""
        return None

    def input_files(self) -> list[str]:
        """Files this source reads (empty for in-memory sources)."""
        return []

    # ---- pushdown: a source that accepts one returns a new source with it applied
    def supports_projection_pushdown(self) -> bool:
        return False

    def apply_projection(self, columns: list[str]) -> "Datasource":
        raise NotImplementedError(f"{type(self).__name__} does not accept projections")

    def supports_predicate_pushdown(self) -> bool:
        return False

    def apply_predicate(self, predicate: "Expr") -> "Datasource":
        raise NotImplementedError(f"{type(self).__name__} does not accept predicates")

    def supports_limit_pushdown(self) -> bool:
        return False

    def apply_limit(self, limit: int) -> "Datasource":
        raise NotImplementedError(f"{type(self).__name__} does not accept limits")

    def __repr__(self) -> str:
        return self.name


class Reader:
    """A read bound to its arguments (Ray's ``ray.data.datasource.Reader``, deprecated there): what
    an older :meth:`Datasource.create_reader` returns. Subclasses implement :meth:`get_read_tasks`."""

    def estimate_inmemory_data_size(self) -> int | None:
        """Bytes the data takes in memory once read, or None when unknown."""
        raise NotImplementedError

    def get_read_tasks(self, parallelism: int) -> list[ReadTask]:
        """Split the read into about ``parallelism`` read tasks."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_read_tasks(parallelism)")


class _PrepareReadReader(Reader):
    def __init__(self, datasource: Datasource, read_args: dict[str, Any]) -> None:
        self._datasource, self._read_args = datasource, read_args

    def estimate_inmemory_data_size(self) -> int | None:
        return None

    def get_read_tasks(self, parallelism: int) -> list[ReadTask]:
        return self._datasource.prepare_read(parallelism, **self._read_args)


class ReaderDatasource(Datasource):
    """A :class:`Reader` (with the name of the source that made it) as a source the planner reads."""

    def __init__(self, reader: Reader, name: str) -> None:
        self.reader, self._name = reader, name

    @property
    def name(self) -> str:  # type: ignore[override]
        return self._name

    def get_read_tasks(self, parallelism: int) -> list[ReadTask]:
        tasks = self.reader.get_read_tasks(parallelism)
        bad = [t for t in tasks if not callable(t)]
        if bad:
            raise TypeError(f"{type(self.reader).__name__}.get_read_tasks must return ReadTasks, got {bad[0]!r}")
        return list(tasks)

    def estimate_inmemory_data_size(self) -> int | None:
        try:
            return self.reader.estimate_inmemory_data_size()
        except NotImplementedError:
            return None


def uses_reader(datasource: Datasource) -> bool:
    """Whether ``datasource`` is written for Ray's older interface (no ``get_read_tasks`` of its own)."""
    return getattr(type(datasource), "get_read_tasks", None) is Datasource.get_read_tasks


def bind_reader(datasource: Datasource, read_args: dict[str, Any]) -> ReaderDatasource:
    """``datasource.create_reader(**read_args)`` as a source, with Ray's deprecation warning."""
    kind = type(datasource)
    if kind.create_reader is Datasource.create_reader and kind.prepare_read is Datasource.prepare_read:
        raise TypeError(f"{kind.__name__} implements none of get_read_tasks(parallelism), create_reader(**read_args) "
                        f"(Ray's older interface) or prepare_read(parallelism, **read_args): it cannot be read")
    warnings.warn(f"{type(datasource).__name__}: create_reader is deprecated (as in Ray 2.9); implement "
                  f"Datasource.get_read_tasks and estimate_inmemory_data_size instead", DeprecationWarning,
                  stacklevel=3)
    reader = datasource.create_reader(**read_args)
    if not callable(getattr(reader, "get_read_tasks", None)):
        raise TypeError(f"{type(datasource).__name__}.create_reader must return a Reader (with "
                        f"get_read_tasks(parallelism)), got {reader!r}")
    return ReaderDatasource(reader, datasource.name)
