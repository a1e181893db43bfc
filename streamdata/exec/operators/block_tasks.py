"""Small remote tasks on blocks that operators other than maps need: slicing and zipping.

Each returns ``(table, BlockMetadata)`` (``num_returns=2``), so the block stays in the
object store and only its metadata reaches the driver.

Example:
    >>> import pyarrow as pa
    >>> t, meta = slice_block(pa.table({"a": [1, 2, 3]}), 1, 3)
    >>> t.column("a").to_pylist(), meta.num_rows
    ([2, 3], 2)
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import pyarrow as pa

from streamdata import block as B
from streamdata.exec.interfaces import OpTask, RefBundle
from streamdata.block_metadata import BlockMetadata
from streamdata.core import api as rt


def slice_block(table: pa.Table, start: int, end: int) -> tuple[pa.Table, BlockMetadata]:
    """Rows ``[start, end)`` of a block, as a compact new block."""
    out = table.slice(start, max(0, end - start))
    out = pa.Table.from_batches(out.to_batches(), schema=out.schema) if out.num_rows else out
    return out, BlockMetadata.of(out)


def zip_name(name: str, taken: Collection[str]) -> str:
    """The name a zipped column ``name`` gets beside the columns ``taken`` (Ray's rule):
    itself if free, else the first free one of ``name_1``, ``name_2``, ...

    Example:
        >>> zip_name("id", ["x"]), zip_name("id", ["id"]), zip_name("id", ["id", "id_1"])
        ('id', 'id_1', 'id_2')
    """
    new, i = name, 1
    while new in taken:
        new, i = f"{name}_{i}", i + 1
    return new


def zip_blocks(left: pa.Table, groups: list[list[tuple[int, int]]], *rights: pa.Table
               ) -> tuple[pa.Table, BlockMetadata]:
    """``left`` with the columns of each other input appended, input after input.

    ``groups[k]`` are the ``(start, end)`` row ranges of input ``k`` (after the left one)
    that make up this block's rows; ``rights`` are their blocks, one per range, in the
    same order. Clashing names are renamed by :func:`zip_name`, input by input, so three
    datasets of ``id`` give ``id``, ``id_1``, ``id_2`` (as Ray's zip).

    Example:
        >>> t = pa.table({"id": [0, 1]})
        >>> zip_blocks(t, [[(0, 2)], [(0, 1), (1, 2)]], t, t, t)[0].column_names
        ['id', 'id_1', 'id_2']
    """
    out = left
    pieces = iter(rights)
    for ranges in groups:
        parts = [next(pieces).slice(s, e - s) for s, e in ranges]
        right = B.concat(parts) if parts else pa.table({})
        if right.num_rows != left.num_rows:
            raise ValueError(f"zip: a left block of {left.num_rows} rows met {right.num_rows} "
                             "rows of another dataset")
        for name, col in zip(right.column_names, right.columns):
            out = out.append_column(zip_name(name, out.column_names), col)
    return out, BlockMetadata.of(out)


_REMOTE: dict[Callable[..., Any], Any] = {}


def launch_block_task(fn: Callable[..., Any], *args: Any,
                      on_result: Callable[[RefBundle], None]) -> OpTask:
    """Run ``fn(*args)`` remotely (0 CPUs: it is short); ``on_result`` gets a one-block bundle."""

    remote_fn = _REMOTE.get(fn)
    if remote_fn is None:
        remote_fn = _REMOTE[fn] = rt.remote(fn).options(num_returns=2, num_cpus=0)
    block_ref, meta_ref = remote_fn.remote(*args)

    def on_ready() -> None:
        meta = rt.get(meta_ref)
        on_result(RefBundle(blocks=((block_ref, meta),), owns_blocks=True))

    return OpTask(meta_ref, on_ready)
