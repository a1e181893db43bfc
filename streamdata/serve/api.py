"""Serve's public functions (Ray Serve's): ``start``, ``run``, ``delete``,
``status``, ``shutdown``, ``get_app_handle``, ``get_deployment_handle``.

They run in the driver and talk to the controller actor through the runtime.
``serve.run`` walks the application's graph (deployments bound as arguments of
another become handles to them), sends each deployment's pickled class and
arguments to the controller and returns once every replica runs.

Example:
    >>> from streamdata import serve
    >>> _ = serve.start(http_options={"port": 0})
    >>> @serve.deployment(ray_actor_options={"num_cpus": 0})
    ... class Adder:
    ...     def __init__(self, n):
    ...         self.n = n
    ...     def __call__(self, x):
    ...         return x + self.n
    >>> serve.run(Adder.bind(1), name="api_doc", route_prefix="/add").remote(41).result()
    42
    >>> serve.status().applications["api_doc"].status.value
    'RUNNING'
    >>> serve.delete("api_doc")
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import hashlib
import shutil
import socket
import threading
import time
from typing import Any, Sequence

from streamdata.serve._runtime import runtime
from streamdata.serve.app_autoscaling import check_application_policy, coerce_application_policy
from streamdata.serve.client import CONTROLLER_NAME, PROXY_NAME, get_client, reset_client
from streamdata.serve.config import HTTPOptions, gRPCOptions
from streamdata.serve.deployment import Application
from streamdata.serve.deployment_state import DeploymentSpec, make_socket_dir
from streamdata.serve.handle import DeploymentHandle
from streamdata.serve.logs import coerce_logging_config
from streamdata.serve.schema import ServeStatus

#: how long serve.run / serve.delete wait for the proxy to learn the new routes
PROXY_SYNC_TIMEOUT_S = 10.0

_lock = threading.RLock()
_serve_dir: str | None = None
_atexit_registered = False


def _controller(create: bool = False) -> Any:
    sd = runtime()
    try:
        return sd.get_actor(CONTROLLER_NAME)
    except ValueError:
        if create:
            return start()
        return None


def wait_gone(actor_name: str, timeout_s: float = 30.0) -> None:
    """Wait until no actor is named ``actor_name`` (a killed actor's name goes with its process)."""
    sd = runtime()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            sd.get_actor(actor_name)
        except Exception:  # noqa: BLE001 - gone (or the runtime is)
            return
        time.sleep(0.01)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def start(proxy_location: Any = None, http_options: HTTPOptions | dict[str, Any] | None = None,
          grpc_options: gRPCOptions | dict[str, Any] | None = None, logging_config: Any = None,
          **kwargs: Any) -> Any:
    """Start serve: the controller and the proxy (HTTP on 127.0.0.1:8000 by default;
    ``http_options={"port": 0}`` picks a free port, see :func:`http_address`).

    Args:
        proxy_location: ``"Disabled"`` starts no proxy (handles only); ``None``,
            ``"HeadOnly"`` or ``"EveryNode"`` start one (there is one node).
        http_options: ``HTTPOptions`` or a dict of its fields (``host``, ``port``, ...).
        grpc_options: ``gRPCOptions`` or a dict (``port``, ``grpc_servicer_functions``).
        logging_config: the controller's logging (``LoggingConfig`` or a dict of its fields).
    """
    global _serve_dir, _atexit_registered
    if kwargs:
        raise TypeError(f"serve.start() got unexpected argument(s) {sorted(kwargs)}")
    system_logging = coerce_logging_config(logging_config, "serve.start(logging_config)")
    location = getattr(proxy_location, "value", proxy_location)
    if location not in (None, "Disabled", "HeadOnly", "EveryNode"):
        raise ValueError(f"proxy_location must be 'Disabled', 'HeadOnly' or 'EveryNode', got {proxy_location!r}")
    http = HTTPOptions.from_value(http_options)
    if location is None and not http.proxy_enabled:
        location = "Disabled"
    grpc = gRPCOptions.from_value(grpc_options)
    sd = runtime()
    with _lock:
        existing = _controller()
        if existing is not None:
            return existing
        if http.port == 0:
            http = HTTPOptions(**{**_as_dict(http), "port": _free_port(http.host)})
        if grpc is not None and grpc.port == 0:
            grpc = gRPCOptions(**{**_as_dict(grpc), "port": _free_port(grpc.host)})
        _serve_dir = make_socket_dir()
        from streamdata.serve.controller import ServeController

        controller = sd.remote(ServeController).options(name=CONTROLLER_NAME, max_restarts=-1, num_cpus=0,
                                                         max_concurrency=64).remote(
            _serve_dir, _as_dict(http), None if grpc is None else _as_dict(grpc), location != "Disabled",
            system_logging)
        sd.get(controller.ping.remote())
        from streamdata.observability import sources
        sources.register_status("serve", _status_for_dashboard)
        if not _atexit_registered:
            atexit.register(shutdown)  # before the runtime's own atexit shutdown
            _atexit_registered = True
        return controller


def _as_dict(options: Any) -> dict[str, Any]:
    import dataclasses

    return {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}


def _build_specs(app: Application, app_name: str,
                 logging_config: dict[str, Any] | None = None) -> tuple[str, list[DeploymentSpec]]:
    """The deployments of ``app``'s graph (arguments first), the ingress last; those
    without a ``logging_config`` of their own get the application's."""
    import cloudpickle

    specs: list[DeploymentSpec] = []
    names: dict[int, str] = {}

    def visit(node: Application) -> str:
        if id(node) in names:
            return names[id(node)]
        dep = node.deployment

        def resolve(value: Any) -> Any:
            if isinstance(value, Application):
                return DeploymentHandle(visit(value), app_name)
            if isinstance(value, (list, tuple)):
                return type(value)(resolve(v) for v in value)
            if isinstance(value, dict):
                return {k: resolve(v) for k, v in value.items()}
            return value

        args = tuple(resolve(a) for a in node.args)
        kwargs = {k: resolve(v) for k, v in node.kwargs.items()}
        if any(s.name == dep.name for s in specs):
            raise ValueError(f"application {app_name!r} has two deployments named {dep.name!r}; "
                             "give one another name with .options(name=...)")
        actors = dep.config.deployment_actors
        specs.append(DeploymentSpec(app_name, dep.name, cloudpickle.dumps(dep.target, protocol=5),
                                    cloudpickle.dumps((args, kwargs), protocol=5),
                                    dep.config if dep.config.logging_config is not None or logging_config is None
                                    else dataclasses.replace(dep.config, logging_config=logging_config),
                                    hashlib.sha1(cloudpickle.dumps(actors, protocol=5)).hexdigest() if actors else ""))
        names[id(node)] = dep.name
        return dep.name

    ingress = visit(app)
    return ingress, specs


def run(target: Application, blocking: bool = False, name: str = "default", route_prefix: str | None = "/",
        logging_config: Any = None, _local_testing_mode: bool = False, autoscaling_policy: Any = None,
        **kwargs: Any) -> DeploymentHandle:
    """Deploy ``target`` as the application ``name`` and return its ingress handle.

    Args:
        target: ``Deployment.bind(...)``.
        blocking: when True, serve until interrupted (Ctrl-C) after deploying.
        name: the application's name (running an existing name updates it in place:
            replicas are kept when only the config changed).
        route_prefix: the HTTP path the application answers under (None: no HTTP route).
        logging_config: the logging of the application's deployments that set none
            (``LoggingConfig`` or a dict of its fields).
        _local_testing_mode: build the application in this process instead, for unit
            tests (Ray's; :mod:`streamdata.serve.local_testing`): no replicas, no HTTP.
        autoscaling_policy: one policy deciding the replica counts of all the application's
            deployments that have an ``autoscaling_config`` (Ray's application-level policy, set
            in Ray's application config): a function of ``{DeploymentID: AutoscalingContext}``
            returning ``(decisions, policy_state)``, its import path, an ``AutoscalingPolicy``
            or ``{"policy_function": ...}``; see :mod:`streamdata.serve.app_autoscaling`.
    """
    unknown = sorted(kwargs)
    if unknown:
        raise TypeError(f"serve.run() got unexpected argument(s) {unknown}")
    if not isinstance(target, Application):
        raise TypeError(f"serve.run takes an application (Deployment.bind(...)), got {type(target).__name__}")
    if not isinstance(name, str) or not name:
        raise ValueError(f"the application name must be a non-empty string, got {name!r}")
    policy = coerce_application_policy(autoscaling_policy)
    if _local_testing_mode:  # in this process: no controller, replicas or proxy
        from streamdata.serve.local_testing import run_local

        return run_local(target, name)
    if route_prefix is not None and (not isinstance(route_prefix, str) or not route_prefix.startswith("/")):
        raise ValueError(f"route_prefix must start with '/', got {route_prefix!r}")
    ingress, specs = _build_specs(target, name, coerce_logging_config(logging_config, "serve.run(logging_config)"))
    if policy is not None:
        check_application_policy(name, {s.name: s.config.autoscaling_config for s in specs})
    sd = runtime()
    controller = _controller(create=True)
    table = sd.get(controller.deploy_application.remote(name, route_prefix, ingress, specs, policy))
    client = get_client()
    assert client is not None
    client.apply_threadsafe(table)
    _proxy_caught_up(table.version)
    handle = DeploymentHandle(ingress, name)
    if blocking:
        _serve_until_interrupted()
    return handle


@dataclasses.dataclass(frozen=True)
class RunTarget:
    """One application of :func:`run_many` (``serve.run``'s per-application arguments)."""

    target: Application
    name: str = "default"
    route_prefix: str | None = "/"
    logging_config: Any = None
    external_scaler_enabled: bool = False
    autoscaling_policy: Any = None

    def __post_init__(self) -> None:
        if self.external_scaler_enabled:
            raise NotImplementedError("RunTarget(external_scaler_enabled=True): an external autoscaler drives "
                                      "replica counts on a Ray cluster; not supported by streamdata")


def run_many(targets: Sequence[RunTarget], blocking: bool = False, wait_for_ingress_deployment_creation: bool = True,
             wait_for_applications_running: bool = True, _local_testing_mode: bool = False,
             controller_options: Any = None) -> list[DeploymentHandle]:
    """Deploy several applications (each a :class:`RunTarget`); their ingress handles, in order.

    Each application is deployed as ``serve.run`` does (and is running when this
    returns); names and route prefixes must be distinct.
    """
    if controller_options is not None:
        raise NotImplementedError("run_many(controller_options=...) is not supported by streamdata")
    if not isinstance(targets, (list, tuple)) or not all(isinstance(t, RunTarget) for t in targets):
        raise TypeError(f"run_many(targets=...) expects a list of RunTarget, got {targets!r}")
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        raise ValueError(f"run_many(targets=...): application names must be distinct, got {names}")
    prefixes = [t.route_prefix for t in targets if t.route_prefix is not None]
    if len(set(prefixes)) != len(prefixes):
        raise ValueError(f"run_many(targets=...): route prefixes must be distinct, got {prefixes}")
    handles = [run(t.target, name=t.name, route_prefix=t.route_prefix, logging_config=t.logging_config,
                   _local_testing_mode=_local_testing_mode, autoscaling_policy=t.autoscaling_policy)
               for t in targets]
    if blocking:
        _serve_until_interrupted()
    return handles


def _serve_until_interrupted() -> None:
    """``serve.run(blocking=True)``: keep the driver (and so the applications) alive until
    Ctrl-C."""
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(1)


def _proxy_caught_up(version: int) -> None:
    """Wait (briefly) until the proxy routes with the table ``version``."""
    sd = runtime()
    try:
        proxy = sd.get_actor(PROXY_NAME)
    except ValueError:  # no proxy (proxy_location="Disabled")
        return
    try:
        sd.get(proxy.wait_for_version.remote(version, PROXY_SYNC_TIMEOUT_S), timeout=PROXY_SYNC_TIMEOUT_S + 5)
    except Exception:  # noqa: BLE001 - a proxy that restarts catches up on its own
        pass


def delete(name: str, _blocking: bool = True) -> None:
    """Delete the application ``name`` (its replicas finish their requests first)."""
    controller = _controller()
    if controller is not None:
        sd = runtime()
        sd.get(controller.delete_application.remote(name))
        _proxy_caught_up(sd.get(controller.get_routing_table.remote()).version)


def _status_for_dashboard() -> dict[str, Any] | None:
    """Serve's status as the controller reports it (plain values), for the dashboard."""
    controller = _controller()
    return None if controller is None else runtime().get(controller.get_status.remote(), timeout=5)


def status() -> ServeStatus:
    """Every application's and deployment's status (Ray Serve's shape)."""
    controller = _controller()
    if controller is None:
        return ServeStatus()
    return ServeStatus.from_dict(runtime().get(controller.get_status.remote()))


def get_app_handle(name: str) -> DeploymentHandle:
    """The ingress handle of the running application ``name``."""
    controller = _controller()
    table = None if controller is None else runtime().get(controller.get_routing_table.remote())
    if table is None or name not in table.apps:
        raise KeyError(f"no application named {name!r} is running; applications: "
                       f"{sorted(table.apps) if table else []}")
    return DeploymentHandle(table.apps[name].ingress, name)


def get_deployment_handle(deployment_name: str, app_name: str | None = None) -> DeploymentHandle:
    """The handle of the deployment ``deployment_name`` of ``app_name`` (the only
    application, or ``"default"``, when not given)."""
    controller = _controller()
    table = None if controller is None else runtime().get(controller.get_routing_table.remote())
    apps = sorted(table.apps) if table is not None else []
    if app_name is None:
        app_name = apps[0] if len(apps) == 1 else "default"
    if table is None or (app_name, deployment_name) not in table.deployments:
        deps = sorted(d for a, d in (table.deployments if table else {}) if a == app_name)
        raise KeyError(f"application {app_name!r} has no deployment {deployment_name!r}; "
                       f"applications: {apps}, its deployments: {deps}")
    return DeploymentHandle(deployment_name, app_name)


def http_address() -> str | None:
    """``http://HOST:PORT`` (``https://`` with TLS) of the HTTP proxy (None when serve or its proxy
    is not running)."""
    controller = _controller()
    if controller is None:
        return None
    sd = runtime()
    try:
        info = sd.get(sd.get_actor(PROXY_NAME).ready.remote())
    except Exception:  # noqa: BLE001 - no proxy
        return None
    options = sd.get(controller.get_http_options.remote())
    scheme = "https" if options.get("ssl_certfile") else "http"
    return f"{scheme}://{options['host']}:{info['http_port']}"


async def shutdown_async() -> None:
    """:func:`shutdown`, awaitable from async code (runs it off the event loop)."""
    import asyncio

    await asyncio.get_running_loop().run_in_executor(None, shutdown)


def get_trace_context() -> dict[str, str] | None:
    """The tracing context of the current request: None (streamdata's serve has no tracing set up,
    as Ray's returns when tracing is off)."""
    return None


def shutdown() -> None:
    """Delete every application, stop the proxy and the controller."""
    global _serve_dir
    sd = runtime()
    with _lock:
        if sd.is_initialized():
            controller = _controller()
            if controller is not None:
                try:
                    sd.get(controller.graceful_shutdown.remote(), timeout=60)
                except Exception:  # noqa: BLE001 - it died meanwhile
                    pass
                try:
                    sd.kill(controller)
                except Exception:  # noqa: BLE001
                    pass
                wait_gone(CONTROLLER_NAME)  # a serve.start right after must not find the dying one
        reset_client()
        if _serve_dir is not None:
            shutil.rmtree(_serve_dir, ignore_errors=True)
            _serve_dir = None


__all__ = ["delete", "get_app_handle", "get_deployment_handle", "http_address", "run", "shutdown", "start",
           "status"]
