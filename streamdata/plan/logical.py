"""The logical plan: immutable, typed nodes, one per Dataset operation.

Every Dataset method adds one node. Nodes are frozen dataclasses with an
``inputs`` tuple (no parent pointers); invariants are checked at construction
and raise :class:`~streamdata.errors.PlanError` naming the valid alternatives.
Nodes compare by identity (``eq=False``): they may carry user functions,
expressions and datasources, whose equality means nothing structural. Rules
rebuild plans with :meth:`LogicalPlan.transform_up`, which reuses unchanged
subtrees (so "nothing changed" is ``new.root is old.root``).

Example:
    >>> class Src(Datasource):
    ...     name = "ReadSrc"
    ...     def get_read_tasks(self, parallelism):
    ...         return []
    >>> read = Read(datasource=Src())
    >>> plan = LogicalPlan(Limit(inputs=(MapBatches(inputs=(read,), fn=len),), limit=5))
    >>> print(plan.explain())
    Limit(5)
    +- MapBatches(len)
       +- ReadSrc
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Iterator, Mapping

import pyarrow as pa

from streamdata.errors import ColumnNotFoundError, PlanError
from streamdata.io.datasink import Datasink
from streamdata.io.datasource import Datasource

BATCH_FORMATS = ("default", "numpy", "pandas", "pyarrow")
JOIN_TYPES = ("inner", "left_outer", "right_outer", "full_outer",
              "left_semi", "right_semi", "left_anti", "right_anti")


class FrozenDict(Mapping[str, Any]):
    """A read-only, picklable mapping (e.g. remote args of a node).

    Example:
        >>> d = FrozenDict({"num_cpus": 1})
        >>> dict(**d), d["num_cpus"], len(d)
        ({'num_cpus': 1}, 1, 1)
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "_data", dict(data or {}))

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("FrozenDict is read-only")

    def __hash__(self) -> int:
        try:
            return hash(frozenset(self._data.items()))
        except TypeError:
            return hash(tuple(sorted(self._data)))

    def __reduce__(self) -> tuple:
        return (FrozenDict, (self._data,))

    def __repr__(self) -> str:
        return f"FrozenDict({self._data!r})"


def _frozen(value: Mapping[str, Any] | None) -> FrozenDict:
    return value if isinstance(value, FrozenDict) else FrozenDict(value)


def _set(node: Any, name: str, value: Any) -> None:
    """Normalise a field of a frozen node inside ``__post_init__``."""
    object.__setattr__(node, name, value)


def _check_choice(what: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        raise PlanError(f"{what} must be one of {list(choices)}, got {value!r}")


def _check_positive_int(what: str, value: Any, *, allow_none: bool = False,
                        minimum: int = 1) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PlanError(f"{what} must be an integer >= {minimum}, got {value!r}")


def fn_name(fn: Any) -> str:
    """A short display name of a user function, class or callable object.

    Example:
        >>> fn_name(len), fn_name(lambda x: x)
        ('len', '<lambda>')
    """
    name = getattr(fn, "__name__", None)
    if name is None:
        name = type(fn).__name__
    return str(name)


def is_callable_class(fn: Any) -> bool:
    """Whether ``fn`` is a class whose instances are callable (runs in an actor pool).

    Example:
        >>> class AddOne:
        ...     def __call__(self, batch):
        ...         return batch
        >>> is_callable_class(AddOne), is_callable_class(len), is_callable_class(bool)
        (True, False, False)
    """
    if not isinstance(fn, type):
        return False
    return any("__call__" in vars(k) for k in fn.__mro__ if k is not object)


# --------------------------------------------------------------------------- compute strategies


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskPoolStrategy:
    """Run a map as stateless tasks; ``size`` caps the tasks in flight (None: no cap).

    Example:
        >>> TaskPoolStrategy(size=4).size
        4
    """

    size: int | None = None

    def __post_init__(self) -> None:
        _check_positive_int("TaskPoolStrategy.size", self.size, allow_none=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class ActorPoolStrategy:
    """Run a map in a pool of actors autoscaling between ``min_size`` and ``max_size``.

    ``size=n`` is shorthand for ``min_size=max_size=n``; ``max_size=None`` lets the pool
    grow with the available resources.

    Example:
        >>> s = ActorPoolStrategy(size=2)
        >>> (s.min_size, s.max_size)
        (2, 2)
    """

    size: int | None = None
    min_size: int | None = None
    max_size: int | None = None
    max_tasks_in_flight_per_actor: int | None = None

    def __post_init__(self) -> None:
        if self.size is not None:
            _check_positive_int("ActorPoolStrategy.size", self.size)
            if self.min_size is not None or self.max_size is not None:
                raise PlanError("ActorPoolStrategy takes either size or min_size/max_size, not both")
            _set(self, "min_size", self.size)
            _set(self, "max_size", self.size)
        if self.min_size is None:
            _set(self, "min_size", 1)
        _check_positive_int("ActorPoolStrategy.min_size", self.min_size)
        _check_positive_int("ActorPoolStrategy.max_size", self.max_size, allow_none=True)
        if self.max_size is not None and self.max_size < self.min_size:
            raise PlanError(f"ActorPoolStrategy: max_size {self.max_size} < min_size {self.min_size}")
        _check_positive_int("ActorPoolStrategy.max_tasks_in_flight_per_actor",
                            self.max_tasks_in_flight_per_actor, allow_none=True)


ComputeStrategy = TaskPoolStrategy | ActorPoolStrategy


# --------------------------------------------------------------------------- base node


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class LogicalNode:
    """Base of every logical node.

    Class attributes describe the node to rules: ``arity`` (None: any number >= 1),
    ``preserves_rows`` (same rows in, same rows out, in order: limits may pass it),
    ``preserves_columns`` (the output has the input's columns: schema passes through).
    """

    inputs: tuple["LogicalNode", ...] = ()

    arity: ClassVar[int | None] = 1
    preserves_rows: ClassVar[bool] = False
    preserves_columns: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if not isinstance(self.inputs, tuple):
            _set(self, "inputs", tuple(self.inputs))
        for node in self.inputs:
            if not isinstance(node, LogicalNode):
                raise PlanError(f"{type(self).__name__} input must be a LogicalNode, got {node!r}")
        self._check_arity()

    def _check_arity(self) -> None:
        n = len(self.inputs)
        if self.arity is None:
            if n < 1:
                raise PlanError(f"{type(self).__name__} needs at least one input")
        elif n != self.arity:
            raise PlanError(f"{type(self).__name__} needs {self.arity} input(s), got {n}")

    @property
    def input(self) -> "LogicalNode":
        """The single input of a unary node."""
        return self.inputs[0]

    @property
    def name(self) -> str:
        """Display name used by ``explain()`` and stats."""
        return type(self).__name__

    def with_inputs(self, *inputs: "LogicalNode") -> "LogicalNode":
        """A copy of this node reading from ``inputs``."""
        return dataclasses.replace(self, inputs=tuple(inputs))

    def replace(self, **changes: Any) -> "LogicalNode":
        """A copy with some fields changed (invariants are checked again)."""
        return dataclasses.replace(self, **changes)

    def infer_schema(self, input_schemas: list[pa.Schema | None]) -> pa.Schema | None:
        """Output schema from the inputs' schemas when cheap to know, else None."""
        if self.preserves_columns and input_schemas:
            return input_schemas[0]
        return None

    def __repr__(self) -> str:
        return self.name


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Read(LogicalNode):
    """Read a :class:`Datasource`.

    ``override_num_blocks`` is the user's request; ``parallelism`` is the number of read
    tasks the optimizer chose (the planner uses ``override_num_blocks or parallelism``).
    """

    datasource: Datasource
    override_num_blocks: int | None = None
    parallelism: int | None = None
    concurrency: int | None = None
    ray_remote_args: FrozenDict = field(default_factory=FrozenDict)
    pushdowns: tuple[tuple[str, str], ...] = ()

    arity: ClassVar[int | None] = 0

    def __post_init__(self) -> None:
        LogicalNode.__post_init__(self)
        if not isinstance(self.datasource, Datasource):
            raise PlanError(f"Read needs a Datasource, got {type(self.datasource).__name__}")
        _check_positive_int("override_num_blocks", self.override_num_blocks, allow_none=True)
        _check_positive_int("Read.parallelism", self.parallelism, allow_none=True)
        _check_positive_int("Read.concurrency", self.concurrency, allow_none=True)
        _set(self, "ray_remote_args", _frozen(self.ray_remote_args))
        _set(self, "pushdowns", tuple(self.pushdowns))

    @property
    def name(self) -> str:
        """The source's name, with what the optimizer pushed into it, e.g.
        ``ReadParquet[columns=['a'], filter=(col('a') > 1)]``."""
        if not self.pushdowns:
            return self.datasource.name
        return f"{self.datasource.name}[{', '.join(f'{k}={v}' for k, v in self.pushdowns)}]"

    def with_pushdown(self, datasource: Datasource, kind: str, what: str) -> "Read":
        """A copy reading ``datasource`` (the result of a pushdown), noting ``kind=what``
        for ``explain()`` (a later pushdown of the same kind replaces the note)."""
        notes = tuple((k, v) for k, v in self.pushdowns if k != kind) + ((kind, what),)
        return dataclasses.replace(self, datasource=datasource, pushdowns=notes)

    def infer_schema(self, input_schemas: list[pa.Schema | None]) -> pa.Schema | None:
        return self.datasource.schema()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class InputData(LogicalNode):
    """Blocks already in the object store (a materialized dataset).

    ``bundles`` is a tuple of the executor's RefBundles (opaque to the plan);
    ``schema`` is their schema when known.
    """

    bundles: tuple = ()
    schema: pa.Schema | None = None

    arity: ClassVar[int | None] = 0

    def __post_init__(self) -> None:
        LogicalNode.__post_init__(self)
        if not isinstance(self.bundles, tuple):
            _set(self, "bundles", tuple(self.bundles))

    def infer_schema(self, input_schemas: list[pa.Schema | None]) -> pa.Schema | None:
        return self.schema


# --------------------------------------------------------------------------- row-level maps


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

    ``batch_size`` None means one call per block; ``batch_format`` is one of
    ``"default"`` (numpy), ``"numpy"``, ``"pandas"``, ``"pyarrow"``.
    """

    batch_size: int | None = None
    batch_format: str = "default"
    zero_copy_batch: bool = False

    def __post_init__(self) -> None:
        AbstractUDFMap.__post_init__(self)
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
            from streamdata.expressions import Expr
            if not isinstance(self.expr, Expr):
                raise PlanError(f"filter expr must be an expression (sd.col(...) > ...), "
                                f"got {type(self.expr).__name__}")

    @property
    def name(self) -> str:
        if self.expr is not None:
            return self._named(f"Filter({self.expr})")
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


def _str_tuple(what: str, cols: Any) -> tuple[str, ...]:
    if isinstance(cols, str):
        cols = (cols,)
    cols = tuple(cols)
    for c in cols:
        if not isinstance(c, str):
            raise PlanError(f"{what} takes column names (str), got {c!r}")
    return cols


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
        from streamdata.expressions import Expr
        if not isinstance(self.expr, Expr):
            raise PlanError(f"with_column needs an expression (sd.col / sd.lit), "
                            f"got {type(self.expr).__name__}")

    @property
    def name(self) -> str:
        return self._named(f"WithColumn({self.column}={self.expr})")


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


# --------------------------------------------------------------------------- other one-input ops


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Limit(LogicalNode):
    """The first ``limit`` rows."""

    limit: int

    preserves_columns: ClassVar[bool] = True

    def __post_init__(self) -> None:
        LogicalNode.__post_init__(self)
        _check_positive_int("limit", self.limit, minimum=0)

    @property
    def name(self) -> str:
        return f"Limit({self.limit})"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Repartition(LogicalNode):
    """Exactly ``num_blocks`` blocks; ``shuffle`` redistributes rows randomly (all-to-all)."""

    num_blocks: int
    shuffle: bool = False

    preserves_columns: ClassVar[bool] = True

    def __post_init__(self) -> None:
        LogicalNode.__post_init__(self)
        _check_positive_int("repartition num_blocks", self.num_blocks)

    @property
    def name(self) -> str:
        return f"Repartition({self.num_blocks}{', shuffle' if self.shuffle else ''})"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class RandomShuffle(LogicalNode):
    """Rows in a random order (seeded when ``seed`` is set)."""

    seed: int | None = None
    num_blocks: int | None = None

    preserves_columns: ClassVar[bool] = True

    def __post_init__(self) -> None:
        LogicalNode.__post_init__(self)
        _check_positive_int("random_shuffle num_blocks", self.num_blocks, allow_none=True)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class RandomizeBlockOrder(LogicalNode):
    """Blocks in a random order (rows inside a block keep their order)."""

    seed: int | None = None

    preserves_columns: ClassVar[bool] = True


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Sort(LogicalNode):
    """Rows ordered by ``keys``; ``descending`` has one flag per key."""

    keys: tuple[str, ...]
    descending: tuple[bool, ...] = ()

    preserves_columns: ClassVar[bool] = True

    def __post_init__(self) -> None:
        LogicalNode.__post_init__(self)
        _set(self, "keys", _str_tuple("sort key", self.keys))
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


# --------------------------------------------------------------------------- n-ary ops


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Union(LogicalNode):
    """The rows of every input, one after another."""

    arity: ClassVar[int | None] = None
    preserves_columns: ClassVar[bool] = True

    def _check_arity(self) -> None:
        if len(self.inputs) < 2:
            raise PlanError(f"Union needs at least two inputs, got {len(self.inputs)}")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Zip(LogicalNode):
    """The columns of both inputs side by side (equal row counts)."""

    arity: ClassVar[int | None] = 2

    def infer_schema(self, input_schemas: list[pa.Schema | None]) -> pa.Schema | None:
        if len(input_schemas) != 2 or None in input_schemas:
            return None
        left, right = input_schemas
        fields = list(left)
        for f in right:
            name = f.name
            while name in [g.name for g in fields]:
                name = f"{name}_1"
            fields.append(f.with_name(name))
        return pa.schema(fields)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Join(LogicalNode):
    """A hash join of the two inputs on ``on`` (left) = ``right_on`` (right; default ``on``)."""

    on: tuple[str, ...]
    right_on: tuple[str, ...] | None = None
    join_type: str = "inner"
    left_suffix: str | None = None
    right_suffix: str | None = None
    num_partitions: int | None = None

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

    @property
    def name(self) -> str:
        return f"Join({self.join_type}, on={list(self.on)})"


# --------------------------------------------------------------------------- sink


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Write(LogicalNode):
    """Write the input into ``datasink``; outputs one small block of write results."""

    datasink: Datasink
    concurrency: int | None = None
    ray_remote_args: FrozenDict = field(default_factory=FrozenDict)

    def __post_init__(self) -> None:
        LogicalNode.__post_init__(self)
        if not isinstance(self.datasink, Datasink):
            raise PlanError(f"Write needs a Datasink, got {type(self.datasink).__name__}")
        _check_positive_int("Write.concurrency", self.concurrency, allow_none=True)
        _set(self, "ray_remote_args", _frozen(self.ray_remote_args))

    @property
    def name(self) -> str:
        return f"Write({self.datasink.name})"


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True, slots=True)
class LogicalPlan:
    """A logical plan: its root node (the last operation).

    Example:
        >>> plan = LogicalPlan(InputData())
        >>> plan.transform_up(lambda n: n) is plan
        True
    """

    root: LogicalNode

    def __post_init__(self) -> None:
        if not isinstance(self.root, LogicalNode):
            raise PlanError(f"LogicalPlan root must be a LogicalNode, got {self.root!r}")

    def transform_up(self, fn: Callable[[LogicalNode], LogicalNode]) -> "LogicalPlan":
        """Rebuild bottom-up: each node's inputs first, then ``fn(node)``.

        Unchanged subtrees are reused (a node whose inputs did not change is passed
        to ``fn`` as is), and a node shared by several consumers is visited once.
        Returns ``self`` when nothing changed.
        """
        memo: dict[int, LogicalNode] = {}

        def visit(node: LogicalNode) -> LogicalNode:
            done = memo.get(id(node))
            if done is not None:
                return done
            new_inputs = tuple(visit(i) for i in node.inputs)
            if any(a is not b for a, b in zip(new_inputs, node.inputs)):
                node_in = node.with_inputs(*new_inputs)
            else:
                node_in = node
            out = fn(node_in)
            if not isinstance(out, LogicalNode):
                raise PlanError(f"a plan rewrite returned {out!r}, not a LogicalNode")
            memo[id(node)] = out
            return out

        new_root = visit(self.root)
        return self if new_root is self.root else LogicalPlan(new_root)

    def nodes(self) -> list[LogicalNode]:
        """Every node once, inputs before their consumers."""
        seen: set[int] = set()
        order: list[LogicalNode] = []

        def visit(node: LogicalNode) -> None:
            if id(node) in seen:
                return
            seen.add(id(node))
            for i in node.inputs:
                visit(i)
            order.append(node)

        visit(self.root)
        return order

    def sources(self) -> list[LogicalNode]:
        """The nodes without inputs (reads and input data)."""
        return [n for n in self.nodes() if not n.inputs]

    def schema(self) -> pa.Schema | None:
        """The output schema when it is known without running anything, else None."""
        cache: dict[int, pa.Schema | None] = {}
        for node in self.nodes():
            try:
                cache[id(node)] = node.infer_schema([cache[id(i)] for i in node.inputs])
            except Exception:  # noqa: BLE001 - a bad plan shows no schema; running it raises
                cache[id(node)] = None
        return cache[id(self.root)]

    def explain(self) -> str:
        """The plan as an indented tree, root first."""
        lines: list[str] = []

        def visit(node: LogicalNode, depth: int) -> None:
            prefix = "" if depth == 0 else "   " * (depth - 1) + "+- "
            lines.append(prefix + node.name)
            for i in node.inputs:
                visit(i, depth + 1)

        visit(self.root, 0)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.explain()


__all__ = [
    "BATCH_FORMATS", "JOIN_TYPES", "FrozenDict", "fn_name", "is_callable_class", "TaskPoolStrategy",
    "ActorPoolStrategy", "ComputeStrategy", "LogicalNode", "Read", "InputData", "AbstractMap",
    "AbstractUDFMap", "MapBatches", "MapRows", "FlatMap", "Filter", "Project", "WithColumn",
    "RandomSample", "FusedMap", "Limit", "Repartition", "RandomShuffle", "RandomizeBlockOrder",
    "Sort", "Aggregate", "MapGroups", "Union", "Zip", "Join", "Write", "LogicalPlan",
]
