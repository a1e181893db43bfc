"""``GroupedData``: what ``Dataset.groupby(key)`` returns.

Part of the facade. May import: base modules, :mod:`streamdata.plan` (node types) and
:mod:`streamdata.dataset_args`; not :mod:`streamdata.dataset` (which imports this).

Aggregations (``aggregate``, ``count``, ``sum``...) and ``map_groups`` each add one
logical node and return a new Dataset with one row per group (for aggregations) or
what the function returned for every group (``map_groups``).

Example:
    >>> import streamdata as sd
    >>> ds = sd.from_items([{"k": "a", "v": 1}, {"k": "b", "v": 2}, {"k": "a", "v": 3}])
    >>> ds.groupby("k").count().sort("k").take_all()
    [{'k': 'a', 'count()': 2}, {'k': 'b', 'count()': 1}]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from streamdata.dataset_args import normalize_batch_format, udf_fields
from streamdata.errors import PlanError
from streamdata.plan.logical import MapGroups

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.aggregate import AggregateFn

# ``Dataset`` in annotations is :class:`streamdata.dataset.Dataset`; this module does not
# import it (the Dataset imports this one), it builds plans through the dataset it wraps.


class GroupedData:
    """Rows of a dataset grouped by key columns (no key: one group of every row).

    Args:
        dataset: the dataset to group.
        keys: the key columns.
    """

    def __init__(self, dataset: "Dataset", keys: Sequence[str],
                 num_partitions: int | None = None) -> None:
        self._dataset = dataset
        self._keys = tuple(keys)
        self._num_partitions = num_partitions

    @property
    def keys(self) -> tuple[str, ...]:
        """The key columns."""
        return self._keys

    def __repr__(self) -> str:
        return f"GroupedData(keys={list(self._keys)})"

    def aggregate(self, *aggs: "AggregateFn") -> "Dataset":
        """One row per group: the keys and one column per aggregation.

        Example:
            >>> import streamdata as sd
            >>> from streamdata.aggregate import Max, Mean
            >>> ds = sd.from_items([{"k": 1, "v": 2.0}, {"k": 1, "v": 4.0}])
            >>> ds.groupby("k").aggregate(Max("v"), Mean("v")).take_all()
            [{'k': 1, 'max(v)': 4.0, 'mean(v)': 3.0}]
        """
        if not aggs:
            raise PlanError("aggregate needs at least one aggregation (Count(), Sum('x'), ...)")
        return self._dataset._aggregate_node(self._keys, aggs, self._num_partitions)

    def count(self) -> "Dataset":
        """Rows per group, in column ``count()``.

        Example:
            >>> import streamdata as sd
            >>> sd.from_items([{"k": 1}, {"k": 1}]).groupby("k").count().take_all()
            [{'k': 1, 'count()': 2}]
        """
        from streamdata.aggregate import Count
        return self.aggregate(Count())

    def _each(self, cls_name: str, on: str | Sequence[str] | None, **kwargs: Any) -> "Dataset":
        import streamdata.aggregate as A
        cls = getattr(A, cls_name)
        if on is None:
            columns = self._dataset.columns() or []
            on = [c for c in columns if c not in self._keys]
        elif isinstance(on, str):
            on = [on]
        if not on:
            raise PlanError(f"{cls_name.lower()} needs a column to aggregate")
        return self.aggregate(*(cls(c, **kwargs) for c in on))

    def sum(self, on: str | Sequence[str] | None = None, ignore_nulls: bool = True) -> "Dataset":
        """Per-group sum of ``on`` (one column or several; None: every non-key column).

        Example:
            >>> import streamdata as sd
            >>> sd.from_items([{"k": 1, "v": 2}, {"k": 1, "v": 3}]).groupby("k").sum("v").take_all()
            [{'k': 1, 'sum(v)': 5}]
        """
        return self._each("Sum", on, ignore_nulls=ignore_nulls)

    def min(self, on: str | Sequence[str] | None = None, ignore_nulls: bool = True) -> "Dataset":
        """Per-group minimum of ``on``."""
        return self._each("Min", on, ignore_nulls=ignore_nulls)

    def max(self, on: str | Sequence[str] | None = None, ignore_nulls: bool = True) -> "Dataset":
        """Per-group maximum of ``on``."""
        return self._each("Max", on, ignore_nulls=ignore_nulls)

    def mean(self, on: str | Sequence[str] | None = None, ignore_nulls: bool = True) -> "Dataset":
        """Per-group mean of ``on``.

        Example:
            >>> import streamdata as sd
            >>> sd.from_items([{"k": 1, "v": 2}, {"k": 1, "v": 3}]).groupby("k").mean("v").take_all()
            [{'k': 1, 'mean(v)': 2.5}]
        """
        return self._each("Mean", on, ignore_nulls=ignore_nulls)

    def std(self, on: str | Sequence[str] | None = None, ddof: int = 1,
            ignore_nulls: bool = True) -> "Dataset":
        """Per-group standard deviation of ``on`` (``ddof=1``: the sample's)."""
        return self._each("Std", on, ddof=ddof, ignore_nulls=ignore_nulls)

    def map_groups(self, fn: Callable[..., Any] | type, *, zero_copy_batch: bool = True,
                   compute: Any = None, batch_format: str | None = "default",
                   fn_args: Iterable[Any] | None = None,
                   fn_kwargs: dict[str, Any] | None = None,
                   fn_constructor_args: Iterable[Any] | None = None,
                   fn_constructor_kwargs: dict[str, Any] | None = None,
                   num_cpus: float | None = None, num_gpus: float | None = None,
                   memory: float | None = None, concurrency: Any = None,
                   ray_remote_args_fn: Callable[[], dict[str, Any]] | None = None,
                   **ray_remote_args: Any) -> "Dataset":
        """Call ``fn`` once per group with the group's rows as one batch; it returns a batch,
        or is a generator yielding batches.

        ``zero_copy_batch`` is accepted as in Ray (each group is a fresh, writable batch
        here, which is what ``zero_copy_batch=False`` promises); ``ray_remote_args_fn`` is called for each task or
        actor and its dict merged over the other options.

        Example:
            >>> import streamdata as sd
            >>> ds = sd.from_items([{"k": 1, "v": 1}, {"k": 1, "v": 2}, {"k": 2, "v": 5}])
            >>> out = ds.groupby("k").map_groups(lambda g: {"k": g["k"][:1], "n": [len(g["v"])]})
            >>> sorted((r["k"], r["n"]) for r in out.take_all())
            [(1, 2), (2, 1)]
        """
        if not isinstance(zero_copy_batch, bool):
            raise PlanError(f"map_groups zero_copy_batch must be a bool, got {zero_copy_batch!r}")
        fields = udf_fields("map_groups", locals())
        node = MapGroups(inputs=(self._dataset._plan.root,), keys=self._keys,
                         batch_format=normalize_batch_format(batch_format),
                         num_partitions=self._num_partitions, **fields)
        return self._dataset._with(node)

    def with_column(self, column_name: str, expr: Any, **ray_remote_args: Any) -> "Dataset":
        """Every row, with column ``column_name`` computed by ``expr`` over each group
        (rows come out group by group).

        Example:
            >>> import streamdata as sd
            >>> ds = sd.from_items([{"k": 1, "v": 1}, {"k": 2, "v": 5}, {"k": 1, "v": 2}])
            >>> out = ds.groupby("k").with_column("w", sd.col("v") * 10)
            >>> sorted((r["k"], r["w"]) for r in out.take_all())
            [(1, 10), (1, 20), (2, 50)]
        """
        from streamdata.expressions import Expr
        if not isinstance(column_name, str) or not column_name:
            raise PlanError(f"with_column needs a column name (str), got {column_name!r}")
        if not isinstance(expr, Expr):
            raise PlanError(f"with_column needs an expression (sd.col / sd.lit), "
                            f"got {type(expr).__name__}")
        self._dataset._check_columns(expr.columns())
        return self.map_groups(_GroupColumn(column_name, expr), batch_format="pyarrow",
                               **ray_remote_args)


class _GroupColumn:
    """The group function of ``GroupedData.with_column``: the group plus one column."""

    def __init__(self, name: str, expr: Any) -> None:
        self.name, self.expr = name, expr
        self.__name__ = f"with_column({name})"

    def __call__(self, group: Any) -> Any:
        import pyarrow as pa
        values = self.expr.evaluate(group)
        if isinstance(values, pa.Scalar):
            values = pa.array([values.as_py()] * group.num_rows, type=values.type)
        if self.name in group.column_names:
            return group.set_column(group.column_names.index(self.name), self.name, values)
        return group.append_column(self.name, values)


__all__ = ["GroupedData"]
