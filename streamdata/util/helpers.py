"""Small helpers of ``ray.util``: results as they complete, node address, named actors, log-once.

Example:
    >>> import streamdata as sd
    >>> @sd.remote
    ... def sq(x):
    ...     return x * x
    >>> sorted(as_completed([sq.remote(i) for i in range(4)], chunk_size=2))
    [0, 1, 4, 9]
    >>> sorted(map_unordered(sq, range(5), backpressure_size=2))
    [0, 1, 4, 9, 16]
    >>> get_node_ip_address()
    '127.0.0.1'
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from streamdata.core import api, context
from streamdata.core.validate import check_int

__all__ = ["as_completed", "map_unordered", "get_node_ip_address", "get_node_instance_id", "list_named_actors",
           "log_once", "disable_log_once_globally", "enable_periodic_logging"]


def _ray() -> Any:
    backend = context.current_backend()
    return backend.ray if backend.name == "ray" else None


def as_completed(refs: Sequence[Any], *, chunk_size: int = 10, yield_obj_refs: bool = False,
                 **kwargs: Any) -> Iterator[Any]:
    """Yield the values of ``refs`` as they become ready, ``chunk_size`` at a time.

    Args:
        refs: object refs (of tasks, actor calls or ``put``).
        chunk_size: how many ready refs each wait collects (fewer at the end).
        yield_obj_refs: yield the refs instead of their values.
        **kwargs: passed to ``wait`` (``timeout``, ``fetch_local``).
    """
    if isinstance(refs, (str, bytes)) or not isinstance(refs, Sequence):
        raise TypeError(f"as_completed(refs=...) expects a list of ObjectRefs, got {type(refs).__name__}")
    check_int("as_completed(chunk_size=...)", chunk_size, minimum=1)
    remaining = list(refs)
    while remaining:
        ready, remaining = api.wait(remaining, num_returns=min(chunk_size, len(remaining)), **kwargs)
        if yield_obj_refs:
            yield from ready
        elif ready:
            yield from api.get(ready)


def map_unordered(fn: Any, items: Iterable[Any], *, backpressure_size: int | None = 100, chunk_size: int = 10,
                  yield_obj_refs: bool = False, **kwargs: Any) -> Iterator[Any]:
    """Run ``fn.remote(item)`` for every item, at most ``backpressure_size`` at once; yield
    the results as they complete.

    Args:
        fn: a remote function (``@sd.remote``).
        items: the inputs, consumed lazily.
        backpressure_size: the most tasks in flight (None: no limit).
        chunk_size: how many ready results each wait collects.
        yield_obj_refs: yield the refs instead of their values.
        **kwargs: passed to ``wait`` (``timeout``, ``fetch_local``).
    """
    if not hasattr(fn, "remote"):
        raise TypeError(f"map_unordered(fn=...) expects a remote function (decorated with @remote), got "
                        f"{type(fn).__name__}")
    if backpressure_size is not None:
        check_int("map_unordered(backpressure_size=...)", backpressure_size, minimum=1)
    check_int("map_unordered(chunk_size=...)", chunk_size, minimum=1)
    in_flight: list[Any] = []
    for item in items:
        in_flight.append(fn.remote(item))
        if backpressure_size is not None and len(in_flight) >= backpressure_size:
            ready, in_flight = api.wait(in_flight, num_returns=min(chunk_size, len(in_flight)), **kwargs)
            yield from (ready if yield_obj_refs else (api.get(ready) if ready else []))
    yield from as_completed(in_flight, chunk_size=chunk_size, yield_obj_refs=yield_obj_refs, **kwargs)


def get_node_ip_address(address: str | None = None) -> str:
    """The IP address of this node: ``127.0.0.1`` on the local runtime (one node, loopback)."""
    ray = _ray()
    if ray is not None:
        from ray.util import get_node_ip_address as ray_ip
        return ray_ip(address) if address is not None else ray_ip()
    return "127.0.0.1"


def get_node_instance_id() -> str:
    """The cloud instance id of this node ('' off a cloud, as Ray's)."""
    ray = _ray()
    if ray is not None:
        from ray.util import get_node_instance_id as ray_instance
        return ray_instance()
    return os.environ.get("RAY_CLOUD_INSTANCE_ID", "")


def list_named_actors(all_namespaces: bool = False) -> list:
    """The names of the live named actors; with ``all_namespaces``, ``{"name", "namespace"}`` dicts.

    Example:
        >>> import streamdata as sd
        >>> @sd.remote
        ... class Box:
        ...     pass
        >>> box = Box.options(name="doc_box").remote()
        >>> "doc_box" in list_named_actors()
        True
        >>> sd.kill(box)
    """
    if not isinstance(all_namespaces, bool):
        raise TypeError(f"list_named_actors(all_namespaces=...) must be a bool, got {all_namespaces!r}")
    ray = _ray()
    if ray is not None:
        from ray.util import list_named_actors as ray_list
        return ray_list(all_namespaces)
    names = context.current_client().call("list_named_actors")
    if not all_namespaces:
        return names
    namespace = api.get_runtime_context().namespace
    return [{"name": name, "namespace": namespace} for name in names]


_logged: set[str] = set()
_log_lock = threading.Lock()
_disabled = False


def log_once(key: str) -> bool:
    """True the first time ``key`` is seen in this process (to log a message once), then False.

    Example:
        >>> log_once("doc-key"), log_once("doc-key")
        (True, False)
    """
    with _log_lock:
        if _disabled:
            return False
        if key not in _logged:
            _logged.add(key)
            return True
        return False


def disable_log_once_globally() -> None:
    """Make every later ``log_once`` return False."""
    global _disabled
    _disabled = True


def enable_periodic_logging() -> None:
    """Forget the keys seen so far: each may log once again (Ray's periodic reset)."""
    with _log_lock:
        _logged.clear()
