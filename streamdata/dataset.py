"""The Dataset facade: Ray Data's ``Dataset`` over the logical plan.

A :class:`Dataset` is a lazy plan. Each transform checks its arguments, adds one
logical node and returns a new Dataset; nothing runs until a consumption method
(``take``, ``count``, ``iter_batches``, ``write_parquet``, ``materialize``...) asks for
rows, and then :mod:`streamdata.execution` compiles and runs the plan.

The class is assembled by responsibility: the transforms (this module), column
transforms (:mod:`streamdata.dataset_columns`), consumption
(:mod:`streamdata.dataset_consume`), writing (:mod:`streamdata.dataset_write`),
splitting (:mod:`streamdata.dataset_split`), name/summary/lineage
(:mod:`streamdata.dataset_meta`) and hand-offs to other systems
(:mod:`streamdata.dataset_interop`); argument checks shared with
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

from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

import pyarrow as pa

from streamdata import execution
from streamdata.context import DataContext
from streamdata.dataset_args import (
    column_list, map_batch_size, normalize_batch_format, remote_args, task_fields, udf_fields,
)
from streamdata.dataset_columns import ColumnsMixin
from streamdata.dataset_display import check_seed as _check_seed
from streamdata.dataset_display import describe as _describe
from streamdata.dataset_display import validate_join_schemas as _validate_join_schemas
from streamdata.dataset_interop import InteropMixin
from streamdata.dataset_meta import MetaMixin
from streamdata.dataset_consume import ConsumeMixin
from streamdata.dataset_split import SplitMixin
from streamdata.dataset_write import WriteMixin
from streamdata.errors import ColumnNotFoundError, PlanError
from streamdata.expressions import Expr
from streamdata.grouped import GroupedData
from streamdata.plan.logical import (
    JOIN_TYPES, Aggregate, Filter, FlatMap, InputData, Join, Limit, LogicalNode, LogicalPlan,
    MapBatches, MapRows, Mix, RandomizeBlockOrder, RandomSample, RandomShuffle, Repartition,
    Sort, Union, Zip,
)

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.aggregate import AggregateFn


class Dataset(ColumnsMixin["Dataset"], ConsumeMixin, WriteMixin, SplitMixin, MetaMixin, InteropMixin):
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
        self._name: str | None = None
        self._uuid: str | None = None

    def _with(self, node: LogicalNode) -> "Dataset":
        return Dataset(LogicalPlan(node))

    @staticmethod
    def _materialized(bundles: Sequence[Any], schema: pa.Schema | None
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
            label_selector: dict[str, str] | None = None,
            fallback_strategy: list[dict[str, Any]] | None = None, max_calls: int | None = None,
            resources: dict[str, float] | None = None, accelerator_type: str | None = None,
            runtime_env: dict[str, Any] | None = None,
            ray_remote_args_fn: Callable[[], dict[str, Any]] | None = None,
            **ray_remote_args: Any) -> "Dataset":
        """Apply ``fn`` to each row (a dict); it returns one row (a dict).

        Every transform takes Ray's per-task options (``num_cpus``, ``num_gpus``,
        ``memory``, ``resources``, ``accelerator_type``, ``runtime_env`` whose ``env_vars``
        reach the task, ``ray_remote_args_fn`` called before each task, ...; see
        :func:`streamdata.dataset_args.remote_args`).

        Example:
            >>> import streamdata as sd
            >>> sd.range(3).map(lambda r: {"x": r["id"] * 10}).take_all()
            [{'x': 0}, {'x': 10}, {'x': 20}]
        """
        return self._with(MapRows(inputs=(self._plan.root,), **udf_fields("map", locals())))

    def map_batches(self, fn: Callable[..., Any] | type, *, batch_size: int | str | None = None,
                    compute: Any = None, batch_format: str | None = "default",
                    zero_copy_batch: bool = False, fn_args: Iterable[Any] | None = None,
                    fn_kwargs: dict[str, Any] | None = None,
                    fn_constructor_args: Iterable[Any] | None = None,
                    fn_constructor_kwargs: dict[str, Any] | None = None,
                    num_cpus: float | None = None, num_gpus: float | None = None,
                    memory: float | None = None, concurrency: Any = None,
                    udf_modifying_row_count: bool = True,
                    label_selector: dict[str, str] | None = None,
                    fallback_strategy: list[dict[str, Any]] | None = None,
                    max_calls: int | None = None, resources: dict[str, float] | None = None,
                    accelerator_type: str | None = None, runtime_env: dict[str, Any] | None = None,
                    ray_remote_args_fn: Callable[[], dict[str, Any]] | None = None,
                    **ray_remote_args: Any) -> "Dataset":
        """Apply ``fn`` to batches of rows.

        ``fn`` gets a batch in ``batch_format`` (``"default"``/``"numpy"``: a dict of
        ndarrays; ``"pandas"``; ``"pyarrow"``) and returns a batch (or yields batches). A
        function runs as tasks; a callable class runs in an actor pool of
        ``concurrency=n`` or ``(min, max)`` actors, each built once with
        ``fn_constructor_args``. ``batch_size=None`` calls ``fn`` once per block;
        ``"auto"`` picks the size from the bytes per row (about 16 MiB a batch), as Ray.
        ``udf_modifying_row_count=False`` promises ``fn`` keeps the row count (Ray uses it
        for optimizations; accepted here).

        Example:
            >>> import streamdata as sd
            >>> ds = sd.range(4).map_batches(lambda b: {"y": b["id"] + 1}, batch_size=2)
            >>> sorted(r["y"] for r in ds.take_all())
            [1, 2, 3, 4]
        """
        batch_size = map_batch_size(batch_size, num_gpus)
        if not isinstance(udf_modifying_row_count, bool):
            raise PlanError(f"udf_modifying_row_count must be a bool, got {udf_modifying_row_count!r}")
        return self._with(MapBatches(
            inputs=(self._plan.root,), batch_size=batch_size,
            batch_format=normalize_batch_format(batch_format), zero_copy_batch=zero_copy_batch,
            **udf_fields("map_batches", locals())))

    def flat_map(self, fn: Callable[[dict[str, Any]], list[dict[str, Any]]] | type, *,
                 compute: Any = None, fn_args: Iterable[Any] | None = None,
                 fn_kwargs: dict[str, Any] | None = None,
                 fn_constructor_args: Iterable[Any] | None = None,
                 fn_constructor_kwargs: dict[str, Any] | None = None,
                 num_cpus: float | None = None, num_gpus: float | None = None,
                 memory: float | None = None, concurrency: Any = None,
                 label_selector: dict[str, str] | None = None,
                 fallback_strategy: list[dict[str, Any]] | None = None,
                 max_calls: int | None = None, resources: dict[str, float] | None = None,
                 accelerator_type: str | None = None, runtime_env: dict[str, Any] | None = None,
                 ray_remote_args_fn: Callable[[], dict[str, Any]] | None = None,
                 **ray_remote_args: Any) -> "Dataset":
        """Apply ``fn`` to each row; it returns a list of rows (any number).

        Example:
            >>> import streamdata as sd
            >>> sd.range(2).flat_map(lambda r: [r, r]).count()
            4
        """
        return self._with(FlatMap(inputs=(self._plan.root,), **udf_fields("flat_map", locals())))

    def filter(self, fn: Callable[[dict[str, Any]], bool] | type | None = None,
               expr: Expr | str | None = None, *, compute: Any = None,
               fn_args: Iterable[Any] | None = None, fn_kwargs: dict[str, Any] | None = None,
               fn_constructor_args: Iterable[Any] | None = None,
               fn_constructor_kwargs: dict[str, Any] | None = None,
               num_cpus: float | None = None, num_gpus: float | None = None,
               memory: float | None = None, concurrency: Any = None,
               label_selector: dict[str, str] | None = None,
               fallback_strategy: list[dict[str, Any]] | None = None,
               max_calls: int | None = None, resources: dict[str, float] | None = None,
               accelerator_type: str | None = None, runtime_env: dict[str, Any] | None = None,
               ray_remote_args_fn: Callable[[], dict[str, Any]] | None = None,
               **ray_remote_args: Any) -> "Dataset":
        """Keep the rows where ``fn(row)`` is true, or where the expression ``expr`` is.

        Expression filters are vectorized and pushed into sources that support it
        (Parquet prunes row groups). ``expr`` is an expression (``sd.col("a") > 1``) or,
        as in Ray Data, a string in Python syntax (``"a > 1 and s in ['x']"``). ``fn``
        must return a bool for every row (anything else fails the task).

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
            raise PlanError(f"filter takes exactly one of fn or expr, got fn={fn!r}, "
                            f"expr={expr.compact() if isinstance(expr, Expr) else repr(expr)}")
        scope = locals()
        if expr is not None:
            if isinstance(expr, str):
                from streamdata.expression_parser import parse_expression
                expr = parse_expression(expr)
            if not isinstance(expr, Expr):
                raise PlanError(f"filter expr must be an expression, got {type(expr).__name__}")
            self._check_columns(sorted(expr.columns()))  # when the schema is known: now, not at run time
            return self._with(Filter(inputs=(self._plan.root,), expr=expr, **task_fields(scope)))
        return self._with(Filter(inputs=(self._plan.root,), **udf_fields("filter", scope)))

    # ------------------------------------------------------------------ columns
    def _check_columns(self, cols: Iterable[str]) -> None:
        """Raise ColumnNotFoundError now when the schema is known without running."""
        schema = self._plan.schema()
        if schema is None:
            return
        for c in cols:
            if c not in schema.names:
                raise ColumnNotFoundError(c, schema.names)

    # ------------------------------------------------------------------ rows and blocks
    def limit(self, limit: int) -> "Dataset":
        """The first ``limit`` rows.

        Example:
            >>> import streamdata as sd
            >>> sd.range(100).limit(3).count()
            3
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise PlanError(f"limit must be an int >= 0, got {limit!r}")
        return self._with(Limit(inputs=(self._plan.root,), limit=limit))

    def repartition(self, num_blocks: int | None = None,
                    target_num_rows_per_block: int | None = None, *, strict: bool = False,
                    shuffle: bool = False, keys: Sequence[str] | None = None,
                    sort: bool = False) -> "Dataset":
        """Re-cut the rows into blocks.

        ``num_blocks``: exactly that many blocks (``shuffle=True`` spreads rows randomly;
        ``keys=[...]``: rows with equal keys land in the same block, ``sort=True`` sorts
        each block by them). ``target_num_rows_per_block`` instead: blocks of exactly that
        many rows, in order, but the last (this also satisfies ``strict=True``).

        Example:
            >>> import streamdata as sd
            >>> sd.range(10).repartition(3).num_blocks()
            3
            >>> [b.num_rows for b in sd.range(7).repartition(target_num_rows_per_block=3)
            ...      .iter_batches(batch_size=None, batch_format="pyarrow")]
            [3, 3, 1]
        """
        for name, flag in (("strict", strict), ("shuffle", shuffle), ("sort", sort)):
            if not isinstance(flag, bool):
                raise PlanError(f"repartition {name} must be a bool, got {flag!r}")
        key_cols = () if keys is None else tuple(column_list(keys, "repartition keys"))
        self._check_columns(key_cols)
        return self._with(Repartition(
            inputs=(self._plan.root,), num_blocks=num_blocks, shuffle=shuffle, keys=key_cols,
            sort=sort, target_num_rows_per_block=target_num_rows_per_block, strict=strict))

    def random_shuffle(self, *, seed: int | None = None, num_blocks: int | None = None
                       ) -> "Dataset":
        """Rows in a random order (reproducible with ``seed``).

        Example:
            >>> import streamdata as sd
            >>> sorted(r["id"] for r in sd.range(5).random_shuffle(seed=1).take_all())
            [0, 1, 2, 3, 4]
        """
        _check_seed("random_shuffle", seed)
        return self._with(RandomShuffle(inputs=(self._plan.root,), seed=seed,
                                        num_blocks=num_blocks))

    def randomize_block_order(self, *, seed: int | None = None) -> "Dataset":
        """Blocks in a random order; rows inside each block keep theirs.

        Example:
            >>> import streamdata as sd
            >>> sd.range(5).randomize_block_order(seed=0).count()
            5
        """
        _check_seed("randomize_block_order", seed)
        return self._with(RandomizeBlockOrder(inputs=(self._plan.root,), seed=seed))

    def random_sample(self, fraction: float, *, seed: Any = None) -> "Dataset":
        """Each row kept with probability ``fraction`` (in [0, 1]); ``seed`` an int or a
        :class:`~streamdata.configs.RandomSeedConfig`.

        Example:
            >>> import streamdata as sd
            >>> 0 <= sd.range(100).random_sample(0.5, seed=3).count() <= 100
            True
        """
        from streamdata.configs import RandomSeedConfig
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) \
                or not 0 <= fraction <= 1:
            raise PlanError(f"random_sample fraction must be a number in [0, 1], got {fraction!r}")
        if isinstance(seed, RandomSeedConfig):
            seed = seed.seed
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise PlanError(f"random_sample seed must be an int or a RandomSeedConfig, got {seed!r}")
        if self._plan.num_rows(cheap=True) == 0:
            raise PlanError("Cannot sample from an empty Dataset (random_sample)")
        return self._with(RandomSample(inputs=(self._plan.root,), fraction=float(fraction),
                                       seed=seed))

    def sort(self, key: str | Sequence[str], descending: bool | Sequence[bool] = False,
             boundaries: Sequence[int | float] | None = None) -> "Dataset":
        """Rows sorted by ``key`` (one column or several; ``descending`` per key or for all).

        ``boundaries`` (ascending numbers, one key): the output's blocks are the key
        ranges ``(-inf, b0), [b0, b1), ..., [bn, inf)``.

        Example:
            >>> import streamdata as sd
            >>> [r["id"] for r in sd.range(4).sort("id", descending=True).take_all()]
            [3, 2, 1, 0]
            >>> [b.num_rows for b in sd.range(10).sort("id", boundaries=[3, 8])
            ...      .iter_batches(batch_size=None, batch_format="pyarrow")]
            [3, 5, 2]
        """
        if not isinstance(key, str) and (not isinstance(key, (list, tuple)) or not key):
            raise PlanError(f"sort key must be a column name or a non-empty list of them, "
                            f"got {key!r}")
        keys = column_list(key, "sort")
        self._check_columns(keys)
        if isinstance(descending, bool):
            desc: tuple[bool, ...] = (descending,) * len(keys)
        elif isinstance(descending, (list, tuple)) and all(isinstance(d, bool) for d in descending):
            desc = tuple(descending)
        else:
            raise PlanError(f"sort descending must be a bool or a list of bools (one per key), "
                            f"got {descending!r}")
        bounds = None
        if boundaries is not None:
            if not isinstance(boundaries, (list, tuple)) or not all(
                    isinstance(b, (int, float)) and not isinstance(b, bool) for b in boundaries):
                raise PlanError(f"sort boundaries must be a list of numbers, got {boundaries!r}")
            if list(boundaries) != sorted(boundaries):
                raise PlanError(f"sort boundaries must be ascending, got {list(boundaries)}")
            if len(keys) != 1 or any(desc):
                raise PlanError("sort boundaries work with one ascending key, got keys "
                                f"{keys} descending {list(desc)}")
            bounds = tuple(boundaries)
        return self._with(Sort(inputs=(self._plan.root,), keys=tuple(keys), descending=desc,
                               boundaries=bounds))

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

    def zip(self, *other: "Dataset") -> "Dataset":
        """The columns of this dataset and of each of ``other`` side by side (they must
        have as many rows, else ``ValueError`` when it runs); a name already taken gets
        ``_1``, ``_2``, ... (as Ray).

        Example:
            >>> import streamdata as sd
            >>> sd.range(2).zip(sd.range(2), sd.range(2)).take_all()
            [{'id': 0, 'id_1': 0, 'id_2': 0}, {'id': 1, 'id_1': 1, 'id_2': 1}]
        """
        if not other:
            raise PlanError("zip takes at least one Dataset to zip with")
        for ds in other:
            if not isinstance(ds, Dataset):
                raise PlanError(f"zip takes Datasets, got {type(ds).__name__}")
        return self._with(Zip(inputs=(self._plan.root, *(ds._plan.root for ds in other))))

    def mix(self, *other: "Dataset", weights: Sequence[float] | None = None,
            stopping_condition: Any = "stop_on_longest_drop") -> "Dataset":
        """This dataset's blocks interleaved with ``other``'s so that the rows follow
        ``weights`` (one per dataset, this one first; default equal). Each block comes
        from one dataset: the one furthest behind its share. ``stopping_condition``
        (:class:`~streamdata.configs.MixStoppingCondition`): ``STOP_ON_LONGEST_DROP`` (an
        exhausted dataset drops out) or ``STOP_ON_SHORTEST`` (stop with the first one).

        Example:
            >>> import streamdata as sd
            >>> a = sd.from_items([{"x": i} for i in range(4)], override_num_blocks=4)
            >>> b = sd.from_items([{"x": 10 + i} for i in range(4)], override_num_blocks=4)
            >>> [r["x"] for r in a.mix(b, weights=[1, 1]).take_all()]
            [0, 10, 1, 11, 2, 12, 3, 13]
        """
        from streamdata.configs import MixStoppingCondition
        if not other:
            raise PlanError("mix needs at least one other Dataset")
        for o in other:
            if not isinstance(o, Dataset):
                raise PlanError(f"mix takes Datasets, got {type(o).__name__}")
        try:
            cond = MixStoppingCondition(getattr(stopping_condition, "value", stopping_condition))
        except ValueError:
            raise PlanError(f"mix stopping_condition must be a MixStoppingCondition, got "
                            f"{stopping_condition!r}") from None
        if weights is not None and not isinstance(weights, (list, tuple)):
            raise PlanError(f"mix weights must be a list of numbers, got {weights!r}")
        return self._with(Mix(inputs=(self._plan.root, *(o._plan.root for o in other)),
                              weights=tuple(weights or ()),
                              stop_on_shortest=cond is MixStoppingCondition.STOP_ON_SHORTEST))

    def join(self, ds: "Dataset", join_type: str = "inner", num_partitions: int | None = None,
             on: str | Sequence[str] = ("id",), right_on: str | Sequence[str] | None = None,
             left_suffix: str | None = None, right_suffix: str | None = None, *,
             partition_size_hint: int | None = None,
             aggregator_ray_remote_args: dict[str, Any] | None = None,
             validate_schemas: bool = False) -> "Dataset":
        """A hash join with ``ds`` on key columns ``on`` (``right_on`` for the right side).

        ``join_type`` is one of ``"inner"``, ``"left_outer"``, ``"right_outer"``,
        ``"full_outer"`` (and the ``left_semi``/``right_semi``/``left_anti``/``right_anti``
        variants). Non-key columns present on both sides get the suffixes.
        ``aggregator_ray_remote_args`` are the options of the join's tasks (num_cpus,
        memory, resources); ``validate_schemas=True`` checks now that the key columns
        exist on both sides with the same types; ``partition_size_hint`` (bytes) is a
        sizing hint Ray's hash shuffle uses and is accepted here.

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
        if partition_size_hint is not None and (isinstance(partition_size_hint, bool) or not
                                                isinstance(partition_size_hint, int)
                                                or partition_size_hint <= 0):
            raise PlanError(f"partition_size_hint must be a positive int (bytes), "
                            f"got {partition_size_hint!r}")
        keys = column_list(on, "join")
        self._check_columns(keys)
        rkeys = None if right_on is None else tuple(column_list(right_on, "join"))
        ds._check_columns(rkeys or keys)
        if validate_schemas:
            _validate_join_schemas(self, ds, keys, list(rkeys or keys))
        task_args = remote_args(None, None, None, aggregator_ray_remote_args or {})
        return self._with(Join(inputs=(self._plan.root, ds._plan.root), on=tuple(keys),
                               right_on=rkeys, join_type=join_type, left_suffix=left_suffix,
                               right_suffix=right_suffix, num_partitions=num_partitions,
                               ray_remote_args=task_args))

    # ------------------------------------------------------------------ grouping and aggregation
    def groupby(self, key: str | Sequence[str] | None, num_partitions: int | None = None
                ) -> "GroupedData":
        """Group rows by ``key`` for ``aggregate``, ``count``, ``sum``..., ``map_groups``;
        ``num_partitions``: the shuffle's partitions (default: chosen from the size).

        Example:
            >>> import streamdata as sd
            >>> ds = sd.from_items([{"k": i % 2, "v": i} for i in range(4)])
            >>> ds.groupby("k").sum("v").sort("k").take_all()
            [{'k': 0, 'sum(v)': 2}, {'k': 1, 'sum(v)': 4}]
        """
        if key is not None and not isinstance(key, (str, list, tuple)):
            raise PlanError(f"groupby key must be a column name, a list of them or None, "
                            f"got {key!r}")
        if num_partitions is not None and (isinstance(num_partitions, bool)
                                           or not isinstance(num_partitions, int)
                                           or num_partitions <= 0):
            raise PlanError(f"groupby num_partitions must be a positive int, got {num_partitions!r}")
        keys = [] if key is None else column_list(key, "groupby")
        self._check_columns(keys)
        return GroupedData(self, keys, num_partitions=num_partitions)

    def _aggregate_node(self, keys: Sequence[str], aggs: Sequence["AggregateFn"],
                        num_partitions: int | None = None) -> "Dataset":
        from streamdata.aggregate import AggregateFn
        for a in aggs:
            if not isinstance(a, AggregateFn):
                raise PlanError(f"aggregate takes aggregations (sd.aggregate.Sum('x'), ...), "
                                f"got {type(a).__name__}")
        return self._with(Aggregate(inputs=(self._plan.root,), keys=tuple(keys), aggs=tuple(aggs),
                                    num_partitions=num_partitions))

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        return _describe(self, html_mode=False)

    def _repr_html_(self) -> str:
        return _describe(self, html_mode=True)

    def __iter__(self) -> Iterator[Any]:
        raise TypeError("a Dataset is not iterable itself: use iter_rows(), iter_batches() "
                        "or take()")

    def __len__(self) -> int:
        raise AttributeError("Use `ds.count()` to compute the length of a distributed Dataset "
                             "(it may run the plan)")

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


__all__ = ["Dataset", "MaterializedDataset"]
