"""Data-profiling aggregations: MissingValuePercentage and ZeroPercentage.

Both keep two counts per group (the matching values and the values counted) and
finish with ``100 * matching / counted`` (float64; null for a group that counted
nothing), all with pyarrow hash aggregations.

Example:
    >>> import pyarrow as pa
    >>> from streamdata.exec.shuffle.groupby import aggregate_table
    >>> t = pa.table({"v": [0.0, None, float("nan"), 2.0]})
    >>> aggregate_table(t, [], [MissingValuePercentage("v"), ZeroPercentage("v")]).to_pylist()
    [{'missing_pct(v)': 50.0, 'zero_pct(v)': 33.33333333333333}]
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from streamdata.aggregation.base import Arrays, States
from streamdata.aggregation.builtins import _Builtin, _hash_agg
from streamdata.aggregation.grouping import Groups, HashAgg

_SUM = pc.ScalarAggregateOptions(skip_nulls=True, min_count=0)


class _Percentage(_Builtin):
    """Two int64 counts per group, summed on merge, turned into a percentage."""

    def _matching_and_counted(self, block: pa.Table) -> tuple[pa.Array, HashAgg]:
        raise NotImplementedError(f"{type(self).__name__} must implement _matching_and_counted()")

    def _partial_requests(self, block: pa.Table) -> list[HashAgg]:
        matching, counted = self._matching_and_counted(block)
        return [_hash_agg(matching, "sum", _SUM), counted]

    def _partial_states(self, block: pa.Table, groups: Groups, results: Arrays) -> States:
        return [pc.fill_null(results[0], 0).cast(pa.int64()), results[1].cast(pa.int64())]

    def _merge_requests(self, states: Sequence[pa.Array]) -> list[HashAgg]:
        return [_hash_agg(states[0], "sum", _SUM), _hash_agg(states[1], "sum", _SUM)]

    def _merge_states(self, states: Arrays, groups: Groups, results: Arrays) -> States:
        return [results[0].cast(pa.int64()), results[1].cast(pa.int64())]

    def _finalize_states(self, states: Sequence[pa.Array]) -> pa.Array:
        matching, counted = (s.cast(pa.float64()) for s in states)
        counted = pc.if_else(pc.equal(counted, 0.0), pa.scalar(None, pa.float64()), counted)
        return pc.multiply(pc.divide(matching, counted), 100.0)

    def _identity_states(self) -> States:
        return [pa.array([0], pa.int64()), pa.array([0], pa.int64())]


class MissingValuePercentage(_Percentage):
    """Percentage of the values of column ``on`` that are missing: null, or NaN
    (0.0 to 100.0; null for a group without rows).

    Example:
        >>> import pyarrow as pa
        >>> from streamdata.exec.shuffle.groupby import aggregate_table
        >>> aggregate_table(pa.table({"v": [1, None, 3, None]}), [], [MissingValuePercentage("v")]).to_pylist()
        [{'missing_pct(v)': 50.0}]
    """

    _agg_name = "missing_pct"
    _numeric = False

    def __init__(self, on: str | None = None, alias_name: str | None = None) -> None:
        super().__init__(on, ignore_nulls=False, alias_name=alias_name)

    def _matching_and_counted(self, block: pa.Table) -> tuple[pa.Array, HashAgg]:
        col = block.column(self.on)  # type: ignore[arg-type]
        nan_is_null = pa.types.is_floating(col.type)
        missing = pc.is_null(col, nan_is_null=nan_is_null).cast(pa.int64())
        return missing, _hash_agg(None, "count")


class ZeroPercentage(_Percentage):
    """Percentage of the values of the numeric column ``on`` that are zero (0.0 to
    100.0). With ``ignore_nulls=True`` (default) nulls count in neither part; with
    False they count as values that are not zero.

    Example:
        >>> import pyarrow as pa
        >>> from streamdata.exec.shuffle.groupby import aggregate_table
        >>> t = pa.table({"v": [0, None, 0, 3]})
        >>> aggregate_table(t, [], [ZeroPercentage("v"), ZeroPercentage("v", ignore_nulls=False,
        ...                 alias_name="z")]).to_pylist()
        [{'zero_pct(v)': 66.66666666666666, 'z': 50.0}]
    """

    _agg_name = "zero_pct"

    def __init__(self, on: str | None = None, ignore_nulls: bool = True,
                 alias_name: str | None = None) -> None:
        super().__init__(on, ignore_nulls=ignore_nulls, alias_name=alias_name)

    def _matching_and_counted(self, block: pa.Table) -> tuple[pa.Array, HashAgg]:
        col = self._values(block)
        is_zero = pc.invert(col) if pa.types.is_boolean(col.type) else pc.equal(col, 0)
        zero = pc.fill_null(is_zero, False).cast(pa.int64())
        mode = "only_valid" if self.ignore_nulls else "all"
        return zero, _hash_agg(col, "count", pc.CountOptions(mode=mode))


__all__ = ["MissingValuePercentage", "ZeroPercentage"]
