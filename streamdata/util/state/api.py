"""``ray.util.state`` for streamdata: list, get and summarize tasks, actors, objects, ...

Every function asks the runtime's state machine for its rows now (the
``"state"`` request of :mod:`streamdata.core.requests`, computed by
:mod:`streamdata.core.state_query`), from the driver or from inside a task, and
returns Ray's schema objects (``TaskState``, ``ActorState``, ...), which read as
attributes or as dict items. Parameters are Ray's: ``filters`` is a list of
``(column, "=" | "!=", value)`` on the filterable columns (strings compare
case-insensitively), ``limit`` caps the rows (a warning says when rows were cut),
``detail=True`` fills the detail columns. On ``sd.init(backend="ray")`` the
calls go to Ray's own state API.

Example:
    >>> import streamdata as sd
    >>> from streamdata.util.state import list_tasks, summarize_tasks
    >>> _ = sd.init(num_cpus=1, ignore_reinit_error=True)
    >>> @sd.remote
    ... def documented_task():
    ...     return 1
    >>> sd.get(documented_task.remote())
    1
    >>> [t.state for t in list_tasks(filters=[("name", "=", "documented_task")])]
    ['FINISHED']
    >>> summarize_tasks()["cluster"]["summary"]["documented_task"]["state_counts"]
    {'FINISHED': 1}
"""

from __future__ import annotations

from typing import Any

from streamdata.util.state.common import (DEFAULT_LIMIT, DEFAULT_RPC_TIMEOUT, ActorState, NodeState, ObjectState,
                                          PlacementGroupState, StateSchema, TaskState, WorkerState, build,
                                          summarize_actor_rows, summarize_object_rows, summarize_task_rows)


# ----------------------------------------------------------------------------- queries
def _ray_state() -> Any:
    """Ray's state module when the Ray backend is active, else None."""
    from streamdata.core import context
    backend = context.current_backend()
    if backend.name != "ray":
        return None
    from ray.util import state as ray_state
    return ray_state


def _rows(resource: str, address: str | None, timeout: float | None) -> list[dict]:
    if address not in (None, "auto", "local"):
        raise ValueError(f"address={address!r}: the local runtime answers in this process "
                         "(use sd.init(backend='ray', address=...) for a cluster)")
    from streamdata.core import context
    return context.current_client().call("state", resource, timeout=timeout)


def _list(resource: str, schema: type[StateSchema], address: str | None, filters: list | None, limit: int,
          timeout: float | None, detail: bool, raise_on_missing_output: bool, _explain: bool) -> list[Any]:
    ray_state = _ray_state()
    if ray_state is not None:
        return getattr(ray_state, f"list_{resource}")(address=address, filters=filters, limit=limit,
                                                       timeout=timeout, detail=detail,
                                                       raise_on_missing_output=raise_on_missing_output,
                                                       _explain=_explain)
    return build(_rows(resource, address, timeout), schema, filters, limit, detail, resource)


def list_tasks(address: str | None = None, filters: list | None = None, limit: int = DEFAULT_LIMIT,
               timeout: int = DEFAULT_RPC_TIMEOUT, detail: bool = False, raise_on_missing_output: bool = True,
               _explain: bool = False) -> list[TaskState]:
    """Tasks and actor calls: the running and waiting ones and the last finished ones.

    States are Ray's (``PENDING_ARGS_AVAIL``, ``PENDING_NODE_ASSIGNMENT``, ``RUNNING``,
    ``RUNNING_IN_RAY_GET``, ``FINISHED``, ``FAILED``...); the newest ``limit`` rows are kept.
    """
    return _list("tasks", TaskState, address, filters, limit, timeout, detail, raise_on_missing_output, _explain)


def list_actors(address: str | None = None, filters: list | None = None, limit: int = DEFAULT_LIMIT,
                timeout: int = DEFAULT_RPC_TIMEOUT, detail: bool = False, raise_on_missing_output: bool = True,
                _explain: bool = False) -> list[ActorState]:
    """Every actor of the session (``PENDING_CREATION``, ``ALIVE``, ``RESTARTING``, ``DEAD``)."""
    return _list("actors", ActorState, address, filters, limit, timeout, detail, raise_on_missing_output,
                 _explain)


def list_objects(address: str | None = None, filters: list | None = None, limit: int = DEFAULT_LIMIT,
                 timeout: int = DEFAULT_RPC_TIMEOUT, detail: bool = False, raise_on_missing_output: bool = True,
                 _explain: bool = False) -> list[ObjectState]:
    """The objects alive in the object store (sizes, never values)."""
    return _list("objects", ObjectState, address, filters, limit, timeout, detail, raise_on_missing_output,
                 _explain)


def list_placement_groups(address: str | None = None, filters: list | None = None, limit: int = DEFAULT_LIMIT,
                          timeout: int = DEFAULT_RPC_TIMEOUT, detail: bool = False,
                          raise_on_missing_output: bool = True, _explain: bool = False) -> list[PlacementGroupState]:
    """Every placement group of the session with its state (and bundles with ``detail=True``)."""
    return _list("placement_groups", PlacementGroupState, address, filters, limit, timeout, detail,
                 raise_on_missing_output, _explain)


def list_workers(address: str | None = None, filters: list | None = None, limit: int = DEFAULT_LIMIT,
                 timeout: int = DEFAULT_RPC_TIMEOUT, detail: bool = False, raise_on_missing_output: bool = True,
                 _explain: bool = False) -> list[WorkerState]:
    """The live worker processes (task workers and actor hosts) with their pids."""
    return _list("workers", WorkerState, address, filters, limit, timeout, detail, raise_on_missing_output,
                 _explain)


def list_nodes(address: str | None = None, filters: list | None = None, limit: int = DEFAULT_LIMIT,
               timeout: int = DEFAULT_RPC_TIMEOUT, detail: bool = False, raise_on_missing_output: bool = True,
               _explain: bool = False) -> list[NodeState]:
    """The nodes: one, this machine, on the local runtime."""
    ray_state = _ray_state()
    if ray_state is not None:
        return ray_state.list_nodes(address=address, filters=filters, limit=limit, timeout=timeout,
                                    detail=detail, raise_on_missing_output=raise_on_missing_output,
                                    _explain=_explain)
    import socket

    from streamdata.core import api
    from streamdata.core.state_query import NODE_ID, NODE_IP
    row = {"node_id": NODE_ID, "node_ip": NODE_IP, "is_head_node": True, "state": "ALIVE",
           "state_message": None, "node_name": socket.gethostname(), "resources_total": api.cluster_resources(),
           "labels": {}}
    return build([row], NodeState, filters, limit, detail, "nodes")


def _get(resource: str, schema: type[StateSchema], key: str, id: str, address: str | None,
         timeout: float | None, _explain: bool) -> Any:
    ray_state = _ray_state()
    if ray_state is not None:
        return getattr(ray_state, f"get_{resource}")(id, address=address, timeout=timeout,
                                                      _explain=_explain)
    if not isinstance(id, str):
        if type(id).__name__ == "ObjectRef":
            raise NotImplementedError(f"get_{resource}(ObjectRef) is not supported on the local runtime: "
                                      f"pass the {resource} id (from list_{resource}s)")
        raise TypeError(f"get_{resource}(id=...) expects a str id, got {type(id).__name__}")
    rows = [r for r in _rows(resource + "s", address, timeout) if r[key] == id]
    if not rows:
        return None
    return build(rows[-1:], schema, None, 1, True, resource + "s")[0]


def get_task(id: Any, address: str | None = None, timeout: int = DEFAULT_RPC_TIMEOUT,
             _explain: bool = False) -> TaskState | None:
    """The task ``id`` (a task id string), or None if it is not known (any more)."""
    return _get("task", TaskState, "task_id", id, address, timeout, _explain)


def get_actor(id: str, address: str | None = None, timeout: int = DEFAULT_RPC_TIMEOUT,
              _explain: bool = False) -> ActorState | None:
    """The actor ``id`` (``handle._actor_id``... as Ray's hex id string), or None."""
    return _get("actor", ActorState, "actor_id", id, address, timeout, _explain)


def get_placement_group(id: str, address: str | None = None, timeout: int = DEFAULT_RPC_TIMEOUT,
                        _explain: bool = False) -> PlacementGroupState | None:
    """The placement group ``id``, or None."""
    return _get("placement_group", PlacementGroupState, "placement_group_id", id, address, timeout, _explain)


def get_worker(id: str, address: str | None = None, timeout: int = DEFAULT_RPC_TIMEOUT,
               _explain: bool = False) -> WorkerState | None:
    """The live worker process ``id`` (a worker id from ``list_workers``), or None."""
    return _get("worker", WorkerState, "worker_id", id, address, timeout, _explain)


def get_node(id: str, address: str | None = None, timeout: int = DEFAULT_RPC_TIMEOUT,
             _explain: bool = False) -> NodeState | None:
    """The node ``id`` (this machine's is the one node of the local runtime), or None."""
    ray_state = _ray_state()
    if ray_state is not None:
        return ray_state.get_node(id, address=address, timeout=timeout, _explain=_explain)
    return next(iter(list_nodes(address, filters=[("node_id", "=", id)], timeout=timeout, detail=True)), None)


def get_objects(id: str, address: str | None = None, timeout: int = DEFAULT_RPC_TIMEOUT,
                _explain: bool = False) -> list[ObjectState]:
    """The object ``id`` (``ref.hex()``) as each of its copies is listed: one row here, or none."""
    ray_state = _ray_state()
    if ray_state is not None:
        return ray_state.get_objects(id, address=address, timeout=timeout, _explain=_explain)
    return list_objects(address, filters=[("object_id", "=", id)], timeout=timeout, detail=True)


def _summary(name: str, resource: str, address: str | None, timeout: float | None,
             raise_on_missing_output: bool, _explain: bool) -> dict:
    ray_state = _ray_state()
    if ray_state is not None:
        return getattr(ray_state, name)(address=address, timeout=timeout,
                                        raise_on_missing_output=raise_on_missing_output, _explain=_explain)
    rows = _rows(resource, address, timeout)
    return {"tasks": summarize_task_rows, "actors": summarize_actor_rows,
            "objects": summarize_object_rows}[resource](rows)


def summarize_tasks(address: str | None = None, timeout: int = DEFAULT_RPC_TIMEOUT,
                    raise_on_missing_output: bool = True, _explain: bool = False) -> dict:
    """Task counts per state, per function or class name (Ray's ``{"cluster": {...}}`` shape)."""
    return _summary("summarize_tasks", "tasks", address, timeout, raise_on_missing_output, _explain)


def summarize_actors(address: str | None = None, timeout: int = DEFAULT_RPC_TIMEOUT,
                     raise_on_missing_output: bool = True, _explain: bool = False) -> dict:
    """Actor counts per state, per class."""
    return _summary("summarize_actors", "actors", address, timeout, raise_on_missing_output, _explain)


def summarize_objects(address: str | None = None, timeout: int = DEFAULT_RPC_TIMEOUT,
                      raise_on_missing_output: bool = True, _explain: bool = False) -> dict:
    """Object counts and total size."""
    return _summary("summarize_objects", "objects", address, timeout, raise_on_missing_output, _explain)


__all__ = ["list_tasks", "list_actors", "list_objects", "list_placement_groups", "list_workers", "list_nodes",
           "get_task", "get_actor", "get_placement_group", "get_worker", "get_node", "get_objects", "summarize_tasks",
           "summarize_actors", "summarize_objects"]
