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

from collections.abc import Callable
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


def zip_blocks(left: pa.Table, ranges: list[tuple[int, int]], *rights: pa.Table) -> tuple[pa.Table, BlockMetadata]:
    """``left`` with the columns of the right rows ``ranges[i]`` of ``rights[i]`` appended.

    Right columns whose names clash get a ``_1`` suffix (as Ray's zip).
    """
    parts = [r.slice(s, e - s) for r, (s, e) in zip(rights, ranges)]
    right = B.concat(parts) if parts else pa.table({})
    if right.num_rows != left.num_rows:
        raise ValueError(f"zip: a left block of {left.num_rows} rows met {right.num_rows} right rows")
    out = left
    for name, col in zip(right.column_names, right.columns):
        new = name
        while new in out.column_names:
            new = f"{new}_1"
        out = out.append_column(new, col)
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
