"""The Dataset facade: Ray Data's ``Dataset`` over the logical plan.

A :class:`Dataset` is a lazy plan. Each transform normalises its arguments, adds one
logical node and returns a new Dataset; nothing runs until a consumption method
(``take``, ``count``, ``iter_batches``, ``write_parquet``, ``materialize``...) asks for
rows. Running means: optimize the logical plan, lower it to physical operators
(:mod:`streamdata.plan.planner`) and stream it with the
:class:`~streamdata.exec.executor.StreamingExecutor`.

Example:
    >>> import streamdata as sd
    >>> ds = sd.range(10).filter(expr=sd.col("id") % 2 == 0).map(lambda r: {"sq": r["id"] ** 2})
    >>> sorted(r["sq"] for r in ds.take_all())
    [0, 4, 16, 36, 64]
"""

from __future__ import annotations

import dataclasses
import html
import math
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

import pyarrow as pa

from streamdata.context import DataContext
from streamdata.errors import ColumnNotFoundError, PlanError
from streamdata import write_connectors as _connectors
from streamdata.expressions import Expr
from streamdata.plan.logical import (
    BATCH_FORMATS, JOIN_TYPES, ActorPoolStrategy, Aggregate, ComputeStrategy, Filter, FlatMap,
    InputData, Join, Limit, LogicalNode, LogicalPlan, MapBatches, MapRows, Project,
    RandomizeBlockOrder, RandomSample, RandomShuffle, Read, Repartition, Sort, TaskPoolStrategy,
    Union, Write, WithColumn, Zip, is_callable_class,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from streamdata.aggregate import AggregateFn
    from streamdata.exec.interfaces import RefBundle
    from streamdata.grouped import GroupedData
    from streamdata.io.datasink import Datasink
    from streamdata.iterator import DataIterator

# =========================================================================== argument helpers


def _normalize_batch_format(batch_format: str | None) -> str:
    if batch_format is None or batch_format == "arrow":
        return "pyarrow"
    if batch_format not in BATCH_FORMATS:
        raise PlanError(f"batch_format must be one of {list(BATCH_FORMATS)}, got {batch_format!r}")
    return batch_format


def _compute_strategy(fn: Any, compute: Any, concurrency: Any) -> ComputeStrategy:
    """Ray's rules: a function runs as tasks (``concurrency=n`` caps them), a callable class
    in an actor pool (``concurrency=n`` or ``(min, max)``; default: 1 actor, growing)."""
    is_class = is_callable_class(fn)
    if compute is not None:
        if concurrency is not None:
            raise PlanError("pass concurrency=... or compute=..., not both")
        if isinstance(compute, (TaskPoolStrategy, ActorPoolStrategy)):
            return compute
        if compute == "tasks":
            return TaskPoolStrategy()
        if compute == "actors":
            return ActorPoolStrategy()
        raise PlanError(f"compute must be 'tasks', 'actors', a TaskPoolStrategy or an "
                        f"ActorPoolStrategy, got {compute!r}")
    if concurrency is None:
        return ActorPoolStrategy(min_size=1) if is_class else TaskPoolStrategy()
    if isinstance(concurrency, bool):
        raise PlanError(f"concurrency must be an int or a (min, max) tuple, got {concurrency!r}")
    if isinstance(concurrency, int):
        return ActorPoolStrategy(size=concurrency) if is_class else TaskPoolStrategy(size=concurrency)
    if isinstance(concurrency, tuple) and len(concurrency) in (2, 3) and is_class:
        return ActorPoolStrategy(min_size=concurrency[0], max_size=concurrency[1])
    if isinstance(concurrency, tuple) and not is_class:
        raise PlanError("concurrency=(min, max) is for callable classes (actor pools); "
                        "a function takes concurrency=n")
    raise PlanError(f"concurrency must be an int or a (min, max) tuple, got {concurrency!r}")


def _remote_args(num_cpus: float | None, num_gpus: float | None, memory: float | None,
                 extra: Mapping[str, Any]) -> dict[str, Any]:
    args = dict(extra)
    for key, value in (("num_cpus", num_cpus), ("num_gpus", num_gpus), ("memory", memory)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise PlanError(f"{key} must be a number >= 0, got {value!r}")
        args[key] = value
    return args


def _udf_fields(fn: Any, *, what: str, compute: Any, concurrency: Any, fn_args: Any,
                fn_kwargs: Any, fn_constructor_args: Any, fn_constructor_kwargs: Any,
                num_cpus: Any, num_gpus: Any, memory: Any, ray_remote_args: Mapping[str, Any]
                ) -> dict[str, Any]:
    if not callable(fn):
        raise PlanError(f"{what} needs a function or a callable class, got {type(fn).__name__}")
    return dict(fn=fn, compute=_compute_strategy(fn, compute, concurrency),
                fn_args=tuple(fn_args or ()), fn_kwargs=dict(fn_kwargs or {}),
                fn_constructor_args=tuple(fn_constructor_args or ()),
                fn_constructor_kwargs=dict(fn_constructor_kwargs or {}),
                ray_remote_args=_remote_args(num_cpus, num_gpus, memory, ray_remote_args))


def _column_list(cols: str | Sequence[str], what: str) -> list[str]:
    if isinstance(cols, str):
        return [cols]
    cols = list(cols)
    if not all(isinstance(c, str) for c in cols):
        raise PlanError(f"{what} takes column names (str), got {cols!r}")
    if len(set(cols)) != len(cols):
        raise PlanError(f"{what} got duplicate column names: {cols}")
    return cols


class _AddColumn:
    """The batch function behind ``add_column``: ``batch[col] = fn(batch)``."""

    def __init__(self, col: str, fn: Callable[[Any], Any], batch_format: str) -> None:
        self.col, self.fn, self.batch_format = col, fn, batch_format
        self.__name__ = f"add_column({col})"

    def __call__(self, batch: Any) -> Any:
        values = self.fn(batch)
        if isinstance(batch, pa.Table):
            if not isinstance(values, (pa.Array, pa.ChunkedArray)):
                values = pa.array(values)
            if self.col in batch.column_names:
                return batch.set_column(batch.column_names.index(self.col), self.col, values)
            return batch.append_column(self.col, values)
        if self.batch_format == "pandas":
            batch = batch.copy(deep=False)
        else:
            batch = dict(batch)
        batch[self.col] = values
        return batch


# =========================================================================== the Dataset


class Dataset:
    """A distributed collection of rows (Arrow blocks), defined by a lazy logical plan.

    Build one with ``sd.read_*``, ``sd.from_*`` or ``sd.range``; transform it with the
    methods below (each returns a new Dataset); consume it to run the plan.

    Example:
        >>> import streamdata as sd
        >>> sd.range(3).count()
        3
    """

    def __init__(self, plan: LogicalPlan) -> None:
        if not isinstance(plan, LogicalPlan):
            raise PlanError(f"Dataset wraps a LogicalPlan, got {type(plan).__name__}")
        self._plan = plan
        self._last_stats: Any = None

    def _with(self, node: LogicalNode) -> "Dataset":
        return Dataset(LogicalPlan(node))

    @property
    def _logical_plan(self) -> LogicalPlan:
        return self._plan

    @property
    def context(self) -> DataContext:
        """The data context the plan runs with (the process's current one)."""
        return DataContext.get_current()

    # ------------------------------------------------------------------ row-level transforms
    def map(self, fn: Callable[[dict[str, Any]], dict[str, Any]] | type, *, compute: Any = None,
            fn_args: Iterable[Any] | None = None, fn_kwargs: dict[str, Any] | None = None,
            fn_constructor_args: Iterable[Any] | None = None,
            fn_constructor_kwargs: dict[str, Any] | None = None, num_cpus: float | None = None,
            num_gpus: float | None = None, memory: float | None = None, concurrency: Any = None,
            **ray_remote_args: Any) -> "Dataset":
        """Apply ``fn`` to each row (a dict); it returns one row (a dict).

        Example:
            >>> import streamdata as sd
            >>> sd.range(3).map(lambda r: {"x": r["id"] * 10}).take_all()
            [{'x': 0}, {'x': 10}, {'x': 20}]
        """
        return self._with(MapRows(inputs=(self._plan.root,), **_udf_fields(
            fn, what="map", compute=compute, concurrency=concurrency, fn_args=fn_args,
            fn_kwargs=fn_kwargs, fn_constructor_args=fn_constructor_args,
            fn_constructor_kwargs=fn_constructor_kwargs, num_cpus=num_cpus, num_gpus=num_gpus,
            memory=memory, ray_remote_args=ray_remote_args)))

    def map_batches(self, fn: Callable[..., Any] | type, *, batch_size: int | str | None = None,
                    compute: Any = None, batch_format: str | None = "default",
                    zero_copy_batch: bool = False, fn_args: Iterable[Any] | None = None,
                    fn_kwargs: dict[str, Any] | None = None,
                    fn_constructor_args: Iterable[Any] | None = None,
                    fn_constructor_kwargs: dict[str, Any] | None = None,
                    num_cpus: float | None = None, num_gpus: float | None = None,
                    memory: float | None = None, concurrency: Any = None,
                    **ray_remote_args: Any) -> "Dataset":
        """Apply ``fn`` to batches of rows.

        ``fn`` gets a batch in ``batch_format`` (``"default"``/``"numpy"``: a dict of
        ndarrays; ``"pandas"``; ``"pyarrow"``) and returns a batch (or yields batches). A
        function runs as tasks; a callable class runs in an actor pool of
        ``concurrency=n`` or ``(min, max)`` actors, each built once with
        ``fn_constructor_args``. ``batch_size=None`` calls ``fn`` once per block.

        Example:
            >>> import streamdata as sd
            >>> ds = sd.range(4).map_batches(lambda b: {"y": b["id"] + 1}, batch_size=2)
            >>> sorted(r["y"] for r in ds.take_all())
            [1, 2, 3, 4]
        """
        if batch_size == "default":
            batch_size = DataContext.get_current().default_batch_size
        if batch_size is not None and (isinstance(batch_size, bool)
                                       or not isinstance(batch_size, int) or batch_size <= 0):
            raise PlanError(f"batch_size must be a positive integer or None, got {batch_size!r}")
        return self._with(MapBatches(
            inputs=(self._plan.root,), batch_size=batch_size,
            batch_format=_normalize_batch_format(batch_format), zero_copy_batch=zero_copy_batch,
            **_udf_fields(fn, what="map_batches", compute=compute, concurrency=concurrency,
                          fn_args=fn_args, fn_kwargs=fn_kwargs,
                          fn_constructor_args=fn_constructor_args,
                          fn_constructor_kwargs=fn_constructor_kwargs, num_cpus=num_cpus,
                          num_gpus=num_gpus, memory=memory, ray_remote_args=ray_remote_args)))

    def flat_map(self, fn: Callable[[dict[str, Any]], list[dict[str, Any]]] | type, *,
                 compute: Any = None, fn_args: Iterable[Any] | None = None,
                 fn_kwargs: dict[str, Any] | None = None,
                 fn_constructor_args: Iterable[Any] | None = None,
                 fn_constructor_kwargs: dict[str, Any] | None = None,
                 num_cpus: float | None = None, num_gpus: float | None = None,
                 memory: float | None = None, concurrency: Any = None,
                 **ray_remote_args: Any) -> "Dataset":
        """Apply ``fn`` to each row; it returns a list of rows (any number).

        Example:
            >>> import streamdata as sd
            >>> sd.range(2).flat_map(lambda r: [r, r]).count()
            4
        """
        return self._with(FlatMap(inputs=(self._plan.root,), **_udf_fields(
            fn, what="flat_map", compute=compute, concurrency=concurrency, fn_args=fn_args,
            fn_kwargs=fn_kwargs, fn_constructor_args=fn_constructor_args,
            fn_constructor_kwargs=fn_constructor_kwargs, num_cpus=num_cpus, num_gpus=num_gpus,
            memory=memory, ray_remote_args=ray_remote_args)))

    def filter(self, fn: Callable[[dict[str, Any]], bool] | type | None = None, *,
               expr: Expr | None = None, compute: Any = None,
               fn_args: Iterable[Any] | None = None, fn_kwargs: dict[str, Any] | None = None,
               fn_constructor_args: Iterable[Any] | None = None,
               fn_constructor_kwargs: dict[str, Any] | None = None,
               num_cpus: float | None = None, num_gpus: float | None = None,
               memory: float | None = None, concurrency: Any = None,
               **ray_remote_args: Any) -> "Dataset":
        """Keep the rows where ``fn(row)`` is true, or where the expression ``expr`` is.

        Expression filters are vectorized and pushed into sources that support it
        (Parquet prunes row groups). ``expr`` is an expression (``sd.col("a") > 1``) or,
        as in Ray Data, a string in Python syntax (``"a > 1 and s in ['x']"``).

        Example:
            >>> import streamdata as sd
            >>> sd.range(10).filter(expr=sd.col("id") >= 7).count()
            3
            >>> sd.range(10).filter(expr="id % 2 == 0 and id > 4").count()
            2
            >>> sd.range(10).filter(lambda r: r["id"] < 2).count()
            2
        """
        if (fn is None) == (expr is None):
            raise PlanError("filter takes exactly one of fn or expr")
        if expr is not None:
            if isinstance(expr, str):
                from streamdata.expression_parser import parse_expression
                expr = parse_expression(expr)
            if not isinstance(expr, Expr):
                raise PlanError(f"filter expr must be an expression, got {type(expr).__name__}")
            return self._with(Filter(inputs=(self._plan.root,), expr=expr,
                                     compute=_compute_strategy(None, compute, concurrency),
                                     ray_remote_args=_remote_args(num_cpus, num_gpus, memory,
                                                                  ray_remote_args)))
        return self._with(Filter(inputs=(self._plan.root,), **_udf_fields(
            fn, what="filter", compute=compute, concurrency=concurrency, fn_args=fn_args,
            fn_kwargs=fn_kwargs, fn_constructor_args=fn_constructor_args,
            fn_constructor_kwargs=fn_constructor_kwargs, num_cpus=num_cpus, num_gpus=num_gpus,
            memory=memory, ray_remote_args=ray_remote_args)))

    # ------------------------------------------------------------------ columns
    def _check_columns(self, cols: Iterable[str]) -> None:
        """Raise ColumnNotFoundError now when the schema is known without running."""
        schema = self._plan.schema()
        if schema is None:
            return
        for c in cols:
            if c not in schema.names:
                raise ColumnNotFoundError(c, schema.names)

    def add_column(self, col: str, fn: Callable[[Any], Any], *, batch_format: str | None = "pandas",
                   compute: Any = None, concurrency: Any = None, **ray_remote_args: Any
                   ) -> "Dataset":
        """Add (or replace) column ``col`` with ``fn(batch)``'s values.

        Example:
            >>> import streamdata as sd
            >>> sd.range(2).add_column("z", lambda df: df["id"] * 2).take_all()
            [{'id': 0, 'z': 0}, {'id': 1, 'z': 2}]
        """
        if not isinstance(col, str) or not col:
            raise PlanError(f"add_column needs a column name, got {col!r}")
        if not callable(fn):
            raise PlanError(f"add_column needs a function of a batch, got {type(fn).__name__}")
        fmt = _normalize_batch_format(batch_format)
        return self._with(MapBatches(
            inputs=(self._plan.root,), fn=_AddColumn(col, fn, fmt), batch_format=fmt,
            compute=_compute_strategy(None, compute, concurrency),
            ray_remote_args=_remote_args(None, None, None, ray_remote_args),
            label=f"AddColumn({col})"))

    def with_column(self, name: str, expr: Expr) -> "Dataset":
        """Add (or replace) column ``name`` computed by the expression ``expr``.

        Example:
            >>> import streamdata as sd
            >>> sd.range(2).with_column("y", sd.col("id") * 3 + 1).take_all()
            [{'id': 0, 'y': 1}, {'id': 1, 'y': 4}]
        """
        if not isinstance(expr, Expr):
            raise PlanError(f"with_column needs an expression (sd.col / sd.lit), "
                            f"got {type(expr).__name__}")
        self._check_columns(expr.columns())
        return self._with(WithColumn(inputs=(self._plan.root,), column=name, expr=expr))

    def select_columns(self, cols: str | Sequence[str]) -> "Dataset":
        """Keep only ``cols``, in that order.

        Example:
            >>> import streamdata as sd
            >>> sd.from_items([{"a": 1, "b": 2}]).select_columns(["b"]).take_all()
            [{'b': 2}]
        """
        cols = _column_list(cols, "select_columns")
        self._check_columns(cols)
        return self._with(Project(inputs=(self._plan.root,), select=tuple(cols)))

    def drop_columns(self, cols: str | Sequence[str]) -> "Dataset":
        """Remove ``cols``.

        Example:
            >>> import streamdata as sd
            >>> sd.from_items([{"a": 1, "b": 2}]).drop_columns(["b"]).take_all()
            [{'a': 1}]
        """
        cols = _column_list(cols, "drop_columns")
        self._check_columns(cols)
        return self._with(Project(inputs=(self._plan.root,), drop=tuple(cols)))

    def rename_columns(self, names: Mapping[str, str] | Sequence[str]) -> "Dataset":
        """Rename columns: a dict ``{old: new}``, or a list of new names for every column.

        Example:
            >>> import streamdata as sd
            >>> sd.from_items([{"a": 1}]).rename_columns({"a": "x"}).take_all()
            [{'x': 1}]
        """
        if not isinstance(names, Mapping):
            new = _column_list(names, "rename_columns")
            old = self.columns()
            if len(new) != len(old):
                raise PlanError(f"rename_columns got {len(new)} names for {len(old)} columns {old}")
            names = dict(zip(old, new))
        self._check_columns(names)
        return self._with(Project(inputs=(self._plan.root,), rename=dict(names)))

    # ------------------------------------------------------------------ rows and blocks
    def limit(self, limit: int) -> "Dataset":
        """The first ``limit`` rows.

        Example:
            >>> import streamdata as sd
            >>> sd.range(100).limit(3).count()
            3
        """
        return self._with(Limit(inputs=(self._plan.root,), limit=limit))

    def repartition(self, num_blocks: int, *, shuffle: bool = False) -> "Dataset":
        """Exactly ``num_blocks`` blocks (``shuffle=True`` spreads rows randomly).

        Example:
            >>> import streamdata as sd
            >>> sd.range(10).repartition(3).num_blocks()
            3
        """
        return self._with(Repartition(inputs=(self._plan.root,), num_blocks=num_blocks,
                                      shuffle=shuffle))

    def random_shuffle(self, *, seed: int | None = None, num_blocks: int | None = None
                       ) -> "Dataset":
        """Rows in a random order (reproducible with ``seed``).

        Example:
            >>> import streamdata as sd
            >>> sorted(r["id"] for r in sd.range(5).random_shuffle(seed=1).take_all())
            [0, 1, 2, 3, 4]
        """
        return self._with(RandomShuffle(inputs=(self._plan.root,), seed=seed,
                                        num_blocks=num_blocks))

    def randomize_block_order(self, *, seed: int | None = None) -> "Dataset":
        """Blocks in a random order; rows inside each block keep theirs.

        Example:
            >>> import streamdata as sd
            >>> sd.range(5).randomize_block_order(seed=0).count()
            5
        """
        return self._with(RandomizeBlockOrder(inputs=(self._plan.root,), seed=seed))

    def random_sample(self, fraction: float, *, seed: int | None = None) -> "Dataset":
        """Each row kept with probability ``fraction``.

        Example:
            >>> import streamdata as sd
            >>> 0 <= sd.range(100).random_sample(0.5, seed=3).count() <= 100
            True
        """
        return self._with(RandomSample(inputs=(self._plan.root,), fraction=fraction, seed=seed))

    def sort(self, key: str | Sequence[str], descending: bool | Sequence[bool] = False
             ) -> "Dataset":
        """Rows sorted by ``key`` (one column or several; ``descending`` per key or for all).

        Example:
            >>> import streamdata as sd
            >>> [r["id"] for r in sd.range(4).sort("id", descending=True).take_all()]
            [3, 2, 1, 0]
        """
        keys = _column_list(key, "sort")
        self._check_columns(keys)
        desc = (descending,) * len(keys) if isinstance(descending, bool) else tuple(descending)
        return self._with(Sort(inputs=(self._plan.root,), keys=tuple(keys), descending=desc))

    # ------------------------------------------------------------------ combining
    def union(self, *others: "Dataset") -> "Dataset":
        """The rows of this dataset, then those of ``others``.

        Example:
            >>> import streamdata as sd
            >>> sd.range(2).union(sd.range(3)).count()
            5
        """
        if not others:
            return self
        for o in others:
            if not isinstance(o, Dataset):
                raise PlanError(f"union takes Datasets, got {type(o).__name__}")
        return self._with(Union(inputs=(self._plan.root, *(o._plan.root for o in others))))

    def zip(self, other: "Dataset") -> "Dataset":
        """The columns of both datasets side by side (they must have as many rows);
        clashing names from ``other`` get a ``_1`` suffix.

        Example:
            >>> import streamdata as sd
            >>> sd.range(2).zip(sd.range(2).map(lambda r: {"b": r["id"] * 2})).take_all()
            [{'id': 0, 'b': 0}, {'id': 1, 'b': 2}]
        """
        if not isinstance(other, Dataset):
            raise PlanError(f"zip takes a Dataset, got {type(other).__name__}")
        return self._with(Zip(inputs=(self._plan.root, other._plan.root)))

    def join(self, ds: "Dataset", join_type: str = "inner", num_partitions: int | None = None,
             on: str | Sequence[str] = ("id",), right_on: str | Sequence[str] | None = None,
             left_suffix: str | None = None, right_suffix: str | None = None,
             **_ignored: Any) -> "Dataset":
        """A hash join with ``ds`` on key columns ``on`` (``right_on`` for the right side).

        ``join_type`` is one of ``"inner"``, ``"left_outer"``, ``"right_outer"``,
        ``"full_outer"`` (and the ``left_semi``/``right_semi``/``left_anti``/``right_anti``
        variants). Non-key columns present on both sides get the suffixes.

        Example:
            >>> import streamdata as sd
            >>> left = sd.from_items([{"id": 1, "a": "x"}, {"id": 2, "a": "y"}])
            >>> right = sd.from_items([{"id": 2, "b": 20}])
            >>> left.join(right, on="id").take_all()
            [{'id': 2, 'a': 'y', 'b': 20}]
        """
        if not isinstance(ds, Dataset):
            raise PlanError(f"join takes a Dataset, got {type(ds).__name__}")
        if join_type not in JOIN_TYPES:
            raise PlanError(f"join_type must be one of {list(JOIN_TYPES)}, got {join_type!r}")
        keys = _column_list(on, "join")
        self._check_columns(keys)
        rkeys = None if right_on is None else tuple(_column_list(right_on, "join"))
        ds._check_columns(rkeys or keys)
        return self._with(Join(inputs=(self._plan.root, ds._plan.root), on=tuple(keys),
                               right_on=rkeys, join_type=join_type, left_suffix=left_suffix,
                               right_suffix=right_suffix, num_partitions=num_partitions))

    # ------------------------------------------------------------------ grouping and aggregation
    def groupby(self, key: str | Sequence[str] | None) -> "GroupedData":
        """Group rows by ``key`` for ``aggregate``, ``count``, ``sum``..., ``map_groups``.

        Example:
            >>> import streamdata as sd
            >>> ds = sd.from_items([{"k": i % 2, "v": i} for i in range(4)])
            >>> ds.groupby("k").sum("v").sort("k").take_all()
            [{'k': 0, 'sum(v)': 2}, {'k': 1, 'sum(v)': 4}]
        """
        from streamdata.grouped import GroupedData
        keys = [] if key is None else _column_list(key, "groupby")
        self._check_columns(keys)
        return GroupedData(self, keys)

    def _aggregate_node(self, keys: Sequence[str], aggs: Sequence["AggregateFn"]) -> "Dataset":
        from streamdata.aggregate import AggregateFn
        for a in aggs:
            if not isinstance(a, AggregateFn):
                raise PlanError(f"aggregate takes aggregations (sd.aggregate.Sum('x'), ...), "
                                f"got {type(a).__name__}")
        return self._with(Aggregate(inputs=(self._plan.root,), keys=tuple(keys), aggs=tuple(aggs)))

    def aggregate(self, *aggs: "AggregateFn") -> dict[str, Any] | None:
        """Run aggregations over the whole dataset; a dict of their results.

        Example:
            >>> import streamdata as sd
            >>> from streamdata.aggregate import Count, Max
            >>> sd.range(5).aggregate(Count(), Max("id"))
            {'count()': 5, 'max(id)': 4}
        """
        if not aggs:
            raise PlanError("aggregate needs at least one aggregation")
        rows = self._aggregate_node([], aggs)._take_all_for(self)
        return rows[0] if rows else None

    def _simple_agg(self, cls_name: str, on: str | Sequence[str] | None, **kwargs: Any) -> Any:
        import streamdata.aggregate as A
        cls = getattr(A, cls_name)
        cols = self.columns() if on is None else _column_list(on, cls_name.lower())
        result = self.aggregate(*(cls(c, **kwargs) for c in cols))
        if result is None:
            return None
        if isinstance(on, str):
            return next(iter(result.values()))
        return result

    def sum(self, on: str | Sequence[str] | None = None, ignore_nulls: bool = True) -> Any:
        """Sum of column ``on`` (a dict when several columns).

        Example:
            >>> import streamdata as sd
            >>> sd.range(5).sum("id")
            10
        """
        return self._simple_agg("Sum", on, ignore_nulls=ignore_nulls)

    def min(self, on: str | Sequence[str] | None = None, ignore_nulls: bool = True) -> Any:
        """Minimum of column ``on``.

        Example:
            >>> import streamdata as sd
            >>> sd.range(5).min("id")
            0
        """
        return self._simple_agg("Min", on, ignore_nulls=ignore_nulls)

    def max(self, on: str | Sequence[str] | None = None, ignore_nulls: bool = True) -> Any:
        """Maximum of column ``on``.

        Example:
            >>> import streamdata as sd
            >>> sd.range(5).max("id")
            4
        """
        return self._simple_agg("Max", on, ignore_nulls=ignore_nulls)

    def mean(self, on: str | Sequence[str] | None = None, ignore_nulls: bool = True) -> Any:
        """Mean of column ``on``.

        Example:
            >>> import streamdata as sd
            >>> sd.range(5).mean("id")
            2.0
        """
        return self._simple_agg("Mean", on, ignore_nulls=ignore_nulls)

    def std(self, on: str | Sequence[str] | None = None, ddof: int = 1,
            ignore_nulls: bool = True) -> Any:
        """Standard deviation of column ``on`` (``ddof=1``: the sample's).

        Example:
            >>> import streamdata as sd
            >>> round(sd.range(5).std("id"), 4)
            1.5811
        """
        return self._simple_agg("Std", on, ddof=ddof, ignore_nulls=ignore_nulls)

    def unique(self, column: str) -> list[Any]:
        """The distinct values of ``column``.

        Example:
            >>> import streamdata as sd
            >>> sorted(sd.from_items([{"a": 1}, {"a": 2}, {"a": 1}]).unique("a"))
            [1, 2]
        """
        if not isinstance(column, str):
            raise PlanError(f"unique takes one column name, got {column!r}")
        self._check_columns([column])
        distinct = self._with(Aggregate(inputs=(self._plan.root,), keys=(column,)))
        return [row[column] for row in distinct._take_all_for(self)]

    # ------------------------------------------------------------------ running
    def _optimizer_context(self, ctx: DataContext) -> Any:
        from streamdata.core import api as rt
        from streamdata.plan.rules.base import OptimizerContext
        resources = rt.cluster_resources()
        return OptimizerContext.from_data_context(ctx, num_cpus=resources.get("CPU", 1.0),
                                                  num_gpus=resources.get("GPU", 0.0))

    def _optimized_plan(self, ctx: DataContext | None = None) -> LogicalPlan:
        from streamdata.plan.optimizer import optimize
        ctx = ctx or DataContext.get_current()
        return optimize(self._plan, self._optimizer_context(ctx))

    def _iter_bundles(self, *, stats_owner: "Dataset | None" = None) -> Iterator["RefBundle"]:
        """Run the plan; the RefBundles of its output, as they are produced.

        Closing the generator (or leaving a ``for`` loop early) stops the execution. The
        execution's stats land on ``stats_owner`` (default: this dataset).
        """
        yield from _execute(self, stats_owner or self)

    def _iter_tables(self, *, stats_owner: "Dataset | None" = None) -> Iterator[pa.Table]:
        from streamdata.core import api as rt
        gen = self._iter_bundles(stats_owner=stats_owner)
        try:
            for bundle in gen:
                yield from rt.get(bundle.block_refs())
        finally:
            gen.close()

    def iterator(self) -> "DataIterator":
        """A :class:`~streamdata.iterator.DataIterator` over this dataset (each iteration
        runs the plan).

        Example:
            >>> import streamdata as sd
            >>> it = sd.range(3).iterator()
            >>> sum(len(b["id"]) for b in it.iter_batches(batch_size=2))
            3
        """
        from streamdata.iterator import DataIterator
        return DataIterator(self)

    def iter_rows(self) -> Iterator[dict[str, Any]]:
        """Every row, as a dict.

        Example:
            >>> import streamdata as sd
            >>> [r["id"] for r in sd.range(3).iter_rows()]
            [0, 1, 2]
        """
        return self.iterator().iter_rows()

    def iter_batches(self, *, batch_size: int | None = 256, batch_format: str | None = "default",
                     prefetch_batches: int = 1, drop_last: bool = False,
                     local_shuffle_buffer_size: int | None = None,
                     local_shuffle_seed: int | None = None) -> Iterator[Any]:
        """Batches of ``batch_size`` rows in ``batch_format``, streaming.

        Example:
            >>> import streamdata as sd
            >>> [len(b["id"]) for b in sd.range(5).iter_batches(batch_size=2)]
            [2, 2, 1]
        """
        return self.iterator().iter_batches(
            batch_size=batch_size, batch_format=batch_format, prefetch_batches=prefetch_batches,
            drop_last=drop_last, local_shuffle_buffer_size=local_shuffle_buffer_size,
            local_shuffle_seed=local_shuffle_seed)

    def iter_torch_batches(self, *, batch_size: int | None = 256, dtypes: Any = None,
                           device: str = "auto", collate_fn: Callable[..., Any] | None = None,
                           prefetch_batches: int = 1, drop_last: bool = False,
                           local_shuffle_buffer_size: int | None = None,
                           local_shuffle_seed: int | None = None) -> Iterator[Any]:
        """Batches as dicts of ``torch.Tensor`` (or what ``collate_fn`` makes).

        Example:
            >>> import streamdata as sd
            >>> [b["id"].tolist() for b in sd.range(3).iter_torch_batches(batch_size=3)]
            [[0, 1, 2]]
        """
        return self.iterator().iter_torch_batches(
            batch_size=batch_size, dtypes=dtypes, device=device, collate_fn=collate_fn,
            prefetch_batches=prefetch_batches, drop_last=drop_last,
            local_shuffle_buffer_size=local_shuffle_buffer_size,
            local_shuffle_seed=local_shuffle_seed)

    def take(self, limit: int = 20) -> list[dict[str, Any]]:
        """Up to ``limit`` rows, as dicts.

        Example:
            >>> import streamdata as sd
            >>> sd.range(10).take(2)
            [{'id': 0}, {'id': 1}]
        """
        from streamdata import block as B
        rows: list[dict[str, Any]] = []
        if limit <= 0:
            return rows
        gen = self.limit(limit)._iter_tables(stats_owner=self)
        try:
            for table in gen:
                for row in B.iter_rows(table):
                    rows.append(row)
                    if len(rows) >= limit:
                        return rows
        finally:
            gen.close()
        return rows

    def take_all(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Every row, as dicts (``limit``: raise if there are more than that).

        Example:
            >>> import streamdata as sd
            >>> len(sd.range(7).take_all())
            7
        """
        return self._take_all_for(self, limit)

    def _take_all_for(self, owner: "Dataset", limit: int | None = None) -> list[dict[str, Any]]:
        from streamdata import block as B
        rows: list[dict[str, Any]] = []
        gen = self._iter_tables(stats_owner=owner)
        try:
            for table in gen:
                rows.extend(B.iter_rows(table))
                if limit is not None and len(rows) > limit:
                    raise ValueError(f"the dataset has more than the given limit of {limit} rows")
        finally:
            gen.close()
        return rows

    def take_batch(self, batch_size: int = 20, *, batch_format: str | None = "default") -> Any:
        """The first ``batch_size`` rows as one batch.

        Example:
            >>> import streamdata as sd
            >>> sd.range(10).take_batch(3)["id"].tolist()
            [0, 1, 2]
        """
        from streamdata import block as B
        tables = list(self.limit(batch_size)._iter_tables(stats_owner=self))
        table = B.concat(tables) if tables else pa.table({})
        return B.to_batch(table, _normalize_batch_format(batch_format))

    def show(self, limit: int = 20) -> None:
        """Print up to ``limit`` rows.

        Example:
            >>> import streamdata as sd
            >>> sd.range(2).show()
            {'id': 0}
            {'id': 1}
        """
        for row in self.take(limit):
            print(row)

    def count(self) -> int:
        """The number of rows (from metadata when the source knows it, without reading).

        Example:
            >>> import streamdata as sd
            >>> sd.range(42).count()
            42
        """
        known = _known_count(self._plan.root)
        if known is not None:
            return known
        return sum(bundle.num_rows() or 0 for bundle in self._iter_bundles())

    def schema(self, fetch_if_missing: bool = True) -> pa.Schema | None:
        """The schema (``pyarrow.Schema``); known from the source or found by running the
        plan on its first rows.

        Example:
            >>> import streamdata as sd
            >>> sd.range(3).schema().names
            ['id']
        """
        schema = self._plan.schema()
        if schema is not None or not fetch_if_missing:
            return schema
        return _first_schema(self.limit(1)._iter_bundles(stats_owner=self))

    def columns(self, fetch_if_missing: bool = True) -> list[str] | None:
        """The column names.

        Example:
            >>> import streamdata as sd
            >>> sd.from_items([{"a": 1, "b": 2}]).columns()
            ['a', 'b']
        """
        schema = self.schema(fetch_if_missing=fetch_if_missing)
        return None if schema is None else list(schema.names)

    def num_blocks(self) -> int:
        """The number of blocks the dataset has once run.

        Example:
            >>> import streamdata as sd
            >>> sd.range(10, override_num_blocks=2).num_blocks()
            2
        """
        return sum(len(bundle) for bundle in self._iter_bundles())

    def size_bytes(self) -> int:
        """Bytes of the dataset's blocks in memory.

        Example:
            >>> import streamdata as sd
            >>> sd.range(10).size_bytes()
            80
        """
        return sum(bundle.size_bytes() for bundle in self._iter_bundles())

    def input_files(self) -> list[str]:
        """The files the dataset reads (none for in-memory data).

        Example:
            >>> import streamdata as sd
            >>> sd.range(3).input_files()
            []
        """
        files: list[str] = []
        for node in self._plan.sources():
            if isinstance(node, Read):
                found = node.datasource.input_files()
            elif isinstance(node, InputData):
                found = [f for b in node.bundles for m in b.metadata() for f in m.input_files]
            else:
                found = []
            files.extend(f for f in found if f not in files)
        return files

    def stats(self) -> str:
        """Statistics of the last execution of this dataset (time and rows per operator).

        Example:
            >>> import streamdata as sd
            >>> ds = sd.range(3).materialize()
            >>> "InputData" in ds.stats() or "Read" in ds.stats()
            True
        """
        if self._last_stats is None:
            return "this dataset has not run yet"
        return str(self._last_stats)

    def explain(self) -> str:
        """The logical, optimized and physical plans, printed and returned.

        Example:
            >>> import streamdata as sd
            >>> text = sd.range(3).map_batches(lambda b: b).explain()  # doctest: +ELLIPSIS
            -------- Logical plan --------
            ...
        """
        ctx = DataContext.get_current()
        optimized = self._optimized_plan(ctx)
        text = "\n".join([
            "-------- Logical plan --------", self._plan.explain(),
            "-------- Optimized logical plan --------", optimized.explain(),
            "-------- Physical plan --------", physical_plan_text(optimized, ctx)])
        print(text)
        return text

    # ------------------------------------------------------------------ conversions
    def to_arrow(self) -> pa.Table:
        """All rows as one ``pyarrow.Table``.

        Example:
            >>> import streamdata as sd
            >>> sd.range(3).to_arrow().num_rows
            3
        """
        from streamdata import block as B
        tables = list(self._iter_tables())
        if not tables:
            return self.schema(fetch_if_missing=False).empty_table() \
                if self.schema(fetch_if_missing=False) is not None else pa.table({})
        return B.concat(tables)

    def to_pandas(self, limit: int | None = None) -> "pd.DataFrame":
        """All rows as one pandas DataFrame (``limit``: raise if there are more rows).

        Example:
            >>> import streamdata as sd
            >>> sd.range(3).to_pandas()["id"].tolist()
            [0, 1, 2]
        """
        from streamdata import block as B
        table = self.to_arrow()
        if limit is not None and table.num_rows > limit:
            raise ValueError(f"the dataset has {table.num_rows} rows, more than the given "
                             f"limit of {limit}")
        return B.to_pandas(table)

    def materialize(self) -> "MaterializedDataset":
        """Run the plan and keep its blocks in the object store.

        Example:
            >>> import streamdata as sd
            >>> m = sd.range(4).map(lambda r: {"id": r["id"] + 1}).materialize()
            >>> m.count(), m.num_blocks() >= 1
            (4, True)
        """
        bundles = [dataclasses.replace(b, owns_blocks=False) for b in self._iter_bundles()]
        schema = _bundles_schema(bundles) or self._plan.schema()
        out = MaterializedDataset(LogicalPlan(InputData(bundles=tuple(bundles), schema=schema)))
        out._last_stats = self._last_stats
        return out

    # ------------------------------------------------------------------ writing
    def write_datasink(self, datasink: "Datasink", *, ray_remote_args: dict[str, Any] | None = None,
                       concurrency: int | None = None, **remote_args: Any) -> None:
        """Write every row into ``datasink`` (commit on success, roll back on failure).

        Example:
            >>> import streamdata as sd
            >>> from streamdata.io.datasink import Datasink
            >>> class Counter(Datasink):
            ...     def write(self, blocks, ctx):
            ...         return sum(b.num_rows for b in blocks)
            ...     def on_write_complete(self, results):
            ...         print(sum(results))
            >>> sd.range(10).write_datasink(Counter())
            10
        """
        from streamdata import block as B
        from streamdata.exec.operators.map_transformer import WriteStage
        ray_remote_args = {**(ray_remote_args or {}), **remote_args}  # Ray passes a dict
        node = Write(inputs=(self._plan.root,), datasink=datasink, concurrency=concurrency,
                     ray_remote_args=ray_remote_args)
        ds = self._with(node)
        datasink.on_write_start()
        try:
            results: list[Any] = []
            for table in ds._iter_tables(stats_owner=self):
                results.extend(row[WriteStage.RESULT_COLUMN] for row in B.iter_rows(table))
        except BaseException as exc:
            datasink.on_write_failed(exc)
            raise
        from streamdata.io.datasink import WriteResult
        datasink.on_write_complete(WriteResult(results))

    def _write_files(self, kind: str, path: str, *, filesystem: Any, mode: str,
                     options: dict[str, Any]) -> None:
        concurrency = options.pop("concurrency", None)
        remote = options.pop("ray_remote_args", None) or {}
        sink = _make_file_sink(kind, path, filesystem=filesystem, mode=mode, options=options)
        self.write_datasink(sink, concurrency=concurrency, **remote)

    def write_parquet(self, path: str, *, filesystem: Any = None, mode: str = "append",
                      **options: Any) -> None:
        """Write Parquet files under ``path`` (one or more per write task).

        ``mode``: ``"append"`` (default), ``"overwrite"``, ``"error"`` or ``"ignore"``.
        """
        self._write_files("parquet", path, filesystem=filesystem, mode=mode, options=options)

    def write_csv(self, path: str, *, filesystem: Any = None, mode: str = "append",
                  **options: Any) -> None:
        """Write CSV files under ``path``."""
        self._write_files("csv", path, filesystem=filesystem, mode=mode, options=options)

    def write_json(self, path: str, *, filesystem: Any = None, mode: str = "append",
                   **options: Any) -> None:
        """Write JSON-lines files under ``path``."""
        self._write_files("json", path, filesystem=filesystem, mode=mode, options=options)

    def write_numpy(self, path: str, *, column: str, filesystem: Any = None,
                    mode: str = "append", **options: Any) -> None:
        """Write column ``column`` as ``.npy`` files under ``path``."""
        self._write_files("numpy", path, filesystem=filesystem, mode=mode,
                          options=dict(options, column=column))

    # ------------------------------------------------------------------ connectors (streamdata/write_connectors.py)
    write_sql = _connectors.write_sql
    write_lance = _connectors.write_lance
    write_iceberg = _connectors.write_iceberg
    write_delta = _connectors.write_delta
    write_tfrecords = _connectors.write_tfrecords
    write_webdataset = _connectors.write_webdataset
    write_images = _connectors.write_images
    to_dask = _connectors.to_dask
    to_daft = _connectors.to_daft
    to_spark = _connectors.to_spark

    # ------------------------------------------------------------------ splitting
    def split(self, n: int, *, equal: bool = False, locality_hints: Any = None
              ) -> list["MaterializedDataset"]:
        """``n`` materialized datasets (``equal``: exactly the same number of rows each,
        dropping the remainder, as Ray does).

        Example:
            >>> import streamdata as sd
            >>> [s.count() for s in sd.range(10).split(3, equal=True)]
            [3, 3, 3]
        """
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise PlanError(f"split needs a positive number of splits, got {n!r}")
        return _split_materialized(self.materialize(), n, equal=equal)

    def split_at_indices(self, indices: Sequence[int]) -> list["MaterializedDataset"]:
        """Split at the given row indices: ``[0, i0), [i0, i1), ..., [ik, end)``.

        Example:
            >>> import streamdata as sd
            >>> [s.count() for s in sd.range(10).split_at_indices([2, 5])]
            [2, 3, 5]
        """
        indices = list(indices)
        if any(i < 0 for i in indices):
            raise PlanError(f"split indices must be >= 0, got {indices}")
        if indices != sorted(indices):
            raise PlanError(f"split indices must be sorted, got {indices}")
        return _split_at(self.materialize(), indices)

    def split_proportionately(self, proportions: Sequence[float]) -> list["MaterializedDataset"]:
        """Split by fractions of the rows (the last split gets the rest).

        Example:
            >>> import streamdata as sd
            >>> [s.count() for s in sd.range(10).split_proportionately([0.2, 0.5])]
            [2, 5, 3]
        """
        proportions = list(proportions)
        if not proportions or any(p <= 0 for p in proportions) or sum(proportions) >= 1:
            raise PlanError(f"proportions must be > 0 and sum to less than 1, got {proportions}")
        mat = self.materialize()
        total = mat.count()
        indices, acc = [], 0.0
        for p in proportions:
            acc += p
            indices.append(min(total, int(math.floor(acc * total))))
        return mat.split_at_indices(indices)

    def train_test_split(self, test_size: float | int, *, shuffle: bool = False,
                         seed: int | None = None) -> tuple["MaterializedDataset",
                                                          "MaterializedDataset"]:
        """(train, test): ``test_size`` a fraction of the rows or a row count.

        Example:
            >>> import streamdata as sd
            >>> train, test = sd.range(10).train_test_split(0.3)
            >>> train.count(), test.count()
            (7, 3)
        """
        ds = self.random_shuffle(seed=seed) if shuffle else self
        mat = ds.materialize()
        total = mat.count()
        if isinstance(test_size, float):
            if not 0 < test_size < 1:
                raise PlanError(f"a fractional test_size must be in (0, 1), got {test_size}")
            n_test = int(math.ceil(total * test_size))
        elif isinstance(test_size, int) and not isinstance(test_size, bool):
            if not 0 < test_size < total:
                raise PlanError(f"test_size {test_size} must be in (0, {total}) rows")
            n_test = test_size
        else:
            raise PlanError(f"test_size must be a float or an int, got {test_size!r}")
        train, test = mat.split_at_indices([total - n_test])
        return train, test

    def streaming_split(self, n: int, *, equal: bool = False, locality_hints: Any = None
                        ) -> list["DataIterator"]:
        """``n`` iterators that consume one execution together (e.g. one per training
        worker); each must be iterated (concurrently) for the others to progress.

        Example:
            >>> import streamdata as sd, threading
            >>> its = sd.range(8).streaming_split(2, equal=True)
            >>> counts = [0, 0]
            >>> def consume(i):
            ...     counts[i] = sum(len(b["id"]) for b in its[i].iter_batches(batch_size=None))
            >>> ts = [threading.Thread(target=consume, args=(i,)) for i in range(2)]
            >>> _ = [t.start() for t in ts]; _ = [t.join() for t in ts]
            >>> counts
            [4, 4]
        """
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise PlanError(f"streaming_split needs a positive number of splits, got {n!r}")
        return _streaming_split(self, n, equal=equal)

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        return _describe(self, html_mode=False)

    def _repr_html_(self) -> str:
        return _describe(self, html_mode=True)

    def __iter__(self) -> Iterator[Any]:
        raise TypeError("a Dataset is not iterable itself: use iter_rows(), iter_batches() "
                        "or take()")

    def __len__(self) -> int:
        raise TypeError("use count() for the number of rows of a Dataset (it may run the plan)")

    def __bool__(self) -> bool:
        return True


class MaterializedDataset(Dataset):
    """A dataset whose blocks are already in the object store (``materialize()``).

    Consuming it again does not re-run the original plan.

    Example:
        >>> import streamdata as sd
        >>> m = sd.range(3).materialize()
        >>> m.count(), m.count()
        (3, 3)
    """

    def num_blocks(self) -> int:
        root = self._plan.root
        if isinstance(root, InputData):
            return sum(len(b) for b in root.bundles)
        return super().num_blocks()

    def size_bytes(self) -> int:
        root = self._plan.root
        if isinstance(root, InputData):
            return sum(b.size_bytes() for b in root.bundles)
        return super().size_bytes()

    def materialize(self) -> "MaterializedDataset":
        return self


# =========================================================================== helpers


def _known_count(node: LogicalNode, *, cheap: bool = False) -> int | None:
    """The row count when metadata gives it without running anything (``cheap``: without
    even reading file footers, for display)."""
    if isinstance(node, Read):
        if cheap and node.datasource.input_files():
            return None
        return node.datasource.num_rows()
    if isinstance(node, InputData):
        total = 0
        for b in node.bundles:
            rows = b.num_rows()
            if rows is None:
                return None
            total += rows
        return total
    if isinstance(node, (Project, Sort, RandomShuffle, Repartition, RandomizeBlockOrder)):
        return _known_count(node.input, cheap=cheap)
    if isinstance(node, Limit):
        below = _known_count(node.input, cheap=cheap)
        return None if below is None else min(below, node.limit)
    if isinstance(node, Union):
        counts = [_known_count(i, cheap=cheap) for i in node.inputs]
        return None if any(c is None for c in counts) else sum(counts)  # type: ignore[misc]
    return None


def _bundles_schema(bundles: Sequence["RefBundle"]) -> pa.Schema | None:
    for b in bundles:
        for meta in b.metadata():
            if meta.schema is not None:
                return meta.schema
    return None


def _first_schema(bundles: Iterator["RefBundle"]) -> pa.Schema | None:
    try:
        for b in bundles:
            schema = _bundles_schema([b])
            if schema is not None:
                return schema
            from streamdata.core import api as rt
            tables = rt.get(b.block_refs())
            if tables:
                return tables[0].schema
        return None
    finally:
        close = getattr(bundles, "close", None)
        if close is not None:
            close()


def _describe(ds: Dataset, *, html_mode: bool) -> str:
    """``Dataset(plan, schema)`` without running anything heavy."""
    kind = type(ds).__name__
    try:
        schema = ds._plan.schema()
    except Exception:  # noqa: BLE001 - display never fails
        schema = None
    count = None
    try:
        count = _known_count(ds._plan.root, cheap=True)
    except Exception:  # noqa: BLE001
        pass
    cols = "unknown (runs the plan)" if schema is None else \
        "{" + ", ".join(f"{f.name}: {f.type}" for f in schema) + "}"
    rows = "?" if count is None else str(count)
    if not html_mode:
        plan = "\n".join("   " + line for line in ds._plan.explain().splitlines())
        return f"{kind}(num_rows={rows}, schema={cols})\n{plan}"
    plan = html.escape(ds._plan.explain())
    fields = "".join(f"<tr><td>{html.escape(f.name)}</td><td>{html.escape(str(f.type))}</td></tr>"
                     for f in (schema or []))
    table = (f"<table><tr><th>column</th><th>type</th></tr>{fields}</table>" if schema is not None
             else f"<p>schema: {html.escape(cols)}</p>")
    return (f"<div><b>{kind}</b> (num_rows={rows})<pre>{plan}</pre>{table}</div>")


# =========================================================================== running plans


def _physical_plan(ds: Dataset, ctx: DataContext) -> tuple[LogicalPlan, Any]:
    from streamdata.plan.planner import plan as lower
    optimized = ds._optimized_plan(ctx)
    return optimized, lower(optimized, ctx)


def _execute(ds: Dataset, stats_owner: Dataset) -> Iterator["RefBundle"]:
    root = ds._plan.root
    if isinstance(root, InputData):  # already materialized: nothing to run
        yield from root.bundles
        return
    from streamdata.exec.executor import StreamingExecutor
    ctx = DataContext.get_current()
    _, dag = _physical_plan(ds, ctx)
    executor = StreamingExecutor(ctx, name=_short_name(ds))
    out = executor.execute(dag)
    try:
        yield from out
    finally:
        out.close()
        stats_owner._last_stats = executor.stats()


def _short_name(ds: Dataset) -> str:
    return ds._plan.root.name.split("(")[0][:40] or "dataset"


def physical_plan_text(optimized: LogicalPlan, ctx: DataContext) -> str:
    """The physical operators of an optimized plan, root first, with their notes."""
    from streamdata.core import api as rt
    from streamdata.exec.executor import apply_cpu_oversubscription
    from streamdata.plan.planner import plan as lower
    dag = lower(optimized, ctx)
    ops = list(dag.post_order())
    cpus = float(rt.cluster_resources().get("CPU", 0.0))
    apply_cpu_oversubscription(ops, cpus)  # marks the task operators it lets oversubscribe
    lines: list[str] = []

    def visit(op: Any, depth: int) -> None:
        prefix = "" if depth == 0 else "   " * (depth - 1) + "+- "
        lines.append(prefix + f"{type(op).__name__}[{op.name}]")
        pad = "   " * depth + "   "
        for extra in op.explain_lines():
            lines.append(pad + extra)
        cap = getattr(op, "cpu_oversubscription_cap", None)
        if cap is not None:
            lines.append(pad + f"actor pools hold every CPU: runs with num_cpus=0, at most "
                         f"{cap} tasks at once")
        for dep in op.input_dependencies:
            visit(dep, depth + 1)

    visit(dag, 0)
    return "\n".join(lines)


def _make_file_sink(kind: str, path: str, *, filesystem: Any, mode: str,
                    options: dict[str, Any]) -> "Datasink":
    import importlib
    module, cls = {"parquet": ("streamdata.io.parquet", "ParquetDatasink"),
                   "csv": ("streamdata.io.csv", "CSVDatasink"),
                   "json": ("streamdata.io.json", "JSONDatasink"),
                   "numpy": ("streamdata.io.numpy", "NumpyDatasink")}[kind]
    sink_cls = getattr(importlib.import_module(module), cls)
    return sink_cls(path, filesystem=filesystem, mode=mode, **options)


# =========================================================================== splitting


def _flat_blocks(mat: MaterializedDataset) -> list[tuple[Any, Any]]:
    root = mat._plan.root
    if not isinstance(root, InputData):  # pragma: no cover - materialize() makes InputData
        raise PlanError("splitting needs a materialized dataset")
    return [blk for bundle in root.bundles for blk in bundle.blocks]


def _piece(blocks: list[tuple[Any, Any]], schema: pa.Schema | None) -> MaterializedDataset:
    from streamdata.exec.interfaces import RefBundle
    bundles = tuple(RefBundle(blocks=(blk,), owns_blocks=False) for blk in blocks)
    return MaterializedDataset(LogicalPlan(InputData(bundles=bundles, schema=schema)))


def _split_at(mat: MaterializedDataset, indices: Sequence[int]) -> list[MaterializedDataset]:
    """Pieces ``[0, i0), [i0, i1), ..., [ik, end)``; whole blocks are shared, partly covered
    blocks are sliced by small remote tasks."""
    from streamdata.core import api as rt
    from streamdata.exec.operators.block_tasks import slice_block
    blocks = _flat_blocks(mat)
    schema = mat._plan.schema()
    total = sum(meta.num_rows or 0 for _, meta in blocks)
    bounds = [0] + [min(i, total) for i in indices] + [total]
    slicer = rt.remote(slice_block).options(num_returns=2, num_cpus=0)
    pieces: list[list[Any]] = []
    pending: list[tuple[int, int, Any, Any]] = []  # (piece, position, block ref, meta ref)
    for p, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        out: list[Any] = []
        offset = 0
        for ref, meta in blocks:
            n = meta.num_rows or 0
            start, end = max(lo, offset), min(hi, offset + n)
            if start < end:
                if start == offset and end == offset + n:
                    out.append((ref, meta))
                else:
                    block_ref, meta_ref = slicer.remote(ref, start - offset, end - offset)
                    pending.append((p, len(out), block_ref, meta_ref))
                    out.append(None)
            offset += n
        pieces.append(out)
    if pending:
        metas = rt.get([m for *_, m in pending])
        for (p, pos, block_ref, _), meta in zip(pending, metas):
            pieces[p][pos] = (block_ref, meta)
    return [_piece(out, schema) for out in pieces]


def _split_materialized(mat: MaterializedDataset, n: int, *, equal: bool
                        ) -> list[MaterializedDataset]:
    total = mat.count()
    if equal:
        per = total // n
        return _split_at(mat, [per * k for k in range(1, n + 1)])[:n]
    return _split_at(mat, [round(total * k / n) for k in range(1, n)])


def _streaming_split(ds: Dataset, n: int, *, equal: bool) -> list["DataIterator"]:
    from streamdata.iterator import streaming_split_iterators
    return streaming_split_iterators(ds, n, equal=equal)


__all__ = ["Dataset", "MaterializedDataset"]
