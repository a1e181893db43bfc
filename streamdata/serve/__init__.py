"""``sd.serve``: online inference with Ray Serve's names and semantics.

What serve owns: deployments (``@serve.deployment``, ``bind``), the controller
actor (applications, replica lifecycle, health checks, autoscaling, its
checkpoint), the proxy actor (HTTP on Uvicorn, gRPC), replica actors and the
data plane between callers and replicas (Unix sockets), handles, request
batching (``@serve.batch``), model multiplexing, ``@serve.ingress`` (FastAPI),
and serve's Prometheus metrics.

What serve may import: the base types (``streamdata.errors``) and the runtime's
public API (``sd.remote``, ``sd.get``, ``sd.kill``, named actors, through
``serve._runtime``); and uvicorn, starlette, fastapi, grpcio, prometheus_client
lazily. Nothing in streamdata below serve imports it.

Inside serve: ``controller`` → ``deployment_state`` → ``replica``/``channel``;
``http_proxy``/``grpc_proxy`` → ``client`` → ``router`` → ``channel`` → ``wire``;
the proxy never imports the controller (they meet through the runtime).

Example:
    >>> from streamdata import serve
    >>> _ = serve.start(http_options={"port": 0})
    >>> @serve.deployment(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=16)
    ... class Model:
    ...     @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.05)
    ...     async def __call__(self, xs):
    ...         return [x * 10 for x in xs]
    >>> handle = serve.run(Model.bind(), name="serve_doc")
    >>> [r.result() for r in [handle.remote(i) for i in range(4)]]
    [0, 10, 20, 30]
    >>> serve.shutdown()
"""

from __future__ import annotations

import importlib.util

from streamdata.errors import BackPressureError
from streamdata.serve.api import (
    delete,
    get_app_handle,
    get_deployment_handle,
    RunTarget,
    get_trace_context,
    http_address,
    run,
    run_many,
    shutdown,
    shutdown_async,
    start,
    status,
)
from streamdata.serve.autoscaling import AutoscalingConfig
from streamdata.serve.batching import batch
from streamdata.serve.config import BackpressureConfig, HTTPOptions, gRPCOptions
from streamdata.serve.context import ReplicaContext, get_multiplexed_model_id, get_replica_context
from streamdata.serve.deployment import Application, Deployment, deployment
from streamdata.serve.deployment_actors import get_deployment_actor, get_deployment_actor_context
from streamdata.serve.handle import DeploymentHandle, DeploymentResponse, DeploymentResponseGenerator
from streamdata.serve.ingress import ingress
from streamdata.serve.multiplex import multiplexed
from streamdata.serve.schema import ServeStatus

if importlib.util.find_spec("starlette") is not None:
    # as ``from ray import serve`` does: code that only imports ``starlette`` may then name
    # ``starlette.requests.Request`` (Ray's docs do, in annotations evaluated at class definition)
    importlib.import_module("starlette.requests")

__all__ = ["Application", "AutoscalingConfig", "BackPressureError", "BackpressureConfig", "Deployment", "DeploymentHandle",
           "DeploymentResponse", "DeploymentResponseGenerator", "HTTPOptions", "ReplicaContext", "ServeStatus",
           "batch", "delete", "deployment", "gRPCOptions", "get_app_handle", "get_deployment_actor",
           "get_deployment_actor_context", "get_deployment_handle",
           "get_multiplexed_model_id", "get_replica_context", "http_address", "ingress", "multiplexed", "run",
           "shutdown", "start", "status", "RunTarget", "run_many", "shutdown_async", "get_trace_context"]
