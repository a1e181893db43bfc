"""All-to-all logical nodes: operations that need every input block before they output.

:class:`Repartition`, :class:`RandomShuffle`, :class:`RandomizeBlockOrder`,
:class:`Sort`, :class:`Aggregate`, :class:`MapGroups` (one input) and :class:`Join`
(two inputs). The lowering turns each of them into all-to-all operators
(:mod:`streamdata.plan.lowering.all_to_all`).

Example:
    >>> from streamdata.plan.io_nodes import InputData
    >>> Sort(inputs=(InputData(),), keys="x", descending=True).name
    'Sort(x desc)'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from streamdata.errors import PlanError
from streamdata.plan.nodes_base import (
    BATCH_FORMATS,
    ActorPoolStrategy,
    ComputeStrategy,
    FrozenDict,
    LogicalNode,
    TaskPoolStrategy,
    _check_choice,
    _check_positive_int,
    _frozen,
    _set,
    _str_tuple,
    fn_name,
    is_callable_class,
)

#: the ``join_type`` values of :class:`Join`
JOIN_TYPES = ("inner", "left_outer", "right_outer", "full_outer",
              "left_semi", "right_semi", "left_anti", "right_anti")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Repartition(LogicalNode):
    """Exactly ``num_blocks`` blocks; ``shuffle`` redistributes rows randomly (all-to-all).

    With ``keys``, rows with equal keys land in the same block (hash partitioning;
    ``sort`` sorts each block by the keys). With ``target_num_rows_per_block`` instead
    of ``num_blocks``: blocks of exactly that many rows, in order, but the last.
    """

    num_blocks: int | None = None
    shuffle: bool = False
    keys: tuple[str, ...] = ()
    sort: bool = False
    target_num_rows_per_block: int | None = None
    strict: bool = False

    preserves_columns: ClassVar[bool] = True

    def __post_init__(self) -> None:
        LogicalNode.__post_init__(self)
        if (self.num_blocks is None) == (self.target_num_rows_per_block is None):
            raise PlanError("repartition takes exactly one of num_blocks or "
                            f"target_num_rows_per_block, got num_blocks={self.num_blocks!r}, "
                            f"target_num_rows_per_block={self.target_num_rows_per_block!r}")
        _check_positive_int("repartition num_blocks", self.num_blocks, allow_none=True)
        _check_positive_int("repartition target_num_rows_per_block",
                            self.target_num_rows_per_block, allow_none=True)
        _set(self, "keys", _str_tuple("repartition key", self.keys) if self.keys else ())
        if self.keys and self.num_blocks is None:
            raise PlanError("repartition(keys=...) needs num_blocks (the number of hash partitions)")
        if self.keys and self.shuffle:
            raise PlanError("repartition takes keys=... or shuffle=True, not both")
        if self.sort and not self.keys:
            raise PlanError("repartition(sort=True) needs keys=[...] to sort by")
        if self.target_num_rows_per_block is not None and self.shuffle:
            raise PlanError("repartition(target_num_rows_per_block=...) keeps the row order; "
                            "it takes no shuffle=True")

    @property
    def name(self) -> str:
        if self.target_num_rows_per_block is not None:
            return f"Repartition(target_num_rows_per_block={self.target_num_rows_per_block})"
        extra = f", keys={list(self.keys)}" if self.keys else (", shuffle" if self.shuffle else "")
        return f"Repartition({self.num_blocks}{extra}{', sort' if self.sort else ''})"

    def num_rows(self, input_rows: Callable[[LogicalNode], int | None], *,
                 cheap: bool = False) -> int | None:
        return input_rows(self.input)  # the same rows, in another order or grouping


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class RandomShuffle(LogicalNode):
    """Rows in a random order (seeded when ``seed`` is set)."""

    seed: int | None = None
    num_blocks: int | None = None

    preserves_columns: ClassVar[bool] = True

    def __post_init__(self) -> None:
        LogicalNode.__post_init__(self)
        _check_positive_int("random_shuffle num_blocks", self.num_blocks, allow_none=True)

    def num_rows(self, input_rows: Callable[[LogicalNode], int | None], *,
                 cheap: bool = False) -> int | None:
        return input_rows(self.input)  # the same rows, in another order or grouping


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class RandomizeBlockOrder(LogicalNode):
    """Blocks in a random order (rows inside a block keep their order)."""

    seed: int | None = None

    preserves_columns: ClassVar[bool] = True

    def num_rows(self, input_rows: Callable[[LogicalNode], int | None], *,
                 cheap: bool = False) -> int | None:
        return input_rows(self.input)  # the same rows, in another order or grouping


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Sort(LogicalNode):
    """Rows ordered by ``keys``; ``descending`` has one flag per key."""

    keys: tuple[str, ...]
    descending: tuple[bool, ...] = ()
    #: range boundaries of the first key: output block ``i`` holds keys in
    #: ``[boundaries[i-1], boundaries[i])`` (``sort(boundaries=[...])``)
    boundaries: tuple[Any, ...] | None = None

    preserves_columns: ClassVar[bool] = True

    def __post_init__(self) -> None:
        LogicalNode.__post_init__(self)
        _set(self, "keys", _str_tuple("sort key", self.keys))
        if self.boundaries is not None:
            _set(self, "boundaries", tuple(self.boundaries))
        if not self.keys:
            raise PlanError("sort needs at least one key")
        desc = self.descending
        if isinstance(desc, bool):
            desc = (desc,) * len(self.keys)
        desc = tuple(bool(d) for d in desc) if desc else (False,) * len(self.keys)
        if len(desc) != len(self.keys):
            raise PlanError(f"sort: {len(self.keys)} keys but {len(desc)} descending flags")
        _set(self, "descending", desc)

    @property
    def name(self) -> str:
        parts = [f"{k}{' desc' if d else ''}" for k, d in zip(self.keys, self.descending)]
        return f"Sort({', '.join(parts)})"

    def num_rows(self, input_rows: Callable[[LogicalNode], int | None], *,
                 cheap: bool = False) -> int | None:
        return input_rows(self.input)  # the same rows, in another order or grouping


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Aggregate(LogicalNode):
    """Group by ``keys`` (empty: one global group) and compute ``aggs``.

    With keys and no aggs it yields the distinct key values (``unique``).
    """

    keys: tuple[str, ...] = ()
    aggs: tuple = ()  # streamdata.aggregate.AggregateFn instances
    num_partitions: int | None = None

    def __post_init__(self) -> None:
        LogicalNode.__post_init__(self)
        _set(self, "keys", _str_tuple("groupby key", self.keys))
        _set(self, "aggs", tuple(self.aggs))
        if not self.keys and not self.aggs:
            raise PlanError("aggregate needs at least one aggregation (Count(), Sum('x'), ...)")
        _check_positive_int("num_partitions", self.num_partitions, allow_none=True)

    @property
    def name(self) -> str:
        aggs = ", ".join(getattr(a, "name", type(a).__name__) for a in self.aggs)
        keys = f"keys={list(self.keys)}" if self.keys else "global"
        return f"Aggregate({keys}{', ' + aggs if aggs else ''})"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class MapGroups(LogicalNode):
    """Group by ``keys`` and call ``fn(group_batch) -> batch`` once per group."""

    keys: tuple[str, ...]
    fn: Callable[..., Any] | type
    batch_format: str = "default"
    fn_args: tuple = ()
    fn_kwargs: FrozenDict = field(default_factory=FrozenDict)
    fn_constructor_args: tuple = ()
    fn_constructor_kwargs: FrozenDict = field(default_factory=FrozenDict)
    compute: ComputeStrategy = field(default_factory=TaskPoolStrategy)
    ray_remote_args: FrozenDict = field(default_factory=FrozenDict)
    num_partitions: int | None = None

    def __post_init__(self) -> None:
        LogicalNode.__post_init__(self)
        _set(self, "keys", _str_tuple("groupby key", self.keys))
        if not callable(self.fn):
            raise PlanError(f"map_groups needs a callable, got {type(self.fn).__name__}")
        _check_choice("batch_format", self.batch_format, BATCH_FORMATS)
        _set(self, "fn_args", tuple(self.fn_args))
        _set(self, "fn_kwargs", _frozen(self.fn_kwargs))
        _set(self, "fn_constructor_args", tuple(self.fn_constructor_args))
        _set(self, "fn_constructor_kwargs", _frozen(self.fn_constructor_kwargs))
        _set(self, "ray_remote_args", _frozen(self.ray_remote_args))
        if is_callable_class(self.fn) != isinstance(self.compute, ActorPoolStrategy):
            raise PlanError("map_groups: a callable class needs an actor pool (concurrency=...), "
                            "a function a task pool")
        _check_positive_int("num_partitions", self.num_partitions, allow_none=True)

    @property
    def name(self) -> str:
        return f"MapGroups({fn_name(self.fn)})"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Join(LogicalNode):
    """A hash join of the two inputs on ``on`` (left) = ``right_on`` (right; default ``on``)."""

    on: tuple[str, ...]
    right_on: tuple[str, ...] | None = None
    join_type: str = "inner"
    left_suffix: str | None = None
    right_suffix: str | None = None
    num_partitions: int | None = None
    #: options of the join's tasks (``aggregator_ray_remote_args``: num_cpus, memory, resources)
    ray_remote_args: FrozenDict = field(default_factory=FrozenDict)

    arity: ClassVar[int | None] = 2

    def __post_init__(self) -> None:
        LogicalNode.__post_init__(self)
        _check_choice("join_type", self.join_type, JOIN_TYPES)
        _set(self, "on", _str_tuple("join key", self.on))
        if not self.on:
            raise PlanError("join needs at least one key column (on=...)")
        if self.right_on is not None:
            _set(self, "right_on", _str_tuple("join key", self.right_on))
            if len(self.right_on) != len(self.on):
                raise PlanError(f"join: {len(self.on)} left keys but {len(self.right_on)} right keys")
        _check_positive_int("num_partitions", self.num_partitions, allow_none=True)
        _set(self, "ray_remote_args", _frozen(self.ray_remote_args))

    @property
    def name(self) -> str:
        return f"Join({self.join_type}, on={list(self.on)})"


__all__ = [
    "JOIN_TYPES", "Repartition", "RandomShuffle", "RandomizeBlockOrder", "Sort", "Aggregate",
    "MapGroups", "Join",
]
