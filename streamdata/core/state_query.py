"""Read-only views of the runtime's state in the shape of Ray's state API rows.

:func:`rows` turns what :class:`~streamdata.core.state.RuntimeState` already
keeps (its tasks, actors, objects, placement groups, workers and the task log
of :mod:`~streamdata.core.timeline`) into plain dicts whose keys are the
columns of ``ray.util.state``'s ``TaskState``, ``ActorState``, ``ObjectState``,
``PlacementGroupState`` and ``WorkerState``. Nothing is recorded twice: every
row is computed when asked. The driver answers the ``"state"`` request with it
(:mod:`streamdata.core.requests`), so tasks and the dashboard query the same way.

Example:
    >>> from streamdata.core.state import RuntimeState
    >>> state = RuntimeState(token="t", num_cpus=1, total={"CPU": 1.0}, object_store_memory=1 << 20)
    >>> _ = state.start()
    >>> [w["worker_type"] for w in rows(state, "workers")]
    ['WORKER']
    >>> rows(state, "tasks")
    []
"""

from __future__ import annotations

from typing import Any

#: the node id every row of the local runtime names (one node)
NODE_ID = "local"
NODE_IP = "127.0.0.1"

_ACTOR_STATES = {"pending": "PENDING_CREATION", "starting": "PENDING_CREATION", "alive": "ALIVE",
                 "restarting": "RESTARTING", "dead": "DEAD"}

RESOURCES = ("tasks", "actors", "objects", "placement_groups", "workers")


def rows(state: Any, resource: str, newest: int | None = None) -> list[dict[str, Any]]:
    """The rows of ``resource`` (one of :data:`RESOURCES`), computed from ``state`` now; with
    ``newest``, only the last ``newest`` finished tasks are built (a monitoring poll stays cheap)."""
    if resource not in RESOURCES:
        raise ValueError(f"unknown state resource {resource!r}; expected one of {list(RESOURCES)}")
    if resource == "tasks":
        return task_rows(state, newest)
    return _BUILDERS[resource](state)


def task_counts(state: Any) -> list[tuple[str, str, str, int]]:
    """``(name, type, state, count)`` of the tasks :func:`task_rows` would list, without building rows.

    Example:
        >>> from streamdata.core.state import RuntimeState
        >>> s = RuntimeState(token="t", num_cpus=1, total={"CPU": 1.0}, object_store_memory=1 << 20)
        >>> s.task_log.started("t1", "f", "w"); s.task_log.finished("t1", ok=True)
        >>> task_counts(s)
        [('f', 'NORMAL_TASK', 'FINISHED', 1)]
    """
    counts: dict[tuple[str, str, str], int] = {}
    for record in state.task_log.finished_details():
        key = (record[1], "ACTOR_TASK" if record[6] else "NORMAL_TASK", "FINISHED" if record[5] else "FAILED")
        counts[key] = counts.get(key, 0) + 1
    for row in task_rows(state, newest=0):
        key = (row["name"], row["type"], row["state"])
        counts[key] = counts.get(key, 0) + 1
    return [(*k, v) for k, v in counts.items()]


def _ms(t: float | None) -> int | None:
    return None if t is None else int(t * 1000)


def _pid_of(state: Any, worker_id: str | None) -> int | None:
    worker = state.workers.get(worker_id) if worker_id else None
    return None if worker is None else worker.pid


def task_rows(state: Any, newest: int | None = None) -> list[dict[str, Any]]:
    """Finished tasks (the task log's last records, or its ``newest``) then the live ones, with
    Ray's task states."""
    out: list[dict[str, Any]] = []
    finished = state.task_log.finished_details()
    if newest is not None:
        finished = finished[len(finished) - newest:] if newest > 0 else []
    for task_id, name, worker_id, start, end, ok, actor_id in finished:
        out.append(_task_row(task_id, name, "FINISHED" if ok else "FAILED", actor_id, worker_id,
                             _pid_of(state, worker_id), start, end,
                             None if ok else "TASK_EXECUTION_EXCEPTION", {}, None))
    queued = {t.task_id for t in state.ready_queue}
    for task in list(state.tasks.values()):
        worker = task.worker
        if worker is not None:
            status = "RUNNING"
            if worker.blocked:
                status = "RUNNING_IN_RAY_GET"
        elif task.kind == "call":
            status = "PENDING_ACTOR_TASK_ORDERING_OR_CONCURRENCY"
        elif task.task_id in queued:
            status = "PENDING_NODE_ASSIGNMENT"
        else:
            status = "PENDING_ARGS_AVAIL"
        worker_id = worker.worker_id if worker is not None else None
        out.append(_task_row(task.task_id, task.name, status, task.actor_id, worker_id,
                             worker.pid if worker is not None else None,
                             state.task_log.start_time(task.task_id), None, None, task.demand, task.pg_id))
    return out


def _task_row(task_id: str, name: str, status: str, actor_id: str | None, worker_id: str | None,
              pid: int | None, start: float | None, end: float | None, error_type: str | None,
              demand: dict, pg_id: str | None) -> dict[str, Any]:
    return {"task_id": task_id, "attempt_number": 0, "name": name, "state": status, "job_id": "01000000",
            "actor_id": actor_id, "type": "ACTOR_TASK" if actor_id else "NORMAL_TASK",
            "func_or_class_name": name, "parent_task_id": "", "node_id": NODE_ID if worker_id else None,
            "worker_id": worker_id, "worker_pid": pid, "error_type": error_type, "language": "PYTHON",
            "required_resources": dict(demand), "placement_group_id": pg_id,
            "start_time_ms": _ms(start), "end_time_ms": _ms(end)}


def actor_rows(state: Any) -> list[dict[str, Any]]:
    """Every actor of the session (dead ones too, as Ray keeps them)."""
    out = []
    for actor in list(state.actors.actors.values()):
        spec = actor.spec
        worker = actor.worker
        out.append({"actor_id": actor.actor_id, "class_name": spec["name"],
                    "state": _ACTOR_STATES.get(actor.state, actor.state.upper()), "job_id": "01000000",
                    "name": actor.name or "", "node_id": NODE_ID, "pid": worker.pid if worker else None,
                    "ray_namespace": spec.get("namespace"), "required_resources": dict(actor.creation.demand),
                    "death_cause": {"message": actor.death_cause} if actor.death_cause else None,
                    "is_detached": spec.get("lifetime") == "detached", "placement_group_id": actor.creation.pg_id,
                    "repr_name": "", "num_restarts": actor.restarts})
    return out


def object_rows(state: Any) -> list[dict[str, Any]]:
    """The objects alive now: their size (shared memory or spilled), whether they are ready."""
    out = []
    for obj_id, entry in list(state.directory.objects.items()):
        location = entry.location
        size = entry.size
        if location is not None and location[0] == "inline":
            size = len(location[1])
        out.append({"object_id": obj_id, "object_size": size,
                    "task_status": "FINISHED" if entry.state == "ready" else "PENDING_NODE_ASSIGNMENT",
                    "attempt_number": 0, "reference_type": "LOCAL_REFERENCE" if entry.refs > 0
                    else "USED_BY_PENDING_TASK", "call_site": "disabled", "type": "DRIVER",
                    "pid": None, "ip": NODE_IP,
                    "location": location[0] if location is not None else None, "num_refs": entry.refs})
    return out


def placement_group_rows(state: Any) -> list[dict[str, Any]]:
    """Every placement group of the session with its bundles and state."""
    return [{"placement_group_id": pg.pg_id, "name": pg.name or "", "creator_job_id": "01000000",
             "state": "PENDING" if pg.state == "INFEASIBLE" else pg.state,
             "bundles": [{"bundle_id": {"placement_group_id": pg.pg_id, "bundle_index": i},
                          "unit_resources": dict(b), "node_id": NODE_ID} for i, b in enumerate(pg.bundles)],
             "is_detached": False, "stats": None, "strategy": pg.strategy}
            for pg in list(state.placement.groups.values())]


def worker_rows(state: Any) -> list[dict[str, Any]]:
    """The live worker processes: task workers and actor hosts."""
    out = []
    for worker in list(state.workers.values()):
        out.append({"worker_id": worker.worker_id, "is_alive": worker.alive, "worker_type": "WORKER",
                    "exit_type": None, "node_id": NODE_ID, "ip": NODE_IP, "pid": worker.pid,
                    "exit_detail": None, "actor_id": worker.actor_id,
                    "task_id": worker.task.task_id if worker.task is not None else None})
    return out


_BUILDERS = {"tasks": task_rows, "actors": actor_rows, "objects": object_rows,
             "placement_groups": placement_group_rows, "workers": worker_rows}
