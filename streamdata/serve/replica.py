"""The replica: one instance of the deployment's class in a runtime actor,
serving requests on a Unix socket from an event loop of its own.

The actor (:class:`ReplicaActor`) is what the controller starts, names and
kills; its data plane (:class:`ReplicaServer`) answers :class:`~.wire.Call`
frames: Python calls from handles (``stream=True``: a generator's items as they
come), HTTP requests from the proxy (:mod:`.asgi`), WebSockets (:mod:`.websocket_relay`),
gRPC requests, and the controller's ``check_health``, ``reconfigure``, ``stats``,
``autoscaling_stats`` (its look at the load, custom metrics included: :mod:`.autoscaling_stats`)
and ``drain``. A duplex request (a WebSocket, a gRPC client- or bidi-streaming
call) gets the caller's messages as :class:`~.wire.Feed` frames in a
:class:`~.duplex.RequestInbox` of its own, which grants the caller credit as the
method reads them (:mod:`.duplex`); a gRPC method gets it as a ``gRPCInputStream``.

Sync methods run on the replica's loop (as Ray Serve runs them by default), async
methods and generators as tasks on it, so one replica serves many requests at
once and ``@serve.batch`` can gather them. A :class:`~.wire.Cancel` frame cancels
the task of its request (``asyncio.CancelledError`` inside the method), then the
child requests it made (:mod:`.cancellation`); a sync method has answered by then.

Example:
    >>> import asyncio
    >>> class Doubler:
    ...     def __call__(self, x):
    ...         return 2 * x
    >>> server = ReplicaServer(Doubler(), "app", "Doubler", "r0")
    >>> asyncio.run(server.call_method("__call__", (21,), {}))
    42
"""

from __future__ import annotations

import asyncio
import inspect
import os
import time
from typing import Any, Callable

from streamdata.serve import wire
from streamdata.serve.asgi import run_http
from streamdata.serve.autoscaling_stats import AutoscalingStatsRecorder
from streamdata.serve.batching import batch_size_counts
from streamdata.serve.cancellation import RequestScope, cancelled_error
from streamdata.serve.context import (
    DeploymentID,
    ReplicaContext,
    ReplicaID,
    RequestContext,
    _request_context,
    _set_replica_context,
)
from streamdata.serve.duplex import REQUEST_STREAM_WINDOW, RequestInbox
from streamdata.serve.grpc_util import (
    GrpcOutcome,
    RayServegRPCContext,
    gRPCInputStream,
    grpc_call_kwargs,
    grpc_status_error,
)
from streamdata.serve.logs import logger
from streamdata.serve.multiplex import loaded_model_ids
from streamdata.serve.schema import ReplicaRank
from streamdata.serve.websocket_relay import run_websocket


class _FunctionDeployment:
    """A function deployment as an object: calling it calls the function."""

    def __init__(self, fn: Callable) -> None:
        self._fn = fn
        self.__wrapped__ = fn  # its signature is the function's (``async def f():`` takes no request)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._fn(*args, **kwargs)


def _no_messages() -> RequestInbox:
    """The request stream of a duplex request whose caller sends nothing."""
    inbox = RequestInbox()
    inbox.feed(wire.Feed(0, None, wire.DONE))
    return inbox


class ReplicaServer:
    """Serves one user object; runs on one event loop."""

    def __init__(self, obj: Any, app_name: str, deployment: str, replica_id: str,
                 max_ongoing_requests: int = 2 ** 31, access_log: bool = False) -> None:
        self.obj = obj
        self.access_log = access_log  # one INFO line per request on the streamdata.serve logger
        self.max_ongoing_requests = max_ongoing_requests
        self.user_ongoing = 0  # requests of callers (not the controller's)
        self.app_name = app_name
        self.deployment = deployment
        self.replica_id = replica_id
        self.ongoing = 0
        self.served = 0
        self._idle: asyncio.Event | None = None
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        # each connection's duplex requests in flight, by req_id: where their Feed frames go
        self._inboxes: dict[asyncio.StreamWriter, dict[int, RequestInbox]] = {}
        # each connection's requests running as tasks, by req_id: what a Cancel frame cancels
        self._running: dict[asyncio.StreamWriter, dict[int, RequestScope]] = {}
        self.request_stream_window = REQUEST_STREAM_WINDOW  # messages a request stream may have unread
        # the deployment's record_autoscaling_stats (custom autoscaling metrics), called for the controller's looks
        self.autoscaling_stats = AutoscalingStatsRecorder(obj, f"replica {app_name}#{deployment}#{replica_id}")

    # ---- lifecycle
    async def listen(self, path: str) -> None:
        if os.path.exists(path):
            os.unlink(path)
        self._server = await asyncio.start_unix_server(self._serve_connection, path, limit=2 ** 26)
        os.chmod(path, 0o600)

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        inboxes: dict[int, RequestInbox] = {}
        self._inboxes[writer] = inboxes
        running: dict[int, RequestScope] = {}
        self._running[writer] = running
        try:
            while True:
                frame = await wire.read_frame(reader)
                kind = type(frame)
                if kind is wire.Call:
                    self._dispatch(frame, writer, running)
                elif kind is wire.Feed:
                    inbox = inboxes.get(frame.req_id)
                    if inbox is not None:
                        inbox.feed(frame)
                elif kind is wire.Cancel:
                    scope = running.get(frame.req_id)
                    if scope is not None and scope.task is not None:
                        # after the task's first step (call_soon is FIFO): a task cancelled before it
                        # starts would never run the code that answers and counts the request
                        asyncio.get_running_loop().call_soon(scope.task.cancel)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        finally:
            self._connections.discard(writer)
            self._inboxes.pop(writer, None)
            self._running.pop(writer, None)
            for inbox in inboxes.values():  # the caller is gone: its request streams are cancelled
                inbox.leave()
            writer.close()

    # ---- requests
    def _dispatch(self, call: wire.Call, writer: asyncio.StreamWriter,
                  running: dict[int, RequestScope] | None = None) -> None:
        """Start serving ``call``; a request that runs as a task goes in ``running`` (its
        connection's, where Cancel frames find it) until it ends."""
        if call.kind != wire.CONTROL:
            if self.user_ongoing >= self.max_ongoing_requests:  # other callers fill it: try elsewhere
                writer.write(wire.encode(wire.Reply(call.req_id, wire.REJECTED)))
                return
            self.user_ongoing += 1
        start = time.perf_counter()
        scope = RequestScope()
        token = _request_context.set(RequestContext(call.request_id, call.route, call.model_id, self.app_name,
                                                    call.session_id, scope))
        try:
            if call.kind == wire.CALL and not call.stream and not call.feed:
                self.ongoing += 1
                try:
                    fn = self._method(call.method)
                    result = fn(*call.args, **call.kwargs)
                except BaseException as exc:  # noqa: BLE001 - the caller gets it
                    self._done(True, call, start, "ERROR")
                    writer.write(wire.encode(wire.Reply(call.req_id, wire.ERROR, wire.encode_error(exc))))
                    return
                if not inspect.isawaitable(result):
                    self._done(True, call, start, "OK")
                    self._reply(writer, call.req_id, result)
                    return
                scope.task = asyncio.get_running_loop().create_task(
                    self._finish_awaitable(call, result, writer, start, scope))
            else:
                self.ongoing += 1
                inbox = None
                if call.feed:  # now: the next frame may feed it (the caller sends once granted credit)
                    inbox = self._inboxes.setdefault(writer, {})[call.req_id] = RequestInbox(
                        self._granter(writer, call.req_id), self.request_stream_window)
                scope.task = asyncio.get_running_loop().create_task(self._run(call, writer, start, inbox, scope))
            if running is not None and call.kind != wire.CONTROL:
                running[call.req_id] = scope
        finally:
            _request_context.reset(token)

    @staticmethod
    def _granter(writer: asyncio.StreamWriter, req_id: int) -> Callable[[int], None]:
        """How a request's inbox grants its caller credit: ``CREDIT`` replies."""
        def grant(count: int) -> None:
            if not writer.is_closing():
                writer.write(wire.encode(wire.Reply(req_id, wire.CREDIT, count)))
        return grant

    def _done(self, user: bool, call: wire.Call | None = None, start: float = 0.0, outcome: Any = "OK") -> None:
        if user:
            self.user_ongoing -= 1
            if self.access_log and call is not None:
                self._log_access(call, outcome, start)
        self.ongoing -= 1
        self.served += 1
        if self.ongoing <= 1 and self._idle is not None:  # 1: the drain request itself
            self._idle.set()

    def _log_access(self, call: wire.Call, outcome: Any, start: float) -> None:
        """The access log line of a request (as Ray's: what, outcome, how long)."""
        ms = (time.perf_counter() - start) * 1000
        if call.kind in (wire.HTTP, wire.WEBSOCKET):
            scope = call.args[0]
            what = f"{scope.get('method', 'WS')} {scope.get('path', '')}"
        else:
            what = f"{call.kind.upper()} {call.method}"
        logger.info("%s %s %.1fms", what, outcome, ms, extra={"request_id": call.request_id})

    def _reply(self, writer: asyncio.StreamWriter, req_id: int, value: Any) -> None:
        try:
            frame = wire.encode(wire.Reply(req_id, wire.RESULT, value))
        except Exception as exc:  # noqa: BLE001 - a result that does not pickle
            frame = wire.encode(wire.Reply(req_id, wire.ERROR, wire.encode_error(TypeError(
                f"the deployment {self.deployment!r} returned a value that cannot be sent back: {exc}"))))
        writer.write(frame)

    async def _finish_awaitable(self, call: wire.Call, awaitable: Any, writer: asyncio.StreamWriter,
                                start: float, scope: RequestScope | None = None) -> None:
        req_id, outcome = call.req_id, "ERROR"
        try:
            result = await awaitable
        except asyncio.CancelledError:
            outcome = self._cancelled(writer, call, scope)
        except BaseException as exc:  # noqa: BLE001
            writer.write(wire.encode(wire.Reply(req_id, wire.ERROR, wire.encode_error(exc))))
        else:
            outcome = "OK"
            self._reply(writer, req_id, result)
        finally:
            self._forget(writer, req_id, scope)
            self._done(True, call, start, outcome)

    def _cancelled(self, writer: asyncio.StreamWriter, call: wire.Call, scope: RequestScope | None) -> str:
        """A request ended by ``asyncio.CancelledError`` (its caller cancelled it): its child
        requests are cancelled; a caller that still waits gets ``RequestCancelledError``."""
        if scope is not None:
            scope.cancel_children()
        error = wire.encode_error(cancelled_error(call.request_id))
        writer.write(wire.encode(wire.Reply(call.req_id, wire.ERROR, error)))
        return "CANCELLED"

    def _forget(self, writer: asyncio.StreamWriter, req_id: int, scope: RequestScope | None) -> None:
        """The request ended: a Cancel frame for it finds nothing (and its scope lets its task
        go: the task's context holds the scope)."""
        running = self._running.get(writer)
        if running is not None:
            running.pop(req_id, None)
        if scope is not None:
            scope.task = None

    async def _run(self, call: wire.Call, writer: asyncio.StreamWriter, start: float = 0.0,
                   inbox: RequestInbox | None = None, cancel_scope: RequestScope | None = None) -> None:
        req_id = call.req_id
        outcome: Any = "OK"
        grpc_context: RayServegRPCContext | None = None
        result: Any = None

        async def emit(value: Any, final: bool = False) -> None:
            nonlocal outcome
            if call.kind in (wire.HTTP, wire.WEBSOCKET):
                for message in value:
                    kind = message.get("type")
                    if kind in ("http.response.start", "websocket.http.response.start"):
                        outcome = message.get("status")
                    elif kind == "websocket.close":
                        outcome = message.get("code", 1000)
            writer.write(wire.encode(wire.Reply(req_id, wire.RESULT if final else wire.CHUNK, value)))
            if writer.transport.get_write_buffer_size() > 2 ** 20:
                await writer.drain()

        try:
            if call.kind == wire.HTTP:
                scope, body = call.args
                await run_http(self.obj, scope, body, emit)
            elif call.kind == wire.WEBSOCKET:
                await run_websocket(self.obj, call.args[0], inbox if inbox is not None else _no_messages(), emit,
                                    self.deployment)
                writer.write(wire.encode(wire.Reply(req_id, wire.END)))
            elif call.kind == wire.CONTROL:
                await emit(await self.control(call.method, *call.args), True)
            else:  # a Python or gRPC call, streamed
                fn = self._method(call.method)
                args, kwargs = call.args, call.kwargs
                if call.kind == wire.GRPC:  # the proxy's grpc_context: passed when the method takes it
                    target = self.obj._fn if isinstance(self.obj, _FunctionDeployment) else fn
                    kwargs, grpc_context = grpc_call_kwargs(target, kwargs)
                    if inbox is not None:  # a client- or bidi-streaming call: the client's messages
                        args = (gRPCInputStream(inbox), *args)
                result = fn(*args, **kwargs)
                if inspect.isawaitable(result) and not inspect.isasyncgen(result):
                    result = await result
                if inspect.isasyncgen(result):
                    async for item in result:
                        await emit(item)
                elif inspect.isgenerator(result):
                    for item in result:
                        await emit(item)
                elif call.stream:
                    raise TypeError(f"{self.deployment}.{call.method} was called with stream=True but returned "
                                    f"{type(result).__name__}, not a generator")
                else:
                    await emit(result if grpc_context is None else GrpcOutcome(grpc_context, result), True)
                    return
                if grpc_context is not None:  # what the method set, after its items
                    await emit(GrpcOutcome(grpc_context))
                writer.write(wire.encode(wire.Reply(req_id, wire.END)))
        except asyncio.CancelledError:
            if inspect.isasyncgen(result):  # cancelled between two items: the generator sees it too
                await _throw_cancelled(result)
            elif inspect.isgenerator(result):
                result.close()
            outcome = self._cancelled(writer, call, cancel_scope)
        except BaseException as exc:  # noqa: BLE001
            outcome = "ERROR"
            if grpc_context is not None:
                exc = grpc_status_error(exc, grpc_context)
            writer.write(wire.encode(wire.Reply(req_id, wire.ERROR, wire.encode_error(exc))))
        finally:
            if inbox is not None:
                self._inboxes.get(writer, {}).pop(req_id, None)
            self._forget(writer, req_id, cancel_scope)
            self._done(call.kind != wire.CONTROL, call, start, outcome)

    async def call_method(self, method: str, args: tuple, kwargs: dict) -> Any:
        """Call ``method`` of the user's object (awaiting it when async)."""
        result = self._method(method)(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    def _method(self, name: str) -> Callable:
        fn = getattr(self.obj, name, None)
        if fn is None or not callable(fn) or (name.startswith("_") and name != "__call__"):
            raise AttributeError(f"deployment {self.deployment!r} has no method {name!r}")
        return fn

    # ---- the controller's requests
    async def control(self, op: str, *args: Any) -> Any:
        if op == "check_health":
            check = getattr(self.obj, "check_health", None)
            if callable(check):
                result = check()
                if inspect.isawaitable(result):
                    await result
            return True
        if op == "reconfigure":
            await self.reconfigure(args[0])
            return True
        if op == "stats":
            # the callers' requests: a health check or another controller call running now is not load
            return {"ongoing": self.user_ongoing, "served": self.served, "batches": batch_size_counts(),
                    "models": loaded_model_ids(self.obj), "pid": os.getpid(),
                    "record_autoscaling_stats_failed": self.autoscaling_stats.failures}
        if op == "autoscaling_stats":  # a look at the load: the callers' requests, the custom metrics
            ongoing = self.user_ongoing
            custom, age = await self.autoscaling_stats.collect(float(args[0]) if args else 0.0)
            return {"ongoing": ongoing, "custom_metrics": custom, "age": age}
        if op == "routing_stats":  # for the callers' custom request routers
            stats = await record_routing_stats(self.obj, self.deployment)
            return {"stats": stats, "models": loaded_model_ids(self.obj)}
        if op == "set_max_ongoing_requests":
            self.max_ongoing_requests = int(args[0])
            return True
        if op == "drain":
            return await self.drain(float(args[0]))
        raise ValueError(f"unknown control request {op!r}")

    async def reconfigure(self, user_config: Any) -> None:
        fn = getattr(self.obj, "reconfigure", None)
        if not callable(fn):
            raise AttributeError(f"deployment {self.deployment!r} has a user_config but no reconfigure(config) "
                                 "method to receive it")
        result = fn(user_config, _replica_rank()) if _takes_rank(fn) else fn(user_config)
        if inspect.isawaitable(result):
            await result

    async def drain(self, timeout_s: float) -> bool:
        """Stop accepting connections and wait (at most ``timeout_s``) until no
        request but this one is in flight; True when drained."""
        if self._server is not None:
            self._server.close()
        deadline = time.monotonic() + timeout_s
        while self.ongoing > 1:
            self._idle = asyncio.Event()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._idle.wait(), remaining)
            except asyncio.TimeoutError:
                return False
        return True


async def record_routing_stats(obj: Any, deployment: str) -> dict[str, Any]:
    """What the user's ``record_routing_stats()`` returns ({} when it has none)."""
    fn = getattr(obj, "record_routing_stats", None)
    if not callable(fn):
        return {}
    stats = fn()
    if inspect.isawaitable(stats):
        stats = await stats
    if not isinstance(stats, dict):
        raise TypeError(f"{deployment}.record_routing_stats() must return a dict, got {type(stats).__name__}")
    return stats


def _takes_rank(fn: Any) -> bool:
    """``reconfigure(self, user_config, rank)``: Ray passes the replica's rank as a second argument
    when the method takes one."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [q for q in params if q.kind in (q.POSITIONAL_ONLY, q.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(q.kind is q.VAR_POSITIONAL for q in params)


def _replica_rank() -> Any:
    from streamdata.serve.context import get_replica_context
    return get_replica_context().rank


async def _throw_cancelled(agen: Any) -> None:
    """Raise ``asyncio.CancelledError`` in a suspended async generator (its handlers run)."""
    if agen.ag_frame is None or agen.ag_running:
        return  # it ended already (the error came from inside it), or runs elsewhere
    try:
        await agen.athrow(asyncio.CancelledError())
        await agen.aclose()  # it caught the error and yielded again: it is closed
    except (StopAsyncIteration, asyncio.CancelledError, GeneratorExit):
        pass
    except Exception:  # noqa: BLE001 - the generator's own error while it was cancelled: logged
        logger.exception("an async generator raised while it was cancelled")


class ReplicaActor:
    """The runtime actor hosting one replica (started by the controller)."""

    def __init__(self, target_blob: bytes, init_blob: bytes, app_name: str, deployment: str,
                 replica_id: str, socket_path: str, user_config: Any = None, has_user_config: bool = False,
                 max_ongoing_requests: int = 5, rank: int = 0, logging_config: dict[str, Any] | None = None,
                 world_size: int = 1, gang_context: Any = None) -> None:
        import cloudpickle

        from streamdata.serve._loop import EventLoopThread
        from streamdata.serve.logs import attach_log_file
        attach_log_file(f"replica_{app_name}_{deployment}_{replica_id}", logging_config,
                        {"application": app_name, "deployment": deployment, "replica": replica_id})
        access_log = (logging_config or {}).get("enable_access_log", True)

        self._path = socket_path
        self._loop = EventLoopThread("replica")
        target = cloudpickle.loads(target_blob)
        init_args, init_kwargs = cloudpickle.loads(init_blob)

        async def start() -> ReplicaServer:
            rid = ReplicaID(replica_id, DeploymentID(deployment, app_name))
            replica_rank = ReplicaRank(rank=rank, node_rank=0, local_rank=rank)
            _set_replica_context(ReplicaContext(rid, None, replica_rank, world_size, gang_context))
            obj = target(*init_args, **init_kwargs) if inspect.isclass(target) else _FunctionDeployment(target)
            _set_replica_context(ReplicaContext(rid, obj, replica_rank, world_size, gang_context))
            if getattr(obj, "_sd_task_consumer", False):  # @task_consumer: its adapter starts consuming
                obj.initialize_callable(max_ongoing_requests)
            server = ReplicaServer(obj, app_name, deployment, replica_id, max_ongoing_requests, access_log)
            if has_user_config:
                await server.reconfigure(user_config)
            await server.listen(socket_path)
            return server

        self._server = self._loop.run(start())

    def ready(self) -> dict[str, Any]:
        """The replica's socket and process, once its constructor ran."""
        return {"path": self._path, "pid": os.getpid()}


__all__ = ["ReplicaActor", "ReplicaServer"]
