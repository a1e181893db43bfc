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
import os
import sys
import threading
from typing import Any, Sequence

import psutil

from streamdata.core import context
from streamdata.core.actor import ActorClass, ActorHandle, method
from streamdata.core.backend import Backend
from streamdata.core.backends.local import LocalBackend
from streamdata.core.object_ref import ObjectRef
from streamdata.core.placement_group import (
    PlacementGroup,
    PlacementGroupSchedulingStrategy,
    placement_group,
    placement_group_table,
    remove_placement_group,
)
from streamdata.core.remote_function import RemoteFunction

__all__ = [
    "init", "shutdown", "is_initialized", "remote", "get", "put", "wait", "cancel", "kill", "get_actor",
    "available_resources", "cluster_resources", "get_gpu_ids", "object_store_stats", "method",
    "ObjectRef", "ActorHandle", "ActorClass", "RemoteFunction", "PlacementGroup",
    "PlacementGroupSchedulingStrategy", "placement_group", "remove_placement_group", "placement_group_table",
]

_init_lock = threading.RLock()
_runtime: Any = None  # the driver's Runtime when the local backend runs here
_backend: Backend | None = None  # chosen at init (or at first use): every call delegates to it
_atexit_registered = False


def _detect_gpus() -> int:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    try:
        return len(os.listdir("/proc/driver/nvidia/gpus"))
    except OSError:
        return 0


def init(num_cpus: float | None = None, num_gpus: float | None = None, resources: dict[str, float] | None = None,
         object_store_memory: int | None = None, spill_dir: str | None = None, backend: str = "local",
         address: str | None = None, ignore_reinit_error: bool = False, **kwargs: Any) -> dict:
    """Start the runtime in this process (workers start in the background).

    Args:
        num_cpus: CPUs to schedule on (default: the machine's).
        num_gpus: GPUs to schedule on (default: those detected; may be declared without any).
        resources: custom resources, e.g. ``{"accelerator": 2}``.
        object_store_memory: bytes of shared memory for objects (default 30% of RAM).
        spill_dir: where objects spill when the store is full (default: the temp dir).
        backend: ``"local"`` (the embedded runtime) or ``"ray"`` (a Ray cluster).
        address: the Ray cluster address for ``backend="ray"``.
        ignore_reinit_error: return quietly if already initialized.
    """
    global _runtime, _backend, _atexit_registered
    if context.get_client() is not None and os.environ.get("STREAMDATA_WORKER"):
        return {}  # inside a worker: the runtime is the driver's
    with _init_lock:
        if _runtime is not None:
            if ignore_reinit_error:
                return _runtime_info()
            raise RuntimeError("streamdata is already initialized; call sd.shutdown() first or pass "
                               "ignore_reinit_error=True")
        unknown = sorted(set(kwargs) - {"include_dashboard", "log_to_driver", "namespace", "logging_level",
                                        "configure_logging", "runtime_env", "_temp_dir", "dashboard_host"})
        if unknown:
            raise TypeError(f"init() got unexpected argument(s) {unknown}")
        if backend == "ray":
            if _backend is not None and _backend.name == "ray":
                if ignore_reinit_error:
                    return {"backend": "ray"}
                raise RuntimeError("streamdata is already initialized on Ray; call sd.shutdown() first")
            from streamdata.core.backends.ray import RayBackend
            _backend = RayBackend.start(address=address, num_cpus=num_cpus, num_gpus=num_gpus,
                                        resources=resources, object_store_memory=object_store_memory)
            return {"backend": "ray"}
        if backend != "local":
            raise ValueError(f"unknown backend {backend!r}; expected 'local' or 'ray'")
        if address not in (None, "local"):
            raise ValueError(f"address={address!r} needs backend='ray'; the local runtime runs in this process")
        from streamdata.core.runtime import Runtime, default_object_store_memory
        cpus = float(num_cpus if num_cpus is not None else (os.cpu_count() or 1))
        gpus = float(num_gpus if num_gpus is not None else _detect_gpus())
        if cpus < 0 or gpus < 0:
            raise ValueError("num_cpus and num_gpus must be >= 0")
        store = int(object_store_memory or default_object_store_memory())
        memory = float(psutil.virtual_memory().available * 0.7)
        _runtime = Runtime(num_cpus=cpus, num_gpus=gpus, resources=dict(resources or {}),
                           object_store_memory=store, spill_dir=spill_dir, memory=memory)
        context.set_client(_runtime)
        if _backend is None:  # a Ray backend started explicitly stays the one the API uses
            _backend = LocalBackend(_runtime)
        if not _atexit_registered:
            atexit.register(shutdown)
            _atexit_registered = True
        return _runtime_info()


def _runtime_info() -> dict:
    return {"session": _runtime.session, "object_store_dir": _runtime.shm_dir}


def shutdown() -> None:
    """Stop the workers and free every object (shared memory and spill files)."""
    global _runtime, _backend
    with _init_lock:
        backend, _backend = _backend, None
        if backend is not None and backend.name == "ray":
            backend.shutdown()
        runtime, _runtime = _runtime, None
        if runtime is None:
            return
        if context.get_client() is runtime:
            context.set_client(None)
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


def _choose_local(client: Any) -> Backend:
    global _backend
    with _init_lock:
        if _backend is None:
            _backend = LocalBackend(client)
        return _backend


context.install(_active)


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
        return LocalBackend.make_remote(*args, **options)
    return backend.remote(*args, **options)


def get(refs: ObjectRef | Sequence[ObjectRef], *, timeout: float | None = None) -> Any:
    """The value(s) of ``refs``, waiting for them. Raises the task's error
    (``TaskError``, also an instance of the user's exception class) or
    ``GetTimeoutError`` after ``timeout`` seconds."""
    return _active().get(refs, timeout)


def put(value: Any) -> ObjectRef:
    """Store ``value`` in the object store; returns its ObjectRef."""
    return _active().put(value)


def wait(refs: Sequence[ObjectRef], *, num_returns: int = 1, timeout: float | None = None,
         fetch_local: bool = True) -> tuple[list[ObjectRef], list[ObjectRef]]:
    """Wait until ``num_returns`` of ``refs`` are ready (or ``timeout``).

    Returns ``(ready, not_ready)``, each in the order of ``refs``.
    """
    return _active().wait(refs, num_returns, timeout, fetch_local)


def cancel(ref: ObjectRef, *, force: bool = False, recursive: bool = True) -> None:
    """Cancel the task that produces ``ref``; ``get`` then raises TaskCancelledError."""
    return _active().cancel(ref, force, recursive)


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


def _runtime_for_tests() -> Any:
    """The driver's Runtime object (tests inspect internals through it)."""
    return _runtime


def is_object_ref(value: Any) -> bool:
    """Whether ``value`` is an ObjectRef of the active backend."""
    if isinstance(value, ObjectRef):
        return True
    backend = _backend or _found()
    return backend is not None and backend.is_ref(value)
