"""Serve as each process sees it: one event loop for the data plane, a router per
deployment it calls, and the routing table, kept current by a long poll of the
controller (``listen_for_change``), so routers learn of new, replaced and removed
replicas without asking per request.

The driver, every replica and the proxy each have one :class:`ServeClient`
(:func:`get_client`); a replica or the proxy gives it its own loop, so a handle
awaited in a deployment's async code stays on that loop.

Example:
    >>> table = RoutingTable.empty()
    >>> table.version, table.route("/x")
    (-1, None)
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from streamdata.serve._loop import EventLoopThread
from streamdata.serve._runtime import runtime
from streamdata.serve.custom_router import make_router
from streamdata.serve.request_router_config import RequestRouterConfig
from streamdata.serve.router import ReplicaInfo, Router

#: the controller's and the proxy's actor names (Ray's)
CONTROLLER_NAME = "SERVE_CONTROLLER_ACTOR"
PROXY_NAME = "SERVE_PROXY_ACTOR"
#: how long one long poll of the controller waits for a change
LONG_POLL_TIMEOUT_S = 5.0
#: how often the routers' reporter looks the controller up again (a new serve instance has a new one)
CONTROLLER_REFRESH_S = 5.0


@dataclass(frozen=True, slots=True)
class DeploymentRoute:
    """What routers need of one deployment."""

    replicas: tuple[ReplicaInfo, ...]
    max_ongoing_requests: int
    max_queued_requests: int
    #: an autoscaling deployment's ``metrics_interval_s``: how often routers report their
    #: queued requests (None: it does not autoscale)
    queue_report_interval_s: float | None = None
    #: the deployment's ``request_router_config`` (None: the built-in router)
    request_router: RequestRouterConfig | None = None


@dataclass(frozen=True, slots=True)
class AppRoute:
    """An application as the proxies see it."""

    name: str
    route_prefix: str | None
    ingress: str
    #: the ingress deployment's ``backpressure_config`` (None: 503, no Retry-After)
    backpressure: Any = None


@dataclass(frozen=True, slots=True)
class RoutingTable:
    """The controller's view of where requests go, with a version that grows."""

    version: int
    apps: dict[str, AppRoute] = field(default_factory=dict)
    deployments: dict[tuple[str, str], DeploymentRoute] = field(default_factory=dict)

    @staticmethod
    def empty() -> RoutingTable:
        return RoutingTable(-1)

    def route(self, path: str) -> AppRoute | None:
        """The application whose route prefix is the longest prefix of ``path``."""
        best: AppRoute | None = None
        for app in self.apps.values():
            prefix = app.route_prefix
            if prefix is None:
                continue
            if prefix == "/" or path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                if best is None or len(prefix) > len(best.route_prefix or ""):
                    best = app
        return best


class QueueReporter:
    """Sends the routers' queued-request counts to the controller (its ``record_demand``)
    from one thread, so a router's loop never waits on the runtime; a count not sent yet
    is replaced by the router's next one."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    def report(self, app_name: str, deployment_name: str, waiting: int, router_id: str) -> None:
        """Send ``waiting``, the requests ``router_id`` holds for the deployment (any thread)."""
        with self._lock:
            if self._closed:
                return
            self._pending[(app_name, deployment_name, router_id)] = waiting
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True, name="streamdata-serve-queue-report")
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        controller, resolved = None, 0.0
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                pending, self._pending = self._pending, {}
                if self._closed:
                    return
            for (app_name, deployment_name, router_id), waiting in pending.items():
                try:
                    if controller is None or time.monotonic() - resolved > CONTROLLER_REFRESH_S:
                        controller, resolved = runtime().get_actor(CONTROLLER_NAME), time.monotonic()
                    controller.record_demand.remote(app_name, deployment_name, waiting, router_id)
                except Exception:  # noqa: BLE001 - the controller restarts; the router reports again
                    controller = None

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._wake.set()


def _custom(config: RequestRouterConfig | None) -> RequestRouterConfig | None:
    return None if config is None or config.is_default_request_router() else config


class ServeClient:
    """This process's routers and routing table."""

    def __init__(self, loop_thread: EventLoopThread | None = None) -> None:
        self.loop_thread = loop_thread or EventLoopThread("client")
        self._own_loop = loop_thread is None
        self.table = RoutingTable.empty()
        self.routers: dict[tuple[str, str], Router] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self.observe: Callable[[str, str, float, bool], None] | None = None
        self.listeners: list[Callable[[RoutingTable], None]] = []
        self._have_table = threading.Event()
        self.table_event = asyncio.Event()  # set on the client's loop once a table arrived
        self._reporter = QueueReporter()

    @property
    def loop(self) -> Any:
        return self.loop_thread.loop

    def router(self, app_name: str, deployment_name: str) -> Router:
        """The router of a deployment (made on first use; call from the client's loop)."""
        key = (app_name, deployment_name)
        router = self.routers.get(key)
        if router is None:
            route = self.table.deployments.get(key)
            router = make_router(app_name, deployment_name, route.request_router if route is not None else None,
                                 observe=self.observe, on_demand=self._reporter.report)
            if route is not None:
                router.update(route.replicas, route.max_ongoing_requests, route.max_queued_requests,
                              route.queue_report_interval_s)
            self.routers[key] = router
            self.start_polling()
        return router

    # ---- the routing table
    def apply(self, table: RoutingTable) -> None:
        """Take ``table`` when it is newer (on the client's loop)."""
        if table.version <= self.table.version:
            return
        self.table = table
        self._have_table.set()
        self.table_event.set()
        for key, router in list(self.routers.items()):
            route = table.deployments.get(key)
            if route is None:
                if key[0] not in table.apps:
                    router.close()
                    del self.routers[key]
                continue
            if getattr(router, "router_config", None) != _custom(route.request_router):
                router.close()  # redeployed with another request router: its requests from now on go to a new one
                router = self.routers[key] = make_router(*key, route.request_router, observe=self.observe,
                                                         on_demand=self._reporter.report)
            router.update(route.replicas, route.max_ongoing_requests, route.max_queued_requests,
                          route.queue_report_interval_s)
        for listener in list(self.listeners):
            listener(table)

    def apply_threadsafe(self, table: RoutingTable) -> None:
        self.loop.call_soon_threadsafe(self.apply, table)

    def start_polling(self) -> None:
        with self._lock:
            if self._poller is not None or self._stop.is_set():
                return
            self._poller = threading.Thread(target=self._poll, daemon=True, name="streamdata-serve-poll")
            self._poller.start()

    async def table_arrived(self, timeout: float) -> bool:
        """Wait (on the client's loop) until a routing table arrived; False after ``timeout``."""
        if self.table.version >= 0:
            return True
        self.start_polling()
        try:
            await asyncio.wait_for(self.table_event.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True

    def wait_for_table(self, timeout: float) -> bool:
        self.start_polling()
        return self._have_table.wait(timeout)

    def _poll(self) -> None:
        sd = runtime()
        controller = None
        backoff = 0.02
        while not self._stop.is_set():
            try:
                if controller is None:
                    controller = sd.get_actor(CONTROLLER_NAME)
                table = sd.get(controller.listen_for_change.remote(self.table.version, LONG_POLL_TIMEOUT_S))
                backoff = 0.02
                if table is not None and not self._stop.is_set():
                    self.apply_threadsafe(table)
            except Exception:  # noqa: BLE001 - the controller restarts, or serve shut down
                controller = None
                if self._stop.wait(backoff):
                    return
                backoff = min(0.5, backoff * 2)

    def close(self) -> None:
        self._stop.set()
        self._reporter.close()

        def close_routers() -> None:
            for router in self.routers.values():
                router.close()
            self.routers.clear()

        try:
            self.loop.call_soon_threadsafe(close_routers)
        except RuntimeError:  # the loop is closed
            pass
        if self._own_loop:
            self.loop_thread.stop()


_client: ServeClient | None = None
_client_lock = threading.Lock()


def get_client(create: bool = True) -> ServeClient | None:
    """This process's client (made on first use)."""
    global _client
    with _client_lock:
        if _client is None and create:
            _client = ServeClient()
        return _client


def set_client_loop(loop_thread: EventLoopThread) -> ServeClient:
    """Make this process's client use ``loop_thread`` (a replica's or the proxy's loop)."""
    global _client
    with _client_lock:
        if _client is not None:
            _client.close()
        _client = ServeClient(loop_thread)
        return _client


def reset_client() -> None:
    """Close this process's client (``serve.shutdown``)."""
    global _client
    with _client_lock:
        client, _client = _client, None
    if client is not None:
        client.close()


def deadline_loop(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.01) -> bool:
    """Wait until ``predicate()`` (checked every ``interval_s``) or ``timeout_s``; True when it held."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval_s)
    return True


__all__ = ["CONTROLLER_NAME", "PROXY_NAME", "AppRoute", "DeploymentRoute", "QueueReporter", "RoutingTable", "ServeClient",
           "get_client", "reset_client", "set_client_loop"]
