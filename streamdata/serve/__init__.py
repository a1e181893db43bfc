"""``sd.serve``: online inference on replica actors, with request batching (Ray
Serve's names and semantics).

``@serve.deployment`` turns a class into replica actors, ``serve.run(App.bind())``
deploys it and returns a handle (``handle.remote(x).result()``, or ``await``),
``http_port=`` adds an HTTP ingress on 127.0.0.1, and ``@serve.batch`` gathers
concurrent calls into one call of a list.

Example:
    >>> from streamdata import serve
    >>> @serve.deployment(num_cpus=0, max_ongoing_requests=16)
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

from streamdata.errors import BackPressureError
from streamdata.serve.autoscaling import AutoscalingConfig
from streamdata.serve.batching import batch
from streamdata.serve.controller import (
    delete,
    get_app_handle,
    get_deployment_handle,
    http_address,
    run,
    shutdown,
    status,
)
from streamdata.serve.deployment import Application, Deployment, deployment
from streamdata.serve.handle import DeploymentHandle, DeploymentResponse

__all__ = ["Application", "AutoscalingConfig", "BackPressureError", "Deployment", "DeploymentHandle",
           "DeploymentResponse", "batch", "delete", "deployment", "get_app_handle", "get_deployment_handle",
           "http_address", "run", "shutdown", "status"]
