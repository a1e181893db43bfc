"""Cut sorted runs into key ranges, with no sample taken beforehand.

When every input block of a sort is already a sorted run (the producing tasks sorted
them, see :class:`~streamdata.exec.operators.sort_runs.SortRunsStage`), the reduce can
be split into ``n`` partitions without a sample round trip: every reduce task gets
every run, computes the same boundaries from the runs themselves (evenly spaced rows
of a sorted run are its quantiles), and merges only its own key range of each run
(a binary search per run and boundary, then zero-copy slices).

The boundaries are a pure function of the runs, so every reduce task finds the same
ones. Rows equal to a boundary go to the partition the boundary starts, so equal keys
never straddle two partitions and the concatenated partitions are exactly the stable
merge of all runs (earlier runs first among equal keys). NaNs, then nulls, sort last
in both directions (Arrow's order): they stay in the last partition.

Only one integer or floating-point key is cut this way (:func:`can_split_runs`); when
the runs do not allow it (different schemas, another key type), partition 0 gets every
row and the others none, so the result is still the one-task merge.

Example:
    >>> import pyarrow as pa
    >>> keys = [("x", "ascending")]
    >>> runs = [pa.table({"x": [1, 4, 6, 9]}), pa.table({"x": [2, 3, 7, 8]})]
    >>> [[p.column("x").to_pylist() for p in run_slices(runs, keys, i, 2)] for i in range(2)]
    [[[1, 4], [2, 3]], [[6, 9], [7, 8]]]
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

#: rows sampled from the runs per output partition (the boundaries' resolution)
SAMPLES_PER_PARTITION = 256


def can_split_runs(schema: pa.Schema, keys: Sequence[tuple[str, str]]) -> bool:
    """Whether runs of ``schema`` sorted by ``keys`` may be cut by :func:`run_slices`:
    one key, of an integer or floating-point type.

    Example:
        >>> can_split_runs(pa.schema([("x", pa.float64())]), [("x", "descending")])
        True
        >>> can_split_runs(pa.schema([("s", pa.string())]), [("s", "ascending")])
        False
    """
    if len(keys) != 1 or keys[0][0] not in schema.names:
        return False
    typ = schema.field(keys[0][0]).type
    return pa.types.is_integer(typ) or pa.types.is_floating(typ)


def run_slices(runs: Sequence[pa.Table], keys: Sequence[tuple[str, str]], index: int,
               num_partitions: int) -> list[pa.Table]:
    """Partition ``index`` of ``num_partitions``: the rows of each run (each sorted by
    ``keys``) in that key range, as zero-copy slices in run order (empty runs dropped;
    the first run's empty slice when no run has a row in the range, so the schema is
    kept).

    Raises:
        ValueError: ``index`` is not in ``[0, num_partitions)``.
    """
    if not 0 <= index < num_partitions:
        raise ValueError(f"partition {index} of {num_partitions} does not exist")
    runs = list(runs)
    if not runs:
        return []
    if num_partitions == 1:
        return runs
    regular = _regular_values(runs, keys)
    if regular is None:  # not cut: the first partition merges everything
        return runs if index == 0 else [runs[0].slice(0, 0)]
    descending = keys[0][1] == "descending"
    bounds = _boundaries(regular, num_partitions, descending=descending)
    out = []
    for run, values in zip(runs, regular):
        inner = [_count_before(values, b, descending) for b in bounds] if bounds else [0] * (num_partitions - 1)
        cuts = [0, *inner, run.num_rows]  # no regular value anywhere: all rows sort last
        start, stop = cuts[index], cuts[index + 1]
        if stop > start:
            out.append(run.slice(start, stop - start))
    return out or [runs[0].slice(0, 0)]


def _regular_values(runs: Sequence[pa.Table], keys: Sequence[tuple[str, str]]) -> list[np.ndarray] | None:
    """Per run, its key values before the NaNs and nulls (that sort last) as numpy (no
    copy for a one-chunk column); None when the runs may not be cut (schemas differ, or
    the key is not one integer or float column)."""
    schema = runs[0].schema
    if not can_split_runs(schema, keys) or any(not r.schema.equals(schema) for r in runs[1:]):
        return None
    name = keys[0][0]
    out = []
    for run in runs:
        col = run.column(name)
        arr = col.chunk(0) if col.num_chunks == 1 else (col.combine_chunks() if col.num_chunks else None)
        if arr is None or len(arr) == 0:
            out.append(np.empty(0, dtype=schema.field(name).type.to_pandas_dtype()))
            continue
        valid = len(arr) - arr.null_count  # nulls sort last in a run
        values = np.asarray(arr.slice(0, valid).to_numpy(zero_copy_only=False))
        if values.dtype.kind == "f":  # NaNs sort last too, just before the nulls
            values = values[:bisect.bisect_left(range(len(values)), True, key=lambda i: bool(np.isnan(values[i])))]
        out.append(values)
    return out


def _boundaries(regular: Sequence[np.ndarray], n: int, *, descending: bool) -> list[Any]:
    """``n - 1`` boundary values, in sort order, from evenly spaced rows of every run."""
    total = sum(len(v) for v in regular)
    if total == 0:
        return []
    step = max(1, total // (SAMPLES_PER_PARTITION * n))
    sample = np.sort(np.concatenate([v[step // 2::step] for v in regular if len(v)]))
    if descending:
        sample = sample[::-1]
    m = len(sample)
    return [sample[min(m - 1, round(m * i / n))] for i in range(1, n)]


def _count_before(values: np.ndarray, bound: Any, descending: bool) -> int:
    """Rows of a sorted run (its regular values) that sort before ``bound``."""
    if not descending:
        return int(np.searchsorted(values, bound, side="left"))
    return bisect.bisect_left(range(len(values)), True, key=lambda i: not values[i] > bound)


__all__ = ["SAMPLES_PER_PARTITION", "can_split_runs", "run_slices"]
