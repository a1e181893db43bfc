"""``DeploymentHandle`` and ``DeploymentResponse`` (Ray Serve's names).

``handle.remote(x)`` (or ``handle.method_name.remote(x)``) routes one request
and returns a :class:`DeploymentResponse` at once: ``await`` it in async code,
call ``.result(timeout_s=None)`` in sync code. A handle can be passed to other
deployments (``App.bind(other_app)`` does it) and to tasks: there it routes with
a router of its own over the replicas that existed when it was sent.

Example:
    >>> import streamdata as sd
    >>> from streamdata import serve
    >>> @serve.deployment(num_cpus=0)
    ... class Echo:
    ...     def __call__(self, x):
    ...         return x
    ...     def upper(self, s):
    ...         return s.upper()
    >>> handle = serve.run(Echo.bind(), name="handle_doc")
    >>> handle.remote(3).result(), handle.upper.remote("a").result()
    (3, 'A')
    >>> serve.delete("handle_doc")
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any

from streamdata.errors import GetTimeoutError
from streamdata.serve.router import Router


class DeploymentResponse:
    """The answer to one request, on its way."""

    __slots__ = ("_future", "_router")

    def __init__(self, future: concurrent.futures.Future, router: Router | None = None) -> None:
        self._future = future
        self._router = router

    def result(self, *, timeout_s: float | None = None) -> Any:
        """Wait for the answer (at most ``timeout_s`` seconds) and return it; the
        deployment's exception is raised here (a TaskError that is also an
        instance of the deployment's exception class)."""
        try:
            return self._future.result(timeout_s)
        except concurrent.futures.TimeoutError:
            if self._future.done():
                raise  # the deployment itself raised a TimeoutError
            raise GetTimeoutError(f"the response did not arrive within {timeout_s} s") from None

    def __await__(self) -> Any:
        return asyncio.wrap_future(self._future).__await__()

    def done(self) -> bool:
        return self._future.done()

    def cancel(self) -> bool:
        """Cancel the request if it still waits for a replica; True when cancelled."""
        if self._router is not None:
            return self._router.cancel_queued(self._future)
        return False

    def __repr__(self) -> str:
        return f"DeploymentResponse({'done' if self._future.done() else 'pending'})"


class DeploymentHandle:
    """Sends requests to one deployment's replicas."""

    def __init__(self, router: Router, method_name: str = "__call__") -> None:
        self._router = router
        self._method_name = method_name

    @property
    def deployment_name(self) -> str:
        return self._router.deployment_name

    @property
    def app_name(self) -> str:
        return self._router.app_name

    def remote(self, *args: Any, **kwargs: Any) -> DeploymentResponse:
        """Route a call of the deployment's ``method_name`` (``__call__`` by default)."""
        return DeploymentResponse(self._router.submit(self._method_name, args, kwargs), self._router)

    def options(self, *, method_name: str | None = None, **_ignored: Any) -> DeploymentHandle:
        """A handle calling ``method_name`` (other Ray options are accepted and ignored)."""
        return DeploymentHandle(self._router, method_name or self._method_name)

    def __getattr__(self, name: str) -> DeploymentHandle:
        if name.startswith("_"):
            raise AttributeError(name)
        return DeploymentHandle(self._router, name)

    def __reduce__(self) -> tuple:
        router = self._router
        return (_rebuild_handle, (router.app_name, router.deployment_name, self._method_name,
                                  router.max_ongoing_requests, router.actors()))

    def __repr__(self) -> str:
        return (f"DeploymentHandle(app={self.app_name!r}, deployment={self.deployment_name!r}, "
                f"method={self._method_name!r})")


_routers_lock = threading.Lock()
#: routers of this process, by (app, deployment): the controller's in the driver,
#: rebuilt ones elsewhere
_routers: dict[tuple[str, str], Router] = {}


def register_router(router: Router) -> None:
    with _routers_lock:
        _routers[(router.app_name, router.deployment_name)] = router


def unregister_router(router: Router) -> None:
    with _routers_lock:
        key = (router.app_name, router.deployment_name)
        if _routers.get(key) is router:
            del _routers[key]


def _rebuild_handle(app_name: str, deployment_name: str, method_name: str, max_ongoing: int,
                    actors: list[Any]) -> DeploymentHandle:
    with _routers_lock:
        router = _routers.get((app_name, deployment_name))
        if router is None:
            router = Router(app_name, deployment_name, max_ongoing)
            for i, actor in enumerate(actors):
                router.add_replica(f"{deployment_name}#{i}", actor)
            _routers[(app_name, deployment_name)] = router
    return DeploymentHandle(router, method_name)


__all__ = ["DeploymentHandle", "DeploymentResponse", "register_router", "unregister_router"]
