"""The code all-to-all operators run in workers: prepare, map and reduce tasks.

Only small values reach the driver: part sizes, block metadata and key samples (and
built-in partial aggregates small enough to merge there, see
:func:`~streamdata.exec.operators.all_to_all.policy.reduce_on_driver`, which runs
:func:`reduce_parts` on the driver). Blocks stay in the object store (returned values, or ``put`` by the worker when a
reduce output is split into several blocks).

Example:
    >>> import pyarrow as pa
    >>> from streamdata.exec.operators.all_to_all.spec import RandomShuffleSpec
    >>> out = map_task(RandomShuffleSpec(seed=1), 0, 2, 0, None, pa.table({"x": range(10)}))
    >>> len(out), sum(rows for rows, _ in out[-1])
    (3, 10)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from streamdata.exec.operators.all_to_all.spec import ShuffleSpec, _concat
from streamdata.exec.operators.map_task import TaskOutput
from streamdata.block_metadata import BlockMetadata
from streamdata.context import DataContext
from streamdata.exec.shuffle.random_ops import block_fingerprint
from streamdata import block as B
from streamdata.core import api as rt
from streamdata.exec.shuffle.repartition import assemble


@dataclass(frozen=True, slots=True)
class PrepareInfo:
    """What the driver learns from a prepare task."""

    meta: BlockMetadata
    wall_s: float
    fingerprint: int | None = None


def _set_context(data_context: Any) -> None:
    if data_context is not None:
        DataContext._set_current(data_context)


def prepare_task(spec: ShuffleSpec, seed: int, transform: bool, data_context: Any,
                 *blocks: pa.Table) -> tuple[pa.Table | None, pa.Table | None, PrepareInfo]:
    """Transform arriving blocks (when ``transform``) and sample their keys.

    Returns ``(prepared table or None, key samples or None, info)``; with
    ``transform=False`` the driver keeps the original blocks.
    """
    _set_context(data_context)
    start = time.perf_counter()
    table = _concat(list(blocks))
    if transform:
        table = spec.prepare(table)
    sample = spec.sample(table, seed) if spec.needs_sample else None
    meta = BlockMetadata.of(table)
    fingerprint = None
    if spec.canonical_order:
        fingerprint = block_fingerprint(table)
    return (table if transform else None), sample, PrepareInfo(meta, time.perf_counter() - start, fingerprint)


def map_task(spec: ShuffleSpec, side: int, n: int, index: int, boundaries: pa.Table | None,
             *blocks: pa.Table) -> tuple[Any, ...]:
    """Partition the concatenation of ``blocks`` into ``n`` parts.

    Returns ``n + 1`` values (``num_returns=n + 1``): the parts, then a list of
    ``(rows, bytes)`` per part for the driver.
    """
    table = _concat(list(blocks))
    parts = spec.partition(table, side=side, n=n, index=index, boundaries=boundaries)
    if len(parts) != n:
        raise RuntimeError(f"{type(spec).__name__}.partition made {len(parts)} parts, expected {n}")
    sizes = [(p.num_rows, p.nbytes) for p in parts]
    return (*parts, sizes)


def reduce_task(spec: ShuffleSpec, index: int, counts: tuple[int, ...], target_max_block_size: int,
                data_context: Any, *parts: pa.Table) -> tuple[pa.Table, TaskOutput]:
    """Reduce ``parts`` (``counts[s]`` of them from input ``s``, in order) into output ``index``.

    Outputs above ``target_max_block_size`` are split; every block but the last is
    ``put`` here and named in the returned ``TaskOutput`` (``num_returns=2``).
    """
    _set_context(data_context)
    return reduce_parts(spec, index, counts, target_max_block_size, parts)


def reduce_parts(spec: ShuffleSpec, index: int, counts: tuple[int, ...], target_max_block_size: int,
                 parts: Sequence[pa.Table]) -> tuple[pa.Table, TaskOutput]:
    """The body of :func:`reduce_task` (also run on the driver for a small reduce)."""
    start = time.perf_counter()
    sides: list[list[pa.Table]] = []
    pos = 0
    for c in counts:
        sides.append(list(parts[pos:pos + c]))
        pos += c
    out = spec.reduce(sides, index=index)
    return split_output(out, target_max_block_size, start)


def split_output(out: pa.Table, target_max_block_size: int, start: float) -> tuple[pa.Table, TaskOutput]:
    """``out`` as blocks of at most about ``target_max_block_size`` bytes (the last one
    returned, the others put)."""
    pieces = B.split_by_size(out, max(1, target_max_block_size)) if out.num_rows else [out]
    extra: list[Any] = []
    metas: list[BlockMetadata] = []
    if len(pieces) > 1:
        for piece in pieces[:-1]:  # Arrow IPC stores only a slice's own rows
            extra.append(rt.put(piece))
            metas.append(BlockMetadata.of(piece))
    last = pieces[-1]
    if last.num_rows:
        metas.append(BlockMetadata.of(last))
    return last, TaskOutput(tuple(metas), tuple(extra), out.schema, time.perf_counter() - start, 0.0)


def assemble_task(slices: tuple[tuple[int, int, int], ...], target_max_block_size: int,
                  *blocks: pa.Table) -> tuple[pa.Table, TaskOutput]:
    """Repartition without shuffle: one output block from row ranges of ``blocks``."""
    start = time.perf_counter()
    out = assemble(list(blocks), list(slices))
    return split_output(out, max(target_max_block_size, out.nbytes + 1), start)


def count_rows_task(block: pa.Table) -> int:
    """Rows of a block whose metadata did not say."""
    return block.num_rows


__all__ = [
    "PrepareInfo",
    "assemble_task",
    "count_rows_task",
    "map_task",
    "prepare_task",
    "reduce_parts",
    "reduce_task",
    "split_output",
]
