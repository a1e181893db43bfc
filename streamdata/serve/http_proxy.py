"""The proxy: a runtime actor (``SERVE_PROXY_ACTOR``) serving HTTP with Uvicorn
(ASGI, httptools) on 127.0.0.1 by default, and gRPC when asked
(:mod:`.grpc_proxy`).

A request goes to the application whose ``route_prefix`` is the longest prefix
of its path, to that application's ingress deployment, through this process's
router (power of two choices over the replicas, straight to the replica's
socket). The replica answers with ASGI messages, sent on as they come, so
``StreamingResponse`` bodies stream. A client that disconnects before its
response is complete cancels the request in the replica (:mod:`.cancellation`;
recorded as 499). An exception → 500
``{"error": type, "message": text}``; the queue limit reached → 503;
``GET /-/healthz`` → 200, ``GET /-/routes`` → ``{prefix: app}``,
``GET /metrics`` → Prometheus text. A ``websocket`` connection is routed the same
way and relayed to one replica for its whole life (:mod:`.websocket_relay`); one
with no route is refused with 404. The proxy knows nothing of the controller
but its actor name: it follows the routing table through its client's long poll.

Example:
    >>> error_response_body(ValueError("bad input"))
    b'{"error": "ValueError", "message": "bad input"}'
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
import uuid
from typing import Any

from streamdata.errors import BackPressureError, TaskError
from streamdata.serve import wire
from streamdata.serve._loop import EventLoopThread
from streamdata.serve._runtime import runtime
from streamdata.serve.cancellation import uncancel
from streamdata.serve.client import CONTROLLER_NAME, set_client_loop
from streamdata.serve.metrics import ProxyMetrics
from streamdata.serve.websocket_relay import DENIAL_EXTENSION, deny, relay_websocket

#: the largest request body accepted (bytes)
MAX_BODY_BYTES = 64 * 1024 * 1024
MODEL_ID_HEADER = b"serve_multiplexed_model_id"
#: the header naming a request's session (Ray's; '-' and '_' alike): its requests prefer one replica
SESSION_ID_HEADER = b"x-session-id"
#: the request's id: taken from the request when it has one, else made; sent back on the response
REQUEST_ID_HEADER = b"x-request-id"
#: how long a request to a proxy that has no routing table yet waits for one
TABLE_WAIT_S = 30.0


def error_response_body(exc: BaseException) -> bytes:
    """``{"error": type, "message": text}`` of a deployment's exception (the user's
    exception, not the TaskError that carried it)."""
    if isinstance(exc, TaskError):
        cause = exc.cause
        if cause is not None:
            exc = cause
        else:
            text = exc.args[0] if exc.args else str(exc)
            name, _, message = str(text).partition(": ")
            return json.dumps({"error": name, "message": message}).encode()
    return json.dumps({"error": type(exc).__name__, "message": str(exc)}).encode()


async def _send_simple(send: Any, status: int, body: bytes, content_type: bytes, request_id: str = "",
                       extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
               *(extra_headers or [])]
    if request_id:
        headers.append((REQUEST_ID_HEADER, request_id.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


class ProxyApp:
    """The ASGI app Uvicorn runs."""

    def __init__(self, client: Any, metrics: ProxyMetrics, request_timeout_s: float | None = None) -> None:
        self.client = client
        self.metrics = metrics
        self.request_timeout_s = request_timeout_s

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            raise NotImplementedError(f"the serve proxy does not serve {scope['type']!r} connections")
        start = time.perf_counter()
        path = _route_path(scope)
        method = scope["method"]
        if path == "/-/healthz":
            await _send_simple(send, 200, b"success", b"text/plain; charset=utf-8")
            return
        if path == "/-/routes":
            routes = {a.route_prefix: a.name for a in self.client.table.apps.values() if a.route_prefix}
            await _send_simple(send, 200, json.dumps(routes).encode(), b"application/json")
            return
        if path == "/metrics":
            body = (await asyncio.get_running_loop().run_in_executor(None, self.metrics.render)).encode()
            await _send_simple(send, 200, body, b"text/plain; version=0.0.4; charset=utf-8")
            return
        if self.client.table.version < 0:  # a restarted proxy: wait for the routes
            await self.client.table_arrived(TABLE_WAIT_S)
        app = self.client.table.route(path)
        if app is None:
            await _send_simple(send, 404, json.dumps({"error": "NotFound", "message": f"no route for {path!r}"})
                               .encode(), b"application/json")
            self.metrics.observe_http("", "unmatched", method, 404, time.perf_counter() - start)
            return
        self.metrics.ongoing_http.inc()
        status = 500
        try:
            if self.request_timeout_s is None:
                status = await self._forward(app, scope, receive, send)
            else:
                status = await self._forward_with_timeout(app, scope, receive, send)
        finally:
            self.metrics.ongoing_http.dec()
            self.metrics.observe_http(app.name, app.route_prefix or "", method, status, time.perf_counter() - start)

    async def _websocket(self, scope: dict, receive: Any, send: Any) -> None:
        """Route a WebSocket as an HTTP request is routed, and relay it to a replica."""
        if (await receive())["type"] != "websocket.connect":  # the client left already
            return
        start = time.perf_counter()
        path = _route_path(scope)
        if self.client.table.version < 0:
            await self.client.table_arrived(TABLE_WAIT_S)
        app = self.client.table.route(path)
        if app is None:
            await deny(scope, send, 404, json.dumps({"error": "NotFound", "message": f"no route for {path!r}"})
                       .encode())
            self.metrics.observe_http("", "unmatched", "WS", 404, time.perf_counter() - start)
            return
        model_id, session_id, request_id = _request_headers(scope)
        prefix = app.route_prefix or "/"
        inner = {"type": "websocket", "http_version": scope.get("http_version", "1.1"),
                 "scheme": scope.get("scheme", "ws"), "path": scope["path"], "raw_path": scope.get("raw_path"),
                 "query_string": scope.get("query_string", b""), "headers": scope.get("headers", []),
                 "client": scope.get("client"), "server": scope.get("server"),
                 "subprotocols": list(scope.get("subprotocols") or ()),
                 "extensions": {DENIAL_EXTENSION: {}} if DENIAL_EXTENSION in (scope.get("extensions") or {}) else {},
                 "root_path": (scope.get("root_path") or "") + ("" if prefix == "/" else prefix.rstrip("/"))}
        self.metrics.ongoing_http.inc()
        status, error = 500, True
        try:
            status, error = await relay_websocket(
                self.client.router(app.name, app.ingress), scope, inner, receive, send, route=prefix,
                request_id=request_id, model_id=model_id, session_id=session_id, refusal=app.backpressure,
                error_body=error_response_body)
        finally:
            self.metrics.ongoing_http.dec()
            self.metrics.observe_http(app.name, app.route_prefix or "", "WS", status,
                                      time.perf_counter() - start, error)

    async def _forward_with_timeout(self, app: Any, scope: dict, receive: Any, send: Any) -> int:
        """``_forward`` bounded by ``request_timeout_s``: 408 when no response started in time."""
        started = False

        async def tracking_send(message: dict) -> None:
            nonlocal started
            started = True
            await send(message)

        task = asyncio.ensure_future(self._forward(app, scope, receive, tracking_send))
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.request_timeout_s)
        except asyncio.TimeoutError:
            if started:
                return await task  # a response under way (a stream) is not cut
            task.cancel()
            await _send_simple(send, 408, json.dumps({"error": "RequestTimeout", "message": (
                f"no response within request_timeout_s={self.request_timeout_s}")}).encode(), b"application/json")
            return 408

    async def _forward(self, app: Any, scope: dict, receive: Any, send: Any) -> int:
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return 499
            body = message.get("body", b"")
            size += len(body)
            if size > MAX_BODY_BYTES:
                await _send_simple(send, 413, b'{"error": "PayloadTooLarge", "message": "body over 64 MiB"}',
                                   b"application/json")
                return 413
            chunks.append(body)
            if not message.get("more_body", False):
                break
        model_id, session_id, request_id = _request_headers(scope)
        prefix = app.route_prefix or "/"
        inner = {"type": "http", "http_version": scope.get("http_version", "1.1"), "method": scope["method"],
                 "scheme": scope.get("scheme", "http"), "path": scope["path"], "raw_path": scope.get("raw_path"),
                 "query_string": scope.get("query_string", b""), "headers": scope.get("headers", []),
                 "client": scope.get("client"), "server": scope.get("server"),
                 "root_path": (scope.get("root_path") or "") + ("" if prefix == "/" else prefix.rstrip("/"))}
        watch = _ClientWatch(receive)
        try:
            return await self._relay(app, inner, b"".join(chunks), send, watch, model_id, session_id, request_id)
        except asyncio.CancelledError:
            if watch.gone and uncancel(watch.task):  # the client left: so did the request (cancelled)
                return 499
            raise
        finally:
            watch.stop()

    async def _relay(self, app: Any, inner: dict, body: bytes, send: Any, watch: _ClientWatch, model_id: str,
                     session_id: str, request_id: str) -> int:
        """Route the request to the application's ingress and send its response on."""
        prefix = app.route_prefix or "/"
        router = self.client.router(app.name, app.ingress)
        status = 0
        complete = False
        try:
            async for messages in router.stream("__call__", (inner, body), {}, kind=wire.HTTP,
                                                model_id=model_id, route=prefix, session_id=session_id,
                                                request_id=request_id):
                for message in messages:
                    if message["type"] == "http.response.start":
                        status = message["status"]
                        message = _with_request_id(message, request_id)
                    elif message["type"] == "http.response.body" and not message.get("more_body", False):
                        complete = watch.complete = True
                    await send(message)
        except BackPressureError as exc:
            if not status:  # the ingress deployment's backpressure_config says how (503 by default)
                refusal = app.backpressure
                code = refusal.status_code if refusal is not None else 503
                await _send_simple(send, code, json.dumps({"error": "BackPressureError", "message": str(exc)})
                                   .encode(), b"application/json", request_id,
                                   refusal.headers() if refusal is not None else None)
                return code
        except Exception as exc:  # noqa: BLE001 - the deployment's error, as JSON
            if not status:
                await _send_simple(send, 500, error_response_body(exc), b"application/json", request_id)
                return 500
        if status and not complete:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        if not status:
            await _send_simple(send, 500, b'{"error": "RuntimeError", "message": "the deployment sent no response"}',
                               b"application/json", request_id)
            return 500
        return status


class _ClientWatch:
    """Watches an HTTP client while its response is relayed (its request body read already):
    a client that disconnects before the response is ``complete`` cancels the relaying task
    (``task``), which cancels the request in the replica. (Uvicorn also answers
    ``http.disconnect`` once the response is complete: that one is not the client leaving.)"""

    __slots__ = ("task", "complete", "gone", "_watcher")

    def __init__(self, receive: Any) -> None:
        self.task = asyncio.current_task()
        self.complete = False  # the last body message was sent
        self.gone = False  # the client left first: the task was cancelled
        self._watcher = asyncio.get_running_loop().create_task(self._watch(receive))

    async def _watch(self, receive: Any) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        if not self.complete and self.task is not None:
            self.gone = True
            self.task.cancel()

    def stop(self) -> None:
        self._watcher.cancel()


def _route_path(scope: dict) -> str:
    """The path the routes match: below ``root_path`` (``HTTPOptions.root_path``, behind a
    reverse proxy)."""
    path = scope["path"]
    root = scope.get("root_path") or ""
    if root and path.startswith(root):
        path = path[len(root):] or "/"
    return path


def _request_headers(scope: dict) -> tuple[str, str, str]:
    """The request's multiplexed model id, session id and request id (made when absent)."""
    model_id = session_id = request_id = ""
    for name, value in scope.get("headers", ()):
        if name == MODEL_ID_HEADER:
            model_id = value.decode()
        elif name.replace(b"_", b"-") == SESSION_ID_HEADER:
            session_id = value.decode()
        elif name == REQUEST_ID_HEADER:
            request_id = value.decode()
    return model_id, session_id, request_id or str(uuid.uuid4())


def _with_request_id(start: dict, request_id: str) -> dict:
    """The ``http.response.start`` message with the request's id header (unless the
    deployment set one)."""
    headers = list(start.get("headers") or [])
    if any(bytes(name).lower() == REQUEST_ID_HEADER for name, _ in headers):
        return start
    return {**start, "headers": [*headers, (REQUEST_ID_HEADER, request_id.encode())]}


class ProxyActor:
    """Runs Uvicorn (and the gRPC server) on an event loop of its own."""

    def __init__(self, http_options: dict[str, Any], grpc_options: dict[str, Any] | None = None) -> None:
        self._lt = EventLoopThread("proxy")
        self.client = set_client_loop(self._lt)
        self.metrics = ProxyMetrics(self._snapshot)
        self.client.observe = self.metrics.observe_deployment
        self.http_options = http_options
        self.grpc_options = grpc_options
        self.grpc_port: int | None = None
        self._grpc: Any = None
        self._lt.run(_start(self))
        self.client.start_polling()

    def _snapshot(self) -> dict[str, Any]:
        table = self.client.table
        replicas = {key: len(route.replicas) for key, route in table.deployments.items()}
        queued = {key: router.queued() for key, router in list(self.client.routers.items())}
        try:
            sd = runtime()
            stats = sd.get(sd.get_actor(CONTROLLER_NAME).get_replica_stats.remote(), timeout=5)
        except Exception:  # noqa: BLE001 - the controller restarts: the gauges wait for the next scrape
            stats = []
        return {"replicas": replicas, "queued": queued, "replica_stats": stats}

    def ready(self) -> dict[str, Any]:
        return {"http_port": self.port, "grpc_port": self.grpc_port, "pid": os.getpid()}

    def wait_for_version(self, version: int, timeout_s: float) -> bool:
        """Wait until this proxy routes with a table at least as new as ``version``
        (``serve.run`` and ``serve.delete`` return once the proxy knows)."""
        deadline = time.monotonic() + timeout_s
        while self.client.table.version < version:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.002)
        return True


async def _start(self: ProxyActor) -> None:
    """Bind the HTTP socket, start Uvicorn (and gRPC) on the proxy's loop.
    (A function, not a method: an actor class with coroutine methods would be an
    async actor, whose blocking methods would stall its loop.)"""
    import uvicorn

    host, port = self.http_options["host"], int(self.http_options["port"])
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"the serve HTTP proxy cannot listen on {host}:{port}: {exc.strerror}; "
                      "pass another port in serve.start(http_options={'port': ...})") from None
    sock.listen(2048)
    sock.setblocking(False)
    self.port = sock.getsockname()[1]
    opts = self.http_options
    app: Any = ProxyApp(self.client, self.metrics, opts.get("request_timeout_s"))
    for middleware in reversed(opts.get("middlewares") or []):
        app = middleware.cls(app, *getattr(middleware, "args", ()), **middleware.kwargs)
    config = uvicorn.Config(app, http="httptools", lifespan="off",
                            access_log=False, log_level="warning",
                            timeout_keep_alive=int(opts.get("keep_alive_timeout_s", 90)),
                            root_path=opts.get("root_path") or "", ssl_keyfile=opts.get("ssl_keyfile"),
                            ssl_certfile=opts.get("ssl_certfile"), ssl_keyfile_password=opts.get("ssl_keyfile_password"),
                            ssl_ca_certs=opts.get("ssl_ca_certs"))
    self.server = uvicorn.Server(config)
    self._task = asyncio.get_running_loop().create_task(self.server.serve(sockets=[sock]))
    while not self.server.started:
        if self._task.done():
            raise RuntimeError(f"the serve HTTP proxy failed to start: {self._task.exception()!r}")
        await asyncio.sleep(0.005)
    if self.grpc_options is not None:
        from streamdata.serve.grpc_proxy import start_grpc_server

        self._grpc, self.grpc_port = await start_grpc_server(self.client, self.grpc_options, self.metrics)


__all__ = ["MAX_BODY_BYTES", "ProxyActor", "ProxyApp", "error_response_body"]
