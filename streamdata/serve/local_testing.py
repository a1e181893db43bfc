"""``serve.run(app, _local_testing_mode=True)``: an application in this process, for unit
tests of deployment code (Ray Serve's local testing mode).

Each deployment of the application is built once, here: its class with its bound
arguments, a bound application replaced by a handle to that deployment, and
``reconfigure(user_config)`` called when it has one. No controller, replica actors or
HTTP proxy start. Calls go through local handles whose responses are Serve's own
``DeploymentResponse`` / ``DeploymentResponseGenerator`` (``.result()``, ``await``,
iteration), run on one event loop thread; a response passed as an argument is
resolved first, as between replicas. ``cancel()`` works as with replicas: the async
method gets ``asyncio.CancelledError``, the calls it made are cancelled with it, the
caller gets ``RequestCancelledError``.

Example:
    >>> from streamdata import serve
    >>> @serve.deployment
    ... class Doubler:
    ...     def __call__(self, x):
    ...         return 2 * x
    >>> @serve.deployment
    ... class Ingress:
    ...     def __init__(self, doubler):
    ...         self.doubler = doubler
    ...     async def __call__(self, x):
    ...         return await self.doubler.remote(x) + 1
    >>> handle = serve.run(Ingress.bind(Doubler.bind()), _local_testing_mode=True)
    >>> handle.remote(20).result()
    41
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Iterator
from typing import Any

from streamdata.serve._loop import EventLoopThread
from streamdata.serve.cancellation import RequestScope
from streamdata.serve.context import RequestContext, _request_context
from streamdata.serve.deployment import Application
from streamdata.serve.handle import DeploymentResponse, DeploymentResponseGenerator, _request_id, _resolve

_loop: EventLoopThread | None = None
_DONE = object()


class _LoopOwner:
    """What a ``DeploymentResponseGenerator`` needs of a client: the loop it runs on."""

    def __init__(self, loop_thread: EventLoopThread) -> None:
        self.loop_thread = loop_thread


def _loop_thread() -> EventLoopThread:
    global _loop
    if _loop is None:
        _loop = EventLoopThread("serve-local-testing", uvloop=False)
    return _loop


class LocalDeploymentHandle:
    """A handle to a deployment built in this process (``remote``, ``options``, methods as
    attributes, as ``DeploymentHandle``)."""

    def __init__(self, obj: Any, deployment_name: str, app_name: str, *, method_name: str = "__call__",
                 stream: bool = False, multiplexed_model_id: str = "") -> None:
        self._obj = obj
        self.deployment_name = deployment_name
        self.app_name = app_name
        self._method_name = method_name
        self._stream = stream
        self._model_id = multiplexed_model_id

    def options(self, *, method_name: str | None = None, stream: bool | None = None,
                multiplexed_model_id: str | None = None, **_: Any) -> LocalDeploymentHandle:
        return LocalDeploymentHandle(self._obj, self.deployment_name, self.app_name,
                                     method_name=self._method_name if method_name is None else method_name,
                                     stream=self._stream if stream is None else stream,
                                     multiplexed_model_id=self._model_id if multiplexed_model_id is None
                                     else multiplexed_model_id)

    def __getattr__(self, name: str) -> LocalDeploymentHandle:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.options(method_name=name)

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        loop_thread = _loop_thread()
        request_id = _request_id()  # inside a deployment: the request being served's, as between replicas
        target = self._obj if self._method_name == "__call__" else getattr(self._obj, self._method_name, None)
        if target is None or not callable(target):
            raise AttributeError(f"deployment {self.deployment_name!r} has no method {self._method_name!r}")
        context = RequestContext(request_id=request_id, app_name=self.app_name,
                                 multiplexed_model_id=self._model_id, _scope=RequestScope())
        parent = _request_context.get()._scope  # a deployment's call: cancelled with its request
        if self._stream:
            gen = DeploymentResponseGenerator(_stream(target, args, kwargs, context), _LoopOwner(loop_thread),
                                              request_id, parent)
            if parent is not None:
                parent.adopt(gen)
            return gen
        call = _call(target, args, kwargs, context)
        if loop_thread.in_loop():  # a deployment calling another: a task on the same loop
            response = DeploymentResponse(asyncio.ensure_future(call), loop_thread, request_id)
        else:
            response = DeploymentResponse(loop_thread.submit(call), loop_thread, request_id)
        if parent is not None:
            parent.adopt(response, response._future)
        return response

    def __repr__(self) -> str:
        return f"LocalDeploymentHandle(deployment={self.deployment_name!r}, app={self.app_name!r})"


@contextlib.contextmanager
def _serving(context: RequestContext) -> Iterator[None]:
    """``context`` as the request being served while the block runs (set back after; a
    stream's steps may run in different tasks, so no context-bound token is used)."""
    previous = _request_context.get()
    _request_context.set(context)
    try:
        yield
    finally:
        _request_context.set(previous)


async def _call(target: Any, args: tuple, kwargs: dict, context: RequestContext) -> Any:
    with _serving(context):
        try:
            args, kwargs = await _resolve(args, kwargs)
            result = target(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result
        except asyncio.CancelledError:
            context._scope.cancel_children()
            raise


async def _stream(target: Any, args: tuple, kwargs: dict, context: RequestContext) -> Any:
    with _serving(context):
        args, kwargs = await _resolve(args, kwargs)
        out = target(*args, **kwargs)
    if inspect.isgenerator(out):
        try:
            while True:
                with _serving(context):
                    item = next(out, _DONE)
                if item is _DONE:
                    return
                yield item
        finally:
            out.close()  # cancelled (or dropped) between two items
    if not inspect.isasyncgen(out):
        raise TypeError(f"{getattr(target, '__qualname__', target)} was called with stream=True but "
                        f"returned {type(out).__name__}, not a generator")
    try:
        while True:
            with _serving(context):
                try:
                    item = await out.__anext__()
                except StopAsyncIteration:
                    return
            yield item
    except (GeneratorExit, asyncio.CancelledError):
        context._scope.cancel_children()
        if out.ag_frame is not None and not out.ag_running:  # stopped between two items: it is cancelled too
            with _serving(context), contextlib.suppress(Exception, asyncio.CancelledError, GeneratorExit):
                await out.athrow(asyncio.CancelledError())
                await out.aclose()
        raise


def run_local(app: Application, name: str) -> LocalDeploymentHandle:
    """Build ``app``'s deployments in this process; the ingress deployment's handle."""
    return _build(app, name, {})


def _build(app: Application, app_name: str, built: dict[int, LocalDeploymentHandle]) -> LocalDeploymentHandle:
    if id(app) in built:  # one deployment bound twice in the graph is built once
        return built[id(app)]

    def arg(value: Any) -> Any:
        return _build(value, app_name, built) if isinstance(value, Application) else value

    deployment = app.deployment
    target = deployment.target
    args = tuple(arg(a) for a in app.args)
    kwargs = {k: arg(v) for k, v in app.kwargs.items()}
    obj = _run_on_loop(target, args, kwargs) if inspect.isclass(target) else target
    config = deployment.config
    if getattr(obj, "_sd_task_consumer", False):  # @task_consumer: its adapter starts consuming
        obj.initialize_callable(config.max_ongoing_requests)
    if config.has_user_config and hasattr(obj, "reconfigure"):
        _run_on_loop(obj.reconfigure, (config.user_config,), {})
    handle = built[id(app)] = LocalDeploymentHandle(obj, deployment.name, app_name)
    return handle


def _run_on_loop(fn: Any, args: tuple, kwargs: dict) -> Any:
    """``fn(*args, **kwargs)`` on the local loop (constructors may start tasks there), awaited if async."""
    async def call() -> Any:
        result = fn(*args, **kwargs)
        return await result if inspect.isawaitable(result) else result

    return _loop_thread().run(call())


__all__ = ["LocalDeploymentHandle", "run_local"]
