"""gRPC ingress (Ray Serve's ``gRPCOptions``): user-defined servicers served on
loopback by a ``grpc.aio`` server in the proxy actor.

Each ``grpc_servicer_functions`` entry is the import path of a generated
``add_<Service>Servicer_to_server`` function. It is called once with a
recording server to learn the service's methods and their (de)serializers; each
method is then served by forwarding the request proto to the application's
ingress deployment method of the same name (``__call__`` included; ``unary_stream``
methods: a generator method, its items streamed). The application is the one
named by the ``application`` metadata key, or the only one running; the
``multiplexed_model_id`` metadata key selects a model; the ``request_id`` key
names the request (else it gets a new id). Every response's trailing metadata
carries the ``request_id``.

A method that takes a ``grpc_context`` keyword argument gets the call's
:class:`~streamdata.serve.grpc_util.RayServegRPCContext`; the code, details and
trailing metadata it sets are the response's. An exception in the deployment →
``INTERNAL`` with its type and message (the method's code, when it set one);
no such application → ``NOT_FOUND``; the queue limit reached → ``RESOURCE_EXHAUSTED`` (as Ray).

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


class _Forwarder:
    """Builds the handlers that forward a service's RPCs to the applications' ingress deployments."""

    def __init__(self, client: Any, metrics: Any) -> None:
        self.client = client
        self.metrics = metrics

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

    def _answered(self, context: Any, app: str, method: str, ctx: RayServegRPCContext) -> None:
        ctx._apply(context)
        code = ctx.code()
        self.metrics.grpc_requests.labels(app, method, code.name if code is not None else "OK").inc()

    async def _abort(self, context: Any, app: str, method: str, exc: BaseException,
                     ctx: RayServegRPCContext) -> None:
        code, details, sent = _status(exc, ctx)
        self.metrics.grpc_requests.labels(app, method, code.name).inc()
        await context.abort(code, details, tuple(sent.trailing_metadata()))

    def unary(self, method: str) -> Any:
        async def handle(request: Any, context: Any) -> Any:
            ctx = _call_context(context)
            app = await self._target(context, ctx)
            model_id = _metadata(context, "multiplexed_model_id")

            async def call() -> Any:
                return await self.client.router(app.name, app.ingress).call(
                    method, (request,), {GRPC_CONTEXT_ARG_NAME: ctx}, kind=wire.GRPC, model_id=model_id,
                    request_id=ctx.request_id() or "")
            try:
                result = await asyncio.wrap_future(self.client.loop_thread.submit(call()))
            except Exception as exc:  # noqa: BLE001 - the client gets it as a status
                await self._abort(context, app.name, method, exc, ctx)
            if isinstance(result, GrpcOutcome):  # the method took the context
                ctx, result = result.context, result.value
            self._answered(context, app.name, method, ctx)
            return result

        return handle

    def unary_stream(self, method: str) -> Any:
        async def handle(request: Any, context: Any) -> AsyncIterator[Any]:
            ctx = _call_context(context)
            app = await self._target(context, ctx)
            model_id = _metadata(context, "multiplexed_model_id")
            queue: asyncio.Queue = asyncio.Queue()
            loop = asyncio.get_running_loop()
            done = object()

            async def pump() -> None:
                try:
                    async for item in self.client.router(app.name, app.ingress).stream(
                            method, (request,), {GRPC_CONTEXT_ARG_NAME: ctx}, kind=wire.GRPC, model_id=model_id,
                            request_id=ctx.request_id() or ""):
                        loop.call_soon_threadsafe(queue.put_nowait, item)
                    loop.call_soon_threadsafe(queue.put_nowait, done)
                except BaseException as exc:  # noqa: BLE001
                    loop.call_soon_threadsafe(queue.put_nowait, exc)

            self.client.loop_thread.submit(pump())
            while True:
                item = await queue.get()
                if item is done:
                    self._answered(context, app.name, method, ctx)
                    return
                if isinstance(item, GrpcOutcome):  # sent last, when the method took the context
                    ctx = item.context
                    continue
                if isinstance(item, BaseException):
                    await self._abort(context, app.name, method, item, ctx)
                yield item

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


async def _serve(client: Any, options: dict[str, Any], metrics: Any) -> tuple[Any, int]:
    import grpc

    server = grpc.aio.server()
    forward = _Forwarder(client, metrics)
    for path in options.get("grpc_servicer_functions", []):
        for service, methods in service_methods(path).items():
            handlers = {}
            for name, h in methods.items():
                if h.request_streaming:
                    raise NotImplementedError(f"gRPC method {service}/{name} streams its requests; the serve "
                                              "gRPC proxy serves unary and server-streaming methods")
                if h.response_streaming:
                    handlers[name] = grpc.unary_stream_rpc_method_handler(
                        forward.unary_stream(name), h.request_deserializer, h.response_serializer)
                else:
                    handlers[name] = grpc.unary_unary_rpc_method_handler(
                        forward.unary(name), h.request_deserializer, h.response_serializer)
            server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
    _add_api_service(server, client)
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
