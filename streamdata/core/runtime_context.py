"""``get_runtime_context()``: who and where this code runs (Ray's ``RuntimeContext``).

In the driver there is no task or actor (their ids are None); inside a task or
actor they come from the worker's current task. The local runtime is one node:
its id is derived from the session, so every process of a session agrees.

Example:
    >>> import streamdata as sd
    >>> _ = sd.init(num_cpus=1, ignore_reinit_error=True)
    >>> ctx = sd.get_runtime_context()
    >>> ctx.get_task_id() is None, len(ctx.get_node_id()), isinstance(ctx.namespace, str)
    (True, 56, True)
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from typing import Any

from streamdata.core import context
from streamdata.core.accelerators import accelerator_ids

#: the environment variable that carries ``init(namespace=...)`` to the workers
NAMESPACE_ENV = "STREAMDATA_NAMESPACE"
#: the environment variable that carries ``init(runtime_env=...)`` (JSON) to the workers
RUNTIME_ENV_ENV = "STREAMDATA_RUNTIME_ENV"


def session_name() -> str:
    """This runtime's session (the name of its shared-memory folder)."""
    client = context.get_client()
    shm_dir = getattr(client, "shm_dir", None)
    return os.path.basename(shm_dir) if shm_dir else ""


def node_id() -> str:
    """The one node's id: 56 hex digits, as Ray's NodeID (the same in every process of a session)."""
    return hashlib.sha224(f"node:{session_name()}".encode()).hexdigest()


def node_labels() -> dict[str, str]:
    """The one node's labels (Ray's ``ray.io/node-id`` label)."""
    return {"ray.io/node-id": node_id()}


#: the environment variable that carries a task's or actor's placement group (set by ``remote_function``)
PLACEMENT_GROUP_ENV = "STREAMDATA_PLACEMENT_GROUP"


def current_placement_group_info() -> dict | None:
    """``{"id", "bundles", "strategy"}`` of the placement group the running task or actor is in, or None."""
    raw = os.environ.get(PLACEMENT_GROUP_ENV)
    return json.loads(raw) if raw else None


class RuntimeContext:
    """The current job, task, actor and node (Ray's names)."""

    def _task(self) -> Any:
        return getattr(context.get_client(), "context", None)

    def _actor(self) -> tuple | None:
        return getattr(context.get_client(), "actor_info", None)

    # ---- ids
    def get_job_id(self) -> str:
        """The job's id (one job per driver session), as hex."""
        return hashlib.sha224(f"job:{session_name()}".encode()).hexdigest()[:8]

    def get_node_id(self) -> str:
        return node_id()

    def get_worker_id(self) -> str:
        client = context.get_client()
        return hashlib.sha224(str(getattr(client, "worker_id", "driver")).encode()).hexdigest()

    def get_task_id(self) -> str | None:
        """The running task's (or actor call's) id; None in the driver."""
        task = self._task()
        return getattr(task, "task_id", None)

    def get_task_name(self) -> str | None:
        task = self._task()
        return getattr(task, "task_name", None) if self.get_task_id() else None

    def get_task_function_name(self) -> str | None:
        return self.get_task_name()

    def get_actor_id(self) -> str | None:
        """The actor's id inside an actor (its constructor and its calls); else None."""
        actor = self._actor()
        return actor[0] if actor else None

    def get_actor_name(self) -> str | None:
        """The name the actor was created with (``.options(name=...)``) inside an actor, ``""``
        for an unnamed one, as Ray answers; None outside an actor."""
        actor = self._actor()
        return actor[4] if actor else None

    @property
    def was_current_actor_reconstructed(self) -> bool:
        """Whether this actor was restarted after its process died."""
        actor = self._actor()
        return bool(actor and actor[3])

    @property
    def current_actor(self) -> Any:
        raise NotImplementedError("get_runtime_context().current_actor is not supported by the local runtime "
                                  "(pass the handle to the actor instead, or use sd.init(backend='ray'))")

    # ---- resources
    def get_assigned_resources(self) -> dict[str, float]:
        """What the running task (or this actor) was granted, e.g. ``{"CPU": 1.0}``; {} in the driver."""
        task = self._task()
        if task is not None and getattr(task, "task_id", None):
            return dict(getattr(task, "resources", {}) or {})
        actor = self._actor()
        return dict(actor[2]) if actor else {}

    def get_accelerator_ids(self) -> dict[str, list[str]]:
        """The accelerators this task or actor may use, for every accelerator resource as in
        Ray: ``{"GPU": ["0"], "TPU": [], ...}`` ([] in the driver)."""
        task = self._task()
        return accelerator_ids(getattr(task, "device_ids", None) or {"GPU": getattr(task, "gpu_ids", []) or []})

    def get_resource_ids(self) -> dict[str, list[str]]:
        return self.get_accelerator_ids()

    def get_node_labels(self) -> dict[str, str]:
        return node_labels()

    # ---- placement
    def get_placement_group_id(self) -> str | None:
        """The id of the placement group this task or actor runs in; None outside one."""
        info = current_placement_group_info()
        return info["id"] if info else None

    current_placement_group_id = property(get_placement_group_id)

    def should_capture_child_tasks_in_placement_group(self) -> bool:
        """Whether tasks and actors started here without a scheduling strategy join this
        task's placement group (``placement_group_capture_child_tasks=True``)."""
        info = current_placement_group_info()
        return bool(info and info.get("capture"))

    # ---- job settings
    @property
    def namespace(self) -> str:
        return os.environ.get(NAMESPACE_ENV, "")

    def get_runtime_env_string(self) -> str:
        return os.environ.get(RUNTIME_ENV_ENV, "{}")

    @property
    def runtime_env(self) -> dict:
        return json.loads(self.get_runtime_env_string())

    def get_session_name(self) -> str:
        return session_name()

    def get_temp_dir(self) -> str:
        return tempfile.gettempdir()

    @property
    def gcs_address(self) -> None:
        return None  # no GCS: the runtime is embedded in the driver

    def is_canceled(self) -> bool:
        return False

    # ---- Ray's older names
    @property
    def job_id(self) -> str:
        return self.get_job_id()

    @property
    def node_id(self) -> str:
        return self.get_node_id()

    @property
    def task_id(self) -> str | None:
        return self.get_task_id()

    @property
    def actor_id(self) -> str | None:
        return self.get_actor_id()

    def get(self) -> dict[str, Any]:
        """The context as a dict (Ray's deprecated ``get()``)."""
        out: dict[str, Any] = {"job_id": self.get_job_id(), "node_id": self.get_node_id(),
                               "namespace": self.namespace}
        if self.get_task_id():
            out["task_id"] = self.get_task_id()
        if self.get_actor_id():
            out["actor_id"] = self.get_actor_id()
        return out


def nodes_table(resources: dict[str, float]) -> list[dict[str, Any]]:
    """``nodes()``: Ray's one-dict-per-node shape for the one local node."""
    import socket
    return [{
        "NodeID": node_id(), "Alive": True, "alive": True, "NodeManagerAddress": "127.0.0.1",
        "NodeManagerHostname": socket.gethostname(), "NodeName": "127.0.0.1", "NodeManagerPort": 0,
        "ObjectManagerPort": 0, "ObjectStoreSocketName": getattr(context.get_client(), "shm_dir", ""),
        "RayletSocketName": "", "MetricsExportPort": 0, "Resources": dict(resources),
        "Labels": node_labels(), "DeathReason": 0, "DeathReasonMessage": "",
        "IsHeadNode": True,
    }]
