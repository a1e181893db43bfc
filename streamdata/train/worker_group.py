"""The training worker group: ``num_workers`` actors (in a placement group) that run
``train_fn`` and hand its reports to the driver.

Each worker is a threaded actor (:class:`TrainWorker`): ``start`` runs
``train_fn`` in a thread of its own; ``poll`` waits (bounded) for new reports (or
for ``train_fn`` to wait in a ``train.collective`` call, which the driver releases
with ``release_collective`` once every worker is in it, or fails with
``abort_collectives``) and raises ``train_fn``'s exception once every report made
before it was handed over. Ranks are assigned so that the workers of one node get
consecutive world ranks (:func:`assign_ranks`).

Example:
    >>> [r.world_rank for r in assign_ranks(["a", "b", "a"])]
    [0, 2, 1]
"""

from __future__ import annotations

import contextlib
import inspect
import os
import socket
import threading
from dataclasses import dataclass
from typing import Any, Callable

from streamdata.train import session as session_mod
from streamdata.train.checkpoint import Checkpoint
from streamdata.train.session import CollectiveArrival, Report, TrainContext, TrainSession


@dataclass(frozen=True, slots=True, kw_only=True)
class RankInfo:
    """Where one worker sits in the group."""

    world_rank: int
    local_rank: int
    local_world_size: int
    node_rank: int


def assign_ranks(nodes: list[str]) -> list[RankInfo]:
    """Ranks for workers running on ``nodes`` (``nodes[i]`` is worker ``i``'s node):
    nodes in order of first appearance, workers of a node consecutive.

    Example:
        >>> [(r.world_rank, r.local_rank, r.node_rank) for r in assign_ranks(["n1", "n2", "n1"])]
        [(0, 0, 0), (2, 0, 1), (1, 1, 0)]
    """
    node_order = list(dict.fromkeys(nodes))
    per_node = {node: [i for i, n in enumerate(nodes) if n == node] for node in node_order}
    ordered = [i for node in node_order for i in per_node[node]]
    out: list[RankInfo | None] = [None] * len(nodes)
    for world_rank, i in enumerate(ordered):
        members = per_node[nodes[i]]
        out[i] = RankInfo(world_rank=world_rank, local_rank=members.index(i), local_world_size=len(members),
                          node_rank=node_order.index(nodes[i]))
    return [r for r in out if r is not None]


def call_train_fn(train_fn: Callable[..., Any], config: dict[str, Any] | None) -> Any:
    """Call ``train_fn(config)``, or ``train_fn()`` when it takes no argument.

    Example:
        >>> call_train_fn(lambda: 1, None), call_train_fn(lambda cfg: cfg["x"], {"x": 2})
        (1, 2)
    """
    if takes_config(train_fn):
        return train_fn(config if config is not None else {})
    return train_fn()


def takes_config(train_fn: Callable[..., Any]) -> bool:
    """Whether ``train_fn`` accepts a positional argument (the config)."""
    try:
        params = inspect.signature(train_fn).parameters.values()
    except (TypeError, ValueError):  # a builtin or C callable: assume it takes the config
        return True
    return any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in params)


def _attach_to_ray() -> None:
    """In a Ray worker process, make streamdata use the Ray backend explicitly (else a
    DataIterator's prefetch thread, finding no runtime, would start a local one)."""
    import sys

    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized() or os.environ.get("STREAMDATA_WORKER"):
        return
    from streamdata.core import api as rt
    rt.init(backend="ray", ignore_reinit_error=True)


class TrainWorker:
    """One training worker (an actor; ``max_concurrency=2`` so ``poll`` never waits
    behind another call)."""

    def __init__(self) -> None:
        _attach_to_ray()
        self._session: TrainSession | None = None
        self._thread: threading.Thread | None = None
        self._finished = False
        self._error: BaseException | None = None
        self._return_value: Any = None

    def node_info(self) -> dict[str, Any]:
        """This worker's node and process id."""
        return {"node": socket.gethostname(), "pid": os.getpid()}

    def start_store(self, world_size: int, timeout_s: float) -> int:
        """Rank 0: open the loopback rendezvous store; returns its port."""
        from streamdata.train.torch.process_group import start_store
        return start_store(world_size=world_size, timeout_s=timeout_s)

    def setup_torch(self, **kwargs: Any) -> str:
        """Initialise ``torch.distributed`` here (see :mod:`streamdata.train.torch`)."""
        from streamdata.train.torch.process_group import setup_process_group
        return setup_process_group(**kwargs)

    def start(self, train_fn: Callable[..., Any], config: dict[str, Any] | None, context: TrainContext,
              run_dir: str, shards: dict[str, Any], checkpoint: Checkpoint | None, first_index: int,
              use_gpu: bool, reported: list[Any] | None = None, backend_config: Any = None,
              validation: bool = False) -> None:
        """Install the session and run ``train_fn`` in a thread; returns at once.
        ``reported``: the run's kept checkpoints so far (``get_all_reported_checkpoints``);
        ``train_fn`` runs inside ``backend_config.train_func_context()`` when given."""
        if self._thread is not None:
            raise RuntimeError("this training worker already started")
        self._session = TrainSession(context=context, run_dir=run_dir, datasets=dict(shards),
                                     checkpoint=checkpoint, first_index=first_index, use_gpu=use_gpu,
                                     reported=list(reported or []), validation_enabled=validation)
        session_mod.set_session(self._session)
        self._thread = threading.Thread(target=self._run, args=(train_fn, config, backend_config), daemon=True,
                                        name=f"train_fn-rank{context.world_rank}")
        self._thread.start()

    def _run(self, train_fn: Callable[..., Any], config: dict[str, Any] | None, backend_config: Any) -> None:
        session = self._session
        assert session is not None
        try:
            factory = getattr(backend_config, "train_func_context", None)
            with (factory() if factory is not None else contextlib.nullcontext()):
                self._return_value = call_train_fn(train_fn, config)
        except BaseException as exc:  # noqa: BLE001 - handed to the driver by poll()
            self._error = exc
        finally:
            with session.cond:
                self._finished = True
                session.cond.notify_all()

    def poll(self, cursor: int, timeout: float,
             collective_seen: int = 0) -> tuple[list[Report], bool, CollectiveArrival | None]:
        """Reports after the first ``cursor`` ones, waiting up to ``timeout`` seconds for
        one (or for ``train_fn`` to enter a collective after the ``collective_seen``-th),
        whether ``train_fn`` returned, and the collective it waits in (None: none, or
        the driver has seen it). Raises ``train_fn``'s exception once every earlier
        report was handed over."""
        session = self._session
        if session is None:
            raise RuntimeError("poll() before start()")

        def arrival() -> CollectiveArrival | None:
            waiting = session.arrival
            return waiting if waiting is not None and waiting.seq > collective_seen else None

        with session.cond:
            session.cond.wait_for(lambda: len(session.reports) > cursor or self._finished or arrival() is not None,
                                  timeout)
            new = session.reports[cursor:]
            finished = self._finished
            waiting = arrival()
        if new or waiting is not None:
            return list(new), False, waiting
        if finished and self._error is not None:
            raise self._error
        return [], finished, None

    def release_collective(self, seq: int, payload: bytes | None) -> None:
        """Every worker entered collective ``seq``: its waiter here returns ``payload``."""
        if self._session is not None:
            self._session.release_collective(seq, payload)

    def abort_collectives(self, error: BaseException) -> None:
        """The group fails: the collective waited in here (and any later one) raises ``error``."""
        if self._session is not None:
            self._session.abort_collectives(error)

    def execute(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``func(*args, **kwargs)`` here (a backend's hook reaching the workers)."""
        return func(*args, **kwargs)

    def update_reported(self, recorded_index: int, reported: list[Any]) -> None:
        """The driver recorded every report before ``recorded_index``; ``reported`` is the
        run's kept checkpoints (what ``get_all_reported_checkpoints`` returns)."""
        if self._session is not None:
            self._session.update_reported(recorded_index, reported)

    def return_value(self) -> Any:
        """What ``train_fn`` returned (None until it returned)."""
        return self._return_value

    def teardown(self) -> None:
        """Destroy the process group and clear the session (after ``train_fn`` returned)."""
        from streamdata.train.torch.process_group import teardown_process_group
        teardown_process_group()
        session_mod.set_session(None)


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """The actor options and placement-group bundle of one worker."""

    options: dict[str, Any]
    bundle: dict[str, float]


def worker_spec(resources_per_worker: dict[str, float], use_gpu: bool) -> WorkerSpec:
    """Actor options and bundle for ``resources_per_worker`` (``use_gpu`` adds one GPU
    when none is asked for, as Ray does).

    Example:
        >>> spec = worker_spec({"CPU": 1}, use_gpu=True)
        >>> spec.bundle, spec.options["num_gpus"]
        ({'CPU': 1.0, 'GPU': 1.0}, 1.0)
    """
    if not isinstance(resources_per_worker, dict):
        raise TypeError(f"resources_per_worker must be a dict, got {type(resources_per_worker).__name__}")
    bundle = {}
    for key, amount in resources_per_worker.items():
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
            raise ValueError(f"resources_per_worker[{key!r}] must be a number >= 0, got {amount!r}")
        bundle[key] = float(amount)
    if use_gpu and bundle.get("GPU", 0) == 0:
        bundle["GPU"] = 1.0
    custom = {k: v for k, v in bundle.items() if k not in ("CPU", "GPU", "memory")}
    options: dict[str, Any] = {"num_cpus": bundle.get("CPU", 0.0), "num_gpus": bundle.get("GPU", 0.0),
                               "max_concurrency": 2}
    if "memory" in bundle:
        options["memory"] = bundle["memory"]
    if custom:
        options["resources"] = custom
    if not any(v > 0 for v in bundle.values()):
        bundle = {}  # nothing to reserve: no placement group
    return WorkerSpec(options=options, bundle={k: v for k, v in bundle.items() if v > 0})


def check_fits(num_workers: int, bundle: dict[str, float], cluster: dict[str, float]) -> None:
    """Raise ``ValueError`` when ``num_workers`` bundles can never fit the cluster.

    Example:
        >>> check_fits(2, {"CPU": 1.0}, {"CPU": 4.0})
        >>> check_fits(3, {"CPU": 2.0}, {"CPU": 4.0})
        Traceback (most recent call last):
        ...
        ValueError: 3 training workers need 6 CPU in all, but the cluster has 4 (resources_per_worker={'CPU': 2.0})
    """
    for key, amount in bundle.items():
        need = amount * num_workers
        have = cluster.get(key, 0.0)
        if need > have + 1e-9:
            raise ValueError(f"{num_workers} training workers need {need:g} {key} in all, but the cluster "
                             f"has {have:g} (resources_per_worker={bundle})")


class WorkerGroup:
    """``num_workers`` started :class:`TrainWorker` actors, ordered by world rank."""

    def __init__(self, num_workers: int, spec: WorkerSpec, *, placement_strategy: str = "PACK",
                 env_vars: dict[str, str] | None = None,
                 label_selectors: list[dict[str, str]] | None = None, use_gpu: bool = False) -> None:
        from streamdata.core import api as rt

        #: whether the run trains on GPUs (what a backend's ``on_start`` reads)
        self.use_gpu = use_gpu
        self._pg = None
        self.workers: list[Any] = []
        self.pids: list[int] = []
        self.ranks: list[RankInfo] = []
        workers: list[Any] = []
        try:
            if spec.bundle:
                self._pg = rt.placement_group([dict(spec.bundle) for _ in range(num_workers)],
                                              strategy=placement_strategy, bundle_label_selector=label_selectors)
                rt.get(self._pg.ready())
            for i in range(num_workers):
                options = dict(spec.options)
                if env_vars:
                    options["runtime_env"] = {"env_vars": dict(env_vars)}
                if self._pg is not None:
                    options["scheduling_strategy"] = rt.PlacementGroupSchedulingStrategy(self._pg, i)
                # options through rt.remote (not .options): the Ray backend translates them
                workers.append(rt.remote(**options)(TrainWorker).remote())
            infos = rt.get([w.node_info.remote() for w in workers])
        except BaseException:
            self.workers = workers
            self.shutdown(graceful=False)
            raise
        ranks = assign_ranks([info["node"] for info in infos])
        order = sorted(range(num_workers), key=lambda i: ranks[i].world_rank)
        self.workers = [workers[i] for i in order]
        self.pids = [int(infos[i]["pid"]) for i in order]
        self.ranks = [ranks[i] for i in order]

    def __len__(self) -> int:
        return len(self.workers)

    def execute(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Any]:
        """``func(*args, **kwargs)`` on every worker; the results in world-rank order (Ray's
        ``WorkerGroup.execute``, what a :class:`~streamdata.train.backend.Backend` calls)."""
        from streamdata.core import api as rt

        return rt.get([w.execute.remote(func, *args, **kwargs) for w in self.workers])

    def setup_torch(self, *, config: Any, use_gpu: bool) -> list[str]:
        """Initialise ``torch.distributed`` in every worker: rank 0 opens the rendezvous
        store (on 127.0.0.1 when every worker is on this machine), then all join."""
        from streamdata.core import api as rt
        from streamdata.train.torch.process_group import LOOPBACK

        world = len(self.workers)
        multi_node = len({r.node_rank for r in self.ranks}) > 1
        if multi_node:
            raise NotImplementedError("streamdata.train: a process group across several nodes (the workers "
                                      "landed on different machines) is not supported yet")
        port = rt.get(self.workers[0].start_store.remote(world, float(config.timeout_s)))
        return rt.get([
            w.setup_torch.remote(rank=r.world_rank, world_size=world, local_rank=r.local_rank,
                                 local_world_size=r.local_world_size, node_rank=r.node_rank,
                                 master_addr=LOOPBACK, master_port=port, use_gpu=use_gpu, config=config,
                                 multi_node=multi_node)
            for w, r in zip(self.workers, self.ranks)])

    def contexts(self, *, storage_path: str, experiment_name: str,
                 metadata: dict[str, Any] | None = None) -> list[TrainContext]:
        world = len(self.workers)
        return [TrainContext(world_rank=r.world_rank, world_size=world, local_rank=r.local_rank,
                             local_world_size=r.local_world_size, node_rank=r.node_rank,
                             storage_path=storage_path, experiment_name=experiment_name,
                             trial_name=experiment_name, metadata=dict(metadata or {}))
                for r in self.ranks]

    def shutdown(self, *, graceful: bool) -> None:
        """Tear the process groups down (``graceful``), then kill the workers and free
        the placement group."""
        from streamdata.core import api as rt

        if graceful and self.workers:
            try:
                rt.get([w.teardown.remote() for w in self.workers], timeout=30)
            except Exception:  # noqa: BLE001 - the workers are killed next anyway
                pass
        for w in self.workers:
            try:
                rt.kill(w)
            except Exception:  # noqa: BLE001 - already dead
                pass
        self.workers = []
        if self._pg is not None:
            try:
                rt.remove_placement_group(self._pg)
            except Exception:  # noqa: BLE001
                pass
            self._pg = None


__all__ = ["RankInfo", "TrainWorker", "WorkerGroup", "WorkerSpec", "assign_ranks", "call_train_fn",
           "check_fits", "takes_config", "worker_spec"]
