"""The serve controller: a runtime actor (``SERVE_CONTROLLER_ACTOR``) that owns
the applications, starts and replaces their replicas, starts the proxy, and
tells every router where to send requests (``listen_for_change``, a long poll).

It keeps a checkpoint of its state (applications, deployment specs, the replicas
it started) in the serve directory; when its process dies the runtime restarts
it (``max_restarts=-1``) and the new instance reads the checkpoint, takes over
the replicas that still answer and the proxy, and starts what is missing.
It imports neither the proxy's module nor the API's: the proxy is an actor it
starts by class path, and both talk to it through the runtime.

Example:
    >>> from streamdata import serve
    >>> _ = serve.start(http_options={"port": 0})
    >>> @serve.deployment(ray_actor_options={"num_cpus": 0})
    ... def hello(name):
    ...     return f"hello {name}"
    >>> serve.run(hello.bind(), name="ctrl_doc", route_prefix=None).remote("you").result()
    'hello you'
    >>> serve.status().applications["ctrl_doc"].deployments["hello"].replica_states
    {'RUNNING': 1}
    >>> serve.delete("ctrl_doc")
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import Any

from streamdata.serve import checkpoint, wire
from streamdata.serve._loop import EventLoopThread
from streamdata.serve._runtime import runtime
from streamdata.serve.app_autoscaling import ApplicationScaler, DeploymentLoad
from streamdata.serve.autoscaling import AutoscalingPolicy, DeploymentID, ReplicaScaler
from streamdata.serve.client import PROXY_NAME, AppRoute, DeploymentRoute, RoutingTable
from streamdata.serve.deployment_state import DeploymentSpec, DeploymentState
from streamdata.serve.logs import logger

#: how often the control loop reconciles replicas with their targets
CONTROL_INTERVAL_S = 0.05


@dataclass(eq=False)
class AppState:
    name: str
    route_prefix: str | None
    ingress: str
    deployments: dict[str, DeploymentState]
    deployed_at: float = field(default_factory=time.time)
    status: str = "DEPLOYING"
    message: str = ""
    scaler: ApplicationScaler | None = None  # the application-level autoscaling policy
    next_autoscale: float = 0.0
    autoscaling: bool = False  # a look at the load is under way
    tasks: set = field(default_factory=set)

    def attach_policy(self, scaler: ApplicationScaler | None) -> None:
        """Let ``scaler`` decide for the autoscaling deployments (None: each its own policy)."""
        self.scaler = scaler
        for state in self.deployments.values():
            state.app_scaled = self.scaler is not None and state.policy is not None
            if state.app_scaled and state.config.autoscaling_config.policy is not None:  # type: ignore[union-attr]
                logger.warning("deployment %r of application %r has an autoscaling policy of its own; the "
                               "application's autoscaling_policy takes precedence", state.name, self.name)


def _wait_gone(actor_name: str, timeout_s: float = 30.0) -> None:
    """Wait until no actor is named ``actor_name`` (the next serve.start must not find a dying proxy)."""
    sd = runtime()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            sd.get_actor(actor_name)
        except Exception:  # noqa: BLE001 - gone
            return
        time.sleep(0.01)


class ControllerCore:
    """The controller's state and its coroutines (on the controller's loop)."""

    def __init__(self, serve_dir: str, http_options: dict[str, Any], grpc_options: dict[str, Any] | None,
                 proxy_enabled: bool = True) -> None:
        self.serve_dir = serve_dir
        self.http_options = http_options
        self.grpc_options = grpc_options
        self.proxy_enabled = proxy_enabled
        self.apps: dict[str, AppState] = {}
        self.version = 0
        self._ckpt_path = os.path.join(serve_dir, "controller.ckpt")
        self._lt = EventLoopThread("controller")
        self._changed: asyncio.Event | None = None
        self._proxy: Any = None
        self._retiring: set[DeploymentState] = set()  # replaced by a redeploy, stopping
        self._stopping = False
        saved = checkpoint.load(self._ckpt_path)
        self._lt.run(self._setup(saved))
        self._lt.submit(self._control_loop())

    # ---- setup and recovery
    async def _setup(self, saved: dict[str, Any] | None) -> None:
        self._changed = asyncio.Event()
        if saved is not None:
            self.version = saved["version"] + 1
            for name, app in saved["apps"].items():
                deps = {}
                for dep_name, dep in app["deployments"].items():
                    state = self._new_state(dep["spec"])
                    state.next_id, state.target = dep["next_id"], dep["target"]
                    deps[dep_name] = state
                    gangs = dep.get("gangs", {})
                    await asyncio.gather(*(state.adopt(rid, actor_name, path, gangs.get(rid))
                                           for rid, (actor_name, path) in dep["replicas"].items()))
                self.apps[name] = AppState(name, app["route_prefix"], app["ingress"], deps, app["deployed_at"],
                                           app["status"], app["message"])
                policy = app.get("autoscaling_policy")
                self.apps[name].attach_policy(None if policy is None else ApplicationScaler(policy, name))
        if self.proxy_enabled:
            self._ensure_proxy()
        self._bump()

    def _ensure_proxy(self) -> None:
        sd = runtime()
        try:
            self._proxy = sd.get_actor(PROXY_NAME)
            return
        except Exception:  # noqa: BLE001 - not started yet
            pass
        from streamdata.serve.http_proxy import ProxyActor

        # detached, as Ray Serve's: the proxy outlives a controller that dies (and is taken back by the next)
        self._proxy = sd.remote(ProxyActor).options(name=PROXY_NAME, max_restarts=-1, num_cpus=0,
                                                    max_concurrency=4, lifetime="detached").remote(
            self.http_options, self.grpc_options)
        sd.get(self._proxy.ready.remote())

    def _new_state(self, spec: DeploymentSpec) -> DeploymentState:
        return DeploymentState(spec, self.serve_dir, self._bump)

    # ---- the routing table and its long poll
    def _table(self) -> RoutingTable:
        apps, deps = {}, {}
        for app in self.apps.values():
            ingress = app.deployments.get(app.ingress)
            apps[app.name] = AppRoute(app.name, app.route_prefix, app.ingress,
                                      ingress.config.backpressure_config if ingress is not None else None)
            for state in app.deployments.values():
                autoscaling = state.config.autoscaling_config
                deps[(app.name, state.name)] = DeploymentRoute(
                    state.route_infos(), state.config.max_ongoing_requests, state.config.max_queued_requests,
                    autoscaling.metrics_interval_s if autoscaling is not None else None,
                    state.config.request_router_config)
        return RoutingTable(self.version, apps, deps)

    def _bump(self) -> None:
        """Something routers or the checkpoint care about changed."""
        self.version += 1
        if not self._stopping:
            self._save()
        if self._changed is not None:
            self._changed.set()
            self._changed = asyncio.Event()

    def _save(self) -> None:
        apps = {}
        for app in self.apps.values():
            deps = {state.name: {"spec": state.spec, "next_id": state.next_id, "target": state.target,
                                 "replicas": {r.replica_id: (r.actor_name, r.path) for r in state.replicas.values()
                                              if r.state == "RUNNING"},
                                 "gangs": {r.replica_id: r.gang for r in state.replicas.values()
                                           if r.state == "RUNNING" and r.gang is not None}}
                    for state in app.deployments.values()}
            apps[app.name] = {"route_prefix": app.route_prefix, "ingress": app.ingress, "deployments": deps,
                              "deployed_at": app.deployed_at, "status": app.status, "message": app.message,
                              "autoscaling_policy": app.scaler.policy if app.scaler is not None else None}
        checkpoint.save(self._ckpt_path, {"version": self.version, "apps": apps})

    async def _wait_change(self, version: int, timeout_s: float) -> RoutingTable | None:
        if version != self.version:
            return self._table()
        assert self._changed is not None
        try:
            await asyncio.wait_for(self._changed.wait(), timeout_s)
        except asyncio.TimeoutError:
            return None
        return self._table()

    async def _get_table(self) -> RoutingTable:
        return self._table()

    # ---- applications
    async def _deploy(self, name: str, route_prefix: str | None, ingress: str, specs: list[DeploymentSpec],
                      autoscaling_policy: AutoscalingPolicy | None = None) -> RoutingTable:
        if route_prefix is not None:
            for other in self.apps.values():
                if other.name != name and other.route_prefix == route_prefix:
                    raise ValueError(f"route_prefix {route_prefix!r} is taken by application {other.name!r}")
        # an import path that does not import fails the deploy here, before anything starts
        scaler = None if autoscaling_policy is None else ApplicationScaler(autoscaling_policy, name)
        old = self.apps.get(name)
        states: dict[str, DeploymentState] = {}
        stale: list[DeploymentState] = []
        for spec in specs:
            previous = old.deployments.get(spec.name) if old is not None else None
            if previous is not None and previous.spec.code_version == spec.code_version and not previous.failed:
                reconfigure = spec.config.user_config != previous.config.user_config and spec.config.has_user_config
                if spec.config.max_ongoing_requests != previous.config.max_ongoing_requests:
                    await asyncio.gather(*(r.conn.call("set_max_ongoing_requests", (spec.config.max_ongoing_requests,),
                                                       kind=wire.CONTROL)
                                           for r in previous.running() if r.conn is not None))
                if spec.config.autoscaling_config != previous.config.autoscaling_config:
                    previous.policy = None if spec.config.autoscaling_config is None else ReplicaScaler(
                        spec.config.autoscaling_config, DeploymentID(spec.name, name))
                previous.spec = spec
                previous.target = spec.config.initial_replicas() if previous.policy is None \
                    else spec.config.aligned(previous.target)
                if reconfigure:
                    await asyncio.gather(*(r.conn.call("reconfigure", (spec.config.user_config,), kind=wire.CONTROL)
                                           for r in previous.running() if r.conn is not None))
                states[spec.name] = previous
            else:
                states[spec.name] = self._new_state(spec)
                if previous is not None:
                    stale.append(previous)
        if old is not None:
            stale += [s for n, s in old.deployments.items() if n not in states]
        app = AppState(name, route_prefix, ingress, states)
        app.attach_policy(scaler)
        self.apps[name] = app
        self._retiring |= set(stale)
        try:
            results = await asyncio.gather(*(state.start_initial() for state in states.values()),
                                           return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException)]
            if errors:
                raise errors[0]
        except BaseException as exc:
            app.status, app.message = "DEPLOY_FAILED", f"{type(exc).__name__}: {exc}"
            for state in states.values():
                state.failed = True
                await state.stop_all()
            self._bump()
            raise RuntimeError(f"deploying application {name!r} failed: {type(exc).__name__}: {exc}") from exc
        app.status = "RUNNING"
        for state in stale:
            await state.stop_all()
            self._retiring.discard(state)
        self._bump()
        return self._table()

    async def _delete(self, name: str) -> None:
        app = self.apps.get(name)
        if app is None:
            return
        app.status = "DELETING"
        for task in list(app.tasks):
            task.cancel()
        await asyncio.gather(*(s.stop_all() for s in app.deployments.values()))
        self.apps.pop(name, None)
        self._bump()

    def record_demand(self, app_name: str, deployment: str, n: int, router_id: str = "") -> None:
        """Router ``router_id`` holds ``n`` requests waiting for a replica slot (see
        :mod:`.autoscaling_metrics`)."""
        app = self.apps.get(app_name)
        state = app.deployments.get(deployment) if app is not None else None
        if state is not None:
            state.record_queued(router_id, n, time.monotonic())

    # ---- the control loop
    async def _control_loop(self) -> None:
        while not self._stopping:
            now = time.monotonic()
            for app in list(self.apps.values()):
                if app.status in ("DEPLOYING", "DELETING"):
                    continue
                for state in app.deployments.values():
                    try:
                        state.reconcile(now)
                    except Exception:  # noqa: BLE001 - e.g. the runtime is shutting down
                        pass
                if app.scaler is not None and now >= app.next_autoscale and not app.autoscaling:
                    self._autoscale_app(app, now)
                failed = [s for s in app.deployments.values() if s.failed]
                app.status = "DEPLOY_FAILED" if failed else (
                    "RUNNING" if all(s.status() == "HEALTHY" or s.policy is not None for s in app.deployments.values())
                    else "UNHEALTHY" if any(s.start_failures for s in app.deployments.values()) else "RUNNING")
            await asyncio.sleep(CONTROL_INTERVAL_S)

    def _autoscale_app(self, app: AppState, now: float) -> None:
        """One look at the load of the application's autoscaling deployments, decided by its policy."""
        states = [s for s in app.deployments.values() if s.app_scaled and not s.failed]
        if not states:
            return
        app.autoscaling = True
        app.next_autoscale = now + min(s.policy.config.metrics_interval_s for s in states)  # type: ignore[union-attr]

        async def look() -> None:
            try:
                observed = await asyncio.gather(*(s.observe() for s in states))
                loads = [DeploymentLoad(deployment_id=DeploymentID(s.name, app.name), config=s.policy.config,
                                        current=o.current, target=s.target, load=o.total, running=tuple(o.running),
                                        queued=o.queued, aggregated_metrics=o.aggregated_metrics,
                                        raw_metrics=o.raw_metrics)
                         for s, o in zip(states, observed)]  # type: ignore[union-attr]
                assert app.scaler is not None
                targets = app.scaler.decide(now=max((o.now for o in observed), default=now), loads=loads)
                app.message = ""
            except Exception as exc:  # noqa: BLE001 - the user's policy failed: say so, try at the next look
                app.message = f"the autoscaling policy of application {app.name!r} failed: {type(exc).__name__}: {exc}"
                logger.warning("%s", app.message)
                return
            finally:
                app.autoscaling = False
            for state in states:
                target = state.config.aligned(targets[DeploymentID(state.name, app.name)])  # whole gangs
                if target != state.target:
                    logger.info("autoscaling %s (application policy): %d -> %d replicas", state.name, state.target,
                                target)
                    state.target = target
                    state.on_change()

        task = asyncio.get_running_loop().create_task(look())
        app.tasks.add(task)
        task.add_done_callback(app.tasks.discard)

    async def _deployment_actor_names(self, app_name: str, deployment: str, replica_id: str) -> dict[str, str]:
        """The deployment actors (name → runtime name) of the code version the replica runs."""
        app = self.apps.get(app_name)
        candidates = [s for s in self._retiring if s.spec.app_name == app_name and s.name == deployment]
        if app is not None and deployment in app.deployments:
            candidates.insert(0, app.deployments[deployment])
        for state in candidates:
            if replica_id in state.replicas:
                return state.actors.names() if state.actors is not None else {}
        raise ValueError(f"no replica {replica_id!r} of deployment {deployment!r} in application {app_name!r} is "
                         "running")

    # ---- status and metrics
    async def _status(self) -> dict[str, Any]:
        apps = {}
        for app in self.apps.values():
            deps = {s.name: {"status": s.status(), "status_trigger": "CONFIG_UPDATE_COMPLETED",
                             "replica_states": s.replica_states(), "message": s.message}
                    for s in app.deployments.values()}
            apps[app.name] = {"status": app.status, "message": app.message,
                              "last_deployed_time_s": app.deployed_at, "deployments": deps,
                              "route_prefix": app.route_prefix}
        proxies = {"local": "HEALTHY"} if self.proxy_enabled else {}
        return {"proxies": proxies, "applications": apps}

    async def _replica_stats(self) -> list[dict[str, Any]]:
        async def one(app: str, state: DeploymentState, record: Any) -> dict[str, Any]:
            stats = await asyncio.wait_for(record.conn.call("stats", kind=wire.CONTROL), 2.0)
            return {"application": app, "deployment": state.name, "replica": record.replica_id, **stats}

        calls = [one(app.name, s, r) for app in self.apps.values() for s in app.deployments.values()
                 for r in s.running() if r.conn is not None]
        results = await asyncio.gather(*calls, return_exceptions=True)
        return [r for r in results if isinstance(r, dict)]

    # ---- shutdown
    async def _shutdown(self) -> None:
        self._stopping = True
        for name in list(self.apps):
            await self._delete(name)
        if self._proxy is not None:
            try:
                runtime().kill(self._proxy)
            except Exception:  # noqa: BLE001
                pass
            await asyncio.get_running_loop().run_in_executor(None, _wait_gone, PROXY_NAME)
        try:
            os.unlink(self._ckpt_path)
        except FileNotFoundError:
            pass


class ServeController:
    """The controller actor: a threaded actor (long polls wait while deploys run)
    whose methods run the core's coroutines on the core's loop."""

    def __init__(self, serve_dir: str, http_options: dict[str, Any], grpc_options: dict[str, Any] | None,
                 proxy_enabled: bool = True, logging_config: dict[str, Any] | None = None) -> None:
        from streamdata.serve.logs import attach_log_file, logger
        attach_log_file(f"controller_{os.getpid()}", logging_config)
        logger.info("serve controller started (http %s)", http_options)
        self._core = ControllerCore(serve_dir, http_options, grpc_options, proxy_enabled)
        self._run = self._core._lt.run

    def listen_for_change(self, version: int, timeout_s: float) -> RoutingTable | None:
        """The routing table once its version differs from ``version`` (None after ``timeout_s``)."""
        return self._run(self._core._wait_change(version, timeout_s))

    def get_routing_table(self) -> RoutingTable:
        return self._run(self._core._get_table())

    def deploy_application(self, name: str, route_prefix: str | None, ingress: str, specs: list[DeploymentSpec],
                           autoscaling_policy: AutoscalingPolicy | None = None) -> RoutingTable:
        """Deploy (or update) an application; returns once its replicas run, or raises
        the error that kept one from starting."""
        return self._run(self._core._deploy(name, route_prefix, ingress, specs, autoscaling_policy))

    def get_deployment_actor_names(self, app_name: str, deployment: str, replica_id: str) -> dict[str, str]:
        """What ``serve.get_deployment_actor`` in a replica looks up (once per replica)."""
        return self._run(self._core._deployment_actor_names(app_name, deployment, replica_id))

    def delete_application(self, name: str) -> None:
        self._run(self._core._delete(name))

    def record_demand(self, app_name: str, deployment: str, n: int, router_id: str = "") -> None:
        """A router's report of the requests it holds waiting for a replica slot."""
        self._core._lt.loop.call_soon_threadsafe(self._core.record_demand, app_name, deployment, n, router_id)

    def get_status(self) -> dict[str, Any]:
        return self._run(self._core._status())

    def get_replica_stats(self) -> list[dict[str, Any]]:
        """Every running replica's ``stats`` (requests in flight, batch sizes, models)."""
        return self._run(self._core._replica_stats())

    def get_http_options(self) -> dict[str, Any]:
        return dict(self._core.http_options)

    def ping(self) -> int:
        return os.getpid()

    def graceful_shutdown(self) -> None:
        """Delete every application and stop the proxy."""
        self._run(self._core._shutdown())


__all__ = ["ControllerCore", "ServeController"]
