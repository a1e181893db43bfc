"""The Dataset facade: Ray Data's ``Dataset`` over the logical plan.

A :class:`Dataset` is a lazy plan. Each transform checks its arguments, adds one
logical node and returns a new Dataset; nothing runs until a consumption method
(``take``, ``count``, ``iter_batches``, ``write_parquet``, ``materialize``...) asks for
rows, and then :mod:`streamdata.execution` compiles and runs the plan.

The class is assembled by responsibility: the transforms (this module), consumption
(:mod:`streamdata.dataset_consume`), writing (:mod:`streamdata.dataset_write`) and
splitting (:mod:`streamdata.dataset_split`); argument checks shared with
:class:`~streamdata.grouped.GroupedData` live in :mod:`streamdata.dataset_args`.

May import: base modules, :mod:`streamdata.plan` (node types), :mod:`streamdata.execution`
and the facade modules above; never :mod:`streamdata.exec` or the runtime directly.

Example:
    >>> import streamdata as sd
    >>> ds = sd.range(10).filter(expr=sd.col("id") % 2 == 0).map(lambda r: {"sq": r["id"] ** 2})
    >>> sorted(r["sq"] for r in ds.take_all())
    [0, 4, 16, 36, 64]
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

import pyarrow as pa

from streamdata import execution
from streamdata.context import DataContext
from streamdata.dataset_args import (
    AddColumn, column_list, compute_strategy, normalize_batch_format, remote_args, udf_fields,
)
from streamdata.dataset_consume import ConsumeMixin
from streamdata.dataset_split import SplitMixin
from streamdata.dataset_write import WriteMixin
from streamdata.errors import ColumnNotFoundError, PlanError
from streamdata.expressions import Expr
from streamdata.grouped import GroupedData
from streamdata.plan.logical import (
    JOIN_TYPES, Aggregate, Filter, FlatMap, InputData, Join, Limit, LogicalNode, LogicalPlan,
    MapBatches, MapRows, Project, RandomizeBlockOrder, RandomSample, RandomShuffle, Repartition,
    Sort, Union, WithColumn, Zip,
)

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.aggregate import AggregateFn


class Dataset(ConsumeMixin, WriteMixin, SplitMixin):
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
        self._stats = execution.StatsRecord()

    def _with(self, node: LogicalNode) -> "Dataset":
        return Dataset(LogicalPlan(node))

    def _materialized(self, bundles: Sequence[Any], schema: pa.Schema | None
                      ) -> "MaterializedDataset":
        return MaterializedDataset(LogicalPlan(InputData(bundles=tuple(bundles), schema=schema)))

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
        return self._with(MapRows(inputs=(self._plan.root,), **udf_fields(
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
            batch_format=normalize_batch_format(batch_format), zero_copy_batch=zero_copy_batch,
            **udf_fields(fn, what="map_batches", compute=compute, concurrency=concurrency,
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
        return self._with(FlatMap(inputs=(self._plan.root,), **udf_fields(
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
                                     compute=compute_strategy(None, compute, concurrency),
                                     ray_remote_args=remote_args(num_cpus, num_gpus, memory,
                                                                  ray_remote_args)))
        return self._with(Filter(inputs=(self._plan.root,), **udf_fields(
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
        fmt = normalize_batch_format(batch_format)
        return self._with(MapBatches(
            inputs=(self._plan.root,), fn=AddColumn(col, fn, fmt), batch_format=fmt,
            compute=compute_strategy(None, compute, concurrency),
            ray_remote_args=remote_args(None, None, None, ray_remote_args),
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
        cols = column_list(cols, "select_columns")
        self._check_columns(cols)
        return self._with(Project(inputs=(self._plan.root,), select=tuple(cols)))

    def drop_columns(self, cols: str | Sequence[str]) -> "Dataset":
        """Remove ``cols``.

        Example:
            >>> import streamdata as sd
            >>> sd.from_items([{"a": 1, "b": 2}]).drop_columns(["b"]).take_all()
            [{'a': 1}]
        """
        cols = column_list(cols, "drop_columns")
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
            new = column_list(names, "rename_columns")
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
        keys = column_list(key, "sort")
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
        keys = column_list(on, "join")
        self._check_columns(keys)
        rkeys = None if right_on is None else tuple(column_list(right_on, "join"))
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
        keys = [] if key is None else column_list(key, "groupby")
        self._check_columns(keys)
        return GroupedData(self, keys)

    def _aggregate_node(self, keys: Sequence[str], aggs: Sequence["AggregateFn"]) -> "Dataset":
        from streamdata.aggregate import AggregateFn
        for a in aggs:
            if not isinstance(a, AggregateFn):
                raise PlanError(f"aggregate takes aggregations (sd.aggregate.Sum('x'), ...), "
                                f"got {type(a).__name__}")
        return self._with(Aggregate(inputs=(self._plan.root,), keys=tuple(keys), aggs=tuple(aggs)))

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


def _describe(ds: Dataset, *, html_mode: bool) -> str:
    """``Dataset(plan, schema)`` without running anything heavy."""
    kind = type(ds).__name__
    try:
        schema = ds._plan.schema()
    except Exception:  # noqa: BLE001 - display never fails
        schema = None
    count = None
    try:
        count = ds._plan.num_rows(cheap=True)
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


__all__ = ["Dataset", "MaterializedDataset"]
