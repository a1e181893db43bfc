"""The rows of ``ray.util.state`` (``TaskState``, ``ActorState``, ...) and the pure part of
the queries: filters, limits and summaries (Ray's ``ray.util.state.common``).

Example:
    >>> rows = [{"actor_id": "a1", "class_name": "C", "state": "ALIVE"}]
    >>> [a.state for a in build(rows, ActorState, [("state", "=", "alive")], 10, False, "actors")]
    ['ALIVE']
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Optional, Union


DEFAULT_LIMIT = 100
DEFAULT_RPC_TIMEOUT = 30
PredicateType = str
SupportedFilterType = Union[str, bool, int, float]


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


__all__ = ["DEFAULT_LIMIT", "DEFAULT_RPC_TIMEOUT", "ActorState", "NodeState", "ObjectState", "PlacementGroupState",
           "PredicateType", "StateSchema", "SupportedFilterType", "TaskState", "WorkerState", "apply_filters", "build",
           "summarize_actor_rows", "summarize_object_rows", "summarize_task_rows"]
