"""``serve.status()``'s answer in Ray Serve's shape: :class:`ServeStatus` →
``applications`` (:class:`ApplicationStatusOverview`) → ``deployments``
(:class:`DeploymentStatusOverview`) → status, replica states, message.

Example:
    >>> s = ServeStatus.from_dict({"proxies": {"node": "HEALTHY"}, "applications": {"app": {
    ...     "status": "RUNNING", "message": "", "last_deployed_time_s": 1.0, "deployments": {"D": {
    ...     "status": "HEALTHY", "status_trigger": "CONFIG_UPDATE_COMPLETED",
    ...     "replica_states": {"RUNNING": 2}, "message": ""}}}}})
    >>> s.applications["app"].status, s.applications["app"].deployments["D"].replica_states
    (<ApplicationStatus.RUNNING: 'RUNNING'>, {'RUNNING': 2})
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from streamdata.serve.logs import LoggingConfig


@dataclass(frozen=True)
class ReplicaRank:
    """A replica's rank in its deployment (``serve.get_replica_context().rank``, and the second
    argument of ``reconfigure(user_config, rank)``): ``rank`` is unique among the deployment's
    live replicas, from 0 up; one machine is node 0, so ``local_rank`` equals ``rank``.

    Example:
        >>> ReplicaRank(rank=2, node_rank=0, local_rank=2).rank
        2
    """

    rank: int
    node_rank: int = 0
    local_rank: int = 0


class ApplicationStatus(str, enum.Enum):
    NOT_STARTED = "NOT_STARTED"
    DEPLOYING = "DEPLOYING"
    DEPLOY_FAILED = "DEPLOY_FAILED"
    RUNNING = "RUNNING"
    UNHEALTHY = "UNHEALTHY"
    DELETING = "DELETING"


class DeploymentStatus(str, enum.Enum):
    UPDATING = "UPDATING"
    HEALTHY = "HEALTHY"
    UNHEALTHY = "UNHEALTHY"
    DEPLOY_FAILED = "DEPLOY_FAILED"
    UPSCALING = "UPSCALING"
    DOWNSCALING = "DOWNSCALING"


class ProxyStatus(str, enum.Enum):
    STARTING = "STARTING"
    HEALTHY = "HEALTHY"
    UNHEALTHY = "UNHEALTHY"
    DRAINING = "DRAINING"
    DRAINED = "DRAINED"


@dataclass(frozen=True)
class DeploymentStatusOverview:
    status: DeploymentStatus
    status_trigger: str
    replica_states: dict[str, int]
    message: str = ""


@dataclass(frozen=True)
class ApplicationStatusOverview:
    status: ApplicationStatus
    message: str
    last_deployed_time_s: float
    deployments: dict[str, DeploymentStatusOverview] = field(default_factory=dict)


@dataclass(frozen=True)
class ServeStatus:
    proxies: dict[str, ProxyStatus] = field(default_factory=dict)
    applications: dict[str, ApplicationStatusOverview] = field(default_factory=dict)
    target_capacity: float | None = None

    @staticmethod
    def from_dict(data: dict[str, Any]) -> ServeStatus:
        apps = {}
        for name, app in data.get("applications", {}).items():
            deps = {d: DeploymentStatusOverview(DeploymentStatus(v["status"]), v["status_trigger"],
                                                dict(v["replica_states"]), v.get("message", ""))
                    for d, v in app["deployments"].items()}
            apps[name] = ApplicationStatusOverview(ApplicationStatus(app["status"]), app.get("message", ""),
                                                   app["last_deployed_time_s"], deps)
        proxies = {k: ProxyStatus(v) for k, v in data.get("proxies", {}).items()}
        return ServeStatus(proxies, apps)


_TASK_NAMES = ("CeleryAdapterConfig", "TaskProcessorAdapter", "TaskProcessorConfig", "TaskResult")


def __getattr__(name: str) -> Any:
    """The asynchronous-inference models (``TaskProcessorConfig``, …), imported on first use (pydantic)."""
    if name in _TASK_NAMES:
        from streamdata.serve import _task_schema
        return getattr(_task_schema, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["LoggingConfig", "ApplicationStatus", "ApplicationStatusOverview", "DeploymentStatus", "DeploymentStatusOverview",
           "ProxyStatus", "ServeStatus", *_TASK_NAMES]
