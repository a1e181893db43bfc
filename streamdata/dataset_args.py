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
from streamdata.context import DataContext
from streamdata.errors import PlanError
from streamdata.plan.logical import (
    ActorPoolStrategy, ComputeStrategy, TaskPoolStrategy, is_callable_class,
)


def normalize_batch_format(batch_format: str | None) -> str:
    """The canonical ``batch_format`` (see :func:`streamdata.block.normalize_batch_format`)."""
    return B.normalize_batch_format(batch_format)


#: Ray's error for a GPU ``map_batches`` without an explicit integer ``batch_size``
GPU_BATCH_SIZE_MESSAGE = (
    "You must provide `batch_size` to `map_batches` when requesting GPUs. The optimal batch "
    "size depends on the model, data, and GPU used. We recommend using the largest batch "
    "size that doesn't result in your GPU device running out of memory.")


def map_batch_size(batch_size: Any, num_gpus: float | None) -> int | str | None:
    """``map_batches`` ' ``batch_size`` as a node field: an int, ``"auto"`` or None.

    ``"default"`` is the context's ``default_batch_size``; ``"auto"`` is kept (each task
    picks a size from its blocks' bytes per row). As Ray, a stage that asks for GPUs
    (``num_gpus > 0``) must give an integer.

    Example:
        >>> map_batch_size("auto", None), map_batch_size(8, 1), map_batch_size(None, 0)
        ('auto', 8, None)
        >>> map_batch_size("auto", 1)
        Traceback (most recent call last):
        ...
        streamdata.errors.PlanError: You must provide `batch_size` to `map_batches` when ...

    Raises:
        PlanError: not a positive int, None, ``"auto"`` or ``"default"``; or no int with GPUs.
    """
    if batch_size == "default":
        batch_size = DataContext.get_current().default_batch_size
    if (num_gpus is not None and not isinstance(num_gpus, bool)
            and isinstance(num_gpus, (int, float)) and num_gpus > 0
            and (batch_size is None or batch_size == "auto")):
        raise PlanError(GPU_BATCH_SIZE_MESSAGE)
    if batch_size == "auto" or batch_size is None:
        return batch_size
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise PlanError(f"batch_size must be a positive integer, None or 'auto', "
                        f"got {batch_size!r}")
    return batch_size


def compute_strategy(fn: Any, compute: Any, concurrency: Any) -> ComputeStrategy:
    """Ray's rules: a function runs as tasks (``concurrency=n`` caps them), a callable class
    in an actor pool (``concurrency=n`` or ``(min, max)``; default: 1 actor, growing).

    ``compute`` wins over ``concurrency`` when both are given (as in Ray, where
    ``concurrency`` is the legacy spelling); a callable class cannot run as tasks and a
    function cannot run in an actor pool.
    """
    is_class = is_callable_class(fn)
    if compute is not None:
        if compute == "tasks":
            compute = TaskPoolStrategy()
        elif compute == "actors":
            compute = ActorPoolStrategy()
        elif not isinstance(compute, (TaskPoolStrategy, ActorPoolStrategy)):
            raise PlanError(f"compute must be 'tasks', 'actors', a TaskPoolStrategy or an "
                            f"ActorPoolStrategy, got {compute!r}")
        if fn is not None and is_class and isinstance(compute, TaskPoolStrategy):
            raise PlanError(f"compute={compute!r}: the callable class {fn.__name__} runs in an "
                            f"actor pool; pass an ActorPoolStrategy or leave compute unset")
        if fn is not None and not is_class and isinstance(compute, ActorPoolStrategy):
            raise PlanError(f"compute={compute!r}: a function runs as tasks; pass a callable "
                            f"class for an actor pool, or a TaskPoolStrategy")
        return compute
    if concurrency is None:
        return ActorPoolStrategy(min_size=1) if is_class else TaskPoolStrategy()
    if isinstance(concurrency, bool):
        raise PlanError(f"concurrency must be an int or a (min, max) tuple, got {concurrency!r}")
    if isinstance(concurrency, int):
        return ActorPoolStrategy(size=concurrency) if is_class else TaskPoolStrategy(size=concurrency)
    if isinstance(concurrency, tuple) and not all(
            isinstance(c, int) and not isinstance(c, bool) for c in concurrency):
        raise PlanError(f"concurrency tuple must hold ints, got {concurrency!r}")
    if isinstance(concurrency, tuple) and len(concurrency) == 3 and is_class:
        return ActorPoolStrategy(min_size=concurrency[0], max_size=concurrency[1],
                                 initial_size=concurrency[2])
    if isinstance(concurrency, tuple) and len(concurrency) == 2 and is_class:
        return ActorPoolStrategy(min_size=concurrency[0], max_size=concurrency[1])
    if isinstance(concurrency, tuple) and not is_class:
        raise PlanError("concurrency=(min, max) is for callable classes (actor pools); "
                        "a function takes concurrency=n")
    raise PlanError(f"concurrency must be an int or a (min, max) tuple, got {concurrency!r}")


#: Ray's per-task/actor options that every transform accepts as named parameters
#: (besides ``num_cpus``, ``num_gpus``, ``memory``); what they mean here is in
#: :func:`remote_args`.
REMOTE_OPTION_NAMES = ("resources", "accelerator_type", "runtime_env", "max_calls",
                       "ray_remote_args_fn", "label_selector", "fallback_strategy")


def named_options(scope: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`REMOTE_OPTION_NAMES` a facade method received (from its ``locals()``).

    Example:
        >>> named_options({"resources": {"x": 1}, "batch_size": 4})
        {'resources': {'x': 1}}
    """
    return {k: scope[k] for k in REMOTE_OPTION_NAMES if k in scope}


def _check_str_map(key: str, value: Any, numbers: bool) -> None:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise PlanError(f"{key} must be a dict with str keys, got {value!r}")
    for k, v in value.items():
        ok = (not isinstance(v, bool) and isinstance(v, (int, float)) and v >= 0) if numbers \
            else isinstance(v, str)
        if not ok:
            raise PlanError(f"{key}[{k!r}] must be {'a number >= 0' if numbers else 'a str'}, "
                            f"got {v!r}")


def remote_args(num_cpus: float | None, num_gpus: float | None, memory: float | None,
                 extra: Mapping[str, Any], **named: Any) -> dict[str, Any]:
    """The remote args of a node: ``extra`` (``**ray_remote_args``) plus the named ones.

    ``num_cpus``/``num_gpus``/``memory``/``resources``/``accelerator_type`` are the
    resources of each task or actor; ``runtime_env`` (its ``env_vars``) reaches the
    task's process; ``ray_remote_args_fn`` is called before each task (each actor of a
    pool) and its dict is merged over the others (Ray's semantics). ``max_calls``,
    ``label_selector`` and ``fallback_strategy`` place work on a multi-node Ray cluster;
    they are checked and kept, and mean nothing on one machine.

    Example:
        >>> remote_args(1, None, None, {}, runtime_env={"env_vars": {"A": "1"}})
        {'runtime_env': {'env_vars': {'A': '1'}}, 'num_cpus': 1}
        >>> remote_args(None, None, None, {}, max_calls=-1)
        Traceback (most recent call last):
        ...
        streamdata.errors.PlanError: max_calls must be an int >= 0, got -1
    """
    unknown = sorted(set(named) - set(REMOTE_OPTION_NAMES))
    if unknown:  # pragma: no cover - programming error of the facade
        raise TypeError(f"unknown remote options {unknown}")
    args = dict(extra)
    for key, value in named.items():
        if value is None:
            continue
        if key == "resources":
            _check_str_map(key, value, numbers=True)
            value = dict(value)
        elif key == "label_selector":
            _check_str_map(key, value, numbers=False)
            value = dict(value)
        elif key == "accelerator_type" and not isinstance(value, str):
            raise PlanError(f"accelerator_type must be a str (e.g. 'A100'), got {value!r}")
        elif key == "runtime_env":
            if not isinstance(value, Mapping):
                raise PlanError(f"runtime_env must be a dict (e.g. {{'env_vars': {{...}}}}), "
                                f"got {value!r}")
            if "env_vars" in value:
                _check_str_map("runtime_env['env_vars']", value["env_vars"], numbers=False)
            value = dict(value)
        elif key == "max_calls" and (isinstance(value, bool) or not isinstance(value, int)
                                     or value < 0):
            raise PlanError(f"max_calls must be an int >= 0, got {value!r}")
        elif key == "ray_remote_args_fn" and not callable(value):
            raise PlanError(f"ray_remote_args_fn must be a function returning a dict of remote "
                            f"args, got {type(value).__name__}")
        elif key == "fallback_strategy" and (
                not isinstance(value, (list, tuple))
                or not all(isinstance(v, Mapping) for v in value)):
            raise PlanError(f"fallback_strategy must be a list of dicts, got {value!r}")
        args[key] = value
    for key, value in (("num_cpus", num_cpus), ("num_gpus", num_gpus), ("memory", memory)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise PlanError(f"{key} must be a number >= 0, got {value!r}")
        args[key] = value
    return args


def scope_remote_args(scope: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`remote_args` of a facade method's ``locals()``: its ``num_cpus``,
    ``num_gpus``, ``memory``, ``**ray_remote_args`` and whichever named options it takes.

    Example:
        >>> scope_remote_args({"num_cpus": 2, "num_gpus": None, "memory": None,
        ...                    "ray_remote_args": {}, "max_calls": 3})
        {'max_calls': 3, 'num_cpus': 2}
    """
    return remote_args(scope["num_cpus"], scope["num_gpus"], scope["memory"],
                       scope["ray_remote_args"], **named_options(scope))


def task_fields(scope: Mapping[str, Any]) -> dict[str, Any]:
    """``compute`` and ``ray_remote_args`` of a node without a UDF (expressions, column
    changes) from its facade method's ``locals()`` (``compute`` and ``concurrency`` are
    optional there).

    Example:
        >>> task_fields({"num_cpus": None, "num_gpus": None, "memory": None,
        ...              "ray_remote_args": {}, "concurrency": 2})
        {'compute': TaskPoolStrategy(size=2), 'ray_remote_args': {}}
    """
    return dict(compute=compute_strategy(None, scope.get("compute"), scope.get("concurrency")),
                ray_remote_args=scope_remote_args(scope))


def udf_fields(what: str, scope: Mapping[str, Any]) -> dict[str, Any]:
    """The UDF fields of a map node (``fn``, ``compute``, its arguments, remote args) from
    the facade method ``what``'s ``locals()``.

    Raises:
        PlanError: ``fn`` is not callable, or has constructor arguments but is no class.
    """
    fn = scope["fn"]
    if not callable(fn):
        raise PlanError(f"{what} needs a function or a callable class, got {type(fn).__name__}")
    ctor_args, ctor_kwargs = scope["fn_constructor_args"], scope["fn_constructor_kwargs"]
    if not is_callable_class(fn) and (ctor_args or ctor_kwargs):
        raise PlanError(f"{what}: fn_constructor_args/fn_constructor_kwargs are for a callable "
                        f"class, but fn is the function {getattr(fn, '__name__', fn)!r}")
    return dict(fn=fn, compute=compute_strategy(fn, scope["compute"], scope["concurrency"]),
                fn_args=tuple(scope["fn_args"] or ()), fn_kwargs=dict(scope["fn_kwargs"] or {}),
                fn_constructor_args=tuple(ctor_args or ()),
                fn_constructor_kwargs=dict(ctor_kwargs or {}),
                ray_remote_args=scope_remote_args(scope))


def column_list(cols: str | Sequence[str], what: str) -> list[str]:
    if isinstance(cols, str):
        return [cols]
    if not isinstance(cols, (list, tuple)):
        raise PlanError(f"{what} takes a column name or a list of column names, got {cols!r}")
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


__all__ = ["REMOTE_OPTION_NAMES", "AddColumn", "named_options", "column_list", "compute_strategy", "normalize_batch_format", "remote_args",
           "udf_fields"]
