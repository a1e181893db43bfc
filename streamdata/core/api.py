"""The runtime's public functions (Ray Core's names), for the driver and for tasks.

In the driver they act on the embedded :class:`~streamdata.core.runtime.Runtime`
(started implicitly on first use); inside a task or actor they are requests to
the driver.

Example:
    >>> import streamdata as sd
    >>> ref = sd.put([1, 2, 3])
    >>> sd.get(ref)
    [1, 2, 3]
    >>> ready, not_ready = sd.wait([ref], timeout=1)
    >>> len(ready), len(not_ready)
    (1, 0)
"""

from __future__ import annotations

import atexit
import json
import os
import uuid
import sys
import threading
from typing import Any, Callable, Sequence

import psutil

from streamdata.core import context, forkserver
from streamdata.core.actor import ActorClass, ActorHandle, method
from streamdata.core.backend import Backend
from streamdata.core.object_ref import DynamicObjectRefGenerator, ObjectRef, ObjectRefGenerator
from streamdata.core.placement_group import (
    PlacementGroup,
    PlacementGroupSchedulingStrategy,
    placement_group,
    placement_group_table,
    remove_placement_group,
)
from streamdata.core.remote_function import RemoteFunction
from streamdata.core.runtime_context import RuntimeContext
from streamdata.core.validate import check_amount, check_bool, check_int, check_timeout

__all__ = [
    "init", "shutdown", "is_initialized", "remote", "get", "put", "wait", "cancel", "kill", "get_actor",
    "available_resources", "cluster_resources", "get_gpu_ids", "object_store_stats", "method",
    "ObjectRef", "ActorHandle", "ActorClass", "RemoteFunction", "PlacementGroup",
    "PlacementGroupSchedulingStrategy", "placement_group", "remove_placement_group", "placement_group_table",
    "get_runtime_context", "nodes", "timeline", "ObjectRefGenerator", "DynamicObjectRefGenerator",
]

_init_lock = threading.RLock()
_runtime: Any = None  # the driver's Runtime when the local backend runs here
_backend: Backend | None = None  # chosen at init (or at first use): every call delegates to it
_atexit_registered = False
#: starts the dashboard / metrics endpoint / session logging when init asks (set by the streamdata
#: package: core imports nothing above it); returns an object with ``info`` (dict) and ``stop()``
_monitoring_starter: Callable[..., Any] | None = None
_monitoring: Any = None


def set_monitoring_starter(starter: Callable[..., Any] | None) -> None:
    """Install the function ``init`` calls with its monitoring options (the streamdata package does)."""
    global _monitoring_starter
    _monitoring_starter = starter


def _detect_gpus() -> int:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    try:
        return len(os.listdir("/proc/driver/nvidia/gpus"))
    except OSError:
        return 0


#: init() parameters of Ray's that the local runtime accepts and documents as meaning nothing here
#: (one process tree on one machine: no cgroups, no proxy, no job config to ship), and
#: ``_metrics_export_port`` (a keyword, as Ray's: it does start the Prometheus endpoint)
ACCEPTED_AND_IGNORED = ("labels", "local_mode",
                        "job_config", "configure_logging", "logging_format",
                        "enable_resource_isolation", "cgroup_path", "system_reserved_cpu",
                        "system_reserved_memory", "proxy_server_url", "_temp_dir", "_system_config",
                        "_metrics_export_port", "_node_ip_address", "_enable_object_reconstruction")


def init(address: str | None = None, *, num_cpus: float | None = None, num_gpus: float | None = None,
         resources: dict[str, float] | None = None, labels: dict[str, str] | None = None,
         object_store_memory: int | None = None, local_mode: bool = False, ignore_reinit_error: bool = False,
         include_dashboard: bool | None = None, dashboard_host: str = "127.0.0.1",
         dashboard_port: int | None = None, job_config: Any = None, configure_logging: bool = True,
         logging_level: int | str = "info", logging_format: str | None = None, logging_config: Any = None,
         log_to_driver: bool | None = None, namespace: str | None = None,
         runtime_env: dict[str, Any] | None = None, enable_resource_isolation: bool = False,
         cgroup_path: str | None = None, system_reserved_cpu: float | None = None,
         system_reserved_memory: int | None = None, proxy_server_url: str | None = None,
         spill_dir: str | None = None, backend: str = "local", **kwargs: Any) -> dict:
    """Start the runtime in this process (workers start in the background).

    Takes ``ray.init``'s parameters. On the local runtime: ``num_cpus``,
    ``num_gpus``, ``resources``, ``object_store_memory``, ``namespace`` (named
    actors, ``get_runtime_context().namespace``), ``runtime_env`` (``env_vars``,
    ``working_dir``, ``py_modules``: given to every task and actor),
    ``logging_level`` (the ``streamdata`` logger's level), ``ignore_reinit_error`` and
    ``_system_config``'s ``memory_usage_threshold`` / ``memory_monitor_refresh_ms`` (the
    memory monitor, :mod:`streamdata.core.memory_monitor`) and ``max_lineage_bytes``
    (:mod:`streamdata.core.lineage`) mean what they mean in Ray; the others
    (``ACCEPTED_AND_IGNORED``: logging format, job config, labels,
    ``local_mode``, resource isolation, ...) are accepted and mean nothing on one
    embedded runtime. With ``backend="ray"`` every argument goes to ``ray.init``.
    ``_metrics_export_port=PORT`` (Ray's keyword) serves Prometheus metrics on
    ``127.0.0.1:PORT`` (0: a free port, returned as ``metrics_export_port``).

    Args:
        address: the Ray cluster address (``backend="ray"``); ``None``/``"local"`` here.
        num_cpus: CPUs to schedule on (default: the machine's).
        num_gpus: GPUs to schedule on (default: those detected; may be declared without any).
        resources: custom resources, e.g. ``{"accelerator": 2}``.
        object_store_memory: bytes of shared memory for objects (default 30% of RAM).
        namespace: the job's namespace (default: a fresh anonymous one, as Ray).
        runtime_env: the environment of every task and actor (``env_vars``,
            ``working_dir``, ``py_modules``; ``pip``/``conda``/``uv``/``container`` need
            ``backend="ray"``).
        logging_level: level of the ``streamdata`` logger (``"info"``, ``logging.DEBUG``...).
        spill_dir: where objects spill when the store is full (default: the temp dir).
        backend: ``"local"`` (the embedded runtime) or ``"ray"`` (a Ray cluster).
        ignore_reinit_error: return quietly if already initialized.
        include_dashboard: serve the dashboard (tasks, actors, datasets, serve, training, logs;
            metadata only) on ``dashboard_host:dashboard_port``; ``None``/``False``: off.
        dashboard_host: the dashboard's address (loopback by default).
        dashboard_port: the dashboard's port (default 8265 when on; 0 picks a free one).
        log_to_driver: echo workers' stdout/stderr on the driver's (default True); they are
            always written to the session's log directory (``<temp>/streamdata/session_latest/logs``).
        logging_config: a ``LoggingConfig`` (``encoding`` ``"TEXT"``/``"JSON"``, ``log_level``) for
            the driver's and workers' Python logging, as Ray's.
    """
    global _runtime, _backend, _atexit_registered
    if context.get_client() is not None and os.environ.get("STREAMDATA_WORKER"):
        return {}  # inside a worker: the runtime is the driver's
    ray_args = dict(labels=labels, local_mode=local_mode or None, include_dashboard=include_dashboard,
                    dashboard_port=dashboard_port, job_config=job_config,
                    logging_format=logging_format, logging_config=logging_config, log_to_driver=log_to_driver,
                    namespace=namespace, runtime_env=runtime_env,
                    enable_resource_isolation=enable_resource_isolation or None, cgroup_path=cgroup_path,
                    system_reserved_cpu=system_reserved_cpu, system_reserved_memory=system_reserved_memory,
                    proxy_server_url=proxy_server_url, **kwargs)
    if dashboard_host != "127.0.0.1":
        ray_args["dashboard_host"] = dashboard_host
    if not configure_logging:
        ray_args["configure_logging"] = False
    if logging_level != "info":
        ray_args["logging_level"] = logging_level
    if log_to_driver is not None:
        check_bool("log_to_driver", log_to_driver)
    unknown = sorted(set(kwargs) - set(ACCEPTED_AND_IGNORED))
    if unknown and backend != "ray":
        raise TypeError(f"init() got unexpected argument(s) {unknown}")
    with _init_lock:
        if _runtime is not None:
            if ignore_reinit_error:
                return _runtime_info()
            raise RuntimeError("streamdata is already initialized; call sd.shutdown() first or pass "
                               "ignore_reinit_error=True")
        if backend == "ray":
            if _backend is not None and _backend.name == "ray":
                if ignore_reinit_error:
                    return {"backend": "ray"}
                raise RuntimeError("streamdata is already initialized on Ray; call sd.shutdown() first")
            from streamdata.core.backends.ray import RayBackend
            forkserver.discard_early()  # no workers are forked here
            _backend = RayBackend.start(address=address, num_cpus=num_cpus, num_gpus=num_gpus,
                                        resources=resources, object_store_memory=object_store_memory,
                                        **{k: v for k, v in ray_args.items() if v is not None})
            return {"backend": "ray"}
        if backend != "local":
            raise ValueError(f"unknown backend {backend!r}; expected 'local' or 'ray'")
        if address not in (None, "local"):
            raise ValueError(f"address={address!r} needs backend='ray'; the local runtime runs in this process")
        from streamdata.core.remote_function import JOB_RUNTIME_ENV, runtime_env_vars
        from streamdata.core.runtime import Runtime, default_object_store_memory
        from streamdata.core.runtime_context import NAMESPACE_ENV
        cpus = check_amount("num_cpus", num_cpus)
        gpus = check_amount("num_gpus", num_gpus)
        cpus = float(cpus if cpus is not None else (os.cpu_count() or 1))
        gpus = float(gpus if gpus is not None else _detect_gpus())
        if namespace is not None and not isinstance(namespace, str):
            raise TypeError(f"namespace must be a str, got {namespace!r} ({type(namespace).__name__})")
        runtime_env_vars(runtime_env)  # validate now: a bad runtime_env fails here, not in a task
        _set_logging_level(logging_level)
        # the workers inherit these (they are spawned below)
        os.environ[NAMESPACE_ENV] = namespace if namespace is not None else f"anonymous-{uuid.uuid4()}"
        if runtime_env:
            if runtime_env.get("worker_process_setup_hook") is not None:  # a function, as text
                from streamdata.core.setup_hook import encode_setup_hook

                hook = encode_setup_hook(runtime_env["worker_process_setup_hook"])
                runtime_env = {**runtime_env, "worker_process_setup_hook": hook}
            os.environ[JOB_RUNTIME_ENV] = json.dumps(runtime_env, default=os.fspath)
        else:
            os.environ.pop(JOB_RUNTIME_ENV, None)
        from streamdata.core.memory_monitor import MemoryMonitorConfig
        system_config = kwargs.get("_system_config")
        if system_config is not None and not isinstance(system_config, dict):
            raise TypeError(f"_system_config must be a dict, got {type(system_config).__name__}")
        monitor = MemoryMonitorConfig.from_sources(system_config)  # bad values fail here
        max_lineage = None
        if system_config and "max_lineage_bytes" in system_config:
            max_lineage = check_int("_system_config['max_lineage_bytes']", system_config["max_lineage_bytes"],
                                    minimum=0)
        store = int(object_store_memory or default_object_store_memory())
        memory = float(psutil.virtual_memory().available * 0.7)
        if logging_config is not None:  # the workers inherit it (they are spawned below)
            from streamdata.core.logging_config import ENV as LOGGING_ENV, coerce
            log_config = coerce(logging_config)
            os.environ[LOGGING_ENV] = log_config.to_env()
            log_config.apply()
        else:
            os.environ.pop("STREAMDATA_LOGGING_CONFIG", None)
        _runtime = Runtime(num_cpus=cpus, num_gpus=gpus, resources=dict(resources or {}),
                           object_store_memory=store, spill_dir=spill_dir, memory=memory,
                           log_to_driver=log_to_driver is not False, memory_monitor=monitor)
        if max_lineage is not None:
            _runtime.state.lineage.max_bytes = max_lineage
        context.set_client(_runtime)
        if _backend is None:  # a Ray backend started explicitly stays the one the API uses
            _backend = _local_backend()(_runtime)
        if not _atexit_registered:
            atexit.register(shutdown)
            _atexit_registered = True
        if include_dashboard or kwargs.get("_metrics_export_port") is not None:
            _start_monitoring(_runtime, include_dashboard=bool(include_dashboard), dashboard_host=dashboard_host,
                              dashboard_port=dashboard_port, metrics_export_port=kwargs.get("_metrics_export_port"))
        return _runtime_info()


def _start_monitoring(runtime: Any, **options: Any) -> None:
    """Start what init's monitoring options ask for (nothing is loaded when none is asked)."""
    global _monitoring
    if _monitoring_starter is None:
        raise RuntimeError("the dashboard and metrics endpoint need the streamdata package "
                           "(import streamdata, not only streamdata.core)")
    try:
        _monitoring = _monitoring_starter(runtime, **options)
    except BaseException:
        shutdown()
        raise


def _set_logging_level(level: int | str) -> None:
    import logging
    if isinstance(level, str):
        value = logging.getLevelName(level.upper())
        if not isinstance(value, int):
            raise ValueError(f"logging_level={level!r} is not a logging level "
                             "(e.g. 'debug', 'info', 'warning', or logging.INFO)")
        level = value
    logging.getLogger("streamdata").setLevel(level)


def _runtime_info() -> dict:
    info = {"session": _runtime.session, "object_store_dir": _runtime.shm_dir,
            "session_dir": _runtime.session_dir}
    if _monitoring is not None:
        info.update(_monitoring.info)
    return info


def shutdown(*, wait_for_processes: bool = False, _exiting_interpreter: bool = False) -> None:
    """Stop the workers and free every object (shared memory and spill files).

    The local runtime always waits for its worker processes to exit
    (``wait_for_processes`` is accepted for Ray's signature and passed to Ray on
    the Ray backend).
    """
    global _runtime, _backend, _monitoring
    from streamdata.core.remote_function import JOB_RUNTIME_ENV
    with _init_lock:
        monitoring, _monitoring = _monitoring, None
        if monitoring is not None:
            monitoring.stop()
        backend, _backend = _backend, None
        if backend is not None and backend.name == "ray":
            backend.shutdown()
        runtime, _runtime = _runtime, None
        if runtime is None:
            return
        if context.get_client() is runtime:
            context.set_client(None)
        os.environ.pop(JOB_RUNTIME_ENV, None)
    runtime.shutdown()


def _active() -> Backend:
    """The backend every call delegates to: the one chosen at init, else chosen now.

    Without ``init``: inside a streamdata worker, the driver's runtime; in a
    process already connected to Ray (a Ray worker, or ``ray.init()`` first),
    Ray; else the local runtime starts here.
    """
    backend = _backend or _found()
    if backend is not None:
        return backend
    init()
    assert _backend is not None
    return _backend


def _found() -> Backend | None:
    """The backend this process already has without ``init`` (see :func:`_active`), or None."""
    client = context.get_client()
    if client is not None:  # a streamdata worker: the driver's runtime
        return _choose_local(client)
    if "ray" in sys.modules:
        from streamdata.core.backends.ray import RayBackend
        return RayBackend.attached()
    return None


def _local_backend() -> Any:
    """The in-process backend's class (imported with the runtime's modules on first use)."""
    from streamdata.core.backends.local import LocalBackend
    return LocalBackend


def _choose_local(client: Any) -> Backend:
    global _backend
    with _init_lock:
        if _backend is None:
            _backend = _local_backend()(client)
        return _backend


context.install(_active)


def objects_are_local() -> bool:
    """Whether objects live on this machine (the local runtime: a ``get`` maps shared
    memory without copying), as opposed to a Ray cluster's object store."""
    return _active().name == "local"


def is_initialized() -> bool:
    return (_backend is not None and _backend.name == "ray") or _runtime is not None or bool(
        os.environ.get("STREAMDATA_WORKER") and context.get_client())


def _client() -> Any:
    """This process's local runtime client (starting the runtime if none is active)."""
    return context.current_client()


def remote(*args: Any, **options: Any) -> Any:
    """Make a function a task (``RemoteFunction``) or a class an actor (``ActorClass``).

    Used bare (``@sd.remote``) or with options (``@sd.remote(num_cpus=2)``). Starts
    no runtime: the local one starts at the first ``.remote()`` call.
    """
    backend = _backend or _found()
    if backend is None:
        return _local_backend().make_remote(*args, **options)
    return backend.remote(*args, **options)


def get(object_refs: ObjectRef | Sequence[ObjectRef], *, timeout: float | None = None) -> Any:
    """The value(s) of ``object_refs``, waiting for them. Raises the task's error
    (``TaskError``, also an instance of the user's exception class) or
    ``GetTimeoutError`` after ``timeout`` seconds."""
    return _active().get(object_refs, check_timeout(timeout, "get"))


def put(value: Any, *, _owner: Any = None, _tensor_transport: str | None = None) -> ObjectRef:
    """Store ``value`` in the object store; returns its ObjectRef.

    The driver owns every object here (``_owner`` is accepted for Ray's signature)."""
    if isinstance(value, ObjectRef):
        raise TypeError("put() of an ObjectRef is not allowed (as in Ray): pass the ObjectRef itself, "
                        "or put() the value it refers to")
    return _active().put(value)


def wait(ray_waitables: Sequence[ObjectRef], *, num_returns: int = 1, timeout: float | None = None,
         fetch_local: bool = True) -> tuple[list[ObjectRef], list[ObjectRef]]:
    """Wait until ``num_returns`` of ``ray_waitables`` are ready (or ``timeout``).

    Returns ``(ready, not_ready)``, each in the order of ``ray_waitables``. An
    ObjectRefGenerator among them is ready when ``next`` on it would not block (its
    next item is yielded, or its task has ended), as in Ray.
    """
    if isinstance(ray_waitables, ObjectRef) or not isinstance(ray_waitables, (list, tuple)):
        raise TypeError(f"wait(ray_waitables=...) expects a list of ObjectRefs, got "
                        f"{type(ray_waitables).__name__}")
    check_int("wait(num_returns=...)", num_returns, minimum=1)
    if not ray_waitables:
        return [], []
    if num_returns > len(ray_waitables):
        raise ValueError(f"wait(num_returns={num_returns}) is more than the {len(ray_waitables)} "
                         "object ref(s) given")
    return _active().wait(ray_waitables, num_returns, check_timeout(timeout, "wait"),
                          check_bool("fetch_local", fetch_local))


def cancel(ray_waitable: ObjectRef | ObjectRefGenerator, *, force: bool = False, recursive: bool = True) -> None:
    """Cancel the task that produces ``ray_waitable`` (an ObjectRef, or a generator task's
    ObjectRefGenerator); ``get`` then raises TaskCancelledError."""
    return _active().cancel(ray_waitable, check_bool("force", force), check_bool("recursive", recursive))


def kill(actor: ActorHandle, *, no_restart: bool = True) -> None:
    """Kill an actor's process at once; it restarts only if ``no_restart=False`` and
    it has restarts left."""
    return _active().kill(actor, no_restart)


def get_actor(name: str, namespace: str | None = None) -> ActorHandle:
    """The handle of the live actor created with ``.options(name=name)``."""
    return _active().get_actor(name, namespace)


def available_resources() -> dict[str, float]:
    return _active().available_resources()


def cluster_resources() -> dict[str, float]:
    return _active().cluster_resources()


def get_gpu_ids() -> list[int]:
    """Inside a task or actor: the ids of the GPUs assigned to it."""
    return _active().get_gpu_ids()


def object_store_stats() -> dict[str, int]:
    """``used_bytes``, ``capacity_bytes``, ``spilled_bytes`` (now), ``spilled_total_bytes``, ``num_objects``."""
    return _active().object_store_stats()


def check_feasible(what: str, remote_args: dict[str, Any]) -> None:
    """Raise ``InfeasibleResourceError`` now if no resource of this machine can ever
    meet ``remote_args`` (``num_cpus``/``num_gpus``/``memory``/``resources``, Ray's
    names); on Ray (a cluster that may grow) it never raises. For engines that
    hold work back until it fits (the Data executor), so they never wait forever.

    Example:
        >>> import streamdata as sd
        >>> _ = sd.init(num_cpus=1, ignore_reinit_error=True)
        >>> check_feasible("operator Map(f)", {"num_cpus": 1})
        >>> try:
        ...     check_feasible("operator Map(f)", {"num_gpus": 1})
        ... except sd.exceptions.InfeasibleResourceError as e:
        ...     print("GPU 1 > 0" in str(e))
        True
    """
    from streamdata.core.resources import normalize_demand
    num_gpus = remote_args.get("num_gpus")
    demand = normalize_demand(remote_args.get("num_cpus"), num_gpus, remote_args.get("memory"),
                              remote_args.get("resources"), default_cpus=0 if num_gpus else 1)
    _active().check_feasible(what, demand)


def get_runtime_context() -> RuntimeContext:
    """The current job, task, actor and node (Ray's ``RuntimeContext``)."""
    backend = _backend or _found()
    if backend is not None and backend.name == "ray":
        return backend.ray.get_runtime_context()
    return RuntimeContext()


def nodes() -> list[dict[str, Any]]:
    """The nodes of the cluster in Ray's shape (``NodeID``, ``Alive``, ``Resources``, ...):
    the local runtime is one node.

    Example:
        >>> import streamdata as sd
        >>> _ = sd.init(num_cpus=1, ignore_reinit_error=True)
        >>> [node] = sd.nodes()
        >>> node["Alive"], node["Resources"]["CPU"] >= 1
        (True, True)
    """
    backend = _active()
    if backend.name == "ray":
        return backend.ray.nodes()
    from streamdata.core.runtime_context import nodes_table
    return nodes_table(backend.cluster_resources())


def timeline(filename: str | None = None) -> list[dict[str, Any]] | None:
    """The tasks run so far (the last 10,000) as Chrome tracing events: written to
    ``filename`` as JSON (open it in ``chrome://tracing`` or Perfetto), else returned.

    Example:
        >>> import streamdata as sd
        >>> _ = sd.init(num_cpus=1, ignore_reinit_error=True)
        >>> @sd.remote
        ... def traced():
        ...     return 1
        >>> sd.get(traced.remote())
        1
        >>> any(e["name"] == "traced" and e["ph"] == "X" for e in sd.timeline())
        True
    """
    backend = _active()
    if backend.name == "ray":
        return backend.ray.timeline(filename=filename)
    from streamdata.core.timeline import chrome_trace
    events = chrome_trace(_client().call("timeline"))
    if filename is None:
        return events
    with open(filename, "w") as f:
        json.dump(events, f)
    return None


def _runtime_for_tests() -> Any:
    """The driver's Runtime object (tests inspect internals through it)."""
    return _runtime


def is_object_ref(value: Any) -> bool:
    """Whether ``value`` is an ObjectRef of the active backend."""
    if isinstance(value, ObjectRef):
        return True
    backend = _backend or _found()
    return backend is not None and backend.is_ref(value)
