"""Ray's ``ray.data.block`` names: ``Block``, ``BlockAccessor``, ``BlockMetadata``.

A block is a ``pyarrow.Table`` (:mod:`streamdata.block`). Code written for Ray reaches one
through ``BlockAccessor.for_block(block)`` (a custom ``Datasink.write``, a
``write_block_to_file``) and builds one with ``BlockAccessor.batch_to_block(batch)`` (a
custom ``Datasource``'s read tasks); both work here, and a pandas DataFrame is taken as a
block too, as Ray takes it.

Example:
    >>> import pyarrow as pa
    >>> acc = BlockAccessor.for_block(pa.table({"x": [3, 1, 2]}))
    >>> acc.num_rows(), acc.slice(1, 3).to_pandas()["x"].tolist()
    (3, [1, 2])
    >>> BlockAccessor.batch_to_block({"x": [1, 2]}).num_rows
    2
    >>> list(acc.to_batch_format("numpy"))
    ['x']
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from streamdata import block as B
from streamdata.block_metadata import BlockMetadata

#: a block (Ray's union of Arrow and pandas; streamdata's blocks are Arrow tables)
Block = pa.Table


class BlockAccessor:
    """A block seen through Ray's accessor: its rows, its batch formats, slices."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table

    @staticmethod
    def for_block(block: Any) -> BlockAccessor:
        """The accessor of ``block`` (a ``pyarrow.Table`` or a pandas DataFrame).

        Raises:
            TypeError: anything else, naming its type.
        """
        if isinstance(block, BlockAccessor):
            return block
        if isinstance(block, pa.Table):
            return BlockAccessor(block)
        if type(block).__name__ == "DataFrame":
            return BlockAccessor(B.pandas_to_table(block))
        raise TypeError(f"BlockAccessor.for_block: a block is a pyarrow.Table or a pandas.DataFrame, got "
                        f"{type(block).__name__}")

    @staticmethod
    def batch_to_block(batch: Any, block_type: Any = None) -> pa.Table:
        """A block from a batch (a dict of arrays or lists, a pandas DataFrame, an Arrow table);
        ``block_type`` is accepted for Ray's signature (blocks are Arrow tables here)."""
        if isinstance(batch, dict):
            batch = {name: values if hasattr(values, "__array__") else list(values) for name, values in batch.items()}
        return B.batch_to_table(batch, what="BlockAccessor.batch_to_block")

    def num_rows(self) -> int:
        return self._table.num_rows

    def size_bytes(self) -> int:
        return self._table.nbytes

    def schema(self) -> pa.Schema:
        return self._table.schema

    def iter_rows(self, public_row_format: bool = True) -> Iterator[dict[str, Any]]:
        return B.iter_rows(self._table)

    def slice(self, start: int, end: int, copy: bool = False) -> pa.Table:
        """Rows ``start`` to ``end`` (exclusive)."""
        return self._table.slice(start, max(0, end - start))

    def take(self, indices: Sequence[int]) -> pa.Table:
        return self._table.take(pa.array(indices, pa.int64()))

    def select(self, columns: Sequence[str]) -> pa.Table:
        return self._table.select(list(columns))

    def random_shuffle(self, random_seed: int | None) -> pa.Table:
        import numpy as np

        return self._table.take(np.random.default_rng(random_seed).permutation(self._table.num_rows))

    def to_arrow(self) -> pa.Table:
        return self._table

    def to_block(self) -> pa.Table:
        return self._table

    def to_default(self) -> pa.Table:
        return self._table

    def to_pandas(self) -> Any:
        return B.to_pandas(self._table)

    def to_numpy(self, columns: str | Sequence[str] | None = None) -> Any:
        table = self._table if columns is None else self._table.select(
            [columns] if isinstance(columns, str) else list(columns))
        out = B.to_numpy(table)
        return out[columns] if isinstance(columns, str) else out

    def to_batch_format(self, batch_format: str | None) -> Any:
        """The block as a batch (``"numpy"``/``"default"``, ``"pandas"``, ``"pyarrow"``)."""
        return B.to_batch(self._table, batch_format)

    def get_metadata(self, input_files: Sequence[str] | None = None, exec_stats: Any = None) -> BlockMetadata:
        return BlockMetadata.of(self._table, input_files or ())


__all__ = ["Block", "BlockAccessor", "BlockMetadata"]
