"""``DeploymentHandle``, ``DeploymentResponse`` and ``DeploymentResponseGenerator``
(Ray Serve's names).

``handle.remote(x)`` (or ``handle.method_name.remote(x)``) routes one request and
returns a :class:`DeploymentResponse` at once: ``await`` it in async code, call
``.result(timeout_s=None)`` in sync code. ``handle.options(stream=True)`` calls a
generator method and returns a :class:`DeploymentResponseGenerator` (iterate it,
with ``for`` or ``async for``: items arrive as the replica yields them). A
response may be passed as an argument of another call (it is resolved first).
Handles travel to other deployments (``App.bind(other_app)``) and tasks; there
they route through that process's own router. ``response.cancel()`` cancels a
request (:mod:`.cancellation`): its answer then raises ``RequestCancelledError``;
after the answer came, it changes nothing.

Example:
    >>> from streamdata import serve
    >>> _ = serve.start(http_options={"port": 0})
    >>> @serve.deployment(ray_actor_options={"num_cpus": 0})
    ... class Echo:
    ...     def __call__(self, x):
    ...         return x
    ...     def upper(self, s):
    ...         return s.upper()
    ...     def count(self, n):
    ...         yield from range(n)
    >>> handle = serve.run(Echo.bind(), name="handle_doc", route_prefix=None)
    >>> handle.remote(3).result(), handle.upper.remote("a").result()
    (3, 'A')
    >>> list(handle.options(method_name="count", stream=True).remote(3))
    [0, 1, 2]
    >>> response = handle.remote(4)
    >>> response.result(), response.cancel(), response.result()
    (4, False, 4)
    >>> serve.delete("handle_doc")
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import uuid
from typing import Any

from streamdata.errors import GetTimeoutError
from streamdata.serve.cancellation import RequestScope, cancelled_error, uncancel
from streamdata.serve.client import ServeClient, get_client
from streamdata.serve.context import _request_context

_log = logging.getLogger("streamdata.serve")


def _request_id() -> str:
    """The id of a new request: the current request's (inside a replica), else a new one (as Ray)."""
    return _request_context.get().request_id or str(uuid.uuid4())


async def _resolve(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Await the DeploymentResponses among the top-level arguments."""
    if any(isinstance(a, DeploymentResponse) for a in args):
        args = tuple([await a if isinstance(a, DeploymentResponse) else a for a in args])
    if any(isinstance(v, DeploymentResponse) for v in kwargs.values()):
        kwargs = {k: (await v if isinstance(v, DeploymentResponse) else v) for k, v in kwargs.items()}
    return args, kwargs


class DeploymentResponse:
    """The answer to one request, on its way."""

    __slots__ = ("_future", "_loop", "_request_id", "_cancelled")

    def __init__(self, future: concurrent.futures.Future | asyncio.Future, loop: Any, request_id: str = "") -> None:
        self._future = future
        self._loop = loop
        self._request_id = request_id
        self._cancelled = False

    @property
    def request_id(self) -> str:
        """The request's id (the replica sees it as ``serve.context`` request id; inside a
        replica, a call made while serving a request carries that request's id, as Ray)."""
        return self._request_id

    @property
    def by_reference(self) -> bool:
        """Whether the result travels as an object reference: always False here (answers come
        back by value over the replica's socket, as Ray's ``_by_reference=False``)."""
        return False

    def result(self, *, timeout_s: float | None = None) -> Any:
        """Wait for the answer (at most ``timeout_s`` seconds) and return it; the
        deployment's exception is raised here (a TaskError that is also an
        instance of the deployment's exception class). A timeout does not cancel
        the request (call ``cancel()`` for that), as Ray's."""
        fut = self._future
        if isinstance(fut, asyncio.Future):
            raise RuntimeError("DeploymentResponse.result() would block the replica's event loop; "
                               "use `await response` in async code")
        try:
            return fut.result(timeout_s)
        except concurrent.futures.CancelledError:
            raise cancelled_error(self._request_id) from None
        except concurrent.futures.TimeoutError:
            if fut.done():
                raise  # the deployment itself raised a TimeoutError
            raise GetTimeoutError(f"the response did not arrive within {timeout_s} s") from None

    def __await__(self) -> Any:
        return self._wait().__await__()

    async def _wait(self) -> Any:
        fut = self._future
        try:
            if isinstance(fut, asyncio.Future):
                return await fut
            return await asyncio.wrap_future(fut)
        except asyncio.CancelledError:
            if self._cancelled and fut.cancelled():  # this response's cancel(), not the awaiting task's
                raise cancelled_error(self._request_id) from None
            raise

    async def _to_object_ref(self) -> Any:
        """The answer as an ``ObjectRef`` (Ray's advanced API, for passing it to tasks):
        awaited, then put in the object store (answers come back by value here)."""
        from streamdata.serve._runtime import runtime

        return runtime().put(await self)

    def _to_object_ref_sync(self, _timeout_s: float | None = None, _allow_running_in_asyncio_loop: bool = False
                            ) -> Any:
        """:meth:`_to_object_ref` outside an event loop (waits at most ``_timeout_s``)."""
        from streamdata.serve._runtime import runtime

        return runtime().put(self.result(timeout_s=_timeout_s))

    def done(self) -> bool:
        return self._future.done()

    def cancel(self) -> bool:
        """Cancel the request: one still waiting for a replica never runs; one running in
        an async method gets ``asyncio.CancelledError`` there, and so do the requests it
        made that have not answered; a sync method runs to its end (its answer is
        dropped). The answer then raises ``RequestCancelledError``. True when the request
        had not answered (after its answer, a cancel changes nothing)."""
        self._cancelled = True
        fut = self._future
        if isinstance(fut, asyncio.Future) and not _on_loop_of(fut):
            fut.get_loop().call_soon_threadsafe(fut.cancel)  # an asyncio future is cancelled on its loop
            return not fut.done()
        return fut.cancel()

    def cancelled(self) -> bool:
        """Whether ``cancel()`` was called (as Ray: the request may have answered before)."""
        return self._cancelled

    def __repr__(self) -> str:
        return f"DeploymentResponse({'done' if self._future.done() else 'pending'})"


def _on_loop_of(fut: asyncio.Future) -> bool:
    """Whether this thread runs ``fut``'s event loop."""
    try:
        return asyncio.get_running_loop() is fut.get_loop()
    except RuntimeError:
        return False


class DeploymentResponseGenerator:
    """The streamed answer of a generator method: iterate it (sync or async); ``cancel()``
    cancels the request (the next item raises ``RequestCancelledError``)."""

    def __init__(self, agen: Any, client: Any, request_id: str = "", scope: RequestScope | None = None) -> None:
        self._agen = agen
        self._client = client  # what runs the stream: ``client.loop_thread``
        self._request_id = request_id
        self._scope = scope  # the request that made this one, in a replica (cancelled with it)
        self._cancelled = False
        self._finished = False  # the stream ended (its last item taken, or its error raised)
        self._stepping: asyncio.Task | None = None  # the task taking an item now (on the stream's loop)
        self._aborted: asyncio.Task | None = None  # the stepping task cancel() cancelled

    @property
    def request_id(self) -> str:
        """The request's id."""
        return self._request_id

    @property
    def by_reference(self) -> bool:
        """Always False: items come back by value (see ``DeploymentResponse.by_reference``)."""
        return False

    def __iter__(self) -> DeploymentResponseGenerator:
        return self

    def __next__(self) -> Any:
        if self._client.loop_thread.in_loop():
            raise RuntimeError("iterate a streaming response with `async for` inside a replica")
        try:
            return self._client.loop_thread.run(self._step())
        except StopAsyncIteration:
            raise StopIteration from None

    def __aiter__(self) -> DeploymentResponseGenerator:
        return self

    async def __anext__(self) -> Any:
        if self._client.loop_thread.in_loop():
            return await self._step()
        return await asyncio.wrap_future(self._client.loop_thread.submit(self._step()))

    async def _step(self) -> Any:
        """The next item (on the stream's loop)."""
        if self._cancelled and not self._finished:
            raise cancelled_error(self._request_id)
        task = asyncio.current_task()
        self._stepping = task
        try:
            return await self._agen.__anext__()
        except asyncio.CancelledError:
            if self._aborted is task and task is not None:
                self._aborted = None
                if uncancel(task):  # cancel() stopped this step: the request was cancelled
                    self._release()
                    raise cancelled_error(self._request_id) from None
            self._end()
            raise
        except BaseException:  # StopAsyncIteration included
            self._end()
            raise
        finally:
            self._stepping = None

    def _end(self) -> None:
        """The stream ended by itself (a later ``cancel()`` changes nothing)."""
        self._finished = True
        self._release()

    def _release(self) -> None:
        if self._scope is not None:
            self._scope.release(self)

    def cancel(self) -> None:
        """Cancel the request (see ``DeploymentResponse.cancel``); a stream that ended is left as it is."""
        if self._cancelled:
            return
        self._cancelled = True
        loop_thread = self._client.loop_thread
        if loop_thread.in_loop():
            self._abort()
        else:
            loop_thread.loop.call_soon_threadsafe(self._abort)

    def cancelled(self) -> bool:
        """Whether ``cancel()`` was called."""
        return self._cancelled

    def _abort(self) -> None:
        """Stop the stream (on its loop): the item being taken, else the stream itself."""
        if self._finished:
            return
        task = self._stepping
        if task is not None:
            self._aborted = task
            task.cancel()
        else:
            self._release()
            self._client.loop_thread.loop.create_task(self._agen.aclose())


class DeploymentHandle:
    """Sends requests to one deployment's replicas."""

    def __init__(self, deployment_name: str, app_name: str, *, method_name: str = "__call__",
                 stream: bool = False, multiplexed_model_id: str = "", session_id: str = "",
                 _initialized: bool = False) -> None:
        self._deployment_name = deployment_name
        self._app_name = app_name
        self._method_name = method_name
        self._stream = stream
        self._model_id = multiplexed_model_id
        self._session_id = session_id
        self._initialized = _initialized

    @property
    def is_initialized(self) -> bool:
        """Whether the handle set up its router (``options()`` and ``remote()`` do, as Ray)."""
        return self._initialized

    def _init(self) -> None:
        """Set up this process's router of the deployment (it starts learning the replicas)."""
        if self._initialized:
            return
        client = get_client()
        assert client is not None
        key = (self.app_name, self.deployment_name)
        if client.loop_thread.in_loop():
            client.router(*key)
        else:
            client.loop_thread.run(_make_router(client, key))
        self._initialized = True

    def running_replicas_populated(self) -> bool:
        """Whether the handle's router was told of running replicas (False before the handle
        is initialized, as Ray)."""
        if not self._initialized:
            return False
        client = get_client(create=False)
        router = client.routers.get((self.app_name, self.deployment_name)) if client is not None else None
        return router is not None and router.populated

    def shutdown(self) -> None:
        """Close the router: requests waiting for a replica fail, and this waits until the
        ones sent already end. In streamdata all handles of a deployment in one process
        share one router (in Ray, the copies ``options()`` makes do); a later ``remote()``
        sets up a new one. Inside a replica's event loop use ``shutdown_async`` (this
        only closes the router there, as Ray's best effort)."""
        client = get_client(create=False)
        if not self._initialized or client is None:
            return
        if client.loop_thread.in_loop():
            _log.warning("DeploymentHandle.shutdown() on the event loop only closes the router; use "
                         "`await handle.shutdown_async()` to wait for its requests")
            client.loop.create_task(_shutdown_router(client, (self.app_name, self.deployment_name)))
            return
        client.loop_thread.run(_shutdown_router(client, (self.app_name, self.deployment_name)))

    async def shutdown_async(self) -> None:
        """``shutdown()`` for async code."""
        client = get_client(create=False)
        if not self._initialized or client is None:
            return
        coro = _shutdown_router(client, (self.app_name, self.deployment_name))
        if client.loop_thread.in_loop():
            await coro
        else:
            await asyncio.wrap_future(client.loop_thread.submit(coro))

    @property
    def deployment_name(self) -> str:
        """The name of the deployment this handle calls."""
        return self._deployment_name

    @property
    def app_name(self) -> str:
        """The name of the application the deployment belongs to."""
        return self._app_name

    def options(self, *, method_name: str | None = None, multiplexed_model_id: str | None = None,
                session_id: str | None = None, stream: bool | None = None,
                **unsupported: Any) -> DeploymentHandle:
        """A handle with other call options (``method_name``, ``stream``, ``multiplexed_model_id``,
        ``session_id``: the requests of one session prefer the replica that served it before)."""
        if unsupported:
            raise NotImplementedError(f"DeploymentHandle.options({', '.join(sorted(unsupported))}=...) is not "
                                      "supported by streamdata; supported: method_name, multiplexed_model_id, "
                                      "session_id, stream")
        return self._copy(method_name=method_name, multiplexed_model_id=multiplexed_model_id,
                          session_id=session_id, stream=stream)

    def _copy(self, *, method_name: str | None = None, multiplexed_model_id: str | None = None,
              session_id: str | None = None, stream: bool | None = None) -> DeploymentHandle:
        if stream is not None and not isinstance(stream, bool):
            raise TypeError(f"stream must be a bool, got {stream!r}")
        for name, value in (("method_name", method_name), ("multiplexed_model_id", multiplexed_model_id),
                            ("session_id", session_id)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"DeploymentHandle.options({name}=...) must be a str, got {value!r}")
        self._init()
        return DeploymentHandle(self.deployment_name, self.app_name,
                                method_name=self._method_name if method_name is None else method_name,
                                stream=self._stream if stream is None else stream,
                                multiplexed_model_id=self._model_id if multiplexed_model_id is None
                                else multiplexed_model_id,
                                session_id=self._session_id if session_id is None else session_id,
                                _initialized=self._initialized)

    def __getattr__(self, name: str) -> DeploymentHandle:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.options(method_name=name)

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        """Route a call of the handle's method (``__call__`` by default)."""
        client = get_client()
        assert client is not None
        key = (self.app_name, self.deployment_name)
        method, model_id, session_id = self._method_name, self._model_id, self._session_id
        parent = _request_context.get()
        request_id = parent.request_id or str(uuid.uuid4())  # a replica's call carries its request's id
        self._initialized = True

        if self._stream:
            async def agen() -> Any:
                a, k = await _resolve(args, kwargs)
                async for item in client.router(*key).stream(method, a, k, model_id=model_id, request_id=request_id,
                                                             session_id=session_id):
                    yield item

            gen = DeploymentResponseGenerator(agen(), client, request_id, parent._scope)
            if parent._scope is not None:
                parent._scope.adopt(gen)
            return gen

        async def call() -> Any:
            a, k = await _resolve(args, kwargs)
            return await client.router(*key).call(method, a, k, model_id=model_id, request_id=request_id,
                                                  session_id=session_id)

        if client.loop_thread.in_loop():
            response = DeploymentResponse(client.loop.create_task(call()), client.loop, request_id)
        else:
            response = DeploymentResponse(client.loop_thread.submit(call()), client.loop, request_id)
        if parent._scope is not None:  # made while serving a request: cancelled with it
            parent._scope.adopt(response, response._future)
        return response

    def __reduce__(self) -> tuple:
        return (_rebuild, (self.deployment_name, self.app_name, self._method_name, self._stream, self._model_id,
                           self._session_id))

    def __repr__(self) -> str:
        return (f"DeploymentHandle(deployment={self.deployment_name!r}, app={self.app_name!r}, "
                f"method={self._method_name!r})")


def _rebuild(deployment_name: str, app_name: str, method_name: str, stream: bool,
             model_id: str, session_id: str = "") -> DeploymentHandle:
    return DeploymentHandle(deployment_name, app_name, method_name=method_name, stream=stream,
                            multiplexed_model_id=model_id, session_id=session_id)


async def _make_router(client: ServeClient, key: tuple[str, str]) -> None:
    client.router(*key)


async def _shutdown_router(client: ServeClient, key: tuple[str, str]) -> None:
    router = client.routers.pop(key, None)
    if router is not None:
        await router.shutdown()


__all__ = ["DeploymentHandle", "DeploymentResponse", "DeploymentResponseGenerator"]
