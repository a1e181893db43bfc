"""gRPC ingress (Ray Serve's ``gRPCOptions``): user-defined servicers served on
loopback by a ``grpc.aio`` server in the proxy actor.

Each ``grpc_servicer_functions`` entry is the import path of a generated
``add_<Service>Servicer_to_server`` function. It is called once with a
recording server to learn the service's methods and their (de)serializers; each
method is then served by forwarding the request proto to the application's
ingress deployment method of the same name (``__call__`` included; ``unary_stream``
methods: a generator method, its items streamed). A client-streaming or
bidirectional-streaming method gets the client's messages as a
:class:`~streamdata.serve.grpc_util.gRPCInputStream` (``async for request in
stream``) and returns one answer or yields many: the call is a duplex request
(:mod:`.duplex`) whose request stream the proxy feeds with the client's messages
as the replica grants credit (a replica that reads slowly slows the client, by
gRPC's own flow control); when the call ends first (the client cancelled, a
deadline) the method's stream ends with ``is_cancelled()`` True. The application is the one
named by the ``application`` metadata key, or the only one running; the
``multiplexed_model_id`` metadata key selects a model; the ``request_id`` key
names the request (else it gets a new id). Every response's trailing metadata
carries the ``request_id``.

A method that takes a ``grpc_context`` keyword argument gets the call's
:class:`~streamdata.serve.grpc_util.RayServegRPCContext`; the code, details and
trailing metadata it sets are the response's. An exception in the deployment →
``INTERNAL`` with its type and message (the method's code, when it set one);
no such application → ``NOT_FOUND``; the queue limit reached → ``RESOURCE_EXHAUSTED``; a call
running past ``gRPCOptions.request_timeout_s`` → ``DEADLINE_EXCEEDED`` (``Request timed out
after Ns.``; a stream's items sent before stay sent), as Ray. The client's own deadline is
gRPC's: its call ends with ``DEADLINE_EXCEEDED`` and the proxy stops waiting for the
replica (counted ``CANCELLED``, as a client that cancels).

With ``gRPCOptions.enable_reflection`` (the default, as Ray) the proxy serves gRPC server
reflection (``grpcio-reflection``) listing the user's services, for ``grpcurl`` and the like.

The proxy also serves Ray Serve's own service, ``RayServeAPIService``
(:mod:`streamdata.serve.generated`): ``ListApplications`` and ``Healthz``, under
its name in ``serve.proto`` and under Ray's, ``ray.serve.RayServeAPIService``.

Example:
    >>> methods = service_methods("grpc_reflection.v1alpha.reflection_pb2_grpc."
    ...                           "add_ServerReflectionServicer_to_server")
    >>> sorted(methods["grpc.reflection.v1alpha.ServerReflection"])
    ['ServerReflectionInfo']
"""

from __future__ import annotations

import asyncio
import importlib
import uuid
from typing import Any, AsyncIterator

from streamdata.errors import BackPressureError
from streamdata.serve import wire
from streamdata.serve._loop import EventLoopThread
from streamdata.serve.grpc_util import (
    GRPC_CONTEXT_ARG_NAME,
    REQUEST_ID_KEY,
    GrpcOutcome,
    RayServegRPCContext,
    gRPCStatusError,
)
from streamdata.serve.logs import logger

#: Ray's name of the proxy's own service (its clients call it by this name)
RAY_API_SERVICE = "ray.serve.RayServeAPIService"
#: what ``Healthz`` answers while the proxy serves (Ray's message)
HEALTHY_MESSAGE = "success"


def _noop(*args: Any, **kwargs: Any) -> None:
    return None


class _ServicerStandIn:
    """Stands in for the servicer while recording: any attribute is a method (an RPC
    may have any name a proto allows, ``__call__`` as in Ray's docs)."""

    def __getattr__(self, name: str) -> Any:
        return _noop


class _Recorder:
    """Stands in for the server while recording: keeps the handlers registered."""

    def __init__(self) -> None:
        self.services: dict[str, dict[str, Any]] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return _noop

    def add_generic_rpc_handlers(self, handlers: Any) -> None:
        for handler in handlers:
            service = getattr(handler, "_name", None)
            methods = getattr(handler, "_method_handlers", None)
            if service and methods:
                self.services.setdefault(service, {}).update(
                    {k.rsplit("/", 1)[-1]: v for k, v in methods.items()})

    def add_registered_method_handlers(self, service: str, handlers: dict[str, Any]) -> None:
        self.services.setdefault(service, {}).update(handlers)


def _import(path: str) -> Any:
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"grpc_servicer_functions entry {path!r} cannot be imported in the proxy: {exc}") from None


def service_methods(function_path: str) -> dict[str, dict[str, Any]]:
    """``{service: {method: grpc handler}}`` that ``function_path`` registers."""
    recorder = _Recorder()
    _import(function_path)(_ServicerStandIn(), recorder)
    if not recorder.services:
        raise ValueError(f"{function_path!r} registered no gRPC service")
    return recorder.services


def _metadata(context: Any, key: str) -> str:
    for k, v in context.invocation_metadata() or ():
        if k == key:
            return v
    return ""


def _call_context(context: Any) -> RayServegRPCContext:
    """The deployment's copy of the call's context, its ``request_id`` set (the client's or a new one)."""
    ctx = RayServegRPCContext(context)
    ctx.set_trailing_metadata([(REQUEST_ID_KEY, _metadata(context, REQUEST_ID_KEY) or str(uuid.uuid4()))])
    return ctx


def _status(exc: BaseException, ctx: RayServegRPCContext) -> tuple[Any, str, RayServegRPCContext]:
    """(code, details, context whose trailing metadata to send) of a failed call."""
    import grpc

    if isinstance(exc, BackPressureError):
        return grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc), ctx
    cause = getattr(exc, "cause", None) or exc
    if isinstance(cause, gRPCStatusError):  # the method set a code, then raised
        return cause.context.code(), cause.context.details() or str(cause), cause.context
    return grpc.StatusCode.INTERNAL, f"{type(cause).__name__}: {cause}", ctx


class _RequestTimedOut(Exception):
    """The call ran past ``request_timeout_s``."""


async def _within(awaitable: Any, deadline: float | None) -> Any:
    """``awaitable``'s result, or :class:`_RequestTimedOut` (and it cancelled) once ``deadline``
    (a loop time; None: no limit) passes; cancelled with the caller."""
    if deadline is None:
        return await awaitable
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - asyncio.get_running_loop().time()))
    except asyncio.CancelledError:
        task.cancel()
        raise
    if not done:
        task.cancel()
        raise _RequestTimedOut
    return task.result()


def _messages_from(request_iterator: AsyncIterator[Any], loop: asyncio.AbstractEventLoop) -> AsyncIterator[Any]:
    """The client's messages of a streaming request, read on the gRPC server's ``loop``,
    as an async iterator for another loop (the router's), one read per item asked for.

    Example:
        >>> async def client():
        ...     yield "a"
        ...     yield "b"
        >>> server = EventLoopThread("doc", uvloop=False)
        >>> async def read():
        ...     return [m async for m in _messages_from(client(), server.loop)]
        >>> asyncio.run(read())
        ['a', 'b']
        >>> server.stop()
    """
    async def next_message() -> tuple[bool, Any]:
        try:
            return True, await request_iterator.__anext__()
        except StopAsyncIteration:  # the client half-closed (or cancelled: gRPC says so first)
            return False, None

    async def messages() -> AsyncIterator[Any]:
        while True:
            more, message = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(next_message(), loop))
            if not more:
                return
            yield message

    return messages()


def _request(request: Any, server_loop: asyncio.AbstractEventLoop | None) -> tuple[tuple, AsyncIterator[Any] | None]:
    """(args, feed) of a call: the request proto; or, with ``server_loop`` (a client-streaming
    call), no arguments and the client's messages as the request stream (the replica gives
    the method a ``gRPCInputStream`` of them)."""
    if server_loop is None:
        return (request,), None
    return (), _messages_from(request, server_loop)


class _Forwarder:
    """Builds the handlers that forward a service's RPCs to the applications' ingress deployments."""

    def __init__(self, client: Any, metrics: Any, request_timeout_s: float | None = None) -> None:
        self.client = client
        self.metrics = metrics
        # as Ray: no limit unless a positive number of seconds
        self.request_timeout_s = request_timeout_s if request_timeout_s and request_timeout_s > 0 else None

    def _app(self, context: Any) -> Any:
        apps = self.client.table.apps
        name = _metadata(context, "application")
        if name:
            return apps.get(name)
        return next(iter(apps.values())) if len(apps) == 1 else None

    async def _target(self, context: Any, ctx: RayServegRPCContext) -> Any:
        import grpc

        app = self._app(context)
        if app is None:
            name = _metadata(context, "application")
            what = f"Application {name!r} not found" if name else "Application metadata not set"
            await context.abort(grpc.StatusCode.NOT_FOUND, f"{what} (running: {sorted(self.client.table.apps)}). "
                                f"Ping /{RAY_API_SERVICE}/ListApplications for available applications.",
                                tuple(ctx.trailing_metadata()))
        return app

    def _deadline(self) -> float | None:
        if self.request_timeout_s is None:
            return None
        return asyncio.get_running_loop().time() + self.request_timeout_s

    def _answered(self, context: Any, app: str, method: str, ctx: RayServegRPCContext) -> None:
        ctx._apply(context)
        code = ctx.code()
        self.metrics.grpc_requests.labels(app, method, code.name if code is not None else "OK").inc()

    async def _abort(self, context: Any, app: str, method: str, exc: BaseException,
                     ctx: RayServegRPCContext) -> None:
        import grpc

        if isinstance(exc, asyncio.CancelledError):  # the client cancelled, or its deadline passed
            self.metrics.grpc_requests.labels(app, method, grpc.StatusCode.CANCELLED.name).inc()
            raise exc
        if isinstance(exc, _RequestTimedOut):
            code, details, sent = (grpc.StatusCode.DEADLINE_EXCEEDED,
                                   f"Request timed out after {self.request_timeout_s}s.", ctx)
        else:
            code, details, sent = _status(exc, ctx)
        self.metrics.grpc_requests.labels(app, method, code.name).inc()
        await context.abort(code, details, tuple(sent.trailing_metadata()))

    def unary(self, method: str, streamed: bool = False) -> Any:
        """A handler answering one message (``unary_unary``; ``stream_unary`` when ``streamed``)."""
        async def handle(request: Any, context: Any) -> Any:
            ctx = _call_context(context)
            app = await self._target(context, ctx)
            deadline = self._deadline()
            model_id = _metadata(context, "multiplexed_model_id")
            server_loop = asyncio.get_running_loop() if streamed else None

            async def call() -> Any:
                args, feed = _request(request, server_loop)
                return await self.client.router(app.name, app.ingress).call(
                    method, args, {GRPC_CONTEXT_ARG_NAME: ctx}, kind=wire.GRPC, model_id=model_id,
                    request_id=ctx.request_id() or "", feed=feed)

            try:
                result = await _within(asyncio.wrap_future(self.client.loop_thread.submit(call())), deadline)
            except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 - the client gets a status
                await self._abort(context, app.name, method, exc, ctx)
            if isinstance(result, GrpcOutcome):  # the method took the context
                ctx, result = result.context, result.value
            self._answered(context, app.name, method, ctx)
            return result

        return handle

    def unary_stream(self, method: str, streamed: bool = False) -> Any:
        """A handler streaming its answer (``unary_stream``; ``stream_stream`` when ``streamed``)."""
        async def handle(request: Any, context: Any) -> AsyncIterator[Any]:
            ctx = _call_context(context)
            app = await self._target(context, ctx)
            deadline = self._deadline()
            model_id = _metadata(context, "multiplexed_model_id")
            queue: asyncio.Queue = asyncio.Queue()
            loop = asyncio.get_running_loop()
            done = object()

            async def pump() -> None:
                try:
                    args, feed = _request(request, loop if streamed else None)
                    async for item in self.client.router(app.name, app.ingress).stream(
                            method, args, {GRPC_CONTEXT_ARG_NAME: ctx}, kind=wire.GRPC, model_id=model_id,
                            request_id=ctx.request_id() or "", feed=feed):
                        loop.call_soon_threadsafe(queue.put_nowait, item)
                    loop.call_soon_threadsafe(queue.put_nowait, done)
                except BaseException as exc:  # noqa: BLE001
                    loop.call_soon_threadsafe(queue.put_nowait, exc)

            pumping = self.client.loop_thread.submit(pump())
            try:
                while True:
                    try:
                        item = await _within(queue.get(), deadline)
                    except (_RequestTimedOut, asyncio.CancelledError) as exc:
                        item = exc
                    if item is done:
                        self._answered(context, app.name, method, ctx)
                        return
                    if isinstance(item, GrpcOutcome):  # sent last, when the method took the context
                        ctx = item.context
                        continue
                    if isinstance(item, BaseException):
                        await self._abort(context, app.name, method, item, ctx)
                    yield item
            finally:
                pumping.cancel()  # the call ended early (an error, a timeout, the client went away)

        return handle


def _api_handlers(client: Any) -> dict[str, Any]:
    """The handlers of ``RayServeAPIService``: ``ListApplications`` and ``Healthz``."""
    import grpc

    from streamdata.serve.generated import serve_pb2

    async def list_applications(request: Any, context: Any) -> Any:
        context.set_trailing_metadata(tuple(_call_context(context).trailing_metadata()))
        return serve_pb2.ListApplicationsResponse(application_names=list(client.table.apps))

    async def healthz(request: Any, context: Any) -> Any:
        context.set_trailing_metadata(tuple(_call_context(context).trailing_metadata()))
        return serve_pb2.HealthzResponse(message=HEALTHY_MESSAGE)

    return {
        "ListApplications": grpc.unary_unary_rpc_method_handler(
            list_applications, serve_pb2.ListApplicationsRequest.FromString,
            serve_pb2.ListApplicationsResponse.SerializeToString),
        "Healthz": grpc.unary_unary_rpc_method_handler(
            healthz, serve_pb2.HealthzRequest.FromString, serve_pb2.HealthzResponse.SerializeToString),
    }


def _add_api_service(server: Any, client: Any) -> None:
    """Serve ``RayServeAPIService`` under its ``serve.proto`` name and under Ray's."""
    import grpc

    try:
        from streamdata.serve.generated import serve_pb2

        handlers = _api_handlers(client)
    except Exception as exc:  # noqa: BLE001 - e.g. a protobuf runtime older than the generated code
        logger.warning("the serve gRPC proxy does not serve RayServeAPIService (ListApplications, Healthz): "
                       "streamdata.serve.generated cannot be imported: %s", exc)
        return
    ours = serve_pb2.DESCRIPTOR.services_by_name["RayServeAPIService"].full_name
    for service in (ours, RAY_API_SERVICE):
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))


def _handler(forward: _Forwarder, name: str, h: Any) -> Any:
    """The proxy's handler of one RPC, of the same kind (request and response streaming) as ``h``."""
    import grpc

    make = {(False, False): grpc.unary_unary_rpc_method_handler, (False, True): grpc.unary_stream_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler, (True, True): grpc.stream_stream_rpc_method_handler}
    forwarding = forward.unary_stream if h.response_streaming else forward.unary
    return make[(bool(h.request_streaming), bool(h.response_streaming))](
        forwarding(name, streamed=bool(h.request_streaming)), h.request_deserializer, h.response_serializer)


def _enable_reflection(server: Any, services: list[str]) -> None:
    """Serve gRPC server reflection, listing the user's ``services`` (as Ray: not Serve's own service)."""
    try:
        from grpc_reflection.v1alpha import reflection
    except ImportError:
        logger.warning("gRPC server reflection (gRPCOptions.enable_reflection) needs the grpcio-reflection "
                       "package: pip install grpcio-reflection; the proxy serves without it")
        return
    reflection.enable_server_reflection(sorted(services) + [reflection.SERVICE_NAME], server)


async def _serve(client: Any, options: dict[str, Any], metrics: Any) -> tuple[Any, int]:
    import grpc

    server = grpc.aio.server()
    services = {path: service_methods(path) for path in options.get("grpc_servicer_functions", [])}
    forward = _Forwarder(client, metrics, options.get("request_timeout_s"))
    names = []
    for methods in services.values():
        for service, handlers in methods.items():
            server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
                service, {name: _handler(forward, name, h) for name, h in handlers.items()}),))
            names.append(service)
    _add_api_service(server, client)
    if options.get("enable_reflection", True):
        _enable_reflection(server, names)
    host = options.get("host", "127.0.0.1")
    port = server.add_insecure_port(f"{host}:{int(options['port'])}")
    if port == 0:
        raise OSError(f"the serve gRPC proxy cannot listen on {host}:{options['port']}")
    await server.start()
    return server, port


async def start_grpc_server(client: Any, options: dict[str, Any], metrics: Any) -> tuple[Any, int]:
    """Start the gRPC server on a loop of its own; returns (server, port)."""
    loop_thread = EventLoopThread("grpc", uvloop=False)  # grpc.aio on asyncio's own loop
    return await asyncio.wrap_future(loop_thread.submit(_serve(client, options, metrics)))


__all__ = ["service_methods", "start_grpc_server"]
