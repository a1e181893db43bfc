"""Group-by aggregation kernels: partial (map side), merge and finalize (reduce side).

A *partial* table holds the key columns and, per aggregation ``i``, its accumulator
columns ``__agg{i}_{j}``, one row per group. Partials of different blocks are
concatenated and merged by key, then finalized into the output columns
(``agg.name``). Every step is vectorized over all groups (see
:mod:`streamdata.aggregate`).

Example:
    >>> import pyarrow as pa
    >>> from streamdata.aggregate import Sum
    >>> a = partial_aggregate(pa.table({"k": [1, 2], "v": [1, 2]}), ["k"], [Sum("v")])
    >>> b = partial_aggregate(pa.table({"k": [2, 3], "v": [5, 7]}), ["k"], [Sum("v")])
    >>> finalize_aggregate(merge_partials([a, b], ["k"], [Sum("v")]), ["k"], [Sum("v")]).to_pylist()
    [{'k': 1, 'sum(v)': 1}, {'k': 2, 'sum(v)': 7}, {'k': 3, 'sum(v)': 7}]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from streamdata.block_concat import concat_tables
from streamdata.errors import PlanError
from streamdata.exec.shuffle.grouping import HashAgg, check_columns, group_table

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.aggregation.base import AggregateFn


def state_column(agg_index: int, state_index: int) -> str:
    """Name of accumulator column ``state_index`` of aggregation ``agg_index`` in a partial."""
    return f"__agg{agg_index}_{state_index}"


def validate_aggregation(schema: pa.Schema, keys: Sequence[str], aggs: Sequence[AggregateFn]) -> None:
    """Check that keys and aggregated columns exist and output names are distinct.

    Raises:
        ColumnNotFoundError: a key or an aggregation's ``on`` column is missing.
        PlanError: two outputs would have the same name, or neither keys nor aggregations
            are given (keys without aggregations give the distinct keys).

    Example:
        >>> from streamdata.aggregate import Count
        >>> validate_aggregation(pa.schema([("k", pa.int64())]), ["k"], [Count()])
    """
    if not aggs and not keys:
        raise PlanError("aggregate() needs at least one aggregation (or keys, for distinct keys)")
    check_columns(schema, keys)
    for agg in aggs:
        check_columns(schema, agg._input_columns())
    names = list(keys) + [agg.name for agg in aggs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise PlanError(f"aggregation output names collide: {dupes}; give alias_name= to tell them apart")


def _run(table: pa.Table, keys: Sequence[str], aggs: Sequence[AggregateFn], phase: str,
         states: list[list[pa.Array]] | None) -> pa.Table:
    requests: list[HashAgg] = []
    spans: list[tuple[int, int]] = []
    for i, agg in enumerate(aggs):
        reqs = agg._partial_requests(table) if phase == "partial" else agg._merge_requests(states[i])  # type: ignore[index]
        spans.append((len(requests), len(requests) + len(reqs)))
        requests.extend(reqs)
    with_rows = any(agg._needs_rows(phase) for agg in aggs)
    groups, results = group_table(table, keys, requests, with_rows=with_rows)
    arrays: list[pa.Array | pa.ChunkedArray] = list(groups.keys.columns)
    names: list[str] = list(keys)
    for i, agg in enumerate(aggs):
        lo, hi = spans[i]
        if phase == "partial":
            out = agg._partial_states(table, groups, results[lo:hi])
        else:
            out = agg._merge_states(states[i], groups, results[lo:hi])  # type: ignore[index]
        for j, arr in enumerate(out):
            arrays.append(arr)
            names.append(state_column(i, j))
    if not arrays:
        return pa.table({})
    return pa.Table.from_arrays(arrays, names=names)


def partial_aggregate(block: pa.Table, keys: Sequence[str], aggs: Sequence[AggregateFn]) -> pa.Table:
    """Map side: one row per group of ``block`` with its accumulators.

    Example:
        >>> from streamdata.aggregate import Count
        >>> partial_aggregate(pa.table({"k": ["a", "b", "a"]}), ["k"], [Count()]).to_pylist()
        [{'k': 'a', '__agg0_0': 2}, {'k': 'b', '__agg0_0': 1}]
    """
    validate_aggregation(block.schema, keys, aggs)
    return _run(block, keys, aggs, "partial", None)


def _states(table: pa.Table, aggs: Sequence[AggregateFn]) -> list[list[pa.Array]]:
    out = []
    for i, agg in enumerate(aggs):
        cols = []
        j = 0
        while state_column(i, j) in table.column_names:
            col = table.column(state_column(i, j))
            cols.append(col.combine_chunks() if col.num_chunks != 1 else col.chunk(0))
            j += 1
        out.append(cols)
    return out


def merge_partials(partials: Sequence[pa.Table], keys: Sequence[str],
                   aggs: Sequence[AggregateFn]) -> pa.Table:
    """Reduce side: partials of many blocks merged into one row per group.

    Example:
        >>> from streamdata.aggregate import Count
        >>> p = partial_aggregate(pa.table({"k": [1, 1]}), ["k"], [Count()])
        >>> merge_partials([p, p], ["k"], [Count()]).to_pylist()
        [{'k': 1, '__agg0_0': 4}]
    """
    partials = [p for p in partials if p.num_columns]
    if not partials:
        return pa.table({})
    table = concat_tables(partials, promote_options="permissive") if len(partials) > 1 else partials[0]
    return _run(table, keys, aggs, "merge", _states(table, aggs))


def finalize_aggregate(merged: pa.Table, keys: Sequence[str], aggs: Sequence[AggregateFn], *,
                       sort: bool = True) -> pa.Table:
    """The output table: key columns and one column per aggregation (``agg.name``).

    With no keys, the result has exactly one row, also for empty input (``count()``
    is then 0 and the other aggregations null). With keys, groups are sorted by key
    (nulls last) unless ``sort=False``.

    Example:
        >>> from streamdata.aggregate import Count, Sum
        >>> finalize_aggregate(pa.table({}), [], [Count(), Sum("x")]).to_pylist()
        [{'count()': 0, 'sum(x)': None}]
    """
    if not keys and merged.num_rows == 0:
        states = [agg._identity_states() for agg in aggs]
        return pa.Table.from_arrays([agg._finalize_states(s) for agg, s in zip(aggs, states)],
                                    names=[agg.name for agg in aggs])
    if merged.num_columns == 0:  # keyed aggregation of no rows at all
        raise PlanError("finalize_aggregate got no partials for a keyed aggregation; "
                        "use empty_aggregate_result(schema, keys, aggs)")
    states = _states(merged, aggs)
    arrays = [merged.column(k) for k in keys] + [agg._finalize_states(s) for agg, s in zip(aggs, states)]
    out = pa.Table.from_arrays(arrays, names=list(keys) + [agg.name for agg in aggs])
    if sort and keys and out.num_rows > 1:
        out = out.take(pc.sort_indices(out, sort_keys=[(k, "ascending") for k in keys]))
    return out


def empty_aggregate_result(schema: pa.Schema, keys: Sequence[str],
                           aggs: Sequence[AggregateFn]) -> pa.Table:
    """The result of aggregating no rows with input ``schema`` (one row when no keys).

    Example:
        >>> from streamdata.aggregate import Count
        >>> empty_aggregate_result(pa.schema([("k", pa.int64())]), ["k"], [Count()]).num_rows
        0
    """
    empty = schema.empty_table()
    return finalize_aggregate(merge_partials([partial_aggregate(empty, keys, aggs)], keys, aggs),
                              keys, aggs)


def aggregate_table(table: pa.Table, keys: Sequence[str], aggs: Sequence[AggregateFn]) -> pa.Table:
    """All three steps on one table (a reference implementation and a convenience).

    Example:
        >>> from streamdata.aggregate import Max
        >>> aggregate_table(pa.table({"k": [2, 1, 2], "v": [1, 2, 3]}), ["k"], [Max("v")]).to_pylist()
        [{'k': 1, 'max(v)': 2}, {'k': 2, 'max(v)': 3}]
    """
    return finalize_aggregate(merge_partials([partial_aggregate(table, keys, aggs)], keys, aggs),
                              keys, aggs)


__all__ = [
    "aggregate_table",
    "empty_aggregate_result",
    "finalize_aggregate",
    "merge_partials",
    "partial_aggregate",
    "state_column",
    "validate_aggregation",
]
