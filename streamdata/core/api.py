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

from streamdata.core import client as protocol
from streamdata.core.actor import ActorClass, ActorHandle, method
from streamdata.core.object_ref import ObjectRef
from streamdata.core.placement_group import (
    PlacementGroup,
    PlacementGroupSchedulingStrategy,
    placement_group,
    placement_group_table,
    remove_placement_group,
)
from streamdata.core.remote_function import RemoteFunction
from streamdata.errors import GetTimeoutError

__all__ = [
    "init", "shutdown", "is_initialized", "remote", "get", "put", "wait", "cancel", "kill", "get_actor",
    "available_resources", "cluster_resources", "get_gpu_ids", "object_store_stats", "method",
    "ObjectRef", "ActorHandle", "ActorClass", "RemoteFunction", "PlacementGroup",
    "PlacementGroupSchedulingStrategy", "placement_group", "remove_placement_group", "placement_group_table",
]

_init_lock = threading.RLock()
_runtime: Any = None
_ray: Any = None  # a RayBackend when sd.init(backend="ray")
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
    global _runtime, _atexit_registered
    if protocol.get_client() is not None and os.environ.get("STREAMDATA_WORKER"):
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
            global _ray
            if _ray is not None:
                if ignore_reinit_error:
                    return {"backend": "ray"}
                raise RuntimeError("streamdata is already initialized on Ray; call sd.shutdown() first")
            from streamdata.core.backends.ray import RayBackend
            _ray = RayBackend.start(address=address, num_cpus=num_cpus, num_gpus=num_gpus,
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
        protocol.set_client(_runtime)
        if not _atexit_registered:
            atexit.register(shutdown)
            _atexit_registered = True
        return _runtime_info()


def _runtime_info() -> dict:
    return {"session": _runtime.session, "object_store_dir": _runtime.shm_dir}


def shutdown() -> None:
    """Stop the workers and free every object (shared memory and spill files)."""
    global _runtime, _ray
    with _init_lock:
        if _ray is not None:
            backend, _ray = _ray, None
            backend.shutdown()
        runtime, _runtime = _runtime, None
        if runtime is None:
            return
        if protocol.get_client() is runtime:
            protocol.set_client(None)
    runtime.shutdown()


def _on_ray() -> Any:
    """The Ray backend when active (explicitly, or because this is a Ray worker)."""
    if _ray is not None:
        return _ray
    if _runtime is None and protocol.get_client() is None and "ray" in sys.modules:
        from streamdata.core.backends.ray import RayBackend
        return RayBackend.attached()
    return None


def is_initialized() -> bool:
    return _ray is not None or _runtime is not None or bool(os.environ.get("STREAMDATA_WORKER") and protocol.get_client())


def _client() -> protocol.ClientBase:
    client = protocol.get_client()
    if client is None:
        init()
        client = protocol.get_client()
    assert client is not None
    return client


def remote(*args: Any, **options: Any) -> Any:
    """Make a function a task (``RemoteFunction``) or a class an actor (``ActorClass``).

    Used bare (``@sd.remote``) or with options (``@sd.remote(num_cpus=2)``).
    """
    ray_backend = _on_ray()
    if ray_backend is not None:
        return ray_backend.remote(*args, **options)

    def make(target: Any) -> Any:
        if isinstance(target, type):
            return ActorClass(target, options)
        if callable(target):
            return RemoteFunction(target, options)
        raise TypeError(f"@remote applies to functions and classes, not {type(target).__name__}")

    if len(args) == 1 and not options and callable(args[0]):
        return make(args[0])
    if args:
        raise TypeError("use @remote or @remote(option=value, ...)")
    return make


def _as_ref_list(refs: Any, what: str) -> tuple[list[ObjectRef], bool]:
    if isinstance(refs, ObjectRef):
        return [refs], True
    if isinstance(refs, (list, tuple)):
        bad = [r for r in refs if not isinstance(r, ObjectRef)]
        if bad:
            raise TypeError(f"{what} expects ObjectRefs; got {type(bad[0]).__name__}")
        return list(refs), False
    raise TypeError(f"{what} expects an ObjectRef or a list of ObjectRefs, got {type(refs).__name__}")


def get(refs: ObjectRef | Sequence[ObjectRef], *, timeout: float | None = None) -> Any:
    """The value(s) of ``refs``, waiting for them. Raises the task's error
    (``TaskError``, also an instance of the user's exception class) or
    ``GetTimeoutError`` after ``timeout`` seconds."""
    ray_backend = _on_ray()
    if ray_backend is not None:
        return ray_backend.get(refs, timeout)
    ref_list, single = _as_ref_list(refs, "get()")
    if timeout is not None and timeout < 0:
        raise ValueError("timeout must be >= 0 or None")
    try:
        values = _client().get_values([r.id for r in ref_list], timeout)
    except GetTimeoutError:
        raise GetTimeoutError(f"get() timed out after {timeout} s waiting for {len(ref_list)} object(s)") from None
    return values[0] if single else values


def put(value: Any) -> ObjectRef:
    """Store ``value`` in the object store; returns its ObjectRef."""
    ray_backend = _on_ray()
    if ray_backend is not None:
        return ray_backend.put(value)
    return _client().put(value)


def wait(refs: Sequence[ObjectRef], *, num_returns: int = 1, timeout: float | None = None,
         fetch_local: bool = True) -> tuple[list[ObjectRef], list[ObjectRef]]:
    """Wait until ``num_returns`` of ``refs`` are ready (or ``timeout``).

    Returns ``(ready, not_ready)``, each in the order of ``refs``.
    """
    ray_backend = _on_ray()
    if ray_backend is not None:
        return ray_backend.wait(refs, num_returns, timeout, fetch_local)
    ref_list, single = _as_ref_list(refs, "wait()")
    if single:
        raise TypeError("wait() expects a list of ObjectRefs, not a single ObjectRef")
    if len(set(r.id for r in ref_list)) != len(ref_list):
        raise ValueError("wait() got duplicate ObjectRefs")
    if not ref_list:
        return [], []
    if not 0 <= num_returns <= len(ref_list):
        raise ValueError(f"num_returns={num_returns} must be between 0 and len(refs)={len(ref_list)}")
    if not ref_list or num_returns == 0:
        return [], list(ref_list)
    ready_ids = _client().call("wait", [r.id for r in ref_list], num_returns, timeout)
    ready = [r for r in ref_list if r.id in ready_ids]
    if len(ready) > num_returns:
        ready = ready[:num_returns]
    chosen = {r.id for r in ready}
    return ready, [r for r in ref_list if r.id not in chosen]


def cancel(ref: ObjectRef, *, force: bool = False, recursive: bool = True) -> None:
    """Cancel the task that produces ``ref``; ``get`` then raises TaskCancelledError."""
    ray_backend = _on_ray()
    if ray_backend is not None:
        return ray_backend.cancel(ref, force, recursive)
    if not isinstance(ref, ObjectRef):
        raise TypeError(f"cancel() expects an ObjectRef, got {type(ref).__name__}")
    _client().call("cancel", ref.id, force)


def kill(actor: ActorHandle, *, no_restart: bool = True) -> None:
    """Kill an actor's process at once; it restarts only if ``no_restart=False`` and
    it has restarts left."""
    ray_backend = _on_ray()
    if ray_backend is not None:
        return ray_backend.kill(actor, no_restart)
    if not isinstance(actor, ActorHandle):
        raise TypeError(f"kill() expects an actor handle, got {type(actor).__name__}")
    _client().call("kill", actor._actor_id, no_restart)


def get_actor(name: str, namespace: str | None = None) -> ActorHandle:
    """The handle of the live actor created with ``.options(name=name)``."""
    ray_backend = _on_ray()
    if ray_backend is not None:
        return ray_backend.get_actor(name, namespace)
    info = _client().call("get_actor", name, namespace)
    return ActorHandle(info["actor_id"], info["class_name"], info["methods"])


def available_resources() -> dict[str, float]:
    ray_backend = _on_ray()
    if ray_backend is not None:
        return ray_backend.available_resources()
    return _client().call("available_resources")


def cluster_resources() -> dict[str, float]:
    ray_backend = _on_ray()
    if ray_backend is not None:
        return ray_backend.cluster_resources()
    return _client().call("cluster_resources")


def get_gpu_ids() -> list[int]:
    """Inside a task or actor: the ids of the GPUs assigned to it."""
    ray_backend = _on_ray()
    if ray_backend is not None:
        return ray_backend.get_gpu_ids()
    return _client().get_gpu_ids()


def object_store_stats() -> dict[str, int]:
    """``used_bytes``, ``capacity_bytes``, ``spilled_bytes`` (now), ``spilled_total_bytes``, ``num_objects``."""
    ray_backend = _on_ray()
    if ray_backend is not None:
        return ray_backend.object_store_stats()
    return _client().call("store_stats")


def _runtime_for_tests() -> Any:
    """The driver's Runtime object (tests inspect internals through it)."""
    return _runtime


def is_object_ref(value: Any) -> bool:
    """Whether ``value`` is an ObjectRef of the active backend."""
    if isinstance(value, ObjectRef):
        return True
    ray_backend = _on_ray()
    return ray_backend is not None and ray_backend.is_ref(value)
