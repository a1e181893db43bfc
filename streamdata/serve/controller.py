"""The serve controller (in the driver): deploys applications as replica actors,
keeps their routers, autoscales them and runs the HTTP ingress.

``sd.serve.run(app)`` starts every deployment of ``app`` (deployments bound as
arguments of another first, so it gets their handles), waits until each
initial replica's constructor ran, and returns the ingress deployment's handle.
A control thread looks at each autoscaled deployment's load every
``metrics_interval_s`` and adds replicas, or drains then stops them.

Example:
    >>> from streamdata import serve
    >>> @serve.deployment(num_cpus=0)
    ... def hello(name):
    ...     return f"hello {name}"
    >>> serve.run(hello.bind(), name="ctrl_doc").remote("you").result()
    'hello you'
    >>> serve.status()["ctrl_doc"]["hello"]["replicas"]
    1
    >>> serve.delete("ctrl_doc")
"""

from __future__ import annotations

import atexit
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from streamdata.serve.autoscaling import AutoscalingPolicy
from streamdata.serve.deployment import Application, Deployment
from streamdata.serve.handle import DeploymentHandle, register_router, unregister_router
from streamdata.serve.metrics import BATCH_SIZE_BUCKETS, Histogram, MetricsRegistry
from streamdata.serve.replica import Replica
from streamdata.serve.router import Router

#: how long a replica being removed may finish its requests before it is stopped
DRAIN_TIMEOUT_S = 30.0
#: how long ``/metrics`` waits for the replicas' batch statistics
STATS_TIMEOUT_S = 2.0


@dataclass(eq=False)
class _DeploymentState:
    app_name: str
    deployment: Deployment
    router: Router
    init_args: tuple
    init_kwargs: dict
    replicas: dict[str, Any] = field(default_factory=dict)  # replica id -> actor (started or starting)
    policy: AutoscalingPolicy | None = None
    ids: Any = field(default_factory=itertools.count)
    next_check: float = 0.0
    start_failures: int = 0  # replicas in a row whose constructor failed (backs the autoscaler off)

    def new_replica(self) -> tuple[str, Any, Any]:
        """Start one replica actor; returns its id, handle and the ref of its ``ready()``."""
        from streamdata.core import api as rt

        dep = self.deployment
        replica_id = f"{dep.name}#{next(self.ids)}"
        options = {k: v for k, v in dep.config.actor_options.items() if v is not None}
        actor = rt.remote(Replica).options(max_restarts=-1, **options).remote(
            dep.target, self.init_args, self.init_kwargs, self.app_name, dep.name, replica_id)
        self.replicas[replica_id] = actor
        return replica_id, actor, actor.ready.remote()


@dataclass(eq=False)
class _AppState:
    name: str
    route_prefix: str | None
    ingress: _DeploymentState
    deployments: list[_DeploymentState]


class ServeController:
    """Every application of this process, the HTTP ingress and the control thread."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.apps: dict[str, _AppState] = {}
        self.metrics = MetricsRegistry()
        self._http: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- applications
    def run(self, app: Application, *, name: str, route_prefix: str | None,
            http_port: int | None) -> DeploymentHandle:
        if not isinstance(app, Application):
            raise TypeError(f"serve.run takes an application (Deployment.bind(...)), got {type(app).__name__}")
        if route_prefix is not None and not route_prefix.startswith("/"):
            raise ValueError(f"route_prefix must start with '/', got {route_prefix!r}")
        with self._lock:
            if name in self.apps:
                self.delete(name)
            if route_prefix is not None:
                for other in self.apps.values():
                    if other.route_prefix == route_prefix:
                        raise ValueError(f"route_prefix {route_prefix!r} is taken by application {other.name!r}")
            if http_port is not None:
                self._start_http(http_port)
            states: list[_DeploymentState] = []
            try:
                ingress = self._deploy(app, name, states, {})
            except BaseException:
                for state in states:
                    self._stop_deployment(state)
                raise
            self.apps[name] = _AppState(name, route_prefix, ingress, states)
            if any(s.policy is not None for s in states):
                self._start_control_thread()
            return DeploymentHandle(ingress.router)

    def _deploy(self, app: Application, app_name: str, states: list[_DeploymentState],
                done: dict[int, _DeploymentState]) -> _DeploymentState:
        """Deploy ``app`` after the applications among its arguments."""
        from streamdata.core import api as rt

        if id(app) in done:
            return done[id(app)]
        dep = app.deployment

        def resolve(value: Any) -> Any:
            if isinstance(value, Application):
                return DeploymentHandle(self._deploy(value, app_name, states, done).router)
            if isinstance(value, (list, tuple)):
                return type(value)(resolve(v) for v in value)
            if isinstance(value, dict):
                return {k: resolve(v) for k, v in value.items()}
            return value

        args = tuple(resolve(a) for a in app.args)
        kwargs = {k: resolve(v) for k, v in app.kwargs.items()}
        if any(s.deployment.name == dep.name for s in states):
            raise ValueError(f"application {app_name!r} has two deployments named {dep.name!r}; "
                             "give one another name with .options(name=...)")
        router = Router(app_name, dep.name, dep.config.max_ongoing_requests, self.metrics)
        config = dep.config.autoscaling_config
        state = _DeploymentState(app_name, dep, router, args, kwargs,
                                 policy=AutoscalingPolicy(config) if config is not None else None)
        states.append(state)
        started = [state.new_replica() for _ in range(dep.config.initial_replicas())]
        rt.get([ready for _, _, ready in started])  # a constructor's error is raised here
        for replica_id, actor, _ in started:
            router.add_replica(replica_id, actor)
        register_router(router)
        done[id(app)] = state
        return state

    def delete(self, name: str) -> None:
        with self._lock:
            app = self.apps.pop(name, None)
        if app is None:
            raise KeyError(f"no application named {name!r}; applications: {sorted(self.apps)}")
        for state in app.deployments:
            self._stop_deployment(state)

    def _stop_deployment(self, state: _DeploymentState) -> None:
        from streamdata.core import api as rt

        state.router.close()
        unregister_router(state.router)
        for actor in list(state.replicas.values()):
            try:
                rt.kill(actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
        state.replicas.clear()

    def handle(self, app_name: str, deployment_name: str | None = None) -> DeploymentHandle:
        with self._lock:
            app = self.apps.get(app_name)
            if app is None:
                raise KeyError(f"no application named {app_name!r}; applications: {sorted(self.apps)}")
            if deployment_name is None:
                return DeploymentHandle(app.ingress.router)
            for state in app.deployments:
                if state.deployment.name == deployment_name:
                    return DeploymentHandle(state.router)
        raise KeyError(f"application {app_name!r} has no deployment {deployment_name!r}; deployments: "
                       f"{[s.deployment.name for s in app.deployments]}")

    def route(self, path: str) -> _AppState | None:
        """The application whose route prefix is the longest prefix of ``path``."""
        with self._lock:
            best = None
            for app in self.apps.values():
                prefix = app.route_prefix
                if prefix is None:
                    continue
                matches = path == prefix or path.startswith(prefix.rstrip("/") + "/")
                if matches and (best is None or len(prefix) > len(best.route_prefix or "")):
                    best = app
            return best

    def status(self) -> dict[str, dict[str, dict[str, Any]]]:
        with self._lock:
            apps = list(self.apps.values())
        return {app.name: {s.deployment.name: {
            "replicas": len(s.router.replica_ids()), "starting_or_stopping":
                len(s.replicas) - len(s.router.replica_ids()),
            "load": s.router.load(), "queued": s.router.queued(), "route_prefix": app.route_prefix,
        } for s in app.deployments} for app in apps}

    # ---- autoscaling
    def _start_control_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._control_loop, daemon=True, name="streamdata-serve-control")
        self._thread.start()

    def _control_loop(self) -> None:
        while not self._stop.wait(0.05):
            now = time.monotonic()
            with self._lock:
                states = [s for app in self.apps.values() for s in app.deployments if s.policy is not None]
            for state in states:
                if now >= state.next_check:
                    assert state.policy is not None
                    state.next_check = now + state.policy.config.metrics_interval_s
                    try:
                        self._autoscale(state, now)
                    except Exception:  # noqa: BLE001 - e.g. the runtime shut down; try again later
                        pass

    def _autoscale(self, state: _DeploymentState, now: float) -> None:
        assert state.policy is not None
        serving = state.router.replica_ids()
        starting = len(state.replicas) - len(state.router.replica_ids(include_draining=True))
        current = len(serving) + starting
        target = state.policy.decide(now=now, current=current, load=state.router.load())
        if target > current:
            for _ in range(target - current):
                replica_id, actor, ready = state.new_replica()
                ready.future().add_done_callback(
                    lambda f, rid=replica_id, a=actor: self._on_replica_ready(state, rid, a, f))
        elif target < current and serving:
            by_load = sorted(serving, key=lambda rid: (state.router.ongoing(rid), rid))
            for replica_id in by_load[:min(current - target, len(serving))]:
                state.router.drain_replica(replica_id)
                threading.Thread(target=self._retire, args=(state, replica_id), daemon=True,
                                 name="streamdata-serve-retire").start()

    def _on_replica_ready(self, state: _DeploymentState, replica_id: str, actor: Any, fut: Any) -> None:
        if replica_id not in state.replicas:
            return  # the deployment was deleted meanwhile
        if fut.exception() is not None:
            state.replicas.pop(replica_id, None)
            state.start_failures += 1
            state.next_check = time.monotonic() + min(30.0, 0.5 * 2 ** state.start_failures)
            return
        state.start_failures = 0
        state.router.add_replica(replica_id, actor)

    def _retire(self, state: _DeploymentState, replica_id: str) -> None:
        from streamdata.core import api as rt

        state.router.wait_idle(replica_id, DRAIN_TIMEOUT_S)
        state.router.remove_replica(replica_id)
        actor = state.replicas.pop(replica_id, None)
        if actor is not None:
            try:
                rt.kill(actor)
            except Exception:  # noqa: BLE001
                pass

    # ---- HTTP and metrics
    def _start_http(self, port: int) -> None:
        from streamdata.serve.http_proxy import HTTPProxy

        if self._http is not None:
            if port in (0, self._http.port):
                return
            raise ValueError(f"the HTTP ingress already listens on port {self._http.port}; "
                             f"call serve.shutdown() before using port {port}")
        self._http = HTTPProxy(self, "127.0.0.1", port)

    @property
    def http_port(self) -> int | None:
        return None if self._http is None else self._http.port

    def render_metrics(self) -> str:
        """Prometheus text: request counters and latencies, replica gauges, batch sizes."""
        from streamdata.core import api as rt

        with self._lock:
            states = [s for app in self.apps.values() for s in app.deployments]
        replicas_gauge = MetricsRegistry().gauge("streamdata_serve_deployment_replicas",
                                                 "Replicas serving requests.")
        load_gauge = MetricsRegistry().gauge("streamdata_serve_deployment_ongoing_requests",
                                             "Requests in flight or waiting for a replica.")
        batches = Histogram("streamdata_serve_batch_size", "Sizes of the batches @serve.batch functions ran.",
                            BATCH_SIZE_BUCKETS)
        for state in states:
            labels = {"application": state.app_name, "deployment": state.deployment.name}
            replicas_gauge.set(labels, len(state.router.replica_ids()))
            load_gauge.set(labels, state.router.load())
            actors = state.router.actors()
            refs = [a.stats.remote() for a in actors]
            if not refs:
                continue
            ready, _ = rt.wait(refs, num_returns=len(refs), timeout=STATS_TIMEOUT_S)
            for ref in ready:
                try:
                    counts = rt.get(ref)
                except Exception:  # noqa: BLE001 - a replica died meanwhile
                    continue
                for fn_name, sizes in counts.items():
                    for size, n in sizes.items():
                        batches.observe(size, {**labels, "function": fn_name}, count=n)
        return self.metrics.render([replicas_gauge, load_gauge, batches])

    # ---- shutdown
    def shutdown(self) -> None:
        self._stop.set()
        with self._lock:
            names = list(self.apps)
        for name in names:
            try:
                self.delete(name)
            except KeyError:
                pass
        if self._http is not None:
            self._http.shutdown()
            self._http = None


_controller: ServeController | None = None
_controller_lock = threading.Lock()
_atexit_registered = False


def get_controller(create: bool = True) -> ServeController | None:
    global _controller, _atexit_registered
    with _controller_lock:
        if _controller is None and create:
            _controller = ServeController()
            if not _atexit_registered:
                atexit.register(shutdown)  # runs before the runtime's own atexit shutdown
                _atexit_registered = True
        return _controller


def run(app: Application, *, name: str = "default", route_prefix: str | None = "/",
        http_port: int | None = None, blocking: bool = False) -> DeploymentHandle:
    """Deploy ``app`` and return its ingress deployment's handle.

    Args:
        app: ``Deployment.bind(...)``.
        name: the application's name (running an existing name replaces it).
        route_prefix: the HTTP path the application answers under.
        http_port: start the HTTP ingress on 127.0.0.1 at this port (0: any free port;
            see :func:`http_address`).
        blocking: accepted for Ray compatibility; ``run`` always returns once deployed.
    """
    controller = get_controller()
    assert controller is not None
    return controller.run(app, name=name, route_prefix=route_prefix, http_port=http_port)


def delete(name: str) -> None:
    """Stop the application ``name`` and its replicas."""
    controller = get_controller(create=False)
    if controller is None:
        raise KeyError(f"no application named {name!r}")
    controller.delete(name)


def get_app_handle(name: str = "default") -> DeploymentHandle:
    """The ingress handle of the running application ``name``."""
    controller = get_controller(create=False)
    if controller is None:
        raise KeyError(f"no application named {name!r}")
    return controller.handle(name)


def get_deployment_handle(deployment_name: str, app_name: str = "default") -> DeploymentHandle:
    """The handle of the deployment ``deployment_name`` of application ``app_name``."""
    controller = get_controller(create=False)
    if controller is None:
        raise KeyError(f"no application named {app_name!r}")
    return controller.handle(app_name, deployment_name)


def status() -> dict[str, dict[str, dict[str, Any]]]:
    """``{app: {deployment: {"replicas": n, "load": n, "queued": n, ...}}}``."""
    controller = get_controller(create=False)
    return {} if controller is None else controller.status()


def http_address() -> str | None:
    """``http://127.0.0.1:PORT`` of the HTTP ingress, or None when it is not running."""
    controller = get_controller(create=False)
    port = None if controller is None else controller.http_port
    return None if port is None else f"http://127.0.0.1:{port}"


def shutdown() -> None:
    """Stop every application, their replicas and the HTTP ingress."""
    global _controller
    with _controller_lock:
        controller, _controller = _controller, None
    if controller is not None:
        controller.shutdown()


__all__ = ["ServeController", "delete", "get_app_handle", "get_deployment_handle", "http_address", "run",
           "shutdown", "status"]
