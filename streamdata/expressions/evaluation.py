"""What an expression's evaluation knows about the task running it.

One :class:`EvalContext` per task: the generators (``monotonically_increasing_id``,
``random``) number rows and seed from it. Evaluations without one share a per-process
context whose task index is the process id.

Example:
    >>> ctx = EvalContext(task_index=3)
    >>> ctx.rows_seen
    0
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


@dataclass
class EvalContext:
    """What an evaluation may know about the task running it (one per task: it counts
    the rows it has numbered, for :func:`monotonically_increasing_id`).

    Attributes:
        task_index: the index of the task among those of its operator.
        execution_index: how many times the dataset ran before (for ``random``'s reseeding).
        rows_seen: rows numbered so far in this task.
        blocks_seen: blocks evaluated so far in this task.
        partition_id: the upper bits of ``monotonically_increasing_id`` (default: ``task_index``).
    """

    task_index: int = 0
    execution_index: int = 0
    rows_seen: int = 0
    blocks_seen: int = 0
    partition_id: int | None = None


_PROCESS_CONTEXT: list[EvalContext] = []


def process_context() -> EvalContext:
    """The context of evaluations without one: task 0, ids prefixed by the process id
    (unique among the processes alive together)."""
    if not _PROCESS_CONTEXT or _PROCESS_CONTEXT[0].partition_id != os.getpid():
        _PROCESS_CONTEXT[:] = [EvalContext(partition_id=os.getpid())]
    return _PROCESS_CONTEXT[0]


def _is_integer(value: Any) -> bool:
    return pa.types.is_integer(value.type)


def to_float(value: Any) -> Any:
    if pa.types.is_integer(value.type) or pa.types.is_null(value.type):
        return pc.cast(value, pa.float64())
    return value


def _int_floordiv(a: Any, b: Any) -> Any:
    """Python's floor division on integers (Arrow's divide truncates toward zero)."""
    q = pc.divide_checked(a, b)
    r = pc.subtract(a, pc.multiply(q, b))
    adjust = pc.and_(pc.not_equal(r, 0), pc.xor(pc.less(r, 0), pc.less(b, 0)))
    return pc.if_else(adjust, pc.subtract(q, 1), q)


def floordiv(a: Any, b: Any) -> Any:
    """Python's ``a // b``: exact on integers, ``floor(a / b)`` otherwise."""
    if _is_integer(a) and _is_integer(b):
        return _int_floordiv(a, b)
    return pc.floor(pc.divide(to_float(a), to_float(b)))


__all__ = ["EvalContext", "floordiv", "process_context", "to_float"]
