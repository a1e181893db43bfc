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

import warnings
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Optional, Union

from streamdata.errors import StreamDataError

DEFAULT_LIMIT = 100
DEFAULT_RPC_TIMEOUT = 30
PredicateType = str
SupportedFilterType = Union[str, bool, int, float]


class RayStateApiException(StreamDataError, RuntimeError):
    """A state query failed (Ray's name)."""


def _col(*, filterable: bool = False, detail: bool = False) -> Any:
    return field(default=None, metadata={"filterable": filterable, "detail": detail})


class StateSchema:
    """Base of the state rows: dataclasses that also read like dicts (as Ray's)."""

    @classmethod
    def list_columns(cls, detail: bool = True) -> list[str]:
        return [f.name for f in fields(cls) if detail or not f.metadata.get("detail")]  # type: ignore[arg-type]

    @classmethod
    def filterable_columns(cls) -> set[str]:
        return {f.name for f in fields(cls) if f.metadata.get("filterable")}  # type: ignore[arg-type]

    def asdict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)


@dataclass
class TaskState(StateSchema):
    task_id: str = _col(filterable=True)
    attempt_number: int = _col(filterable=True)
    name: str = _col(filterable=True)
    state: str = _col(filterable=True)
    job_id: str = _col(filterable=True)
    actor_id: Optional[str] = _col(filterable=True)
    type: str = _col(filterable=True)
    func_or_class_name: str = _col(filterable=True)
    parent_task_id: str = _col(filterable=True)
    node_id: Optional[str] = _col(filterable=True)
    worker_id: Optional[str] = _col(filterable=True)
    worker_pid: Optional[int] = _col(filterable=True)
    error_type: Optional[str] = _col(filterable=True)
    language: Optional[str] = _col(detail=True, filterable=True)
    required_resources: Optional[dict] = _col(detail=True)
    placement_group_id: Optional[str] = _col(detail=True, filterable=True)
    start_time_ms: Optional[int] = _col(detail=True)
    end_time_ms: Optional[int] = _col(detail=True)


@dataclass
class ActorState(StateSchema):
    actor_id: str = _col(filterable=True)
    class_name: str = _col(filterable=True)
    state: str = _col(filterable=True)
    job_id: str = _col(filterable=True)
    name: Optional[str] = _col(filterable=True)
    node_id: Optional[str] = _col(filterable=True)
    pid: Optional[int] = _col(filterable=True)
    ray_namespace: Optional[str] = _col(filterable=True)
    required_resources: Optional[dict] = _col(detail=True)
    death_cause: Optional[dict] = _col(detail=True)
    is_detached: Optional[bool] = _col(detail=True)
    placement_group_id: Optional[str] = _col(detail=True, filterable=True)
    repr_name: Optional[str] = _col(detail=True, filterable=True)
    num_restarts: int = _col(detail=True)


@dataclass
class ObjectState(StateSchema):
    object_id: str = _col(filterable=True)
    object_size: int = _col(filterable=True)
    task_status: str = _col(filterable=True)
    attempt_number: int = _col(filterable=True)
    reference_type: str = _col(filterable=True)
    call_site: str = _col(filterable=True)
    type: str = _col(filterable=True)
    pid: Optional[int] = _col(filterable=True)
    ip: str = _col(filterable=True)


@dataclass
class PlacementGroupState(StateSchema):
    placement_group_id: str = _col(filterable=True)
    name: str = _col(filterable=True)
    creator_job_id: str = _col(filterable=True)
    state: str = _col(filterable=True)
    bundles: Optional[list] = _col(detail=True)
    is_detached: Optional[bool] = _col(detail=True, filterable=True)
    stats: Optional[dict] = _col(detail=True)


@dataclass
class WorkerState(StateSchema):
    worker_id: str = _col(filterable=True)
    is_alive: bool = _col(filterable=True)
    worker_type: str = _col(filterable=True)
    exit_type: Optional[str] = _col(filterable=True)
    node_id: str = _col(filterable=True)
    ip: str = _col(filterable=True)
    pid: int = _col(filterable=True)
    exit_detail: Optional[str] = _col(detail=True)


@dataclass
class NodeState(StateSchema):
    node_id: str = _col(filterable=True)
    node_ip: str = _col(filterable=True)
    is_head_node: bool = _col(filterable=True)
    state: str = _col(filterable=True)
    state_message: Optional[str] = _col()
    node_name: str = _col(filterable=True)
    resources_total: dict = _col()
    labels: dict = _col()


# ----------------------------------------------------------------------------- the pure part
def apply_filters(rows: list[dict], schema: type[StateSchema], filters: list | None) -> list[dict]:
    """Keep the rows matching every ``(column, predicate, value)``; Ray's rules.

    Example:
        >>> rows = [{"state": "RUNNING", "name": "a"}, {"state": "FINISHED", "name": "b"}]
        >>> [r["name"] for r in apply_filters(rows, TaskState, [("state", "=", "running")])]
        ['a']
        >>> [r["name"] for r in apply_filters(rows, TaskState, [("state", "!=", "RUNNING")])]
        ['b']
    """
    if not filters:
        return rows
    allowed = schema.filterable_columns()
    checks = []
    for item in filters:
        if not isinstance(item, (tuple, list)) or len(item) != 3:
            raise ValueError(f"filters must be (column, predicate, value) tuples, got {item!r}")
        column, predicate, value = item
        if column not in allowed:
            raise ValueError(f"the filter column {column!r} is not supported for {schema.__name__}; "
                             f"supported filter columns: {sorted(allowed)}")
        if predicate not in ("=", "!="):
            raise ValueError(f"unsupported filter predicate {predicate!r} (column {column!r}); "
                             "expected '=' or '!='")
        checks.append((column, predicate == "=", _normalize(value)))
    return [r for r in rows if all((_normalize(r.get(c)) == v) == eq for c, eq, v in checks)]


def _normalize(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value).lower()
    return value


def build(rows: list[dict], schema: type[StateSchema], filters: list | None, limit: int, detail: bool,
          what: str) -> list[Any]:
    """Filter, cut to ``limit`` (warning when rows are left out) and wrap rows in ``schema``."""
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise ValueError(f"limit must be a non-negative int, got {limit!r}")
    rows = apply_filters(rows, schema, filters)
    if len(rows) > limit:
        warnings.warn(f"{len(rows) - limit} of {len(rows)} {what} were left out (limit={limit}); "
                      "pass a larger limit or filters", UserWarning, stacklevel=3)
        rows = rows[-limit:] if what == "tasks" else rows[:limit]
    columns = schema.list_columns(detail=detail)
    return [schema(**{c: r.get(c) for c in columns}) for r in rows]


def summarize_task_rows(rows: list[dict]) -> dict:
    """Ray's ``summarize_tasks`` shape: counts of states per function/class name.

    Example:
        >>> rows = [{"name": "f", "func_or_class_name": "f", "type": "NORMAL_TASK", "state": "FINISHED"}] * 2
        >>> summarize_task_rows(rows)["cluster"]["summary"]["f"]["state_counts"]
        {'FINISHED': 2}
    """
    summary: dict[str, dict] = {}
    totals = {"NORMAL_TASK": 0, "ACTOR_TASK": 0, "ACTOR_CREATION_TASK": 0}
    for row in rows:
        key = row.get("name") or row.get("func_or_class_name")
        entry = summary.setdefault(key, {"func_or_class_name": key, "type": row["type"], "state_counts": {}})
        entry["state_counts"][row["state"]] = entry["state_counts"].get(row["state"], 0) + 1
        totals[row["type"]] = totals.get(row["type"], 0) + 1
    return {"cluster": {"summary": summary, "total_tasks": totals["NORMAL_TASK"],
                        "total_actor_tasks": totals["ACTOR_TASK"],
                        "total_actor_scheduled": totals["ACTOR_CREATION_TASK"], "summary_by": "func_name"}}


def summarize_actor_rows(rows: list[dict]) -> dict:
    """Ray's ``summarize_actors`` shape: counts of states per class."""
    summary: dict[str, dict] = {}
    for row in rows:
        entry = summary.setdefault(row["class_name"], {"class_name": row["class_name"], "state_counts": {}})
        entry["state_counts"][row["state"]] = entry["state_counts"].get(row["state"], 0) + 1
    return {"cluster": {"summary": summary, "total_actors": len(rows), "summary_by": "class"}}


def summarize_object_rows(rows: list[dict]) -> dict:
    """Ray's ``summarize_objects`` shape (one group: call sites are not recorded)."""
    size = sum(r.get("object_size") or 0 for r in rows)
    task_states: dict[str, int] = {}
    ref_types: dict[str, int] = {}
    for row in rows:
        task_states[row["task_status"]] = task_states.get(row["task_status"], 0) + 1
        ref_types[row["reference_type"]] = ref_types.get(row["reference_type"], 0) + 1
    group = {"total_objects": len(rows), "total_size_mb": size / 2**20, "total_num_workers": 1,
             "total_num_nodes": 1, "task_state_counts": task_states, "ref_type_counts": ref_types}
    return {"cluster": {"summary": {"disabled": group} if rows else {}, "total_objects": len(rows),
                        "total_size_mb": size / 2**20, "callsite_enabled": False, "summary_by": "callsite"}}


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
           "get_task", "get_actor", "get_placement_group", "get_worker", "get_node", "get_objects", "summarize_tasks", "summarize_actors",
           "summarize_objects", "TaskState", "ActorState", "ObjectState", "PlacementGroupState", "WorkerState",
           "NodeState", "RayStateApiException", "StateSchema"]
