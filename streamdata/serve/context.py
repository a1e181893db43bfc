"""What a replica knows about itself and about the request it is serving:
``serve.get_replica_context()`` and ``serve.get_multiplexed_model_id()``
(Ray Serve's names).

Example:
    >>> token = _request_context.set(RequestContext(multiplexed_model_id="m1"))
    >>> get_multiplexed_model_id()
    'm1'
    >>> _request_context.reset(token)
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class DeploymentID:
    """A deployment's name and its application's name (Ray's ``DeploymentID``)."""

    name: str
    app_name: str = "default"


@dataclass(frozen=True, slots=True)
class ReplicaID:
    """A replica: ``unique_id`` within its deployment."""

    unique_id: str
    deployment_id: DeploymentID

    def to_full_id_str(self) -> str:
        return f"{self.deployment_id.app_name}#{self.deployment_id.name}#{self.unique_id}"


@dataclass(frozen=True)
class ReplicaContext:
    """The replica that runs the current code (``serve.get_replica_context()``)."""

    replica_id: ReplicaID
    servable_object: Any
    #: a :class:`~streamdata.serve.schema.ReplicaRank` in a replica (``.rank`` is the integer)
    rank: Any = None
    #: the deployment's target number of replicas when this one started
    world_size: int = 1
    #: a :class:`~streamdata.serve.gang.GangContext` in a replica of a gang-scheduled deployment
    gang_context: Any = None

    @property
    def app_name(self) -> str:
        return self.replica_id.deployment_id.app_name

    @property
    def deployment(self) -> str:
        return self.replica_id.deployment_id.name

    @property
    def replica_tag(self) -> str:
        return self.replica_id.unique_id


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The request being served (per asyncio task)."""

    request_id: str = ""
    route: str = ""
    multiplexed_model_id: str = ""
    app_name: str = ""
    session_id: str = ""
    #: the request's :class:`~.cancellation.RequestScope` in a replica (its child requests)
    _scope: Any = field(default=None, repr=False, compare=False)


_replica_context: ReplicaContext | None = None
_request_context: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "streamdata_serve_request", default=RequestContext())


def _set_replica_context(context: ReplicaContext | None) -> None:
    global _replica_context
    _replica_context = context


def get_replica_context() -> ReplicaContext:
    """The context of the replica running this code; raises outside a replica.

    Example:
        >>> try:
        ...     get_replica_context()
        ... except RuntimeError as e:
        ...     print("outside" in str(e))
        True
    """
    if _replica_context is None:
        raise RuntimeError("serve.get_replica_context() was called outside a replica; it only works in "
                           "a deployment's code (its constructor and methods)")
    return _replica_context


def _get_internal_replica_context() -> ReplicaContext | None:
    """Ray's private accessor (its request-router examples use it): the replica's context, or None."""
    return _replica_context


def get_multiplexed_model_id() -> str:
    """The model id the current request asked for (``handle.options(multiplexed_model_id=...)``
    or the HTTP header ``serve_multiplexed_model_id``); ``""`` when none."""
    return _request_context.get().multiplexed_model_id


def get_request_context() -> RequestContext:
    return _request_context.get()


#: Ray's name (``ray.serve.context._get_serve_request_context``)
_get_serve_request_context = get_request_context


__all__ = ["DeploymentID", "ReplicaContext", "ReplicaID", "RequestContext", "get_multiplexed_model_id",
           "get_replica_context", "get_request_context"]
