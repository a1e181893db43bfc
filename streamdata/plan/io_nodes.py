"""Where data enters and leaves a logical plan: :class:`Read`, :class:`InputData`, :class:`Write`.

A :class:`Read` reads a :class:`~streamdata.io.datasource.Datasource` (and records what
the optimizer pushed into it); an :class:`InputData` holds blocks already in the
object store (a materialized dataset); a :class:`Write` sends its input into a
:class:`~streamdata.io.datasink.Datasink`.

Example:
    >>> from streamdata.io.datasource import Datasource
    >>> class Src(Datasource):
    ...     name = "ReadSrc"
    ...     def get_read_tasks(self, parallelism):
    ...         return []
    >>> Read(datasource=Src()).with_pushdown(Src(), "columns", "['a']").name
    "ReadSrc[columns=['a']]"
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, ClassVar

import pyarrow as pa

from streamdata.errors import PlanError
from streamdata.io.datasink import Datasink
from streamdata.io.datasource import Datasource
from streamdata.plan.nodes_base import (
    FrozenDict,
    LogicalNode,
    _check_positive_int,
    _frozen,
    _set,
)

# --------------------------------------------------------------------------- sources


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Read(LogicalNode):
    """Read a :class:`Datasource`.

    ``override_num_blocks`` is the user's request; ``parallelism`` is the number of read
    tasks the optimizer chose (the lowering uses ``parallelism``, which the read-parallelism rule sets).
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

    def num_rows(self, input_rows: Callable[[LogicalNode], int | None], *,
                 cheap: bool = False) -> int | None:
        if cheap and self.datasource.input_files():
            return None  # counting would read file footers
        return self.datasource.num_rows()


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

    def num_rows(self, input_rows: Callable[[LogicalNode], int | None], *,
                 cheap: bool = False) -> int | None:
        total = 0
        for bundle in self.bundles:
            rows = bundle.num_rows()
            if rows is None:
                return None
            total += rows
        return total


# --------------------------------------------------------------------------- sink


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Write(LogicalNode):
    """Write the input into ``datasink``; outputs one small block of write results."""

    datasink: Datasink
    concurrency: int | None = None
    ray_remote_args: FrozenDict = field(default_factory=FrozenDict)
    #: each write task gets at least this many rows (so each file has them, but the last)
    min_rows_per_write: int | None = None

    def __post_init__(self) -> None:
        LogicalNode.__post_init__(self)
        if not isinstance(self.datasink, Datasink):
            raise PlanError(f"Write needs a Datasink, got {type(self.datasink).__name__}")
        _check_positive_int("Write.concurrency", self.concurrency, allow_none=True)
        _check_positive_int("min_rows_per_file", self.min_rows_per_write, allow_none=True)
        _set(self, "ray_remote_args", _frozen(self.ray_remote_args))

    @property
    def name(self) -> str:
        return f"Write({self.datasink.name})"


__all__ = ["Read", "InputData", "Write"]
