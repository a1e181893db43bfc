"""``@sd.remote`` functions and the options tasks and actors accept (Ray's names)."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import threading
import types
from typing import Any, Callable

from streamdata.core import context
from streamdata.core.object_ref import ObjectRefGenerator, collect_dynamic
from streamdata.core.pip_env import DEFAULT_TIMEOUT_S, PIP_ENV_KEY, ensure_pip_env, pip_requirements
from streamdata.core.resources import normalize_demand
from streamdata.core.runtime_context import PLACEMENT_GROUP_ENV, current_placement_group_info
from streamdata.core.serialization import dumps_function
from streamdata.core.validate import check_int
from streamdata.errors import RuntimeEnvSetupError

TASK_OPTIONS = frozenset({
    "num_cpus", "num_gpus", "resources", "memory", "num_returns", "max_retries", "retry_exceptions",
    "scheduling_strategy", "placement_group", "placement_group_bundle_index", "runtime_env", "name",
    "accelerator_type", "label_selector", "max_calls",
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


#: runtime_env fields the local runtime honours; the others need a Ray cluster
LOCAL_RUNTIME_ENV_FIELDS = frozenset({"env_vars", "working_dir", "py_modules", "pip", "config",
                                      "worker_process_setup_hook"})
#: env keys the worker turns into ``sys.path`` entries and a working directory for the task
PY_PATHS_KEY = "STREAMDATA_PY_PATHS"
WORKING_DIR_KEY = "STREAMDATA_WORKING_DIR"
#: the environment variable that carries ``init(runtime_env=...)`` (JSON) to every process
JOB_RUNTIME_ENV = "STREAMDATA_RUNTIME_ENV"
#: (``runtime_context.PLACEMENT_GROUP_ENV``) a task's placement group, as JSON: id, bundles, strategy


def _local_dir(value: Any, field: str) -> str:
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"runtime_env[{field!r}] must be a local directory path, got {value!r}")
    path = os.path.abspath(os.fspath(value))
    if "://" in os.fspath(value):
        raise ValueError(f"runtime_env[{field!r}]={value!r}: remote URIs need sd.init(backend='ray'); "
                         "the local runtime takes a local directory")
    if not os.path.exists(path):
        raise FileNotFoundError(f"runtime_env[{field!r}]: {path} does not exist")
    return path


def runtime_env_vars(runtime_env: dict | None, *, install: bool = True) -> dict[str, str]:
    """The environment a runtime_env gives a task: its ``env_vars``, plus ``working_dir``
    and ``py_modules`` as import paths (the worker puts them on ``sys.path`` and runs the
    task in ``working_dir``), its ``pip`` packages (:mod:`~streamdata.core.pip_env`: installed
    here, once, into an env whose ``site-packages`` goes first on ``sys.path``) and its
    ``worker_process_setup_hook`` (:mod:`~streamdata.core.setup_hook`).
    ``conda``/``uv``/``container`` need a Ray cluster: asking for one raises
    ``RuntimeEnvSetupError``, as a setup that fails does (a task or actor submitted with it
    fails with that error at ``get``, as on Ray: see :func:`submission_env`). With
    ``install=False`` (a definition) such fields are accepted and the ``pip`` packages only
    checked (a task definition installs at its first submission, as Ray installs when the
    task is scheduled).

    Example:
        >>> runtime_env_vars({"env_vars": {"A": "1"}})
        {'A': '1'}
    """
    if not runtime_env:
        return {}
    if not isinstance(runtime_env, dict):
        raise TypeError(f"runtime_env must be a dict, got {runtime_env!r} ({type(runtime_env).__name__})")
    unsupported = sorted(set(runtime_env) - LOCAL_RUNTIME_ENV_FIELDS)
    if unsupported and install:
        raise RuntimeEnvSetupError(
            f"runtime_env fields {unsupported} are not supported by the local runtime (it honours "
            f"{sorted(LOCAL_RUNTIME_ENV_FIELDS)}): install what you need in the driver's environment, "
            "or run on Ray with sd.init(backend='ray', runtime_env=...), which builds such environments")
    env = runtime_env.get("env_vars") or {}
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise TypeError(f"runtime_env['env_vars'] must map str to str, got {env!r}")
    out = dict(env)
    paths = []
    requirements = pip_requirements(runtime_env["pip"]) if runtime_env.get("pip") is not None else ()
    if requirements and install:
        timeout_s = (runtime_env.get("config") or {}).get("setup_timeout_seconds") or DEFAULT_TIMEOUT_S
        out[PIP_ENV_KEY] = ensure_pip_env(requirements, timeout_s=timeout_s)
        paths.append(out[PIP_ENV_KEY])
    if runtime_env.get("working_dir") is not None:
        out[WORKING_DIR_KEY] = _local_dir(runtime_env["working_dir"], "working_dir")
        paths.append(out[WORKING_DIR_KEY])
    modules = runtime_env.get("py_modules") or []
    if not isinstance(modules, (list, tuple)):
        raise TypeError(f"runtime_env['py_modules'] must be a list of paths, got {modules!r}")
    for module in modules:
        if isinstance(module, types.ModuleType):
            module = os.path.dirname(os.path.dirname(os.path.abspath(module.__file__ or "")))
            paths.append(module)
            continue
        path = _local_dir(module, "py_modules")
        # a package directory is imported by its name: its parent goes on sys.path
        paths.append(os.path.dirname(path) if os.path.isdir(path) and not path.endswith((".zip", ".whl"))
                     else path)
    if paths:
        out[PY_PATHS_KEY] = os.pathsep.join(dict.fromkeys(paths))
    if runtime_env.get("worker_process_setup_hook") is not None:
        from streamdata.core.setup_hook import SETUP_HOOK_ENV, encode_setup_hook

        out[SETUP_HOOK_ENV] = encode_setup_hook(runtime_env["worker_process_setup_hook"])
    return out


def job_env() -> dict[str, str]:
    """The environment of ``init(runtime_env=...)``, which every task and actor gets."""
    raw = os.environ.get(JOB_RUNTIME_ENV)
    return runtime_env_vars(json.loads(raw)) if raw else {}


def submission_env(own: Callable[[], dict[str, str]], placement_vars: dict[str, str]) -> tuple[dict, str | None]:
    """A task's or actor's environment as it is submitted: the job's, its own runtime_env's
    (``own()``) and its placement group's, with None; or ``({}, why)`` when its runtime_env
    cannot be set up here. As in Ray, the submission then succeeds and the task (or the
    actor's calls) fails with ``RuntimeEnvSetupError`` at ``get``.

    Example:
        >>> submission_env(lambda: {"A": "1"}, {})[0]["A"]
        '1'
        >>> env, why = submission_env(lambda: runtime_env_vars({"conda": {}}), {})
        >>> env, "conda" in why
        ({}, True)
    """
    try:
        return {**job_env(), **own(), **placement_vars}, None
    except RuntimeEnvSetupError as exc:
        return {}, str(exc)


def placement_fields(options: dict) -> dict[str, Any]:
    """``pg_id`` and ``bundle_index`` from either placement option style."""
    from streamdata.core.placement_group import PlacementGroup, PlacementGroupSchedulingStrategy

    strategy = options.get("scheduling_strategy")
    pg = options.get("placement_group")
    index = options.get("placement_group_bundle_index", -1)
    if isinstance(strategy, PlacementGroupSchedulingStrategy):
        pg, index = strategy.placement_group, strategy.placement_group_bundle_index
    elif strategy is None and pg is None:
        # inside a group that captures child tasks, a child that names no strategy joins it
        info = current_placement_group_info()
        if info and info.get("capture"):
            return {"pg_id": info["id"], "bundle_index": -1}
    elif strategy not in (None, "DEFAULT", "SPREAD"):
        from streamdata.core.scheduling_strategies import NodeAffinitySchedulingStrategy, NodeLabelSchedulingStrategy
        if not isinstance(strategy, (NodeAffinitySchedulingStrategy, NodeLabelSchedulingStrategy)):
            raise ValueError(f"scheduling_strategy must be 'DEFAULT', 'SPREAD', a PlacementGroupSchedulingStrategy, "
                             f"a NodeAffinitySchedulingStrategy or a NodeLabelSchedulingStrategy, got {strategy!r}")
        from streamdata.core.runtime_context import node_id, node_labels
        strategy.check_node(node_id(), node_labels())
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


def placement_env(fields: dict[str, Any], options: dict) -> dict[str, str]:
    """The environment that tells a task or actor its placement group (``get_current_placement_group``)."""
    if not fields:
        return {}
    strategy = options.get("scheduling_strategy")
    if hasattr(strategy, "placement_group"):
        pg, capture = strategy.placement_group, strategy.placement_group_capture_child_tasks
    elif options.get("placement_group") is not None:
        pg, capture = options["placement_group"], options.get("placement_group_capture_child_tasks")
    else:  # a captured child: it runs in its parent's group, and captures its own children too
        return {PLACEMENT_GROUP_ENV: json.dumps(current_placement_group_info())}
    return {PLACEMENT_GROUP_ENV: json.dumps({"id": pg.id, "bundles": pg.bundle_specs, "strategy": pg.strategy,
                                             "capture": bool(capture)})}


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
        runtime_env_vars(options.get("runtime_env"), install=False)
        self._env: dict[str, str] | None = None  # at the first submission: a pip env installs then
        check_int("max_retries", options.get("max_retries", 3), minimum=-1, what="(-1: retry forever)")
        # as Ray: a worker exits after this many runs of the function (0: never)
        check_int("max_calls", options.get("max_calls", 0), minimum=0, what="(0: no limit)")
        retry_exceptions = options.get("retry_exceptions", False)
        if not (isinstance(retry_exceptions, bool) or (isinstance(retry_exceptions, list) and all(
                isinstance(c, type) and issubclass(c, BaseException) for c in retry_exceptions))):
            raise TypeError(f"retry_exceptions must be True, False or a list of exception classes, "
                            f"got {retry_exceptions!r}")
        num_returns = options.get("num_returns")
        # as Ray: a generator function's default is a streaming generator task
        self._streaming = num_returns == "streaming" or (num_returns is None and inspect.isgeneratorfunction(fn))
        if num_returns is None:
            num_returns = 1
        # "dynamic" runs as a streaming task, collected by a zero-CPU task into one ref
        self._dynamic = num_returns == "dynamic"
        self._streaming = self._streaming or self._dynamic
        if not self._streaming and (not isinstance(num_returns, int) or isinstance(num_returns, bool)
                                    or num_returns < 0):
            raise ValueError(f"num_returns must be an int >= 0, 'streaming' or 'dynamic', got {num_returns!r}")
        self._num_returns = 1 if self._streaming else num_returns

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(f"remote function {self.__name__} cannot be called directly; "
                        f"use {self.__name__}.remote(...)")

    def options(self, **options: Any) -> "RemoteFunction":
        return RemoteFunction(self._fn, {**self._options, **options}, self._pickled)

    def bind(self, *args: Any, **kwargs: Any) -> Any:
        """A graph node that calls this function when the graph runs (``node.execute()``)."""
        from streamdata.core.dag import FunctionNode
        return FunctionNode(self, args, kwargs)

    def _task_env(self) -> dict[str, str]:
        if self._env is None:
            self._env = runtime_env_vars(self._options.get("runtime_env"))
        return self._env

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        client = context.current_client()
        fn_id, fn_bytes = self._pickled.get()
        blob, deps, contained, temps = client.prepare_args(args, kwargs)
        opts = self._options
        placement = placement_fields(opts)
        env, env_error = submission_env(self._task_env, placement_env(placement, opts))
        spec = {
            "kind": "task", "task_id": client.new_id(), "fn_id": fn_id,
            "fn_bytes": client.function_bytes(fn_id, fn_bytes),
            "name": opts.get("name") or self.__name__, "args": blob, "deps": deps, "contained": contained,
            "demand": self._demand, "max_retries": opts.get("max_retries", 3),
            "retry_exceptions": opts.get("retry_exceptions", False),
            "env": env, "env_error": env_error, **placement,
            "streaming": self._streaming, "max_calls": opts.get("max_calls", 0),
        }
        refs = client.submit(spec, self._num_returns)
        del temps
        if self._dynamic:
            return _dynamic_collector().remote([ObjectRefGenerator(refs[0])])
        if self._streaming:
            return ObjectRefGenerator(refs[0])
        if self._num_returns == 1:
            return refs[0]
        return refs if self._num_returns else None

    def __repr__(self) -> str:
        return f"RemoteFunction({self.__name__})"


_COLLECTOR: list[RemoteFunction] = []


def _dynamic_collector() -> RemoteFunction:
    """The zero-CPU task that turns a streaming generator into the one ref of a
    ``num_returns="dynamic"`` call (made once, on first use)."""
    if not _COLLECTOR:
        _COLLECTOR.append(RemoteFunction(collect_dynamic, {"num_cpus": 0, "max_retries": 0,
                                                           "name": "collect_dynamic"}))
    return _COLLECTOR[0]
