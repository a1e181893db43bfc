"""``sd.train.run``: run ``train_fn`` on a group of workers, restart the group on
failure, and collect the reports into a :class:`~streamdata.train.Result`.

One attempt: start ``num_workers`` actors in a placement group, split each
dataset once with ``streaming_split(num_workers, equal=True)`` (worker ``i``
gets split ``i``), initialise ``torch.distributed`` when torch is installed,
start ``train_fn`` everywhere and poll the workers for reports until all of
them returned. A worker failure (``train_fn`` raised, or its process died)
ends the attempt: the group is killed, checkpoint directories of reports not
every worker made are removed, and, while failures stay within
``max_failures``, a new group starts from the latest recorded checkpoint
(``sd.train.get_checkpoint()``) with a fresh split of the datasets.

When the failures exceed ``max_failures``, ``run`` raises
:class:`~streamdata.errors.TrainingFailedError` (as Ray's ``fit()`` does): its
``__cause__`` is the worker's error and its ``result`` the :class:`Result` with
``error`` set and the metrics and checkpoint reached before.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
import warnings
from typing import Any, Callable

from streamdata.errors import TrainingFailedError
from streamdata.train.checkpoint import Checkpoint, checkpoint_dir_name
from streamdata.train.result import ReportRounds, Result, Round
from streamdata.train.worker_group import WorkerGroup, check_fits, takes_config, worker_spec

#: how long one ``poll`` waits inside a worker before answering "nothing new"
POLL_TIMEOUT_S = 2.0
#: how long the driver waits for the surviving workers' last reports after a failure
DRAIN_TIMEOUT_S = 2.0


class _RunState:
    """What the run recorded so far, across attempts."""

    def __init__(self) -> None:
        self.history: list[dict[str, Any]] = []
        self.checkpoints: list[tuple[Checkpoint, dict[str, Any]]] = []
        self.next_index = 0

    @property
    def latest_checkpoint(self) -> Checkpoint | None:
        return self.checkpoints[-1][0] if self.checkpoints else None

    def record(self, rnd: Round) -> None:
        self.history.append(rnd.metrics)
        if rnd.checkpoint_path is not None:
            self.checkpoints.append((Checkpoint(rnd.checkpoint_path), rnd.metrics))
        self.next_index = rnd.index + 1


def run(train_fn: Callable[..., Any], *, datasets: dict[str, Any] | None = None, num_workers: int = 2,
        resources_per_worker: dict[str, float] | None = None, use_gpu: bool = False,
        config: dict[str, Any] | None = None, max_failures: int = 0,
        storage_path: str | None = None) -> Result:
    """Run ``train_fn(config)`` (or ``train_fn()``) on ``num_workers`` workers.

    Args:
        train_fn: the per-worker training loop; inside it use ``sd.train.get_context()``,
            ``get_dataset_shard(name)``, ``report(metrics, checkpoint=None)`` and
            ``get_checkpoint()``.
        datasets: name → Dataset; each is split once among the workers.
        num_workers: how many workers (actors) run ``train_fn``.
        resources_per_worker: each worker's resources (default ``{"CPU": 1}``).
            The datasets' own tasks need resources left over by the workers.
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
    from streamdata.core import api as rt
    from streamdata.dataset import Dataset

    if not callable(train_fn):
        raise TypeError(f"train_fn must be callable, got {type(train_fn).__name__}")
    if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1:
        raise ValueError(f"num_workers must be an int >= 1, got {num_workers!r}")
    if isinstance(max_failures, bool) or not isinstance(max_failures, int) or max_failures < -1:
        raise ValueError(f"max_failures must be an int >= -1 (-1: no limit), got {max_failures!r}")
    if config is not None and not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    if config is not None and not takes_config(train_fn):
        raise TypeError("train_fn takes no argument, so it cannot receive config; "
                        "define it as train_fn(config)")
    datasets = dict(datasets or {})
    for name, ds in datasets.items():
        if not isinstance(ds, Dataset):
            raise TypeError(f"datasets[{name!r}] must be a streamdata Dataset, got {type(ds).__name__}")
    spec = worker_spec({"CPU": 1} if resources_per_worker is None else resources_per_worker, use_gpu)
    cluster = rt.cluster_resources()
    check_fits(num_workers, spec.bundle, cluster)
    cpus_left = cluster.get("CPU", 0.0) - num_workers * spec.bundle.get("CPU", 0.0)
    if datasets and cpus_left < 1:
        warnings.warn(f"the {num_workers} training workers reserve {num_workers * spec.bundle.get('CPU', 0.0):g} "
                      f"of the cluster's {cluster.get('CPU', 0.0):g} CPUs, leaving {cpus_left:g} for the "
                      "datasets' tasks, which then cannot run; lower resources_per_worker['CPU'] or "
                      "num_workers", stacklevel=2)

    experiment_name = f"sd_train_{time.strftime('%Y-%m-%d_%H-%M-%S')}_{uuid.uuid4().hex[:6]}"
    root = storage_path if storage_path is not None else tempfile.mkdtemp(prefix="streamdata-train-")
    run_dir = os.path.abspath(os.path.join(os.fspath(root), experiment_name))
    os.makedirs(run_dir, exist_ok=True)

    from streamdata.train.torch import torch_installed
    init_torch = torch_installed()
    state = _RunState()
    failures = 0
    while True:
        error = _run_attempt(train_fn, config=config, datasets=datasets, num_workers=num_workers, spec=spec,
                             use_gpu=use_gpu, init_torch=init_torch, run_dir=run_dir,
                             experiment_name=experiment_name, state=state)
        if error is None:
            break
        _remove_unrecorded_checkpoints(run_dir, state.next_index)
        failures += 1
        if max_failures != -1 and failures > max_failures:
            result = _result(state, run_dir, failures, error)
            first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise TrainingFailedError(
                f"training failed ({failures} failure(s), max_failures={max_failures}): "
                f"{type(error).__name__}: {first_line}", result=result) from error
    return _result(state, run_dir, failures, None)


def _result(state: _RunState, run_dir: str, failures: int, error: BaseException | None) -> Result:
    return Result(metrics=state.history[-1] if state.history else None, metrics_history=list(state.history),
                  checkpoint=state.latest_checkpoint, error=error, path=run_dir, num_failures=failures,
                  best_checkpoints=list(state.checkpoints))


def _run_attempt(train_fn: Callable[..., Any], *, config: dict[str, Any] | None, datasets: dict[str, Any],
                 num_workers: int, spec: Any, use_gpu: bool, init_torch: bool, run_dir: str,
                 experiment_name: str, state: _RunState) -> BaseException | None:
    """One worker group from start to end; returns the failure, or None."""
    from streamdata.train.torch import free_port

    splits = {name: ds.streaming_split(num_workers, equal=True) for name, ds in datasets.items()}
    group: WorkerGroup | None = None
    error: BaseException | None = None
    try:
        try:
            group = WorkerGroup(num_workers, spec)
            if init_torch:
                group.setup_torch(master_port=free_port(), use_gpu=use_gpu)
            contexts = group.contexts(storage_path=os.path.dirname(run_dir), experiment_name=experiment_name)
            from streamdata.core import api as rt
            rt.get([w.start.remote(train_fn, config, contexts[rank], run_dir,
                                   {name: its[rank] for name, its in splits.items()},
                                   state.latest_checkpoint, state.next_index, use_gpu)
                    for rank, w in enumerate(group.workers)])
        except Exception as exc:  # noqa: BLE001 - a failure of the attempt (e.g. a worker died starting)
            error = exc
            return error
        error = _drive(group, ReportRounds(num_workers), state)
        return error
    finally:
        if group is not None:
            group.shutdown(graceful=error is None)
        _release_splits(splits)


def _drive(group: WorkerGroup, rounds: ReportRounds, state: _RunState) -> BaseException | None:
    """Poll every worker until all returned; record each completed round."""
    from streamdata.core import api as rt

    workers = group.workers
    cursors = [0] * len(workers)
    pending = {w.poll.remote(0, POLL_TIMEOUT_S): rank for rank, w in enumerate(workers)}

    def take(rank: int, reports: list) -> None:
        cursors[rank] += len(reports)
        for rnd in rounds.add(rank, reports):
            state.record(rnd)

    while pending:
        ready, _ = rt.wait(list(pending), num_returns=1)
        for ref in ready:
            rank = pending.pop(ref)
            try:
                reports, finished = rt.get(ref)
            except Exception as exc:  # noqa: BLE001 - train_fn raised or the worker died
                _drain(group, rounds, state, cursors, failed_rank=rank)
                return exc
            take(rank, reports)
            if reports or not finished:
                pending[workers[rank].poll.remote(cursors[rank], POLL_TIMEOUT_S)] = rank
    leftover = rounds.unmatched()
    if any(leftover):
        warnings.warn(f"training workers reported a different number of times (reports not matched by "
                      f"every worker, per rank: {leftover}); those reports were not recorded", stacklevel=3)
    return None


def _drain(group: WorkerGroup, rounds: ReportRounds, state: _RunState, cursors: list[int], *,
           failed_rank: int) -> None:
    """After a failure: take the reports the other workers already made (a round the
    failed worker completed just before failing is then recorded)."""
    from streamdata.core import api as rt

    quick = {w.poll.remote(cursors[rank], 0.0): rank
             for rank, w in enumerate(group.workers) if rank != failed_rank}
    if not quick:
        return
    ready, _ = rt.wait(list(quick), num_returns=len(quick), timeout=DRAIN_TIMEOUT_S)
    for ref in ready:
        rank = quick[ref]
        try:
            reports, _ = rt.get(ref)
        except Exception:  # noqa: BLE001 - that worker failed too
            continue
        cursors[rank] += len(reports)
        for rnd in rounds.add(rank, reports):
            state.record(rnd)


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


def _release_splits(splits: dict[str, list[Any]]) -> None:
    """Stop the executions behind the attempt's dataset splits (pipelines and coordinators)."""
    from streamdata.iterator import shutdown_split

    for iterators in splits.values():
        shutdown_split(iterators)


__all__ = ["run"]
