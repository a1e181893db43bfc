"""The driver's records: one task or actor call (built from the spec a client sent), one worker."""

from __future__ import annotations

import pickle
from typing import Any

from streamdata.core.accelerators import visible_env
from streamdata.core.resources import Grant


class TaskRecord:
    """A task (or actor method call) from submission to completion.

    ``pinned`` holds the object ids this task keeps alive until it finishes: its
    top-level dependencies and the refs nested in its arguments.
    """

    __slots__ = ("task_id", "kind", "fn_id", "name", "args", "deps", "pinned", "return_ids", "demand",
                 "retries_left", "retry_exceptions", "env", "env_error", "pg_id", "bundle_index", "actor_id",
                 "method", "worker", "pool", "grant", "cancelled", "cancel_payload", "spec", "owner")

    def __init__(self, spec: dict) -> None:
        self.spec = spec  # kept as the task's lineage once it finishes
        self.task_id: str = spec["task_id"]
        self.kind: str = spec["kind"]
        self.fn_id: str = spec.get("fn_id", "")
        self.name: str = spec["name"]
        self.args: bytes = spec["args"]
        self.deps: list[str] = spec["deps"]
        self.pinned: list[str] = list(spec["deps"]) + list(spec["contained"])
        self.return_ids: list[str] = spec["return_ids"]
        self.demand: dict[str, float] = spec.get("demand") or {}
        self.retries_left: int = spec.get("max_retries", 0)
        self.retry_exceptions: Any = spec.get("retry_exceptions", False)
        self.env: dict[str, str] = spec.get("env") or {}
        #: why its runtime_env cannot be set up (it then fails with RuntimeEnvSetupError)
        self.env_error: str | None = spec.get("env_error")
        self.pg_id: str | None = spec.get("pg_id")
        self.bundle_index: int = spec.get("bundle_index", -1)
        self.actor_id: str | None = spec.get("actor_id")
        self.method: str | None = spec.get("method")
        self.worker: Any = None
        self.pool: Any = None
        self.grant: Any = None
        self.cancelled = False
        self.cancel_payload: tuple | None = None
        #: who submitted it (a worker id; "driver"): the memory monitor groups tasks by it
        self.owner: str = spec.get("owner", "driver")

    def env_for(self, grant: Any) -> dict[str, str]:
        """Environment for this run: runtime_env vars plus the devices granted
        (``CUDA_VISIBLE_DEVICES``, ``TPU_VISIBLE_CHIPS``, ...)."""
        visible = visible_env(grant.ids) if grant else {}
        return {**self.env, **visible} if visible else self.env

    def should_retry_exception(self, error: tuple) -> bool:
        """Whether an application exception is retried (``retry_exceptions``)."""
        if self.retries_left == 0 or not self.retry_exceptions:
            return False
        if self.retry_exceptions is True:
            return True
        try:
            exc = pickle.loads(error[0])
        except Exception:  # noqa: BLE001
            return False
        return isinstance(exc, tuple(self.retry_exceptions))

    def __repr__(self) -> str:
        return f"TaskRecord({self.kind} {self.name} {self.task_id})"


class WorkerState:
    """What the scheduler knows of one worker process (the process itself is the loop's)."""

    __slots__ = ("worker_id", "known_functions", "task", "actor_id", "blocked", "blocked_grant",
                 "blocking_request", "cancelled_requests", "alive", "held_refs", "pid", "started",
                 "kill_reason", "calls")

    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id
        self.known_functions: set[str] = set()
        self.task: TaskRecord | None = None
        self.actor_id: str | None = None
        self.blocked = False
        self.blocked_grant: Grant | None = None
        #: the get/wait request for which this worker lent its CPUs
        self.blocking_request: int | None = None
        #: requests the worker stopped waiting for (their late answers are dropped)
        self.cancelled_requests: set[int] = set()
        self.alive = True
        #: net ObjectRefs this process holds per object id (released if it dies)
        self.held_refs: dict[str, int] = {}
        #: the process id (from its Hello; None until then)
        self.pid: int | None = None
        #: when its current task started (a sequence number: larger is newer)
        self.started = 0
        #: why the runtime killed it (the memory monitor), reported as its death's cause
        self.kill_reason = ""
        #: finished runs per function id, for ``max_calls``
        self.calls: dict[str, int] = {}

    def count_call(self, task: TaskRecord) -> bool:
        """Count a finished run of ``task``'s function here; True when that was its
        ``max_calls``-th (as in Ray, the worker then exits: what the function leaked goes)."""
        max_calls = task.spec.get("max_calls") or 0
        if not max_calls:
            return False
        self.calls[task.fn_id] = done = self.calls.get(task.fn_id, 0) + 1
        return done >= max_calls

    def __repr__(self) -> str:
        return f"WorkerState({self.worker_id})"
