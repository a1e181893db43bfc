"""Aggregations for ``Dataset.aggregate`` and ``groupby(...).aggregate`` (Ray's ``ray.data.aggregate``).

Every aggregation runs in three steps, as in Ray Data: a *partial* step over each
block (one accumulator per group of the block), a *merge* step over the partials of a
group (from many blocks), and a *finalize* step that turns the merged accumulator into
the output value. The built-ins (:class:`Count`, :class:`Sum`, :class:`Min`,
:class:`Max`, :class:`AbsMax`, :class:`Mean`, :class:`Std`, :class:`Quantile`,
:class:`Unique`, :class:`CountDistinct`, :class:`AsList`, :class:`ValueCounter`,
:class:`MissingValuePercentage`, :class:`ZeroPercentage`) do each step for every group
of a block at once with pyarrow's hash aggregations. :class:`ApproximateQuantile` and
:class:`ApproximateTopK` keep small mergeable sketches (error bounds in
:mod:`streamdata.aggregation.sketches`). User-defined aggregations
(:class:`AggregateFn` in Ray's accumulator style, or a subclass of
:class:`AggregateFnV2`) run their Python functions once per group and block.

Output columns are named like Ray's: ``count()``, ``sum(b)``, ``mean(b)``,
``list(b)``, ``count_distinct(b)``, ``abs_max(b)``, ``missing_pct(b)``... unless
``alias_name`` is given. The kernels live in :mod:`streamdata.aggregation`.

Example:
    >>> import pyarrow as pa
    >>> from streamdata.exec.shuffle.groupby import aggregate_table
    >>> t = pa.table({"k": [1, 1, 2], "b": [1.0, -3.0, 5.0]})
    >>> aggregate_table(t, ["k"], [Count(), Mean("b"), AbsMax("b")]).to_pylist()
    [{'k': 1, 'count()': 2, 'mean(b)': -1.0, 'abs_max(b)': 3.0}, {'k': 2, 'count()': 1, 'mean(b)': 5.0, 'abs_max(b)': 5.0}]
"""

from __future__ import annotations

from streamdata.aggregation.base import AggregateFn, AggregateFnV2, VectorizedAggregateFnV2
from streamdata.aggregation.builtins import AbsMax, Count, Max, Mean, Min, Std, Sum, is_builtin
from streamdata.aggregation.collect import AsList, CountDistinct, Quantile, Unique, ValueCounter
from streamdata.aggregation.profile import MissingValuePercentage, ZeroPercentage
from streamdata.aggregation.sketches import ApproximateQuantile, ApproximateTopK


__all__ = [
    "AbsMax",
    "AggregateFn",
    "AggregateFnV2",
    "ApproximateQuantile",
    "ApproximateTopK",
    "AsList",
    "Count",
    "CountDistinct",
    "Max",
    "Mean",
    "Min",
    "MissingValuePercentage",
    "Quantile",
    "Std",
    "Sum",
    "Unique",
    "ValueCounter",
    "VectorizedAggregateFnV2",
    "ZeroPercentage",
    "is_builtin",
]
