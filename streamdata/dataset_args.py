"""Argument checks shared by the facade (:class:`~streamdata.dataset.Dataset` and
:class:`~streamdata.grouped.GroupedData`): each turns what a user passed into the
fields of a logical node, or raises :class:`~streamdata.errors.PlanError` naming the
argument.

May import: base modules and :mod:`streamdata.plan` (node types); nothing that runs.

Example:
    >>> compute_strategy(len, None, 3)
    TaskPoolStrategy(size=3)
    >>> column_list("a", "select_columns")
    ['a']
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import pyarrow as pa

from streamdata import block as B
from streamdata.errors import PlanError
from streamdata.plan.logical import (
    ActorPoolStrategy, ComputeStrategy, TaskPoolStrategy, is_callable_class,
)


def normalize_batch_format(batch_format: str | None) -> str:
    """The canonical ``batch_format`` (see :func:`streamdata.block.normalize_batch_format`)."""
    return B.normalize_batch_format(batch_format)


def compute_strategy(fn: Any, compute: Any, concurrency: Any) -> ComputeStrategy:
    """Ray's rules: a function runs as tasks (``concurrency=n`` caps them), a callable class
    in an actor pool (``concurrency=n`` or ``(min, max)``; default: 1 actor, growing)."""
    is_class = is_callable_class(fn)
    if compute is not None:
        if concurrency is not None:
            raise PlanError("pass concurrency=... or compute=..., not both")
        if isinstance(compute, (TaskPoolStrategy, ActorPoolStrategy)):
            return compute
        if compute == "tasks":
            return TaskPoolStrategy()
        if compute == "actors":
            return ActorPoolStrategy()
        raise PlanError(f"compute must be 'tasks', 'actors', a TaskPoolStrategy or an "
                        f"ActorPoolStrategy, got {compute!r}")
    if concurrency is None:
        return ActorPoolStrategy(min_size=1) if is_class else TaskPoolStrategy()
    if isinstance(concurrency, bool):
        raise PlanError(f"concurrency must be an int or a (min, max) tuple, got {concurrency!r}")
    if isinstance(concurrency, int):
        return ActorPoolStrategy(size=concurrency) if is_class else TaskPoolStrategy(size=concurrency)
    if isinstance(concurrency, tuple) and len(concurrency) in (2, 3) and is_class:
        return ActorPoolStrategy(min_size=concurrency[0], max_size=concurrency[1])
    if isinstance(concurrency, tuple) and not is_class:
        raise PlanError("concurrency=(min, max) is for callable classes (actor pools); "
                        "a function takes concurrency=n")
    raise PlanError(f"concurrency must be an int or a (min, max) tuple, got {concurrency!r}")


def remote_args(num_cpus: float | None, num_gpus: float | None, memory: float | None,
                 extra: Mapping[str, Any]) -> dict[str, Any]:
    args = dict(extra)
    for key, value in (("num_cpus", num_cpus), ("num_gpus", num_gpus), ("memory", memory)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise PlanError(f"{key} must be a number >= 0, got {value!r}")
        args[key] = value
    return args


def udf_fields(fn: Any, *, what: str, compute: Any, concurrency: Any, fn_args: Any,
                fn_kwargs: Any, fn_constructor_args: Any, fn_constructor_kwargs: Any,
                num_cpus: Any, num_gpus: Any, memory: Any, ray_remote_args: Mapping[str, Any]
                ) -> dict[str, Any]:
    if not callable(fn):
        raise PlanError(f"{what} needs a function or a callable class, got {type(fn).__name__}")
    return dict(fn=fn, compute=compute_strategy(fn, compute, concurrency),
                fn_args=tuple(fn_args or ()), fn_kwargs=dict(fn_kwargs or {}),
                fn_constructor_args=tuple(fn_constructor_args or ()),
                fn_constructor_kwargs=dict(fn_constructor_kwargs or {}),
                ray_remote_args=remote_args(num_cpus, num_gpus, memory, ray_remote_args))


def column_list(cols: str | Sequence[str], what: str) -> list[str]:
    if isinstance(cols, str):
        return [cols]
    cols = list(cols)
    if not all(isinstance(c, str) for c in cols):
        raise PlanError(f"{what} takes column names (str), got {cols!r}")
    if len(set(cols)) != len(cols):
        raise PlanError(f"{what} got duplicate column names: {cols}")
    return cols


class AddColumn:
    """The batch function behind ``add_column``: ``batch[col] = fn(batch)``."""

    def __init__(self, col: str, fn: Callable[[Any], Any], batch_format: str) -> None:
        self.col, self.fn, self.batch_format = col, fn, batch_format
        self.__name__ = f"add_column({col})"

    def __call__(self, batch: Any) -> Any:
        values = self.fn(batch)
        if isinstance(batch, pa.Table):
            if not isinstance(values, (pa.Array, pa.ChunkedArray)):
                values = pa.array(values)
            if self.col in batch.column_names:
                return batch.set_column(batch.column_names.index(self.col), self.col, values)
            return batch.append_column(self.col, values)
        if self.batch_format == "pandas":
            batch = batch.copy(deep=False)
        else:
            batch = dict(batch)
        batch[self.col] = values
        return batch


__all__ = ["AddColumn", "column_list", "compute_strategy", "normalize_batch_format", "remote_args",
           "udf_fields"]
