"""Serve's errors under Ray's module path (``ray.serve.exceptions``).

``BackPressureError`` is raised when every replica is full (HTTP 503),
``RequestCancelledError`` by ``response.result()`` after ``response.cancel()``; all are
``RayServeException`` s, so ``except ray.serve.exceptions.RayServeException`` runs as written.

Example:
    >>> issubclass(BackPressureError, RayServeException), issubclass(RequestCancelledError, RayServeException)
    (True, True)
"""

from __future__ import annotations

from streamdata.errors import (
    BackPressureError,
    DeploymentUnavailableError,
    RayServeException,
    ReplicaUnavailableError,
    RequestCancelledError,
)
from streamdata.serve.grpc_util import gRPCStatusError

__all__ = ["BackPressureError", "DeploymentUnavailableError", "RayServeException", "ReplicaUnavailableError",
           "RequestCancelledError", "gRPCStatusError"]
