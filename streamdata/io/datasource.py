"""The interface between sources of data and the engine.

A :class:`Datasource` describes data that can be read; the planner asks it for
:class:`ReadTask` s, each a small serializable callable that runs in a worker
and yields Arrow tables (blocks). The optimizer may push projections, predicates
and limits into a source that says it accepts them; a source returns a *new*
source with the pushdown applied (sources are immutable, like plan nodes).

Example:
    >>> import pyarrow as pa
    >>> task = ReadTask(lambda: [pa.table({"x": [1, 2]})], BlockMetadata(num_rows=2, size_bytes=16))
    >>> [t.num_rows for t in task()]
    [2]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Sequence

import pyarrow as pa

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.expressions import Expr


@dataclass(frozen=True, slots=True)
class BlockMetadata:
    """What is known about a block (or the blocks a read task will produce) without reading it."""

    num_rows: int | None = None
    size_bytes: int | None = None
    schema: pa.Schema | None = None
    input_files: tuple[str, ...] = ()

    @staticmethod
    def of(table: pa.Table, input_files: Sequence[str] = ()) -> "BlockMetadata":
        """Metadata of a materialized block."""
        return BlockMetadata(num_rows=table.num_rows, size_bytes=table.nbytes,
                             schema=table.schema, input_files=tuple(input_files))


class ReadTask:
    """One unit of reading: calling it yields one or more blocks.

    It is pickled (cloudpickle) and run in a worker, so it must capture only what
    the worker needs (paths, options), never open files or file handles.
    """

    __slots__ = ("_read_fn", "metadata")

    def __init__(self, read_fn: Callable[[], Iterable[pa.Table]], metadata: BlockMetadata) -> None:
        self._read_fn = read_fn
        self.metadata = metadata

    def __call__(self) -> Iterator[pa.Table]:
        yield from self._read_fn()

    @property
    def skipped_inputs(self) -> list[str]:
        """Inputs (files) this task skipped as unreadable, after it ran.

        Non-empty only when ``DataContext.max_errored_blocks`` allows skipping; each
        entry is ``"<path>: <error>"``. The executor may read it in the worker after
        iterating the task, to enforce a job-wide budget and report the skips.
        """
        return list(getattr(self._read_fn, "skipped", ()) or ())

    def __repr__(self) -> str:
        return f"ReadTask(rows={self.metadata.num_rows}, bytes={self.metadata.size_bytes})"


class Datasource(ABC):
    """A source of data. Subclasses implement :meth:`get_read_tasks` at least."""

    #: short name shown in plans and stats, e.g. ``"ReadParquet"``
    name: str = "Read"

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
