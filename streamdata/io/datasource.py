"""The interface between sources of data and the engine.

A :class:`Datasource` describes data that can be read; the planner asks it for
:class:`ReadTask` s, each a small serializable callable that runs in a worker
and yields Arrow tables (blocks). The optimizer may push projections, predicates
and limits into a source that says it accepts them; a source returns a *new*
source with the pushdown applied (sources are immutable, like plan nodes).

Example:
    >>> import pyarrow as pa
    >>> from streamdata.read_task import BlockMetadata, ReadTask
    >>> task = ReadTask(lambda: [pa.table({"x": [1, 2]})], BlockMetadata(num_rows=2, size_bytes=16))
    >>> [t.num_rows for t in task()]
    [2]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import pyarrow as pa

from streamdata.block_metadata import BlockMetadata  # noqa: F401 - re-exported with ReadTask, as Ray does
from streamdata.io.named import NamedConnector
from streamdata.read_task import ReadTask

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.expressions import Expr


class Datasource(NamedConnector, ABC):
    """A source of data. Subclasses implement :meth:`get_read_tasks` at least."""

    #: short name shown in plans and stats, e.g. ``"ReadParquet"``
    name: str = "Read"

    @property
    def supports_distributed_reads(self) -> bool:
        """Whether read tasks may run in any worker (Ray's property; always true locally)."""
        return True

    @abstractmethod
    def get_read_tasks(self, parallelism: int) -> list[ReadTask]:
        """Split the source into about ``parallelism`` read tasks (fewer if the data is small)."""

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
