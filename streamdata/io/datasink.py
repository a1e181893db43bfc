"""The interface between the engine and destinations of data.

The write protocol (Ray's): ``on_write_start`` once on the driver, ``write`` in
worker tasks (one call per task, over that task's blocks), then
``on_write_complete(results)`` on the driver when every task succeeded, or
``on_write_failed(error)`` when any failed. File sinks write into a staging
location in ``write`` and make the files visible in ``on_write_complete``, so a
failed write leaves the destination as it was.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Iterable

import pyarrow as pa

from streamdata.write_context import WriteContext


class Datasink(ABC):
    """A destination of data."""

    name: str = "Write"

    @property
    def min_rows_per_write(self) -> int | None:
        """Rows each write task should get at least (Ray's name); the plan coalesces the
        blocks going to one task up to it. None: any number."""
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
