"""Logical nodes that stream blocks through without a barrier or user code.

:class:`Limit` (the first rows of one input), :class:`Union` (the rows of several
inputs, one after another), :class:`Zip` (the columns of several inputs side by side)
and :class:`StreamingSplit` (the rows dealt to ``n`` consumers of one execution).

Example:
    >>> from streamdata.plan.io_nodes import InputData
    >>> zipped = Zip(inputs=(InputData(), InputData()))
    >>> zipped.infer_schema([pa.schema([("a", pa.int64())]), pa.schema([("a", pa.string())])]).names
    ['a', 'a_1']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import pyarrow as pa

from streamdata.errors import PlanError
from streamdata.plan.nodes_base import LogicalNode, _check_positive_int


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

    def num_rows(self, input_rows: Callable[[LogicalNode], int | None], *,
                 cheap: bool = False) -> int | None:
        below = input_rows(self.input)
        return None if below is None else min(below, self.limit)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Union(LogicalNode):
    """The rows of every input, one after another."""

    arity: ClassVar[int | None] = None
    preserves_columns: ClassVar[bool] = True

    def _check_arity(self) -> None:
        if len(self.inputs) < 2:
            raise PlanError(f"Union needs at least two inputs, got {len(self.inputs)}")

    def num_rows(self, input_rows: Callable[[LogicalNode], int | None], *,
                 cheap: bool = False) -> int | None:
        counts = [input_rows(i) for i in self.inputs]
        return None if any(c is None for c in counts) else sum(counts)  # type: ignore[misc]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Mix(LogicalNode):
    """The inputs' blocks interleaved so that their rows follow ``weights``
    (``stop_on_shortest``: end when one input ends; else when the longest does)."""

    weights: tuple[float, ...] = ()
    stop_on_shortest: bool = False

    arity: ClassVar[int | None] = None
    preserves_columns: ClassVar[bool] = True

    def _check_arity(self) -> None:
        if len(self.inputs) < 2:
            raise PlanError(f"Mix needs at least two inputs, got {len(self.inputs)}")

    def __post_init__(self) -> None:
        LogicalNode.__post_init__(self)
        weights = tuple(self.weights) or (1.0,) * len(self.inputs)
        if len(weights) != len(self.inputs) or any(
                isinstance(w, bool) or not isinstance(w, (int, float)) or w <= 0 for w in weights):
            raise PlanError(f"mix weights must be {len(self.inputs)} positive numbers (one per "
                            f"dataset), got {list(self.weights)}")
        object.__setattr__(self, "weights", tuple(float(w) for w in weights))

    def num_rows(self, input_rows: Callable[[LogicalNode], int | None], *,
                 cheap: bool = False) -> int | None:
        if self.stop_on_shortest:
            return None
        counts = [input_rows(i) for i in self.inputs]
        return None if any(c is None for c in counts) else sum(counts)  # type: ignore[misc]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Zip(LogicalNode):
    """The columns of every input side by side (equal row counts); a name already taken
    becomes ``name_1``, ``name_2``, ... input by input, as in Ray."""

    arity: ClassVar[int | None] = None

    def _check_arity(self) -> None:
        if len(self.inputs) < 2:
            raise PlanError(f"Zip needs at least two inputs, got {len(self.inputs)}")

    def infer_schema(self, input_schemas: list[pa.Schema | None]) -> pa.Schema | None:
        from streamdata.exec.operators.block_tasks import zip_name

        if len(input_schemas) < 2 or None in input_schemas:
            return None
        fields = list(input_schemas[0])  # type: ignore[arg-type]
        for schema in input_schemas[1:]:
            for f in schema:  # type: ignore[union-attr]
                fields.append(f.with_name(zip_name(f.name, [g.name for g in fields])))
        return pa.schema(fields)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class StreamingSplit(LogicalNode):
    """The rows dealt to ``n`` consumers of one execution (``streaming_split``).

    ``equal``: every split gets exactly the same number of rows (the remainder is
    dropped). ``locality_hints`` are accepted for Ray's signature and not used.

    Example:
        >>> from streamdata.plan.io_nodes import InputData
        >>> StreamingSplit(inputs=(InputData(),), n=2, equal=True).name
        'StreamingSplit(2, equal=True)'
    """

    n: int
    equal: bool = False
    locality_hints: Any = None

    preserves_columns: ClassVar[bool] = True

    def __post_init__(self) -> None:
        LogicalNode.__post_init__(self)
        _check_positive_int("n", self.n)

    @property
    def name(self) -> str:
        return f"StreamingSplit({self.n}, equal={self.equal})"


__all__ = ["Limit", "Mix", "StreamingSplit", "Union", "Zip"]
