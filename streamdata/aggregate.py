"""Aggregations for ``Dataset.aggregate`` and ``groupby(...).aggregate`` (``sd.aggregate``).

Every aggregation runs in three steps, as in Ray Data: a *partial* step over each
block (one accumulator per group of the block), a *merge* step over the partials
of a group (from many blocks), and a *finalize* step that turns the merged
accumulator into the output value. The built-ins (:class:`Count`, :class:`Sum`,
:class:`Min`, :class:`Max`, :class:`Mean`, :class:`Std`, :class:`Quantile`,
:class:`Unique`) do each step for every group of a block at once with
pyarrow's hash aggregations; their accumulators are Arrow columns. User-defined
aggregations (:class:`AggregateFn` in Ray's accumulator style, or a subclass of
:class:`AggregateFnV2`) run their Python functions once per group and block.

Output columns are named like Ray's: ``count()``, ``sum(b)``, ``mean(b)``...
unless ``alias_name`` is given.

:class:`AggregateFn`, the base of every aggregation and of the protocol the
group-by engine calls, lives in :mod:`streamdata.aggregate_fn`; import it from here.

Example:
    >>> import pyarrow as pa
    >>> from streamdata.exec.shuffle.groupby import aggregate_table
    >>> t = pa.table({"k": [1, 1, 2], "b": [1.0, 3.0, 5.0]})
    >>> aggregate_table(t, ["k"], [Count(), Mean("b")]).to_pylist()
    [{'k': 1, 'count()': 2, 'mean(b)': 2.0}, {'k': 2, 'count()': 1, 'mean(b)': 5.0}]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streamdata.aggregate_fn import AggregateFn, Arrays, States
from streamdata.errors import PlanError, SchemaError
from streamdata.exec.shuffle import list_states as LS
from streamdata.exec.shuffle.list_states import to_numpy as _np

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.exec.shuffle.grouping import Groups, HashAgg


def _hash_agg(values: Any, func: str, options: Any = None) -> HashAgg:
    from streamdata.exec.shuffle.grouping import HashAgg
    return HashAgg(values, func, options)


# =========================================================================== method-style base


class AggregateFnV2(AggregateFn):
    """Base class for aggregations written as methods (Ray's ``AggregateFnV2``).

    Subclasses implement :meth:`aggregate_block` (a block → an accumulator) and
    :meth:`combine` (two accumulators → one), and may override :meth:`finalize`.

    Args:
        name: the output column name.
        zero_factory: returns the empty accumulator.
        on: the column the aggregation reads (checked to exist), or None.
        ignore_nulls: whether null values are skipped.

    Example:
        >>> import pyarrow as pa, pyarrow.compute as pc
        >>> from streamdata.exec.shuffle.groupby import aggregate_table
        >>> class Product(AggregateFnV2):
        ...     def __init__(self, on):
        ...         super().__init__(f"prod({on})", lambda: 1, on=on, ignore_nulls=True)
        ...     def aggregate_block(self, block):
        ...         return pc.product(block[self.on]).as_py()
        ...     def combine(self, a, b):
        ...         return a * b
        >>> aggregate_table(pa.table({"x": [2, 3]}), [], [Product("x")]).to_pylist()
        [{'prod(x)': 6}]
    """

    def __init__(self, name: str, zero_factory: Callable[[], Any], *, on: str | None,
                 ignore_nulls: bool) -> None:
        if not isinstance(name, str) or not name:
            raise PlanError(f"an aggregation needs a name (the output column), got {name!r}")
        if on is not None and not isinstance(on, str):
            raise PlanError(f"`on` must be a column name, got {on!r}")
        self.name = name
        self.on = on
        self.ignore_nulls = bool(ignore_nulls)
        self._zero = zero_factory

    def get_target_column(self) -> str | None:
        """The column the aggregation reads."""
        return self.on

    def get_agg_name(self) -> str:
        """The aggregation's short name, e.g. ``"sum"`` for ``sum(x)``."""
        return self.name.split("(", 1)[0]

    def aggregate_block(self, block: pa.Table) -> Any:
        """The accumulator of one block (one group of it)."""
        raise NotImplementedError(f"{type(self).__name__} must implement aggregate_block")

    def combine(self, current_accumulator: Any, new: Any) -> Any:
        """Two accumulators combined into one."""
        raise NotImplementedError(f"{type(self).__name__} must implement combine")

    def finalize(self, accumulator: Any) -> Any:
        """The output value of a fully combined accumulator (default: itself)."""
        return accumulator

    def _input_columns(self) -> list[str]:
        return [self.on] if self.on is not None else []

    def _py_zero(self, key: Any) -> Any:
        return self._zero()

    def _py_accumulate(self, key: Any, block: pa.Table) -> Any:
        return self.combine(self._zero(), self.aggregate_block(block))

    def _py_merge(self, a: Any, b: Any) -> Any:
        return self.combine(a, b)

    def _py_finalize(self, acc: Any) -> Any:
        return self.finalize(acc)


# =========================================================================== built-ins


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
        from streamdata.exec.shuffle.grouping import group_table
        reqs = self._partial_requests(block)
        groups, results = group_table(block, [], reqs, with_rows=self._needs_rows("partial"))
        if groups.num_groups == 0:
            return self._identity_states()
        return self._partial_states(block, groups, results)

    def combine(self, current_accumulator: Any, new: Any) -> Any:
        from streamdata.exec.shuffle.grouping import group_table
        states = [pa.concat_arrays([a, b]) if a.type == b.type
                  else pa.chunked_array([a, b.cast(a.type)]).combine_chunks()
                  for a, b in zip(current_accumulator, new)]
        table = pa.table({f"s{i}": s for i, s in enumerate(states)})
        groups, results = group_table(table, [], self._merge_requests(states),
                                      with_rows=self._needs_rows("merge"))
        return self._merge_states(states, groups, results)

    def finalize(self, accumulator: Any) -> Any:
        return self._finalize_states(accumulator)[0].as_py()


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
    """Sum, Min and Max: one accumulator column reduced with the same function."""

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


class Min(_Reduce):
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


class Max(_Reduce):
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


class Quantile(_Builtin):
    """The ``q``-quantile of column ``on`` with linear interpolation (as numpy's and
    pandas' defaults); float64. Accumulators hold every value of the group.

    Example:
        >>> import pyarrow as pa
        >>> from streamdata.exec.shuffle.groupby import aggregate_table
        >>> aggregate_table(pa.table({"x": [1, 2, 3, 4]}), [], [Quantile("x", q=0.5)]).to_pylist()
        [{'quantile(x)': 2.5}]
    """

    _agg_name = "quantile"

    def __init__(self, on: str | None = None, q: float = 0.5, ignore_nulls: bool = True,
                 alias_name: str | None = None) -> None:
        if not isinstance(q, (int, float)) or not 0.0 <= q <= 1.0:
            raise PlanError(f"Quantile: q must be between 0 and 1, got {q!r}")
        super().__init__(on, ignore_nulls=ignore_nulls, alias_name=alias_name)
        self.q = float(q)

    def _needs_rows(self, phase: str) -> bool:
        return phase == "merge"

    def _partial_requests(self, block: pa.Table) -> list[HashAgg]:
        values = self._values(block, cast_float=True)
        return [_hash_agg(values, "list"),
                _hash_agg(values, "count", pc.CountOptions(mode="only_null"))]

    def _partial_states(self, block: pa.Table, groups: Groups, results: Arrays) -> States:
        lists = results[0].cast(pa.large_list(pa.float64()))
        return [lists, results[1].cast(pa.int64())]

    def _merge_states(self, states: Arrays, groups: Groups, results: Arrays) -> States:
        values, gid = LS.regroup(states[0], groups.ids())
        nulls = groups.sum(_np(states[1], np.float64)).astype(np.int64)
        return [LS.lists_by_group(values, gid, groups.num_groups, sort=False), pa.array(nulls)]

    def _finalize_states(self, states: Sequence[pa.Array]) -> pa.Array:
        out, has = LS.list_quantiles(states[0], self.q)
        nulls = _np(states[1], np.int64)
        mask = ~has | ((nulls > 0) if not self.ignore_nulls else False)
        return pa.array(out, type=pa.float64(), mask=np.asarray(mask, dtype=bool))

    def _identity_states(self) -> States:
        return [pa.array([[]], type=pa.large_list(pa.float64())), pa.array([0], pa.int64())]


class Unique(_Builtin):
    """The distinct values of column ``on`` per group, as a list (sorted when the type
    is orderable; nulls last when ``ignore_nulls=False``).

    Example:
        >>> import pyarrow as pa
        >>> from streamdata.exec.shuffle.groupby import aggregate_table
        >>> aggregate_table(pa.table({"x": [3, 1, 3, None]}), [], [Unique("x")]).to_pylist()
        [{'unique(x)': [1, 3]}]
    """

    _agg_name = "unique"
    _numeric = False

    def __init__(self, on: str | None = None, ignore_nulls: bool = True,
                 alias_name: str | None = None) -> None:
        super().__init__(on, ignore_nulls=ignore_nulls, alias_name=alias_name)

    def _needs_rows(self, phase: str) -> bool:
        return phase == "merge"

    def _partial_requests(self, block: pa.Table) -> list[HashAgg]:
        mode = "only_valid" if self.ignore_nulls else "all"
        return [_hash_agg(block.column(self.on), "distinct", pc.CountOptions(mode=mode))]

    def _partial_states(self, block: pa.Table, groups: Groups, results: Arrays) -> States:
        lists = results[0]
        return [lists.cast(pa.large_list(lists.type.value_type))]

    def _merge_states(self, states: Arrays, groups: Groups, results: Arrays) -> States:
        values, gid = LS.regroup(states[0], groups.ids())
        pairs = pa.table({"g": gid, "v": values}).group_by(["g", "v"], use_threads=False).aggregate([])
        return [LS.lists_by_group(pairs.column("v"), pairs.column("g"), groups.num_groups, sort=True)]

    def _finalize_states(self, states: Sequence[pa.Array]) -> pa.Array:
        lists = states[0]
        return lists.cast(pa.list_(lists.type.value_type)) if len(lists.values) < 2**31 - 1 else lists

    def _identity_states(self) -> States:
        return [pa.array([[]], type=pa.large_list(pa.null()))]


# =========================================================================== helpers


def is_builtin(agg: AggregateFn) -> bool:
    """Whether ``agg`` is one of the vectorized built-in aggregations."""
    return isinstance(agg, _Builtin)


__all__ = [
    "AggregateFn",
    "AggregateFnV2",
    "Count",
    "Max",
    "Mean",
    "Min",
    "Quantile",
    "Std",
    "Sum",
    "Unique",
    "is_builtin",
]
