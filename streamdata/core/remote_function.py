"""``@sd.remote`` functions and the options tasks and actors accept (Ray's names)."""

from __future__ import annotations

import hashlib
import threading
from typing import Any, Callable

from streamdata.core import context
from streamdata.core.resources import normalize_demand
from streamdata.core.serialization import dumps_function

TASK_OPTIONS = frozenset({
    "num_cpus", "num_gpus", "resources", "memory", "num_returns", "max_retries", "retry_exceptions",
    "scheduling_strategy", "placement_group", "placement_group_bundle_index", "runtime_env", "name",
    "accelerator_type", "label_selector",
})
ACTOR_OPTIONS = frozenset({
    "num_cpus", "num_gpus", "resources", "memory", "max_restarts", "max_task_retries", "max_concurrency",
    "scheduling_strategy", "placement_group", "placement_group_bundle_index", "runtime_env", "name",
    "namespace", "lifetime", "get_if_exists", "accelerator_type", "concurrency_groups", "label_selector",
})


def check_options(options: dict, allowed: frozenset, what: str) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(f"unknown {what} option(s) {unknown}; valid options: {sorted(allowed)}")


def runtime_env_vars(runtime_env: dict | None) -> dict[str, str]:
    """The ``env_vars`` of a runtime_env; other runtime_env fields are not supported locally."""
    if not runtime_env:
        return {}
    unsupported = sorted(set(runtime_env) - {"env_vars"})
    if unsupported:
        raise ValueError(f"runtime_env fields {unsupported} are not supported by the local runtime "
                         "(only 'env_vars'); install what you need in the driver's environment")
    env = runtime_env.get("env_vars") or {}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise TypeError("runtime_env['env_vars'] must map str to str")
    return dict(env)


def placement_fields(options: dict) -> dict[str, Any]:
    """``pg_id`` and ``bundle_index`` from either placement option style."""
    from streamdata.core.placement_group import PlacementGroup, PlacementGroupSchedulingStrategy

    strategy = options.get("scheduling_strategy")
    pg = options.get("placement_group")
    index = options.get("placement_group_bundle_index", -1)
    if isinstance(strategy, PlacementGroupSchedulingStrategy):
        pg, index = strategy.placement_group, strategy.placement_group_bundle_index
    elif strategy not in (None, "DEFAULT", "SPREAD") and not isinstance(strategy, PlacementGroupSchedulingStrategy):
        raise ValueError(f"scheduling_strategy must be 'DEFAULT', 'SPREAD' or a "
                         f"PlacementGroupSchedulingStrategy, got {strategy!r}")
    if pg is None or pg == "default":
        return {}
    if not isinstance(pg, PlacementGroup):
        raise TypeError(f"placement_group must be a PlacementGroup, got {type(pg).__name__}")
    if index is None:
        index = -1
    if index >= len(pg.bundle_specs) or index < -1:
        raise ValueError(f"placement_group_bundle_index {index} out of range for a group of "
                         f"{len(pg.bundle_specs)} bundles")
    return {"pg_id": pg.id, "bundle_index": index}


class PickledCallable:
    """A function or class pickled once per process, with a content-derived id."""

    def __init__(self, obj: Any) -> None:
        self._obj = obj
        self._lock = threading.Lock()
        self._pickled: tuple[str, bytes] | None = None

    def get(self) -> tuple[str, bytes]:
        if self._pickled is None:
            with self._lock:
                if self._pickled is None:
                    data = dumps_function(self._obj)
                    self._pickled = (hashlib.blake2b(data, digest_size=10).hexdigest(), data)
        return self._pickled

    def __getstate__(self) -> dict:
        return {"obj": self._obj}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["obj"])


class RemoteFunction:
    """A function that runs as a task: ``f.remote(*args)`` returns ObjectRef(s).

    Example:
        >>> import streamdata as sd
        >>> @sd.remote
        ... def add(a, b):
        ...     return a + b
        >>> sd.get(add.remote(1, 2))
        3
    """

    def __init__(self, fn: Callable, options: dict | None = None,
                 pickled: PickledCallable | None = None) -> None:
        options = dict(options or {})
        check_options(options, TASK_OPTIONS, "task")
        self._fn = fn
        self._options = options
        self._pickled = pickled or PickledCallable(fn)
        self.__name__ = getattr(fn, "__name__", "remote_function")
        self.__doc__ = getattr(fn, "__doc__", None)
        # validate now, so a bad option fails at decoration time
        self._demand = normalize_demand(options.get("num_cpus"), options.get("num_gpus"),
                                        options.get("memory"), options.get("resources"), default_cpus=1)
        self._env = runtime_env_vars(options.get("runtime_env"))
        num_returns = options.get("num_returns", 1)
        if not isinstance(num_returns, int) or num_returns < 0:
            raise ValueError(f"num_returns must be an int >= 0, got {num_returns!r} "
                             "(num_returns='dynamic'/'streaming' are not supported)")
        self._num_returns = num_returns

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"remote function {self.__name__} cannot be called directly; "
                        f"use {self.__name__}.remote(...)")

    def options(self, **options: Any) -> "RemoteFunction":
        return RemoteFunction(self._fn, {**self._options, **options}, self._pickled)

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        client = context.current_client()
        fn_id, fn_bytes = self._pickled.get()
        blob, deps, contained, temps = client.prepare_args(args, kwargs)
        opts = self._options
        spec = {
            "kind": "task", "task_id": client.new_id(), "fn_id": fn_id,
            "fn_bytes": client.function_bytes(fn_id, fn_bytes),
            "name": opts.get("name") or self.__name__, "args": blob, "deps": deps, "contained": contained,
            "demand": self._demand, "max_retries": opts.get("max_retries", 3),
            "retry_exceptions": opts.get("retry_exceptions", False), "env": self._env,
            **placement_fields(opts),
        }
        refs = client.submit(spec, self._num_returns)
        del temps
        if self._num_returns == 1:
            return refs[0]
        return refs if self._num_returns else None

    def __repr__(self) -> str:
        return f"RemoteFunction({self.__name__})"
