"""gRPC ingress (Ray Serve's ``gRPCOptions``): user-defined servicers served on
loopback by a ``grpc.aio`` server in the proxy actor.

Each ``grpc_servicer_functions`` entry is the import path of a generated
``add_<Service>Servicer_to_server`` function. It is called once with a
recording server to learn the service's methods and their (de)serializers; each
method is then served by forwarding the request proto to the application's
ingress deployment method of the same name (``unary_stream`` methods: a
generator method, its items streamed). The application is the one named by
the ``application`` metadata key, or the only one running; the
``multiplexed_model_id`` metadata key selects a model. An exception in the
deployment → ``INTERNAL`` with its type and message; no such application →
``NOT_FOUND``; the queue limit reached → ``UNAVAILABLE``.

Example:
    >>> methods = service_methods("grpc_reflection.v1alpha.reflection_pb2_grpc."
    ...                           "add_ServerReflectionServicer_to_server")
    >>> sorted(methods["grpc.reflection.v1alpha.ServerReflection"])
    ['ServerReflectionInfo']
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

from streamdata.errors import BackPressureError
from streamdata.serve import wire
from streamdata.serve._loop import EventLoopThread


class _Recorder:
    """Stands in for both the servicer and the server while recording."""

    def __init__(self) -> None:
        self.services: dict[str, dict[str, Any]] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *a, **k: None

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
    _import(function_path)(recorder, recorder)
    if not recorder.services:
        raise ValueError(f"{function_path!r} registered no gRPC service")
    return recorder.services


def _metadata(context: Any, key: str) -> str:
    for k, v in context.invocation_metadata() or ():
        if k == key:
            return v
    return ""


class _Forwarder:
    def __init__(self, client: Any, metrics: Any) -> None:
        self.client = client
        self.metrics = metrics

    def _app(self, context: Any) -> Any:
        apps = self.client.table.apps
        name = _metadata(context, "application")
        if name:
            return apps.get(name)
        return next(iter(apps.values())) if len(apps) == 1 else None

    async def _target(self, context: Any) -> Any:
        import grpc

        app = self._app(context)
        if app is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no application for this call: name one in the "
                                f"'application' metadata; running: {sorted(self.client.table.apps)}")
        return app

    def unary(self, method: str) -> Any:
        import grpc

        async def handle(request: Any, context: Any) -> Any:
            app = await self._target(context)
            model_id = _metadata(context, "multiplexed_model_id")

            async def call() -> Any:
                return await self.client.router(app.name, app.ingress).call(method, (request,), {}, kind=wire.GRPC,
                                                                             model_id=model_id)
            try:
                result = await asyncio.wrap_future(self.client.loop_thread.submit(call()))
            except BackPressureError as exc:
                self.metrics.grpc_requests.labels(app.name, method, "UNAVAILABLE").inc()
                await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
            except Exception as exc:  # noqa: BLE001
                self.metrics.grpc_requests.labels(app.name, method, "INTERNAL").inc()
                cause = getattr(exc, "cause", None) or exc
                await context.abort(grpc.StatusCode.INTERNAL, f"{type(cause).__name__}: {cause}")
            self.metrics.grpc_requests.labels(app.name, method, "OK").inc()
            return result

        return handle

    def unary_stream(self, method: str) -> Any:
        import grpc

        async def handle(request: Any, context: Any) -> Any:
            app = await self._target(context)
            model_id = _metadata(context, "multiplexed_model_id")
            queue: asyncio.Queue = asyncio.Queue()
            loop = asyncio.get_running_loop()
            done = object()

            async def pump() -> None:
                try:
                    async for item in self.client.router(app.name, app.ingress).stream(
                            method, (request,), {}, kind=wire.GRPC, model_id=model_id):
                        loop.call_soon_threadsafe(queue.put_nowait, item)
                    loop.call_soon_threadsafe(queue.put_nowait, done)
                except BaseException as exc:  # noqa: BLE001
                    loop.call_soon_threadsafe(queue.put_nowait, exc)

            self.client.loop_thread.submit(pump())
            while True:
                item = await queue.get()
                if item is done:
                    return
                if isinstance(item, BaseException):
                    cause = getattr(item, "cause", None) or item
                    await context.abort(grpc.StatusCode.INTERNAL, f"{type(cause).__name__}: {cause}")
                yield item

        return handle


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
