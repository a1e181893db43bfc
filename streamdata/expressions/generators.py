"""Expressions that make new values per row: :func:`random`, :func:`uuid`,
:func:`monotonically_increasing_id`.

They are not idempotent (:meth:`Expr.is_idempotent` is False), so optimizer rules must
not move or duplicate them, and they cannot run inside a reader (no pushdown).
Numbering and seeding use the running task's
:class:`~streamdata.expressions.evaluation.EvalContext`.

Example:
    >>> import pyarrow as pa
    >>> from streamdata.expressions.evaluation import EvalContext
    >>> ctx = EvalContext(task_index=1)
    >>> t = pa.table({"a": [7, 8]})
    >>> monotonically_increasing_id().evaluate(t, ctx).to_pylist()
    [8589934592, 8589934593]
    >>> monotonically_increasing_id().evaluate(t, ctx).to_pylist()
    [8589934594, 8589934595]
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from streamdata.errors import PlanError
from streamdata.expressions.core import ArrowValue, EvalContext, Expr

_ROW_BITS = 33


class _Generator(Expr):
    __slots__ = ()
    _arrow = False
    _idempotent = False

    def nullable(self, input_schema: pa.Schema) -> bool:
        return False


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class MonotonicallyIncreasingIdExpr(_Generator):
    """Unique int64 ids, increasing within a task: ``task_index << 33 | row number in the task``."""

    def key(self) -> tuple:
        return ("monotonically_increasing_id", id(self))

    def get_type(self, input_schema: pa.Schema) -> pa.DataType:
        return pa.int64()

    def _eval(self, table: pa.Table, ctx: EvalContext) -> ArrowValue:
        part = ctx.task_index if ctx.partition_id is None else ctx.partition_id
        start = (part << _ROW_BITS) + ctx.rows_seen
        ctx.rows_seen += table.num_rows
        return pa.array(np.arange(start, start + table.num_rows, dtype=np.int64))

    def compact(self) -> str:
        return "monotonically_increasing_id()"

    def _tree(self) -> tuple[str, tuple]:
        return "MONOTONICALLY_INCREASING_ID()", ()


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class RandomExpr(_Generator):
    """Uniform floats in [0, 1) (float64), seeded when ``seed`` is given."""

    seed: int | None = None
    reseed_after_execution: bool = True

    def __post_init__(self) -> None:
        if self.seed is not None and (not isinstance(self.seed, int) or isinstance(self.seed, bool)
                                      or self.seed < 0):
            raise PlanError(f"random(seed=...) takes a non-negative int or None, got {self.seed!r}")

    def key(self) -> tuple:
        return ("random", self.seed, self.reseed_after_execution)

    def get_type(self, input_schema: pa.Schema) -> pa.DataType:
        return pa.float64()

    def _eval(self, table: pa.Table, ctx: EvalContext) -> ArrowValue:
        if self.seed is None:
            rng = np.random.default_rng()
        else:
            parts = [self.seed, ctx.task_index, ctx.blocks_seen]
            if self.reseed_after_execution:
                parts.append(ctx.execution_index)
            rng = np.random.default_rng(parts)
        return pa.array(rng.random(table.num_rows))

    def compact(self) -> str:
        if self.seed is None:
            return "random()"
        return f"random(seed={self.seed}, reseed_after_execution={self.reseed_after_execution})"

    def _tree(self) -> tuple[str, tuple]:
        if self.seed is None:
            return "RANDOM()", ()
        return f"RANDOM(seed={self.seed}, reseed_after_execution={self.reseed_after_execution})", ()


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class UUIDExpr(_Generator):
    """A random (version 4) UUID string per row."""

    def key(self) -> tuple:
        return ("uuid", id(self))

    def get_type(self, input_schema: pa.Schema) -> pa.DataType:
        return pa.string()

    def _eval(self, table: pa.Table, ctx: EvalContext) -> ArrowValue:
        return uuid4_strings(table.num_rows)

    def compact(self) -> str:
        return "uuid()"

    def _tree(self) -> tuple[str, tuple]:
        return "UUID()", ()


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_TEXT_POS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])


def uuid4_strings(n: int) -> pa.Array:
    """``n`` random version-4 UUIDs as 36-character strings, built vectorized from ``os.urandom``.

    Example:
        >>> import uuid as u
        >>> [u.UUID(s).version for s in uuid4_strings(2).to_pylist()]
        [4, 4]
    """
    raw = np.frombuffer(os.urandom(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
    text = np.full((n, 36), ord("-"), dtype=np.uint8)
    digits = np.empty((n, 32), dtype=np.uint8)
    digits[:, 0::2], digits[:, 1::2] = _HEX[raw >> 4], _HEX[raw & 0x0F]
    text[:, _TEXT_POS] = digits
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text.tobytes()))


def monotonically_increasing_id() -> MonotonicallyIncreasingIdExpr:
    """Unique, increasing int64 ids: the task's index in the upper 31 bits and the row's
    number within the task in the lower 33 (consecutive within a task, not across tasks).

    Example:
        >>> print(monotonically_increasing_id())
        MONOTONICALLY_INCREASING_ID()
    """
    return MonotonicallyIncreasingIdExpr()


def random(*, seed: int | None = None, reseed_after_execution: bool = True) -> RandomExpr:
    """Random floats in [0, 1), one per row.

    Args:
        seed: makes the values reproducible (mixed with the task's index and block
            number); None: fresh system randomness.
        reseed_after_execution: with a seed, also mix in the execution's index so
            each run of the dataset draws new values (reproducibly).

    Example:
        >>> import pyarrow as pa
        >>> v = random(seed=1).evaluate(pa.table({"a": [1, 2, 3]})).to_pylist()
        >>> len(v), all(0.0 <= x < 1.0 for x in v)
        (3, True)
    """
    return RandomExpr(seed=seed, reseed_after_execution=bool(reseed_after_execution))


def uuid() -> UUIDExpr:
    """A random UUID (version 4) string per row.

    Example:
        >>> import pyarrow as pa
        >>> [len(u) for u in uuid().evaluate(pa.table({"a": [1, 2]})).to_pylist()]
        [36, 36]
    """
    return UUIDExpr()


__all__ = ["MonotonicallyIncreasingIdExpr", "RandomExpr", "UUIDExpr", "monotonically_increasing_id",
           "random", "uuid"]
