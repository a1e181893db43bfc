"""Building blocks of every logical node: the base class, compute strategies and checks.

:class:`LogicalNode` is the frozen dataclass every node of
:mod:`streamdata.plan.logical` derives from; :class:`TaskPoolStrategy` and
:class:`ActorPoolStrategy` say where a map runs; :class:`FrozenDict` holds a
node's mappings (remote args, keyword arguments) read-only. The ``_check_*``,
``_set``, ``_frozen`` and ``_str_tuple`` helpers are shared by the node modules
to normalise and validate fields in ``__post_init__``; they raise
:class:`~streamdata.errors.PlanError`.

Example:
    >>> @dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
    ... class Source(LogicalNode):
    ...     arity = 0
    >>> node = LogicalNode(inputs=[Source()])
    >>> node.inputs, node.input.name
    ((Source,), 'Source')
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterator, Mapping

import pyarrow as pa

from streamdata.errors import PlanError

from streamdata.block import BATCH_FORMATS  # the one definition (re-exported here)


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
    """``value`` as a FrozenDict (None: an empty one)."""
    return value if isinstance(value, FrozenDict) else FrozenDict(value)


def _set(node: Any, name: str, value: Any) -> None:
    """Normalise a field of a frozen node inside ``__post_init__``."""
    object.__setattr__(node, name, value)


def _check_choice(what: str, value: Any, choices: tuple) -> None:
    """Raise PlanError naming the ``choices`` unless ``value`` is one of them."""
    if value not in choices:
        raise PlanError(f"{what} must be one of {list(choices)}, got {value!r}")


def _check_positive_int(what: str, value: Any, *, allow_none: bool = False,
                        minimum: int = 1) -> None:
    """Raise PlanError unless ``value`` is an int >= ``minimum`` (or None, if allowed)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PlanError(f"{what} must be an integer >= {minimum}, got {value!r}")


def _str_tuple(what: str, cols: Any) -> tuple[str, ...]:
    """Column names (one name or an iterable of names) as a tuple of str."""
    if isinstance(cols, str):
        cols = (cols,)
    cols = tuple(cols)
    for c in cols:
        if not isinstance(c, str):
            raise PlanError(f"{what} takes column names (str), got {c!r}")
    return cols


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
    grow with the available resources; ``initial_size`` actors are started first
    (default ``min_size``). ``max_concurrent_calls_per_actor`` calls run at once in one
    actor (threads; default 1) and ``max_tasks_in_flight_per_actor`` are queued on it.
    A synchronous UDF's calls still run one at a time in an actor unless
    ``enable_true_multi_threading=True`` (async UDFs run concurrently anyway), as in Ray.

    Example:
        >>> s = ActorPoolStrategy(size=2)
        >>> (s.min_size, s.max_size)
        (2, 2)
    """

    size: int | None = None
    min_size: int | None = None
    max_size: int | None = None
    max_tasks_in_flight_per_actor: int | None = None
    initial_size: int | None = None
    max_concurrent_calls_per_actor: int | None = None
    enable_true_multi_threading: bool | None = None

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
        _check_positive_int("ActorPoolStrategy.max_concurrent_calls_per_actor",
                            self.max_concurrent_calls_per_actor, allow_none=True)
        _check_positive_int("ActorPoolStrategy.initial_size", self.initial_size, allow_none=True)
        if self.initial_size is not None and (
                self.initial_size < self.min_size
                or (self.max_size is not None and self.initial_size > self.max_size)):
            raise PlanError(f"ActorPoolStrategy: initial_size {self.initial_size} must lie between "
                            f"min_size {self.min_size} and max_size {self.max_size}")
        if self.enable_true_multi_threading not in (None, True, False):
            raise PlanError(f"ActorPoolStrategy.enable_true_multi_threading must be a bool, got "
                            f"{self.enable_true_multi_threading!r}")


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

    def num_rows(self, input_rows: Callable[["LogicalNode"], int | None], *,
                 cheap: bool = False) -> int | None:
        """This node's output row count when metadata gives it without running, else None.

        Args:
            input_rows: the row count of an input node (asked only when needed).
            cheap: answer without even reading file footers (for display).
        """
        return None

    def __repr__(self) -> str:
        return self.name


__all__ = [
    "BATCH_FORMATS", "FrozenDict", "fn_name", "is_callable_class", "TaskPoolStrategy",
    "ActorPoolStrategy", "ComputeStrategy", "LogicalNode",
]
