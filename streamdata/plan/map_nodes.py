"""Logical maps: one-input operations applied block by block, which the optimizer may fuse.

:class:`AbstractMap` is their base (compute strategy, remote args, display label);
:class:`AbstractUDFMap` adds a user function or callable class (:class:`MapBatches`,
:class:`MapRows`, :class:`FlatMap`, :class:`Filter`). :class:`Project`,
:class:`WithColumn` and :class:`RandomSample` need no user code. The map-fusion rule
chains adjacent maps into one :class:`FusedMap`, run inside one task or actor.

Example:
    >>> p = Project(select=("a", "b"), drop=("b",))
    >>> p.name, p.output_columns(["a", "b", "c"])
    ("Project(select=['a', 'b'], drop=['b'])", ['a'])
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import pyarrow as pa

from streamdata.errors import ColumnNotFoundError, PlanError
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
from streamdata.expressions import Expr
from streamdata.expressions.core import (
    AliasExpr, BinaryExpr, CallExpr, ColumnExpr, IsInExpr, LiteralExpr, UnaryExpr,
)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class AbstractMap(LogicalNode):
    """A one-input operation applied block by block (fusable with its neighbours).

    ``ray_remote_args`` are the per-task (or per-actor) resources: ``num_cpus``,
    ``num_gpus``, ``memory``, ``resources``... ``label`` overrides the display name.
    """

    compute: ComputeStrategy = field(default_factory=TaskPoolStrategy)
    ray_remote_args: FrozenDict = field(default_factory=FrozenDict)
    label: str | None = None

    def __post_init__(self) -> None:
        LogicalNode.__post_init__(self)
        if not isinstance(self.compute, (TaskPoolStrategy, ActorPoolStrategy)):
            raise PlanError(f"compute must be a TaskPoolStrategy or ActorPoolStrategy, "
                            f"got {self.compute!r}")
        _set(self, "ray_remote_args", _frozen(self.ray_remote_args))

    def _check_arity(self) -> None:
        # a map may be detached (no inputs) when it is a stage of a FusedMap
        if len(self.inputs) > 1:
            raise PlanError(f"{type(self).__name__} takes one input, got {len(self.inputs)}")

    @property
    def uses_actors(self) -> bool:
        """Whether this map runs in an actor pool."""
        return isinstance(self.compute, ActorPoolStrategy)

    def _named(self, default: str) -> str:
        return self.label or default


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class AbstractUDFMap(AbstractMap):
    """A map running a user function, or a callable class in an actor pool.

    A class ``fn`` is instantiated once per actor with ``fn_constructor_args`` /
    ``fn_constructor_kwargs``; calls receive ``fn_args`` / ``fn_kwargs`` after the data.
    """

    fn: Callable[..., Any] | type | None = None
    fn_args: tuple = ()
    fn_kwargs: FrozenDict = field(default_factory=FrozenDict)
    fn_constructor_args: tuple = ()
    fn_constructor_kwargs: FrozenDict = field(default_factory=FrozenDict)

    fn_required: ClassVar[bool] = True

    def __post_init__(self) -> None:
        AbstractMap.__post_init__(self)
        _set(self, "fn_args", tuple(self.fn_args))
        _set(self, "fn_kwargs", _frozen(self.fn_kwargs))
        _set(self, "fn_constructor_args", tuple(self.fn_constructor_args))
        _set(self, "fn_constructor_kwargs", _frozen(self.fn_constructor_kwargs))
        if self.fn is None:
            if self.fn_required:
                raise PlanError(f"{type(self).__name__} needs a function")
            return
        if not callable(self.fn):
            raise PlanError(f"{type(self).__name__} needs a callable, got {type(self.fn).__name__}")
        if self.is_class:
            if not isinstance(self.compute, ActorPoolStrategy):
                raise PlanError(f"callable class {self.fn.__name__} runs in an actor pool: "
                                "pass concurrency=n or (min, max), not a task pool")
        else:
            if isinstance(self.compute, ActorPoolStrategy):
                raise PlanError(f"{fn_name(self.fn)} is a function; an actor pool needs a "
                                "callable class (a class with __call__)")
            if self.fn_constructor_args or self.fn_constructor_kwargs:
                raise PlanError("fn_constructor_args/fn_constructor_kwargs need a callable class")

    @property
    def is_class(self) -> bool:
        """Whether ``fn`` is a callable class, to instantiate in actors."""
        return is_callable_class(self.fn)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class MapBatches(AbstractUDFMap):
    """``fn(batch, *fn_args, **fn_kwargs) -> batch`` (or an iterator of batches).

    ``batch_size`` None means one call per block, ``"auto"`` a size each task picks from
    its first block's bytes per row (Ray's rule); ``batch_format`` is one of
    ``"default"`` (numpy), ``"numpy"``, ``"pandas"``, ``"pyarrow"``.
    """

    batch_size: int | str | None = None
    batch_format: str = "default"
    zero_copy_batch: bool = False

    def __post_init__(self) -> None:
        AbstractUDFMap.__post_init__(self)
        if self.batch_size != "auto":
            _check_positive_int("batch_size", self.batch_size, allow_none=True)
        _check_choice("batch_format", self.batch_format, BATCH_FORMATS)

    @property
    def name(self) -> str:
        return self._named(f"MapBatches({fn_name(self.fn)})")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class MapRows(AbstractUDFMap):
    """``fn(row: dict) -> dict``, one output row per input row."""

    preserves_rows: ClassVar[bool] = True

    @property
    def name(self) -> str:
        return self._named(f"Map({fn_name(self.fn)})")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class FlatMap(AbstractUDFMap):
    """``fn(row: dict) -> list[dict]``, any number of output rows per input row."""

    @property
    def name(self) -> str:
        return self._named(f"FlatMap({fn_name(self.fn)})")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Filter(AbstractUDFMap):
    """Keep the rows for which ``fn(row)`` is true, or where the expression ``expr`` is."""

    expr: Any = None  # streamdata.expressions.Expr

    fn_required: ClassVar[bool] = False
    preserves_columns: ClassVar[bool] = True

    def __post_init__(self) -> None:
        AbstractUDFMap.__post_init__(self)
        if (self.fn is None) == (self.expr is None):
            raise PlanError("filter takes exactly one of fn or expr")
        if self.expr is not None:
            if not isinstance(self.expr, Expr):
                raise PlanError(f"filter expr must be an expression (sd.col(...) > ...), "
                                f"got {type(self.expr).__name__}")

    @property
    def name(self) -> str:
        if self.expr is not None:
            return self._named(f"Filter({self.expr.compact()})")
        return self._named(f"Filter({fn_name(self.fn)})")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Project(AbstractMap):
    """Column selection, applied in order: keep ``select`` (None: all), drop ``drop``,
    then rename by ``rename`` (old → new)."""

    select: tuple[str, ...] | None = None
    drop: tuple[str, ...] = ()
    rename: FrozenDict = field(default_factory=FrozenDict)

    preserves_rows: ClassVar[bool] = True

    def __post_init__(self) -> None:
        AbstractMap.__post_init__(self)
        if self.select is not None:
            _set(self, "select", _str_tuple("select_columns", self.select))
            if len(set(self.select)) != len(self.select):
                raise PlanError(f"select_columns has duplicate names: {list(self.select)}")
        _set(self, "drop", _str_tuple("drop_columns", self.drop))
        _set(self, "rename", _frozen(self.rename))
        for old, new in self.rename.items():
            if not isinstance(old, str) or not isinstance(new, str):
                raise PlanError(f"rename_columns maps names to names, got {old!r}: {new!r}")
        if len(set(self.rename.values())) != len(self.rename):
            raise PlanError(f"rename_columns maps two columns to one name: {dict(self.rename)}")

    @property
    def name(self) -> str:
        parts = []
        if self.select is not None:
            parts.append(f"select={list(self.select)}")
        if self.drop:
            parts.append(f"drop={list(self.drop)}")
        if self.rename:
            parts.append(f"rename={dict(self.rename)}")
        return self._named(f"Project({', '.join(parts)})")

    def output_columns(self, columns: list[str]) -> list[str]:
        """Apply this projection to column names; raises ColumnNotFoundError.

        Example:
            >>> Project(select=("a", "b"), rename={"a": "x"}).output_columns(["a", "b", "c"])
            ['x', 'b']
        """
        if self.select is not None:
            for c in self.select:
                if c not in columns:
                    raise ColumnNotFoundError(c, columns)
            columns = list(self.select)
        for c in self.drop:
            if c not in columns:
                raise ColumnNotFoundError(c, columns)
        columns = [c for c in columns if c not in self.drop]
        for c in self.rename:
            if c not in columns:
                raise ColumnNotFoundError(c, columns)
        return [self.rename.get(c, c) for c in columns]

    def infer_schema(self, input_schemas: list[pa.Schema | None]) -> pa.Schema | None:
        schema = input_schemas[0] if input_schemas else None
        if schema is None:
            return None
        kept = self.output_columns(list(schema.names))
        back = {new: old for old, new in self.rename.items()}
        return pa.schema([schema.field(back.get(c, c)).with_name(c) for c in kept],
                         metadata=schema.metadata)

    def num_rows(self, input_rows: Callable[[LogicalNode], int | None], *,
                 cheap: bool = False) -> int | None:
        return input_rows(self.input)  # the same rows, other columns


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class WithColumn(AbstractMap):
    """Add (or replace) column ``column`` computed by the expression ``expr``."""

    column: str
    expr: Any  # streamdata.expressions.Expr

    preserves_rows: ClassVar[bool] = True

    def __post_init__(self) -> None:
        AbstractMap.__post_init__(self)
        if not isinstance(self.column, str) or not self.column:
            raise PlanError(f"with_column needs a column name, got {self.column!r}")
        if not isinstance(self.expr, Expr):
            raise PlanError(f"with_column needs an expression (sd.col / sd.lit), "
                            f"got {type(self.expr).__name__}")

    @property
    def name(self) -> str:
        return self._named(f"WithColumn({self.column}={self.expr.compact()})")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class RandomSample(AbstractMap):
    """Keep each row with probability ``fraction`` (seeded per block when ``seed`` is set)."""

    fraction: float
    seed: int | None = None

    preserves_columns: ClassVar[bool] = True

    def __post_init__(self) -> None:
        AbstractMap.__post_init__(self)
        if not isinstance(self.fraction, (int, float)) or not 0.0 <= self.fraction <= 1.0:
            raise PlanError(f"random_sample fraction must be in [0, 1], got {self.fraction!r}")

    @property
    def name(self) -> str:
        return self._named(f"RandomSample({self.fraction})")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class FusedMap(AbstractMap):
    """Several maps run one after another inside one task (or one actor).

    ``stages`` are detached map nodes (no inputs), applied in order to each block.
    Made by the map-fusion rule; ``compute`` and ``ray_remote_args`` are the fused ones.
    """

    stages: tuple[AbstractMap, ...] = ()

    def __post_init__(self) -> None:
        AbstractMap.__post_init__(self)
        _set(self, "stages", tuple(self.stages))
        if len(self.stages) < 2:
            raise PlanError("FusedMap needs at least two stages")
        for stage in self.stages:
            if not isinstance(stage, AbstractMap) or isinstance(stage, FusedMap) or stage.inputs:
                raise PlanError(f"FusedMap stages must be detached, unfused maps, got {stage!r}")
        if sum(s.uses_actors for s in self.stages) > 1:
            raise PlanError("FusedMap holds at most one actor stage")

    @property
    def preserves_rows_all(self) -> bool:
        """Whether every stage preserves rows."""
        return all(s.preserves_rows for s in self.stages)

    @property
    def name(self) -> str:
        return self._named("->".join(s.name for s in self.stages))


#: expression nodes that are vectorized Arrow kernels over the block's own columns (not a
#: Python UDF, a download, or a generator whose values depend on the task)
ARROW_EXPRESSIONS = (AliasExpr, BinaryExpr, CallExpr, ColumnExpr, IsInExpr, LiteralExpr, UnaryExpr)


def arrow_expressions_only(node: LogicalNode) -> bool:
    """Whether ``node`` is a map (fused or not) of column expressions only, as tasks with
    no resources of their own: ``with_column``, ``filter(expr=...)``, projections.

    Example:
        >>> from streamdata.expressions import col
        >>> arrow_expressions_only(WithColumn(column="c", expr=col("a") * 2))
        True
        >>> arrow_expressions_only(Filter(fn=bool))
        False
    """
    if not (isinstance(node, AbstractMap) and isinstance(node.compute, TaskPoolStrategy)
            and node.compute.size is None and not node.ray_remote_args):
        return False
    for stage in node.stages if isinstance(node, FusedMap) else (node,):
        if isinstance(stage, Project):
            continue
        expr = stage.expr if isinstance(stage, (WithColumn, Filter)) else None
        if not isinstance(expr, Expr) or getattr(stage, "fn", None) is not None:
            return False
        if not all(isinstance(e, ARROW_EXPRESSIONS) for e in expr.walk()):
            return False
    return True


__all__ = [
    "ARROW_EXPRESSIONS", "AbstractMap", "AbstractUDFMap", "MapBatches", "MapRows", "FlatMap", "Filter",
    "Project", "WithColumn", "RandomSample", "FusedMap", "arrow_expressions_only",
]
