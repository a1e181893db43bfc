"""The run loop behind every trainer's ``fit()`` and ``sd.train.run``: start a worker
group, run the training loop on it, record the reports, restart the group on failure,
and return a :class:`~streamdata.train.Result`.

One attempt: start ``num_workers`` actors in a placement group (their CPUs lowered
when they would leave the datasets none: :mod:`streamdata.train.resources`), split
each split dataset once with ``streaming_split(num_workers, equal=True)`` (worker
``i`` gets split ``i``; unsplit datasets reach every worker whole), set the torch
process group up when the trainer has a ``TorchConfig``, start the loop
everywhere and poll the workers for reports until all of them returned. A report
is recorded once every worker made it; its checkpoint is kept or dropped as
``CheckpointConfig`` says (:mod:`streamdata.train.checkpoint_manager`). A
``train.collective`` call is released once every worker is in it, with rank 0's data
(:mod:`streamdata.train.collective`). A worker
failure (the loop raised, or its process died) ends the attempt: the group is
killed (the others' collectives aborted first, so none waits for the failed worker),
checkpoint directories of reports not every worker made are removed, and,
while failures stay within ``FailureConfig.max_failures`` (-1: no limit), a new
group starts from the latest checkpoint (``get_checkpoint()``) with a fresh split.

When the failures exceed ``max_failures``, ``fit`` raises
:class:`~streamdata.errors.WorkerGroupError` (a TrainingFailedError, as Ray's does): its ``__cause__`` is
the worker's error and its ``result`` the :class:`Result` with ``error`` set and the
metrics and checkpoints reached before.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import uuid
import warnings
from typing import Any, Callable

from streamdata.errors import ControllerError, WorkerGroupError
from streamdata.observability import sources
from streamdata.train.api_types import ReportedCheckpoint, ReportedCheckpointStatus
from streamdata.train.backend import BackendConfig
from streamdata.train.callback import CallbackRunner, TrainRunContext
from streamdata.train.checkpoint import Checkpoint, checkpoint_dir_name
from streamdata.train.checkpoint_manager import CheckpointManager
from streamdata.train.collective import CollectiveRounds
from streamdata.train.config import DataConfig, FailureConfig, RunConfig, RunSpec, ScalingConfig
from streamdata.train.resources import data_cpu_need, plan_worker_cpus
from streamdata.train.result import ReportRounds, Result, Round
from streamdata.train.session import CollectiveArrival
from streamdata.train.validation import Finished, ValidationConfig, Validations
from streamdata.train.worker_group import WorkerGroup, check_fits, takes_config, worker_spec

logger = logging.getLogger(__name__)

#: how long one ``poll`` waits inside a worker before answering "nothing new"
POLL_TIMEOUT_S = 2.0
#: how long the driver waits for the surviving workers' last reports after a failure
DRAIN_TIMEOUT_S = 2.0


class _RunState:
    """What the run recorded so far, across attempts."""

    def __init__(self, checkpoints: CheckpointManager, resume_from: Checkpoint | None,
                 callbacks: CallbackRunner | None = None, validations: Validations | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        self.history: list[dict[str, Any]] = []
        #: the trainer's ``metadata=``, added to each recorded checkpoint's ``get_metadata()``
        self.metadata = dict(metadata or {})
        self._history_at: dict[int, int] = {}  # report index -> its row of ``history``
        self.validations = validations or Validations(None)
        self.callbacks = callbacks
        #: what rank 0's training function returned (the last attempt's, when it finished)
        self.return_value: Any = None
        self.checkpoints = checkpoints
        self.resume_from = resume_from
        self.next_index = 0
        #: the world rank of the worker whose error ended the last attempt (None: not one worker's)
        self.failed_rank: int | None = None

    @property
    def latest_checkpoint(self) -> Checkpoint | None:
        latest = self.checkpoints.latest
        return Checkpoint(latest[0]) if latest is not None else self.resume_from

    def record(self, rnd: Round) -> None:
        """Record a round (starting its checkpoint's validation, if asked for), then call
        the user callbacks' ``after_report``."""
        self._history_at[rnd.index] = len(self.history)
        self.history.append(dict(rnd.metrics))
        if rnd.checkpoint_path is not None:
            if self.metadata:  # Ray Train V1's Trainer(metadata=...): in every checkpoint the run saves
                Checkpoint(rnd.checkpoint_path).update_metadata(self.metadata)
            self.checkpoints.register(rnd.checkpoint_path, rnd.metrics, pending=bool(rnd.validation))
            if rnd.validation:
                self.validations.start(rnd.index, rnd.checkpoint_path, rnd.validation)
        self.next_index = rnd.index + 1
        if self.callbacks is not None:
            self.callbacks.after_report(list(rnd.worker_metrics) or [rnd.metrics],
                                        Checkpoint(rnd.checkpoint_path) if rnd.checkpoint_path else None)

    def validated(self, finished: list[Finished]) -> None:
        """Merge the metrics of the validations that ended into their reports and checkpoints."""
        for done in finished:
            if done.status is ReportedCheckpointStatus.VALIDATED:
                row = self._history_at.get(done.index)
                if row is not None:
                    self.history[row].update(done.metrics)
            self.checkpoints.update_metrics(done.path, done.metrics)

    def reported(self) -> list[ReportedCheckpoint]:
        """The kept checkpoints as ``get_all_reported_checkpoints`` returns them."""
        statuses = self.validations.statuses
        return [ReportedCheckpoint(checkpoint=Checkpoint(path), metrics=metrics,
                                   status=statuses.get(path, ReportedCheckpointStatus.COMMITTED))
                for path, metrics in self.checkpoints.ranked()]


def run(train_fn: Callable[..., Any], *, datasets: dict[str, Any] | None = None, num_workers: int = 2,
        resources_per_worker: dict[str, float] | None = None, use_gpu: bool = False,
        config: dict[str, Any] | None = None, max_failures: int = 0,
        storage_path: str | None = None) -> Result:
    """Run ``train_fn(config)`` (or ``train_fn()``) on ``num_workers`` workers: the short
    form of ``TorchTrainer(train_fn, train_loop_config=config, scaling_config=ScalingConfig(
    num_workers, use_gpu, resources_per_worker), run_config=RunConfig(storage_path,
    failure_config=FailureConfig(max_failures)), datasets=datasets).fit()`` (a torch process
    group is set up when torch is installed).

    Args:
        train_fn: the per-worker training loop; inside it use ``sd.train.get_context()``,
            ``get_dataset_shard(name)``, ``report(metrics, checkpoint=None)`` and
            ``get_checkpoint()``.
        datasets: name → Dataset; each is split once among the workers.
        num_workers: how many workers (actors) run ``train_fn``.
        resources_per_worker: each worker's resources (default ``{"CPU": 1}``).
        use_gpu: one GPU per worker (unless ``resources_per_worker`` names GPUs);
            torch then uses nccl when CUDA is present.
        config: passed to ``train_fn``.
        max_failures: how many worker-group failures to recover from by restarting
            the group from the latest checkpoint (-1: no limit).
        storage_path: where the run's directory (and its checkpoints) is created
            (default: a new temporary directory).

    Returns:
        The :class:`Result`. Raises :class:`~streamdata.errors.TrainingFailedError`
        when the failures exceed ``max_failures``.

    Example:
        >>> import streamdata as sd
        >>> def train_fn(config):
        ...     ctx = sd.train.get_context()
        ...     rows = sum(len(b["id"]) for b in sd.train.get_dataset_shard("train").iter_batches())
        ...     sd.train.report({"rank": ctx.get_world_rank(), "rows": rows * config["scale"]})
        >>> result = sd.train.run(train_fn, datasets={"train": sd.range(10)}, num_workers=2,
        ...                       resources_per_worker={"CPU": 0.5}, config={"scale": 10})
        >>> result.metrics
        {'rank': 0, 'rows': 50}
    """
    from streamdata.train.torch.process_group import TorchConfig, torch_installed

    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1:
        raise ValueError(f"num_workers must be an int >= 1, got {num_workers!r}")
    if isinstance(max_failures, bool) or not isinstance(max_failures, int) or max_failures < -1:
        raise ValueError(f"max_failures must be an int >= -1 (-1: no limit), got {max_failures!r}")
    if resources_per_worker is not None and not isinstance(resources_per_worker, dict):
        raise TypeError(f"resources_per_worker must be a dict, got {type(resources_per_worker).__name__}")
    spec = RunSpec(train_fn=train_fn, config=config, datasets=dict(datasets or {}),
                   scaling=ScalingConfig(num_workers=num_workers, use_gpu=use_gpu,
                                         resources_per_worker=resources_per_worker),
                   run=RunConfig(storage_path=storage_path, failure_config=FailureConfig(max_failures=max_failures)),
                   data=DataConfig(), backend=TorchConfig() if torch_installed() else None)
    return fit(spec)


def check_spec(spec: RunSpec) -> None:
    """Check what a run was given before anything starts (errors name the argument)."""
    from streamdata.dataset import Dataset

    if not callable(spec.train_fn):
        raise TypeError(f"train_loop_per_worker must be callable, got {type(spec.train_fn).__name__}")
    if spec.config is not None and not isinstance(spec.config, dict):
        raise TypeError(f"train_loop_config must be a dict, got {type(spec.config).__name__}")
    if spec.config is not None and not takes_config(spec.train_fn):
        raise TypeError("train_loop_per_worker takes no argument, so it cannot receive train_loop_config; "
                        "define it as train_loop_per_worker(config)")
    for name, ds in spec.datasets.items():
        if not isinstance(name, str):
            raise TypeError(f"datasets keys must be dataset names (str), got {name!r}")
        if not isinstance(ds, Dataset):
            raise TypeError(f"datasets[{name!r}] must be a streamdata Dataset, got {type(ds).__name__}")
    if spec.backend is not None and not isinstance(spec.backend, BackendConfig):
        raise TypeError(f"backend_config must be a streamdata.train.BackendConfig (e.g. TorchConfig), got "
                        f"{type(spec.backend).__name__}")
    if spec.validation is not None and not isinstance(spec.validation, ValidationConfig):
        raise TypeError("validation_config must be a streamdata.train.ValidationConfig, got "
                        f"{type(spec.validation).__name__}")
    if spec.resume_from_checkpoint is not None and not isinstance(spec.resume_from_checkpoint, Checkpoint):
        raise TypeError("resume_from_checkpoint must be a streamdata.train.Checkpoint, got "
                        f"{type(spec.resume_from_checkpoint).__name__}")


def _plan_resources(spec: RunSpec) -> tuple[Any, dict[str, float]]:
    """The workers' spec, with CPUs lowered when the datasets would get none (logged)."""
    from streamdata.core import api as rt

    scaling = spec.scaling
    resources = scaling.worker_resources()
    cluster = rt.cluster_resources()
    check_fits(scaling.num_workers, {k: v for k, v in resources.items() if v > 0}, cluster)
    if spec.datasets:
        need = max(data_cpu_need(ds) for ds in spec.datasets.values())
        cpus = plan_worker_cpus(num_workers=scaling.num_workers, worker_cpus=resources.get("CPU", 0.0),
                                cluster_cpus=cluster.get("CPU", 0.0), data_cpus=need)
        if cpus != resources.get("CPU", 0.0):
            logger.warning(
                "streamdata.train: %d workers x %g CPU would leave the datasets' tasks %g of the cluster's %g "
                "CPUs, but they need %g; reserving %g CPU for the datasets and %g CPU per training worker "
                "(the worker processes still use every core)", scaling.num_workers, resources.get("CPU", 0.0),
                cluster.get("CPU", 0.0) - scaling.num_workers * resources.get("CPU", 0.0),
                cluster.get("CPU", 0.0), need, need, cpus)
            resources["CPU"] = cpus
    return worker_spec(resources, use_gpu=False), resources


def fit(spec: RunSpec) -> Result:
    """Run a checked :class:`~streamdata.train.config.RunSpec` to its end (what the
    trainers' ``fit()`` calls)."""
    check_spec(spec)
    if spec.scaling.num_workers == 0:  # local mode: the loop runs here, with no workers
        from streamdata.train.local_mode import run_local
        return run_local(spec)
    worker, _ = _plan_resources(spec)
    run_cfg = spec.run
    experiment_name = run_cfg.name or f"sd_train_{time.strftime('%Y-%m-%d_%H-%M-%S')}_{uuid.uuid4().hex[:6]}"
    root = run_cfg.storage_path if run_cfg.storage_path is not None else tempfile.mkdtemp(prefix="streamdata-train-")
    run_dir = os.path.abspath(os.path.join(os.fspath(root), experiment_name))
    os.makedirs(run_dir, exist_ok=True)
    env = dict((run_cfg.worker_runtime_env or {}).get("env_vars", {}))
    run_context = TrainRunContext(run_config=run_cfg, train_loop_config=spec.config, scaling_config=spec.scaling,
                                  backend_config=spec.backend, dataset_config=spec.data)
    state = _RunState(CheckpointManager(run_cfg.checkpoint_config), spec.resume_from_checkpoint,
                      CallbackRunner(list(run_cfg.callbacks or []), run_context), Validations(spec.validation),
                      metadata=spec.metadata)
    state.next_index = _first_free_index(run_dir)
    max_failures = run_cfg.failure_config.max_failures
    monitored = sources.train_run_started(experiment_name, run_dir, state.history)
    try:
        result = _fit_attempts(spec, worker, env, run_dir, experiment_name, state, max_failures)
    except BaseException as exc:
        monitored.finish(exc, getattr(getattr(exc, "result", None), "num_failures", 0) or 0)
        raise
    monitored.finish(None, result.num_failures)
    return result


def _fit_attempts(spec: RunSpec, worker: Any, env: dict[str, str], run_dir: str, experiment_name: str,
                  state: _RunState, max_failures: int) -> Result:
    failures = 0
    while True:
        try:
            error = _run_attempt(spec, worker=worker, env=env, run_dir=run_dir, experiment_name=experiment_name,
                                 state=state)
            if error is None:
                break
            _remove_unrecorded_checkpoints(run_dir, state.next_index)
            failures += 1
            if state.callbacks is not None and state.failed_rank is not None:
                state.callbacks.after_exception({state.failed_rank: error})
        except ControllerError as exc:  # a user callback raised: the run ends
            exc.result = _result(state, run_dir, failures, exc, spec.config)
            raise
        if max_failures != -1 and failures > max_failures:
            result = _result(state, run_dir, failures, error, spec.config)
            first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
            failed = {state.failed_rank: error} if state.failed_rank is not None else {}
            raise WorkerGroupError(
                f"training failed ({failures} failure(s), max_failures={max_failures}): "
                f"{type(error).__name__}: {first_line}", failed, result=result) from error
        logger.warning("streamdata.train: worker group failed (%s: %s); restarting (failure %d of %s) from %s",
                       type(error).__name__, str(error).splitlines()[0] if str(error) else "", failures,
                       "unlimited" if max_failures == -1 else max_failures, state.latest_checkpoint)
    return _result(state, run_dir, failures, None, spec.config)


def _first_free_index(run_dir: str) -> int:
    """The first checkpoint index not used in ``run_dir`` (a run reusing its name goes on
    numbering after the checkpoints already there)."""
    used = [int(n[len("checkpoint_"):]) for n in os.listdir(run_dir)
            if n.startswith("checkpoint_") and n[len("checkpoint_"):].isdigit()]
    return max(used) + 1 if used else 0


def _result(state: _RunState, run_dir: str, failures: int, error: BaseException | None,
            config: dict[str, Any] | None = None) -> Result:
    state.validated(state.validations.finish())  # the run ends once every validation ended
    kept = [(Checkpoint(path), metrics) for path, metrics in state.checkpoints.kept()]
    result = Result(metrics=state.history[-1] if state.history else None, metrics_history=list(state.history),
                  checkpoint=state.latest_checkpoint if state.checkpoints.latest else None, error=error,
                  path=run_dir, num_failures=failures, best_checkpoints=kept, config=config,
                  return_value=state.return_value if error is None else None)
    try:
        result.save()
    except OSError as exc:  # the result is still returned; only from_path will miss it
        logger.warning("streamdata.train: could not write %s into %s: %s", "result.json", run_dir, exc)
    return result


def _shards(spec: RunSpec) -> list[dict[str, Any]]:
    """Each worker's dataset iterators by name, from ``DataConfig.configure`` (split
    datasets cut with ``streaming_split``, others whole; a subclass may override it).
    Called before the worker group starts, so ``worker_handles`` is None."""
    n = spec.scaling.num_workers
    if not spec.datasets:
        return [{} for _ in range(n)]
    shards = spec.data.configure(dict(spec.datasets), world_size=n, worker_handles=None, worker_node_ids=None)
    if not isinstance(shards, list) or len(shards) != n or not all(isinstance(d, dict) for d in shards):
        raise TypeError(f"{type(spec.data).__name__}.configure must return a list of {n} dicts (one per worker: "
                        f"dataset name -> iterator), got {type(shards).__name__}"
                        f"{f' of {len(shards)}' if isinstance(shards, list) else ''}")
    return shards


def _run_attempt(spec: RunSpec, *, worker: Any, env: dict[str, str], run_dir: str, experiment_name: str,
                 state: _RunState) -> BaseException | None:
    """One worker group from start to end; returns the failure, or None."""
    from streamdata.core import api as rt

    n = spec.scaling.num_workers
    use_gpu = spec.scaling.use_gpu
    shards = _shards(spec)
    backend = spec.backend.backend_cls() if spec.backend is not None else None
    group: WorkerGroup | None = None
    error: BaseException | None = None
    state.failed_rank = None
    try:
        try:
            group = WorkerGroup(n, worker, placement_strategy=spec.scaling.placement_strategy, env_vars=env,
                                label_selectors=spec.scaling.bundle_label_selectors(), use_gpu=use_gpu)
            if backend is not None:
                backend.on_start(group, spec.backend)
                backend.on_training_start(group, spec.backend)
            contexts = group.contexts(storage_path=os.path.dirname(run_dir), experiment_name=experiment_name,
                                      metadata=spec.metadata)
            reported = state.reported()
            started = [w.start.remote(spec.train_fn, spec.config, contexts[rank], run_dir, shards[rank],
                                      state.latest_checkpoint, state.next_index, use_gpu, reported, spec.backend,
                                      spec.validation is not None)
                       for rank, w in enumerate(group.workers)]
            for rank, ref in enumerate(started):  # one by one: a worker that died starting is named
                state.failed_rank = rank
                rt.get(ref)
            state.failed_rank = None
        except Exception as exc:  # noqa: BLE001 - a failure of the attempt (e.g. a worker died starting)
            error = exc
            return error
        try:
            error = _drive(group, ReportRounds(n), state)
            if error is None:
                state.return_value = rt.get(group.workers[0].return_value.remote())
        except ControllerError as exc:  # a user callback raised: stop the workers at once
            error = exc
            raise
        except Exception as exc:  # noqa: BLE001 - rank 0's return value could not be sent
            error = exc
        return error
    finally:
        if group is not None:
            if backend is not None and error is None:
                try:
                    backend.on_shutdown(group, spec.backend)
                except Exception as exc:  # noqa: BLE001 - the workers are stopped next anyway
                    logger.warning("streamdata.train: %s.on_shutdown failed: %s: %s", type(backend).__name__,
                                   type(exc).__name__, exc)
            group.shutdown(graceful=error is None)
        _release_splits(shards)


def _drive(group: WorkerGroup, rounds: ReportRounds, state: _RunState) -> BaseException | None:
    """Poll every worker until all returned; record each completed round, and release the
    workers' collectives (``train.collective``) once every worker entered one."""
    from streamdata.core import api as rt

    workers = group.workers
    cursors = [0] * len(workers)
    seen = [0] * len(workers)  # per rank: the last collective the driver was handed
    collectives = CollectiveRounds.from_env(len(workers))
    pending = {w.poll.remote(0, POLL_TIMEOUT_S): rank for rank, w in enumerate(workers)}

    def take(rank: int, reports: list) -> None:
        cursors[rank] += len(reports)
        done = rounds.add(rank, reports)
        if not done:
            return
        for rnd in done:
            state.record(rnd)
        # what get_all_reported_checkpoints() waits for (not awaited: the workers order updates by index)
        reported = state.reported()
        for w in workers:
            w.update_reported.remote(state.next_index, reported)

    def arrive(rank: int, arrival: CollectiveArrival | None) -> None:
        if arrival is None:
            return
        seen[rank] = arrival.seq
        released = collectives.arrive(rank, arrival)
        if released is not None:  # not awaited, as update_reported
            for w in workers:
                w.release_collective.remote(*released)

    while pending:
        ready, _ = rt.wait(list(pending), num_returns=1)
        state.validated(state.validations.poll())
        for ref in ready:
            rank = pending.pop(ref)
            try:
                reports, finished, arrival = rt.get(ref)
            except Exception as exc:  # noqa: BLE001 - train_fn raised or the worker died
                # release the others' collectives with an error: none may wait for this worker
                _abort_collectives(workers, RuntimeError(
                    f"rank {rank} of the worker group failed ({type(exc).__name__}: "
                    f"{(str(exc).splitlines() or [''])[0]})"), skip=rank)
                _drain(group, rounds, state, cursors, failed_rank=rank)
                state.failed_rank = rank
                return exc
            take(rank, reports)
            arrive(rank, arrival)
            if reports or not finished:
                pending[workers[rank].poll.remote(cursors[rank], POLL_TIMEOUT_S, seen[rank])] = rank
            else:
                collectives.finish(rank)
        stuck = collectives.failure()  # a rank returned without joining, or the timeout passed
        if stuck is not None:
            _abort_collectives(workers, stuck)  # the waiters raise it: the attempt fails through their polls
        elif (warning := collectives.warning()) is not None:
            logger.warning("streamdata.train: %s", warning)
    leftover = rounds.unmatched()
    if any(leftover):
        warnings.warn(f"training workers reported a different number of times (reports not matched by "
                      f"every worker, per rank: {leftover}); those reports were not recorded", stacklevel=3)
    return None


def _abort_collectives(workers: list[Any], error: BaseException, *, skip: int | None = None) -> None:
    """Make every worker's collectives (the one it waits in, and later ones) raise ``error``
    (not awaited: a dead worker is skipped by the kill that follows)."""
    for rank, w in enumerate(workers):
        if rank != skip:
            w.abort_collectives.remote(error)


def _drain(group: WorkerGroup, rounds: ReportRounds, state: _RunState, cursors: list[int], *,
           failed_rank: int) -> None:
    """After a failure: take the other workers' reports up to as many as the failed worker
    made, waiting up to ``DRAIN_TIMEOUT_S`` for those still on their way. A round the
    failed worker completed just before failing is then recorded, as Ray records it (its
    ``report`` waits for every worker's)."""
    from streamdata.core import api as rt

    made = cursors[failed_rank]
    behind = {rank for rank in range(len(group.workers)) if rank != failed_rank and cursors[rank] < made}
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while behind and (left := deadline - time.monotonic()) > 0:
        polls = {group.workers[rank].poll.remote(cursors[rank], left): rank for rank in behind}
        ready, _ = rt.wait(list(polls), num_returns=len(polls), timeout=left + POLL_TIMEOUT_S)
        for ref in ready:
            rank = polls[ref]
            try:
                reports, finished, _ = rt.get(ref)
            except Exception:  # noqa: BLE001 - that worker failed too
                behind.discard(rank)
                continue
            cursors[rank] += len(reports)
            for rnd in rounds.add(rank, reports):
                state.record(rnd)
            if cursors[rank] >= made or (finished and not reports) or not reports:
                behind.discard(rank)  # caught up, or done, or nothing came in the time left


def _remove_unrecorded_checkpoints(run_dir: str, next_index: int) -> None:
    """Remove checkpoint directories of reports that were not recorded (made by only
    some workers of a failed attempt), so the next attempt can reuse their names."""
    try:
        names = os.listdir(run_dir)
    except OSError:
        return
    for name in names:
        digits = name[len("checkpoint_"):]
        if name.startswith("checkpoint_") and digits.isdigit() and int(digits) >= next_index \
                and name == checkpoint_dir_name(int(digits)):
            shutil.rmtree(os.path.join(run_dir, name), ignore_errors=True)


def _release_splits(shards: list[dict[str, Any]]) -> None:
    """Stop the executions behind the attempt's dataset splits (pipelines and coordinators;
    iterators that are not splits are left alone)."""
    from streamdata.iterator import shutdown_split

    shutdown_split([it for per_worker in shards for it in per_worker.values()])


__all__ = ["check_spec", "fit", "run"]
