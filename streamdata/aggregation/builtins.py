"""The vectorized built-in aggregations: Count, Sum, Min, Max, AbsMax, Mean, Std.

Each does its partial, merge and finalize steps for every group of a block at once
with pyarrow's hash aggregations (:mod:`streamdata.aggregation.grouping`); their
accumulators are Arrow columns, one value per group. Output columns are named as
Ray's: ``count()``, ``sum(b)``, ``abs_max(b)``... unless ``alias_name`` is given.

Example:
    >>> import pyarrow as pa
    >>> from streamdata.exec.shuffle.groupby import aggregate_table
    >>> t = pa.table({"k": [1, 1, 2], "b": [1.0, 3.0, 5.0]})
    >>> aggregate_table(t, ["k"], [Count(), Mean("b")]).to_pylist()
    [{'k': 1, 'count()': 2, 'mean(b)': 2.0}, {'k': 2, 'count()': 1, 'mean(b)': 5.0}]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streamdata.aggregation.base import AggregateFnV2, Arrays, States
from streamdata.aggregation.grouping import Groups, HashAgg, group_table
from streamdata.aggregation.list_states import to_numpy as _np
from streamdata.errors import PlanError, SchemaError


def _hash_agg(values: Any, func: str, options: Any = None) -> HashAgg:
    return HashAgg(values, func, options)


_NUMERIC_CHECKS = (pa.types.is_integer, pa.types.is_floating, pa.types.is_decimal,
                   pa.types.is_boolean, pa.types.is_null)


class _Builtin(AggregateFnV2):
    """A built-in aggregation: vectorized partial, merge and finalize steps on Arrow arrays.

    Its Python methods (:meth:`aggregate_block`, :meth:`combine`, :meth:`finalize`)
    run the same vectorized steps on one group, so it can also be used by hand.
    """

    _agg_name = ""
    _numeric = True

    def __init__(self, on: str | None, *, ignore_nulls: bool, alias_name: str | None,
                 require_on: bool = True) -> None:
        if require_on and on is None:
            raise PlanError(f"{type(self).__name__} needs `on`, the name of a column")
        name = alias_name or f"{self._agg_name}({on if on is not None else ''})"
        super().__init__(name, self._identity_states, on=on, ignore_nulls=ignore_nulls)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(on={self.on!r}, name={self.name!r})"

    def _values(self, block: pa.Table, cast_float: bool = False) -> pa.ChunkedArray:
        col = block.column(self.on)  # type: ignore[arg-type]
        if self._numeric and not any(check(col.type) for check in _NUMERIC_CHECKS):
            raise SchemaError(f"{self.name} needs a numeric column; {self.on!r} is {col.type}")
        if (cast_float or pa.types.is_null(col.type)) and col.type != pa.float64():
            col = pc.cast(col, pa.float64())
        return col

    def _needs_rows(self, phase: str) -> bool:
        return False

    # ---- the Python-object interface, via the vectorized steps on one group
    def aggregate_block(self, block: pa.Table) -> Any:
        reqs = self._partial_requests(block)
        groups, results = group_table(block, [], reqs, with_rows=self._needs_rows("partial"))
        if groups.num_groups == 0:
            return self._identity_states()
        return self._partial_states(block, groups, results)

    def combine(self, current_accumulator: Any, new: Any) -> Any:
        states = [_concat(a, b) for a, b in zip(current_accumulator, new)]
        table = pa.table({f"s{i}": s for i, s in enumerate(states)})
        groups, results = group_table(table, [], self._merge_requests(states),
                                      with_rows=self._needs_rows("merge"))
        return self._merge_states(states, groups, results)

    def finalize(self, accumulator: Any) -> Any:
        return self._finalize_states(accumulator)[0].as_py()


def _concat(a: pa.Array, b: pa.Array) -> pa.Array:
    """``a`` then ``b``, cast to one type (the empty accumulator's null types give way)."""
    if a.type != b.type:
        try:
            b = b.cast(a.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            a = a.cast(b.type)
    return pa.concat_arrays([a, b])


def _sum_opts(skip_nulls: bool) -> pc.ScalarAggregateOptions:
    return pc.ScalarAggregateOptions(skip_nulls=skip_nulls, min_count=1)


class Count(_Builtin):
    """Number of rows (``on=None``), or of values of column ``on``.

    Args:
        on: count the values of this column instead of rows.
        ignore_nulls: with ``on``, skip nulls (default False: nulls are counted, as Ray's).
        alias_name: the output column name (default ``count()`` / ``count(on)``).

    Example:
        >>> import pyarrow as pa
        >>> from streamdata.exec.shuffle.groupby import aggregate_table
        >>> t = pa.table({"x": [1, None, 3]})
        >>> aggregate_table(t, [], [Count(), Count("x", ignore_nulls=True)]).to_pylist()
        [{'count()': 3, 'count(x)': 2}]
    """

    _agg_name = "count"
    _numeric = False

    def __init__(self, on: str | None = None, ignore_nulls: bool = False,
                 alias_name: str | None = None) -> None:
        super().__init__(on, ignore_nulls=ignore_nulls, alias_name=alias_name, require_on=False)

    def _partial_requests(self, block: pa.Table) -> list[HashAgg]:
        if self.on is not None and self.ignore_nulls:
            return [_hash_agg(block.column(self.on), "count", pc.CountOptions(mode="only_valid"))]
        return [_hash_agg(None, "count")]

    def _partial_states(self, block: pa.Table, groups: Groups, results: Arrays) -> States:
        return [results[0].cast(pa.int64())]

    def _merge_requests(self, states: Sequence[pa.Array]) -> list[HashAgg]:
        return [_hash_agg(states[0], "sum")]

    def _merge_states(self, states: Arrays, groups: Groups, results: Arrays) -> States:
        return [results[0].cast(pa.int64())]

    def _finalize_states(self, states: Sequence[pa.Array]) -> pa.Array:
        return states[0]

    def _identity_states(self) -> States:
        return [pa.array([0], type=pa.int64())]


class _Reduce(_Builtin):
    """Sum, Min, Max and AbsMax: one accumulator column reduced with the same function."""

    _func = ""

    def __init__(self, on: str | None = None, ignore_nulls: bool = True,
                 alias_name: str | None = None) -> None:
        super().__init__(on, ignore_nulls=ignore_nulls, alias_name=alias_name)

    def _partial_requests(self, block: pa.Table) -> list[HashAgg]:
        return [_hash_agg(self._values(block), self._func, _sum_opts(self.ignore_nulls))]

    def _partial_states(self, block: pa.Table, groups: Groups, results: Arrays) -> States:
        return [results[0]]

    def _merge_requests(self, states: Sequence[pa.Array]) -> list[HashAgg]:
        return [_hash_agg(states[0], self._func, _sum_opts(self.ignore_nulls))]

    def _merge_states(self, states: Arrays, groups: Groups, results: Arrays) -> States:
        return [results[0]]

    def _finalize_states(self, states: Sequence[pa.Array]) -> pa.Array:
        return states[0]

    def _identity_states(self) -> States:
        return [pa.nulls(1)]


class Sum(_Reduce):
    """Sum of column ``on`` (null for a group with no values, or with a null when
    ``ignore_nulls=False``).

    Example:
        >>> import pyarrow as pa
        >>> from streamdata.exec.shuffle.groupby import aggregate_table
        >>> aggregate_table(pa.table({"x": [1, None, 3]}), [], [Sum("x")]).to_pylist()
        [{'sum(x)': 4}]
    """

    _agg_name = "sum"
    _func = "sum"


class _Extremum(_Reduce):
    """Min, Max and AbsMax: Ray's ``zero_factory`` is accepted (the accumulator's start
    value in Ray's row-wise path); a group without values gives null here, as in Ray."""

    def __init__(self, on: str | None = None, ignore_nulls: bool = True,
                 alias_name: str | None = None,
                 zero_factory: Callable[[], Any] | None = None) -> None:
        if zero_factory is not None and not callable(zero_factory):
            raise PlanError(f"{type(self).__name__}: zero_factory must be a callable "
                            f"returning the start value, got {zero_factory!r}")
        super().__init__(on, ignore_nulls=ignore_nulls, alias_name=alias_name)
        self.zero_factory = zero_factory


class Min(_Extremum):
    """Minimum of column ``on`` (numbers, strings, dates... any ordered type).

    Example:
        >>> import pyarrow as pa
        >>> from streamdata.exec.shuffle.groupby import aggregate_table
        >>> aggregate_table(pa.table({"s": ["b", "a"]}), [], [Min("s")]).to_pylist()
        [{'min(s)': 'a'}]
    """

    _agg_name = "min"
    _func = "min"
    _numeric = False


class Max(_Extremum):
    """Maximum of column ``on`` (any ordered type).

    Example:
        >>> import pyarrow as pa
        >>> from streamdata.exec.shuffle.groupby import aggregate_table
        >>> aggregate_table(pa.table({"x": [1, 5, 3]}), [], [Max("x", alias_name="top")]).to_pylist()
        [{'top': 5}]
    """

    _agg_name = "max"
    _func = "max"
    _numeric = False


class AbsMax(_Extremum):
    """Largest absolute value of the numeric column ``on`` (``max(|x|)``, the input's type).

    Example:
        >>> import pyarrow as pa
        >>> from streamdata.exec.shuffle.groupby import aggregate_table
        >>> aggregate_table(pa.table({"x": [3, -7, None]}), [], [AbsMax("x")]).to_pylist()
        [{'abs_max(x)': 7}]
    """

    _agg_name = "abs_max"
    _func = "max"

    def _partial_requests(self, block: pa.Table) -> list[HashAgg]:
        values = self._values(block)
        if not pa.types.is_boolean(values.type) and not pa.types.is_null(values.type):
            values = pc.abs_checked(values)
        return [_hash_agg(values, "max", _sum_opts(self.ignore_nulls))]


class Mean(_Builtin):
    """Arithmetic mean of column ``on`` (float64).

    Example:
        >>> import pyarrow as pa
        >>> from streamdata.exec.shuffle.groupby import aggregate_table
        >>> aggregate_table(pa.table({"x": [1, 2, None]}), [], [Mean("x")]).to_pylist()
        [{'mean(x)': 1.5}]
    """

    _agg_name = "mean"

    def __init__(self, on: str | None = None, ignore_nulls: bool = True,
                 alias_name: str | None = None) -> None:
        super().__init__(on, ignore_nulls=ignore_nulls, alias_name=alias_name)

    def _partial_requests(self, block: pa.Table) -> list[HashAgg]:
        values = self._values(block, cast_float=True)
        return [_hash_agg(values, "sum", _sum_opts(self.ignore_nulls)),
                _hash_agg(values, "count", pc.CountOptions(mode="only_valid"))]

    def _partial_states(self, block: pa.Table, groups: Groups, results: Arrays) -> States:
        return [results[0], results[1].cast(pa.int64())]

    def _merge_requests(self, states: Sequence[pa.Array]) -> list[HashAgg]:
        return [_hash_agg(states[0], "sum", _sum_opts(self.ignore_nulls)),
                _hash_agg(states[1], "sum")]

    def _merge_states(self, states: Arrays, groups: Groups, results: Arrays) -> States:
        return [results[0].cast(pa.float64()), results[1].cast(pa.int64())]

    def _finalize_states(self, states: Sequence[pa.Array]) -> pa.Array:
        total, count = states
        count = pc.if_else(pc.equal(count, 0), pa.scalar(None, pa.int64()), count)
        return pc.divide(total.cast(pa.float64()), count.cast(pa.float64()))

    def _identity_states(self) -> States:
        return [pa.nulls(1, pa.float64()), pa.array([0], type=pa.int64())]


class Std(_Builtin):
    """Standard deviation of column ``on`` (float64), with ``ddof`` delta degrees of freedom.

    Blocks are reduced to (count, mean, sum of squared deviations) and merged with
    Chan's parallel formula, which stays accurate for large means. A group with
    ``count <= ddof`` values gives 0.0 (as Ray's), one with no values null.

    Example:
        >>> import pyarrow as pa
        >>> from streamdata.exec.shuffle.groupby import aggregate_table
        >>> aggregate_table(pa.table({"x": [1.0, 2.0, 3.0]}), [], [Std("x")]).to_pylist()
        [{'std(x)': 1.0}]
    """

    _agg_name = "std"

    def __init__(self, on: str | None = None, ddof: int = 1, ignore_nulls: bool = True,
                 alias_name: str | None = None) -> None:
        if not isinstance(ddof, int) or ddof < 0:
            raise PlanError(f"Std: ddof must be an int >= 0, got {ddof!r}")
        super().__init__(on, ignore_nulls=ignore_nulls, alias_name=alias_name)
        self.ddof = ddof

    def _needs_rows(self, phase: str) -> bool:
        return phase == "merge"

    def _partial_requests(self, block: pa.Table) -> list[HashAgg]:
        values = self._values(block, cast_float=True)
        skip = pc.ScalarAggregateOptions(skip_nulls=True, min_count=1)
        return [_hash_agg(values, "count", pc.CountOptions(mode="only_valid")),
                _hash_agg(values, "mean", skip),
                _hash_agg(values, "variance", pc.VarianceOptions(ddof=0, skip_nulls=True, min_count=1)),
                _hash_agg(values, "count", pc.CountOptions(mode="only_null"))]

    def _partial_states(self, block: pa.Table, groups: Groups, results: Arrays) -> States:
        count, mean, var, nulls = results
        count = count.cast(pa.int64())
        m2 = pc.multiply(pc.fill_null(var, 0.0), count.cast(pa.float64()))
        return [count, pc.fill_null(mean, 0.0), m2, nulls.cast(pa.int64())]

    def _merge_states(self, states: Arrays, groups: Groups, results: Arrays) -> States:
        ids = groups.ids()
        n = _np(states[0], np.float64)
        mean = _np(states[1], np.float64)
        m2 = _np(states[2], np.float64)
        total_n = groups.sum(n)
        safe = np.where(total_n > 0, total_n, 1.0)
        group_mean = groups.sum(n * mean) / safe
        dev = mean - group_mean[ids]
        total_m2 = groups.sum(m2 + n * dev * dev)
        nulls = groups.sum(_np(states[3], np.float64))
        return [pa.array(total_n.astype(np.int64)), pa.array(group_mean), pa.array(total_m2),
                pa.array(nulls.astype(np.int64))]

    def _finalize_states(self, states: Sequence[pa.Array]) -> pa.Array:
        n = _np(states[0], np.float64)
        m2 = _np(states[2], np.float64)
        nulls = _np(states[3], np.int64)
        denom = np.where(n - self.ddof > 0, n - self.ddof, 1.0)
        std = np.where(n > self.ddof, np.sqrt(np.maximum(m2, 0.0) / denom), 0.0)
        mask = (n == 0) | ((nulls > 0) if not self.ignore_nulls else False)
        return pa.array(std, type=pa.float64(), mask=np.asarray(mask, dtype=bool))

    def _identity_states(self) -> States:
        return [pa.array([0], pa.int64()), pa.array([0.0]), pa.array([0.0]), pa.array([0], pa.int64())]


def is_builtin(agg: AggregateFnV2 | Any) -> bool:
    """Whether ``agg`` is one of the vectorized built-in aggregations (it reads only ``on``).

    Example:
        >>> is_builtin(Sum("x"))
        True
    """
    return isinstance(agg, _Builtin)
