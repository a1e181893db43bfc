"""Repartition kernels: exactly ``n`` output blocks of near-equal row counts.

Without shuffle, rows keep their global order: :func:`plan_slices` decides from the
input row counts which row ranges of which input blocks make each output block, and
:func:`assemble` builds one output from those slices (zero-copy slices, one concat).
With shuffle, every block is cut into ``n`` near-equal pieces (:func:`split_even`)
and output ``i`` concatenates piece ``i`` of every block.

Example:
    >>> plan_slices([3, 3], 3)
    [[(0, 0, 2)], [(0, 2, 3), (1, 0, 1)], [(1, 1, 3)]]
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from streamdata.errors import PlanError
from streamdata.block import concat, split_by_count

Slice = tuple[int, int, int]  # (input block index, start row, end row)


def plan_slices(row_counts: Sequence[int], num_outputs: int | None,
                rows_per_output: int | None = None) -> list[list[Slice]]:
    """For each of ``num_outputs`` outputs, the input row ranges it is made of.

    Output ``i`` gets rows ``[i * total // n + min(i, extra) ...)`` in global order, so
    sizes differ by at most one row (the first ``total % n`` outputs have one more).

    Example:
        >>> plan_slices([5], 2)
        [[(0, 0, 3)], [(0, 3, 5)]]
        >>> plan_slices([0, 0], 2)
        [[], []]

    With ``rows_per_output`` instead, every output has exactly that many rows but the
    last (which has the rest):

        >>> plan_slices([3, 2], None, rows_per_output=2)
        [[(0, 0, 2)], [(0, 2, 3), (1, 0, 1)], [(1, 1, 2)]]
    """
    total = sum(row_counts)
    if rows_per_output is not None:
        if rows_per_output < 1:
            raise PlanError(f"rows per output block must be >= 1, got {rows_per_output}")
        full, rest = divmod(total, rows_per_output)
        sizes = [rows_per_output] * full + ([rest] if rest or not full else [])
    else:
        if num_outputs is None or num_outputs < 1:
            raise PlanError(f"repartition needs at least one output block, got {num_outputs}")
        base, extra = divmod(total, num_outputs)
        sizes = [base + (1 if i < extra else 0) for i in range(num_outputs)]
    return cut_runs(row_counts, sizes)


def cut_runs(row_counts: Sequence[int], sizes: Sequence[int]) -> list[list[Slice]]:
    """Consecutive pieces of ``sizes[i]`` rows each, cut from blocks of ``row_counts``
    rows read in order: for each piece, the row ranges it is made of.

    Example:
        >>> cut_runs([2, 0, 3], [1, 3, 1])
        [[(0, 0, 1)], [(0, 1, 2), (2, 0, 2)], [(2, 2, 3)]]
    """
    out: list[list[Slice]] = []
    block, offset = 0, 0
    for size in sizes:
        pieces: list[Slice] = []
        need = size
        while need > 0:
            while row_counts[block] - offset == 0:
                block, offset = block + 1, 0
            take = min(need, row_counts[block] - offset)
            pieces.append((block, offset, offset + take))
            offset += take
            need -= take
        out.append(pieces)
    return out


def assemble(blocks: Sequence[pa.Table], slices: Sequence[Slice]) -> pa.Table:
    """One output block from ``slices`` of ``blocks`` (``blocks[k]`` is the block that the
    ``k``-th distinct block index in ``slices`` refers to, in order).

    Example:
        >>> assemble([pa.table({"x": [1, 2]}), pa.table({"x": [3]})], [(4, 1, 2), (9, 0, 1)]).column("x").to_pylist()
        [2, 3]
    """
    order: list[int] = []
    for idx, _, _ in slices:
        if idx not in order:
            order.append(idx)
    pos = {idx: k for k, idx in enumerate(order)}
    parts = [blocks[pos[idx]].slice(start, end - start) for idx, start, end in slices]
    if not parts:
        return blocks[0].slice(0, 0) if blocks else pa.table({})
    return concat(parts) if len(parts) > 1 else parts[0]


def split_even(block: pa.Table, num_parts: int) -> list[pa.Table]:
    """``block`` cut into ``num_parts`` zero-copy pieces of near-equal row counts.

    Example:
        >>> [p.num_rows for p in split_even(pa.table({"x": range(5)}), 3)]
        [2, 2, 1]
    """
    return split_by_count(block, num_parts)


def concat_parts(parts: Sequence[pa.Table]) -> pa.Table:
    """Reduce side of a shuffled repartition: the parts concatenated in order.

    Example:
        >>> concat_parts([pa.table({"x": [1]}), pa.table({"x": [2]})]).num_rows
        2
    """
    nonempty = [p for p in parts if p.num_rows]
    if not nonempty:
        return parts[0] if parts else pa.table({})
    return concat(nonempty)


__all__ = ["Slice", "assemble", "concat_parts", "plan_slices", "split_even"]
