"""The interface between the engine and destinations of data.

The write protocol (Ray's): ``on_write_start`` once on the driver, ``write`` in
worker tasks (one call per task, over that task's blocks), then
``on_write_complete(results)`` on the driver (a :class:`WriteResult`: the list of
what each task's ``write`` returned, with Ray's ``write_returns`` / ``num_rows``
attributes too) when every task succeeded, or
``on_write_failed(error)`` when any failed. File sinks write into a staging
location in ``write`` and make the files visible in ``on_write_complete``, so a
failed write leaves the destination as it was.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Iterable

import pyarrow as pa

from streamdata.io.named import NamedConnector
from streamdata.write_context import WriteContext


class WriteResult(list):
    """What every write task returned, in task order: a list, with Ray's attributes.

    Example:
        >>> r = WriteResult([{"num_rows": 2}, {"num_rows": 3}])
        >>> r.write_returns == list(r), r.num_rows
        (True, 5)
    """

    @property
    def write_returns(self) -> list[Any]:
        return list(self)

    @property
    def num_rows(self) -> int | None:
        """Rows written, when every task returned a dict with ``num_rows`` (else None)."""
        counts = [r.get("num_rows") if isinstance(r, dict) else None for r in self]
        return None if any(c is None for c in counts) else int(sum(counts))  # type: ignore[arg-type]

    @property
    def size_bytes(self) -> int | None:
        sizes = [r.get("size_bytes") if isinstance(r, dict) else None for r in self]
        return None if any(c is None for c in sizes) else int(sum(sizes))  # type: ignore[arg-type]


class Datasink(NamedConnector, ABC):
    """A destination of data."""

    #: short name shown in plans and stats, e.g. ``"WriteParquet"``
    name: str = "Write"

    @property
    def supports_distributed_writes(self) -> bool:
        """Whether write tasks may run in any worker (Ray's property)."""
        return True

    @property
    def min_rows_per_write(self) -> int | None:
        """Rows each write task should receive at least (Ray's property; advisory here)."""
        return None

    def on_write_start(self) -> None:
        """Prepare the destination (runs on the driver before any write task)."""

    @abstractmethod
    def write(self, blocks: Iterable[pa.Table], ctx: WriteContext) -> Any:
        """Write ``blocks`` (runs in a worker). Returns a small, picklable result."""

    def on_write_complete(self, write_results: list[Any]) -> None:
        """Commit: make the written data visible (driver, after every task succeeded)."""

    def on_write_failed(self, error: BaseException) -> None:
        """Roll back: remove staged data (driver, after a task failed)."""

    def __repr__(self) -> str:
        return self.name
