"""What is known about a block without reading it (a base type: imports nothing of streamdata).

Example:
    >>> import pyarrow as pa
    >>> BlockMetadata.of(pa.table({"x": [1, 2]})).num_rows
    2
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import pyarrow as pa


@dataclass(frozen=True, slots=True)
class BlockMetadata:
    """What is known about a block (or the blocks a read task will produce) without reading it."""

    num_rows: int | None = None
    size_bytes: int | None = None
    schema: pa.Schema | None = None
    input_files: tuple[str, ...] | None = ()
    #: accepted for Ray's signature (``BlockMetadata(..., exec_stats=None)``); unused
    exec_stats: Any = None

    def __post_init__(self) -> None:
        if self.input_files is None:  # Ray's connectors pass input_files=None
            object.__setattr__(self, "input_files", ())
        elif not isinstance(self.input_files, tuple):
            object.__setattr__(self, "input_files", tuple(self.input_files))

    @staticmethod
    def of(table: pa.Table, input_files: Sequence[str] = ()) -> "BlockMetadata":
        """Metadata of a materialized block."""
        return BlockMetadata(num_rows=table.num_rows, size_bytes=table.nbytes,
                             schema=table.schema, input_files=tuple(input_files))
