"""One deployment as the controller runs it: its spec, its replica actors and
their lifecycle (start, health checks, replacement, graceful stop, autoscaling).

Runs on the controller's event loop. A replica is ``STARTING`` until its
constructor ran and its socket answers, then ``RUNNING`` (routed to) until it
is stopped (``STOPPING``: no longer routed to, given
``graceful_shutdown_timeout_s`` to finish its requests) or found dead: its
connection to the controller dropped, or ``check_health`` failed or took longer
than ``health_check_timeout_s``. A dead replica is killed and replaced.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from streamdata.serve import wire
from streamdata.serve._runtime import runtime
from streamdata.serve.autoscaling import DeploymentID, ReplicaID, ReplicaScaler
from streamdata.serve.autoscaling_metrics import REPLICAS, ROUTER_TIMEOUT_S, CustomMetricsWindow, RequestWindow
from streamdata.serve.channel import ReplicaConnection
from streamdata.serve.deployment import DeploymentConfig
from streamdata.serve.deployment_actor_state import DeploymentActors
from streamdata.serve.gang import GangContext, gang_bundles, gangs_to_start, gangs_to_stop, incomplete_gangs
from streamdata.serve.logs import logger
from streamdata.serve.router import ReplicaInfo

#: the longest wait before starting a replica again after replicas failed to start
#: (the deployment is UNHEALTHY meanwhile; only a failed first deploy is DEPLOY_FAILED)
MAX_RETRY_DELAY_S = 2.0
#: a first deploy tries at most this many constructors per replica (Ray's MAX_PER_REPLICA_RETRY_COUNT)
MAX_PER_REPLICA_RETRY_COUNT = 3
#: environment variable: after how many seconds a replica not yet scheduled is warned about (Ray: 30)
SCHEDULING_WARNING_ENV = "STREAMDATA_SERVE_SCHEDULING_WARNING_S"
#: the longest a look at the load waits for a replica's ``record_autoscaling_stats`` (a slower
#: result comes with the next look, with its own time)
CUSTOM_METRICS_WAIT_S = 0.5


#: the longest path a Unix socket binds to (Linux's ``sun_path``: 108 bytes with its NUL)
MAX_SOCKET_PATH = 107


def replica_socket_name(actor_name: str) -> str:
    """The file name of a replica's Unix socket (short: socket paths are limited).

    Example:
        >>> replica_socket_name("SERVE_REPLICA::app#Model#1-abc")
        '60e24b25a05d1100.sock'
    """
    return hashlib.sha1(actor_name.encode()).hexdigest()[:16] + ".sock"


def make_socket_dir(base: str | None = None) -> str:
    """A new directory, private to this user, for the replicas' Unix sockets: under ``base``
    (default: the temporary directory), or under ``/tmp`` when ``base`` is too deep for a
    socket path in it to bind (a long ``TMPDIR``).

    Example:
        >>> import shutil
        >>> deep = make_socket_dir("/tmp/" + "d" * 120)
        >>> deep.startswith("/tmp/sd-serve-"); shutil.rmtree(deep)
        True
    """
    base = base if base is not None else tempfile.gettempdir()
    longest = os.path.join(base, "sd-serve-" + "x" * 8, replica_socket_name(""))
    if len(os.fsencode(longest)) > MAX_SOCKET_PATH:
        base = "/tmp"
    os.makedirs(base, exist_ok=True)
    path = tempfile.mkdtemp(prefix="sd-serve-", dir=base)
    os.chmod(path, 0o700)
    return path


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    """What the driver sends the controller for one deployment."""

    app_name: str
    name: str
    target_blob: bytes
    init_blob: bytes
    config: DeploymentConfig
    actors_digest: str = ""  # of the pickled deployment actor configs (a change is a new version)

    @property
    def code_version(self) -> str:
        digest = hashlib.sha1(self.target_blob + self.init_blob + self.actors_digest.encode())
        digest.update(repr(sorted(self.config.ray_actor_options.items())).encode())
        digest.update(repr(sorted((self.config.logging_config or {}).items())).encode())
        digest.update(repr((self.config.placement_group_bundles, self.config.placement_group_strategy,
                            self.config.placement_group_bundle_label_selector)).encode())
        if self.config.gang_scheduling_config is not None:  # other gangs are new replicas
            digest.update(repr(self.config.gang_scheduling_config.model_dump()).encode())
        return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Observation:
    """What an autoscaling policy looks at, from one look at a deployment's load."""

    current: int  # replicas not stopping
    running: list[str]  # the running replicas' ids
    total: float  # requests running and queued in the callers' routers, over the look-back window
    queued: float  # those queued alone, the same way
    now: float = 0.0  # when (time.monotonic())
    aggregated_metrics: dict = field(default_factory=dict)  # custom metrics: name -> ReplicaID -> number
    raw_metrics: dict = field(default_factory=dict)  # name -> ReplicaID -> [TimeStampedValue]


@dataclass(eq=False)
class ReplicaRecord:
    replica_id: str
    actor_name: str
    path: str
    state: str = "STARTING"
    actor: Any = None
    conn: ReplicaConnection | None = None
    next_health_check: float = 0.0
    checking: bool = False
    placement_group: Any = None  # the replica's own (placement_group_bundles), removed with it
    rank: int = 0  # unique among the deployment's replicas (serve.get_replica_context().rank)
    gang: GangContext | None = None  # its gang, in a gang-scheduled deployment


@dataclass(eq=False)
class DeploymentState:
    spec: DeploymentSpec
    serve_dir: str
    on_change: Callable[[], None]
    replicas: dict[str, ReplicaRecord] = field(default_factory=dict)
    target: int = 0
    next_id: int = 0
    start_failures: int = 0
    message: str = ""
    failed: bool = False
    policy: ReplicaScaler | None = None
    next_autoscale: float = 0.0
    retry_after: float = 0.0
    tasks: set = field(default_factory=set)
    requests: RequestWindow = field(default_factory=RequestWindow)  # running and queued, over time
    custom_metrics: CustomMetricsWindow = field(default_factory=CustomMetricsWindow)  # record_autoscaling_stats
    autoscaling: bool = False  # a look at the load is under way
    app_scaled: bool = False  # the application's autoscaling policy decides the target, not ``policy``
    actors: DeploymentActors | None = None  # the deployment-scoped actors of this code version
    gang_pgs: dict = field(default_factory=dict)  # gang id -> its placement group, removed with its last member

    def __post_init__(self) -> None:
        config = self.spec.config
        self.target = config.initial_replicas()
        if config.autoscaling_config is not None:
            self.policy = ReplicaScaler(config.autoscaling_config, DeploymentID(self.spec.name, self.spec.app_name))
        if config.deployment_actors:
            self.actors = DeploymentActors(
                self.spec.app_name, self.spec.name, self.spec.code_version, config.deployment_actors,
                runtime_env=config.ray_actor_options.get("runtime_env"),
                health_check_period_s=config.health_check_period_s,
                health_check_timeout_s=config.health_check_timeout_s,
                max_start_tries=min(config.max_constructor_retry_count, MAX_PER_REPLICA_RETRY_COUNT))

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def config(self) -> DeploymentConfig:
        return self.spec.config

    def running(self) -> list[ReplicaRecord]:
        return [r for r in self.replicas.values() if r.state == "RUNNING"]

    def route_infos(self) -> tuple[ReplicaInfo, ...]:
        return tuple(ReplicaInfo(r.replica_id, r.path) for r in self.running())

    def replica_states(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.replicas.values():
            out[r.state] = out.get(r.state, 0) + 1
        return out

    def status(self) -> str:
        if self.failed:
            return "DEPLOY_FAILED"
        running = len(self.running())
        if running == self.target and all(r.state == "RUNNING" for r in self.replicas.values()):
            return "HEALTHY"
        if running < self.target and self.start_failures:
            return "UNHEALTHY"
        if self.policy is not None:
            return "UPSCALING" if running < self.target else "DOWNSCALING"
        return "UPDATING"

    # ---- lifecycle
    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _next_replica_id(self) -> str:
        self.next_id += 1
        return f"{self.next_id - 1}-{os.urandom(3).hex()}"

    def _new_record(self, replica_id: str, gang: GangContext | None = None) -> ReplicaRecord:
        actor_name = f"SERVE_REPLICA::{self.spec.app_name}#{self.spec.name}#{replica_id}"
        path = os.path.join(self.serve_dir, replica_socket_name(actor_name))
        taken = {r.rank for r in self.replicas.values()}
        record = ReplicaRecord(replica_id, actor_name, path, rank=min(set(range(len(taken) + 1)) - taken), gang=gang)
        self.replicas[replica_id] = record
        return record

    def _actor_options(self) -> dict[str, Any]:
        return {k: v for k, v in self.config.ray_actor_options.items() if v is not None}

    async def start_replica(self) -> ReplicaRecord:
        record = self._new_record(self._next_replica_id())
        options = self._actor_options()
        try:
            if self.config.placement_group_bundles is not None:
                options["scheduling_strategy"] = await self._reserve(record)
            await self._launch(record, options)
        except BaseException as exc:
            self._start_failed([record], exc)
            raise
        self.start_failures = 0
        self.message = ""
        return record

    async def start_gang(self) -> list[ReplicaRecord]:
        """Start one gang: its placement group (every member's bundles) is reserved at once,
        then its members start in their bundles, each with its :class:`GangContext`; when one
        fails, the whole gang is taken down (and started again later, with backoff)."""
        sd, spec, config = runtime(), self.spec, self.config
        gang = config.gang_scheduling_config
        assert gang is not None
        gang_id = os.urandom(4).hex()
        pg_name = f"SERVE_GANG::{spec.app_name}_{spec.name}_{gang_id}"
        ids = [self._next_replica_id() for _ in range(gang.gang_size)]
        records = [self._new_record(rid, GangContext(gang_id, rank, gang.gang_size, list(ids), pg_name))
                   for rank, rid in enumerate(ids)]
        try:
            selector, pg = config.placement_group_bundle_label_selector, None
            bundles = gang_bundles(gang.gang_size, config.placement_group_bundles, config.ray_actor_options)
            if any(bundles):  # replicas that ask for no resources have nothing to reserve
                pg = self.gang_pgs[gang_id] = sd.placement_group(
                    bundles, strategy=gang.gang_placement_strategy.value, name=pg_name,
                    bundle_label_selector=None if selector is None else selector * gang.gang_size)
                await asyncio.wrap_future(pg.ready().future())
            per_replica = len(config.placement_group_bundles or ()) or 1

            def options(rank: int) -> dict[str, Any]:
                return self._actor_options() if pg is None else {**self._actor_options(), "scheduling_strategy":
                    sd.PlacementGroupSchedulingStrategy(pg, rank * per_replica,
                                                        placement_group_capture_child_tasks=True)}
            results = await asyncio.gather(*(self._launch(r, options(r.gang.rank)) for r in records),
                                           return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException)]
            if errors:
                raise errors[0]
        except BaseException as exc:
            self._start_failed(records, exc)
            raise
        self.start_failures = 0
        self.message = ""
        return records

    async def _launch(self, record: ReplicaRecord, options: dict[str, Any]) -> None:
        from streamdata.serve.replica import ReplicaActor

        spec, config = self.spec, self.spec.config
        # detached, as Ray Serve's replicas: they outlive a controller that dies (the next one takes them back)
        record.actor = runtime().remote(ReplicaActor).options(name=record.actor_name, max_restarts=0,
                                                              max_concurrency=2, lifetime="detached", **options).remote(
            spec.target_blob, spec.init_blob, spec.app_name, spec.name, record.replica_id, record.path,
            config.user_config, config.has_user_config, config.max_ongoing_requests,
            rank=record.rank, logging_config=config.logging_config, world_size=max(1, self.target),
            gang_context=record.gang)
        await self._until_ready(record, options)
        await self._connect(record)

    def _start_failed(self, records: list[ReplicaRecord], exc: BaseException) -> None:
        for record in records:
            self.replicas.pop(record.replica_id, None)
        for record in records:
            self._kill(record)
        self.start_failures += 1
        what = "a gang" if records[0].gang is not None else "a replica"
        self.message = f"{what} of deployment {self.spec.name!r} failed to start: {exc}"
        self.retry_after = time.monotonic() + min(MAX_RETRY_DELAY_S, 0.1 * 2 ** self.start_failures)
        logger.warning("%s: %s", self.spec.app_name, self.message)

    async def _until_ready(self, record: ReplicaRecord, options: dict[str, Any]) -> None:
        """Wait for the replica's constructor; say so (log and ``serve.status``) when it
        waits for resources past the scheduling warning's time, as Ray does."""
        ready = asyncio.ensure_future(asyncio.wrap_future(record.actor.ready.remote().future()))
        done, _ = await asyncio.wait({ready}, timeout=float(os.environ.get(SCHEDULING_WARNING_ENV, "30")))
        if not done:
            sd = runtime()
            self.message = (f"deployment {self.spec.name!r} in application {self.spec.app_name!r} has a replica "
                            f"that has taken more than {os.environ.get(SCHEDULING_WARNING_ENV, '30')}s to be "
                            f"scheduled: it needs {options or {'CPU': 1}}, and the cluster has "
                            f"{sd.available_resources()} available of {sd.cluster_resources()}")
            logger.warning("%s", self.message)
        await ready

    def failed_to_start_threshold(self) -> int:
        """How many replica starts may fail before a first deploy is DEPLOY_FAILED (Ray's rule)."""
        return min(self.config.max_constructor_retry_count, max(1, self.target) * MAX_PER_REPLICA_RETRY_COUNT)

    async def start_initial(self) -> None:
        """Start the replicas of a first deploy, trying failed constructors again until
        :meth:`failed_to_start_threshold` starts failed; then the last error is raised.
        The deployment actors start first."""
        if self.actors is not None:
            await self.actors.start_initial()
        failures = 0
        gang = self.config.gang_scheduling_config
        while len(self.replicas) < self.target:
            starts = [self.start_replica() for _ in range(self.target - len(self.replicas))] if gang is None else \
                [self.start_gang() for _ in range(gangs_to_start(len(self.replicas), self.target, gang.gang_size))]
            if not starts:
                break
            results = await asyncio.gather(*starts, return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException)]
            failures += len(errors)
            if not errors:
                continue
            threshold = self.failed_to_start_threshold()
            if failures >= threshold:
                self.message = (f"the deployment's constructor failed {failures} time(s) (max_constructor_retry_count"
                                f"={self.config.max_constructor_retry_count}, at most {MAX_PER_REPLICA_RETRY_COUNT} "
                                f"per replica): {errors[-1]}")
                raise errors[-1]
            self.message = (f"a replica failed to start; retrying {threshold - failures} more time(s). "
                            f"Error: {errors[-1]}")
            await asyncio.sleep(max(0.0, self.retry_after - time.monotonic()))  # the backoff start_replica set

    async def _reserve(self, record: ReplicaRecord) -> Any:
        """Reserve the replica's placement group; the strategy that puts it in the first bundle
        (asking, as Ray, that its child tasks join the group: the local runtime does not
        capture child tasks, so they go there with an explicit strategy)."""
        sd, config = runtime(), self.config
        try:
            record.placement_group = sd.placement_group(
                [dict(b) for b in config.placement_group_bundles or ()], strategy=config.placement_strategy(),
                bundle_label_selector=config.placement_group_bundle_label_selector)
            await asyncio.wrap_future(record.placement_group.ready().future())
        except Exception as exc:  # noqa: BLE001 - e.g. bundles no node can hold
            from streamdata.errors import InfeasiblePlacementGroupError, PlacementGroupError
            error = InfeasiblePlacementGroupError if isinstance(exc, InfeasiblePlacementGroupError) \
                else PlacementGroupError
            raise error(f"the placement group of a replica of deployment {self.name!r} "
                        f"(placement_group_bundles={config.placement_group_bundles}, strategy "
                        f"{config.placement_strategy()!r}) cannot be reserved: {exc}") from exc
        return sd.PlacementGroupSchedulingStrategy(record.placement_group, 0,
                                                   placement_group_capture_child_tasks=True)

    async def _connect(self, record: ReplicaRecord) -> None:
        conn = ReplicaConnection(record.replica_id, record.path, self.name,
                                 on_lost=lambda c, rid=record.replica_id: self.on_lost(rid))
        record.conn = conn
        await asyncio.wait_for(conn.call("check_health", kind=wire.CONTROL), self.config.health_check_timeout_s)
        record.state = "RUNNING"
        logger.info("replica %s of %s started", record.replica_id, self.name)
        record.next_health_check = time.monotonic() + self.config.health_check_period_s
        self.on_change()

    async def adopt(self, replica_id: str, actor_name: str, path: str, gang: GangContext | None = None) -> bool:
        """Take over a replica a previous controller started; False when it is gone (a gang
        that lost a member meanwhile is restarted whole at the next :meth:`reconcile`)."""
        sd = runtime()
        record = ReplicaRecord(replica_id, actor_name, path, gang=gang)
        try:
            record.actor = sd.get_actor(actor_name)
        except Exception:  # noqa: BLE001 - it died meanwhile
            return False
        self.replicas[replica_id] = record
        try:
            await asyncio.wait_for(self._connect(record), 5.0)
        except Exception:  # noqa: BLE001
            self.replicas.pop(replica_id, None)
            self._kill(record)
            return False
        return True

    def on_lost(self, replica_id: str) -> None:
        """The replica's connection dropped: it is dead; kill what is left of it."""
        record = self.replicas.get(replica_id)
        if record is None or record.state == "STOPPING":
            return
        self.replicas.pop(replica_id, None)
        self._kill(record)
        self._restart_broken_gangs()
        self.on_change()

    def _restart_broken_gangs(self) -> None:
        """``RESTART_GANG``: kill the other members of every gang that lost one (the
        controller then starts whole gangs again)."""
        live = [r for r in self.replicas.values() if r.state != "STOPPING"]
        broken = incomplete_gangs((r.replica_id, r.gang) for r in live)
        for record in live:
            if record.gang is not None and record.gang.gang_id in broken:
                logger.warning("replica %s of %s: its gang %s lost a member; restarting the whole gang "
                               "(RESTART_GANG)", record.replica_id, self.name, record.gang.gang_id)
                self.replicas.pop(record.replica_id, None)
                self._kill(record)

    def _kill(self, record: ReplicaRecord) -> None:
        if record.conn is not None:
            record.conn.on_lost = None
            record.conn.close()
        if record.actor is not None:
            try:
                runtime().kill(record.actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
        if record.placement_group is not None:
            try:
                runtime().remove_placement_group(record.placement_group)
            except Exception:  # noqa: BLE001 - already removed, or the runtime stops
                pass
            record.placement_group = None
        gang = record.gang
        if gang is not None and not any(r.gang is not None and r.gang.gang_id == gang.gang_id
                                        for r in self.replicas.values()):
            pg = self.gang_pgs.pop(gang.gang_id, None)
            if pg is not None:
                try:
                    runtime().remove_placement_group(pg)
                except Exception:  # noqa: BLE001 - already removed, or the runtime stops
                    pass

    async def stop_replica(self, record: ReplicaRecord) -> None:
        """Stop routing to ``record``, let it finish its requests, then kill it."""
        record.state = "STOPPING"
        self.on_change()
        timeout = self.config.graceful_shutdown_timeout_s
        if record.conn is not None and record.conn.alive and timeout > 0:
            try:
                await asyncio.wait_for(record.conn.call("drain", (timeout,), kind=wire.CONTROL), timeout + 1)
            except Exception:  # noqa: BLE001 - dead already, or it took too long
                pass
        self.replicas.pop(record.replica_id, None)
        self._kill(record)
        self.on_change()

    async def stop_all(self) -> None:
        """Stop every replica, then the deployment actors (the replicas may use them to the end)."""
        records = list(self.replicas.values())
        await asyncio.gather(*(self.stop_replica(r) for r in records), return_exceptions=True)
        for task in list(self.tasks):
            task.cancel()
        if self.actors is not None:
            await self.actors.stop()

    # ---- the control loop's step
    def reconcile(self, now: float) -> None:
        """Start or stop replicas toward the target; health-check the running ones."""
        if self.failed:
            return
        if self.actors is not None:
            self.actors.reconcile(now, self._spawn)
        gang = self.config.gang_scheduling_config
        if gang is not None:
            self._restart_broken_gangs()
        live = [r for r in self.replicas.values() if r.state != "STOPPING"]
        actors_ready = self.actors is None or self.actors.ready  # new replicas wait for the actors
        if len(live) < self.target and now >= self.retry_after and actors_ready:
            if gang is None:
                for _ in range(self.target - len(live)):
                    self._spawn(self._start_quietly(self.start_replica))
            else:
                for _ in range(gangs_to_start(len(live), self.target, gang.gang_size)):
                    self._spawn(self._start_quietly(self.start_gang))
        elif len(live) > self.target:
            if gang is None:
                extra = sorted(live, key=lambda r: (r.state == "RUNNING", r.replica_id))[:len(live) - self.target]
            else:  # whole gangs
                gangs: dict[str, list[ReplicaRecord]] = {}
                for r in live:
                    gangs.setdefault(r.gang.gang_id if r.gang is not None else r.replica_id, []).append(r)
                stop = gangs_to_stop({g: [(r.state == "RUNNING", r.replica_id) for r in members]
                                      for g, members in gangs.items()}, len(live) - self.target, gang.gang_size)
                extra = [r for g in stop for r in gangs[g]]
            for record in extra:
                record.state = "STOPPING"  # all at once: a gang is never seen half stopped
            for record in extra:
                self._spawn(self.stop_replica(record))
        for record in self.running():
            if not record.checking and now >= record.next_health_check:
                record.checking = True
                self._spawn(self._health_check(record))
        if self.policy is not None and not self.app_scaled and now >= self.next_autoscale and not self.autoscaling:
            self.next_autoscale = now + self.policy.config.metrics_interval_s
            self.autoscaling = True
            self._spawn(self._autoscale(now))

    async def _start_quietly(self, start: Callable[[], Any]) -> None:
        try:
            await start()
        except BaseException:  # noqa: BLE001 - recorded in self.message; retried with backoff
            pass

    async def _health_check(self, record: ReplicaRecord) -> None:
        config = self.config
        try:
            assert record.conn is not None
            await asyncio.wait_for(record.conn.call("check_health", kind=wire.CONTROL),
                                   config.health_check_timeout_s)
            healthy = True
        except Exception as exc:  # noqa: BLE001
            healthy = False
            self.message = f"replica {record.replica_id} failed its health check: {exc}"
            logger.warning("%s: %s", self.name, self.message)
        record.checking = False
        record.next_health_check = time.monotonic() + config.health_check_period_s
        if not healthy and record.state == "RUNNING":
            self.replicas.pop(record.replica_id, None)
            self._kill(record)
            self._restart_broken_gangs()
            self.on_change()

    def replica_key(self, replica_id: str) -> ReplicaID:
        """The :class:`ReplicaID` a policy sees for a replica (its custom metrics' key)."""
        return ReplicaID(replica_id, DeploymentID(self.spec.name, self.spec.app_name))

    async def load(self, wait_s: float = 0.0) -> int:
        """Requests in flight in the running replicas (their own count); the custom metrics
        they hand over on the way (``record_autoscaling_stats``, waited for at most
        ``wait_s``) are recorded at the time each was taken."""
        async def ongoing(record: ReplicaRecord) -> int:
            assert record.conn is not None
            stats = await asyncio.wait_for(record.conn.call("autoscaling_stats", (wait_s,), kind=wire.CONTROL),
                                           2.0 + wait_s)
            custom = stats.get("custom_metrics")
            if custom and record.state == "RUNNING":
                when = time.monotonic() - float(stats.get("age", 0.0))
                self.custom_metrics.record(self.replica_key(record.replica_id), when, custom)
            return int(stats["ongoing"])

        results = await asyncio.gather(*(ongoing(r) for r in self.running()), return_exceptions=True)
        return sum(r for r in results if isinstance(r, int))

    def record_queued(self, router_id: str, queued: int, now: float) -> None:
        """A router's report: it holds ``queued`` requests waiting for a replica slot."""
        if self.config.autoscaling_config is not None:
            self.requests.record(f"router:{router_id}", now, queued)

    async def observe(self) -> Observation:
        """One look at the load: the replicas' running requests are asked for and recorded,
        then aggregated with the routers' queued ones over ``look_back_period_s``."""
        config = self.config.autoscaling_config
        assert config is not None
        running_requests = await self.load(min(CUSTOM_METRICS_WAIT_S, config.metrics_interval_s))
        now = time.monotonic()
        window = self.requests
        window.record(REPLICAS, now, running_requests)
        window.prune(now, config.look_back_period_s, max(2 * config.metrics_interval_s, ROUTER_TIMEOUT_S))
        how = config.aggregation_function
        current = len([r for r in self.replicas.values() if r.state != "STOPPING"])
        running = [r.replica_id for r in self.replicas.values() if r.state == "RUNNING"]
        custom, keys = self.custom_metrics, [self.replica_key(r) for r in running]
        for gone in set(custom.replicas()) - set(keys):  # stopped or lost: as Ray forgets a stopped replica's
            custom.forget(gone)
        custom.prune(now, config.look_back_period_s)
        return Observation(current, running, window.total(now, config.look_back_period_s, how),
                           window.queued(now, config.look_back_period_s, how), now,
                           custom.aggregated(keys, now, config.look_back_period_s, how), custom.raw(keys))

    async def _autoscale(self, now: float) -> None:
        assert self.policy is not None
        try:
            seen = await self.observe()
            load = seen.total
            target = self.policy.decide(now=seen.now, current=seen.current, load=load, target=self.target,
                                        running=seen.running, queued=seen.queued,
                                        aggregated_metrics=seen.aggregated_metrics, raw_metrics=seen.raw_metrics)
            target = self.config.aligned(target)  # whole gangs, rounded up (as Ray)
            if target != self.target:
                logger.info("autoscaling %s: %d -> %d replicas (load %.2f)", self.name, self.target, target, load)
                self.target = target
                self.on_change()
        finally:
            self.autoscaling = False


__all__ = ["DeploymentSpec", "DeploymentState", "Observation", "ReplicaRecord"]
