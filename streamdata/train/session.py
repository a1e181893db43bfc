"""What ``train_fn`` sees inside a training worker: its context, dataset shards,
``report`` and ``get_checkpoint`` (Ray Train's functions).

One training session runs per worker process; the worker actor installs it
before calling ``train_fn`` and the functions below read it. Outside a worker
they raise ``RuntimeError``.

Example:
    >>> from streamdata.train.session import TrainContext
    >>> ctx = TrainContext(world_rank=1, world_size=2, local_rank=1, local_world_size=2, node_rank=0)
    >>> ctx.get_world_rank(), ctx.get_world_size()
    (1, 2)
"""

from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from streamdata.train.api_types import (TRAIN_DATASET_KEY, CheckpointConsistencyMode, CheckpointUploadMode,
                                        ReportedCheckpoint)

from streamdata.train.checkpoint import Checkpoint, persist_checkpoint
from streamdata.train.checkpoint import checkpoint_dir_name as default_dir_name
from streamdata.train.validation import ValidationTaskConfig, check_request


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainContext:
    """The worker's place in the group (``sd.train.get_context()``)."""

    world_rank: int
    world_size: int
    local_rank: int
    local_world_size: int
    node_rank: int
    storage_path: str = ""
    experiment_name: str = ""
    trial_name: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 <= self.world_rank < self.world_size:
            raise ValueError(f"world_rank {self.world_rank} out of range for world_size {self.world_size}")
        if not 0 <= self.local_rank < self.local_world_size:
            raise ValueError(f"local_rank {self.local_rank} out of range for local_world_size "
                             f"{self.local_world_size}")

    # Ray's accessor methods
    def get_world_rank(self) -> int:
        return self.world_rank

    def get_world_size(self) -> int:
        return self.world_size

    def get_local_rank(self) -> int:
        return self.local_rank

    def get_local_world_size(self) -> int:
        return self.local_world_size

    def get_node_rank(self) -> int:
        return self.node_rank

    def get_storage_path(self) -> str:
        return self.storage_path

    def get_experiment_name(self) -> str:
        return self.experiment_name

    def get_trial_name(self) -> str:
        """The run's name (Ray Train V2 has one trial per run: the run's name)."""
        return self.trial_name or self.experiment_name

    def get_trial_id(self) -> str:
        return self.get_trial_name()

    def get_trial_dir(self) -> str:
        """The run's directory (where its checkpoints are)."""
        return self.get_storage().experiment_fs_path

    def get_trial_resources(self) -> Any:
        """Deprecated in Ray Train V2 (a Ray Tune trial's resources): raises
        ``DeprecationWarning``, as Ray does; read ``ScalingConfig`` in ``train_loop_config``
        instead."""
        raise DeprecationWarning("get_trial_resources() is deprecated: Ray Train V2 no longer runs inside a Ray "
                                 "Tune trial; pass what you need (e.g. the ScalingConfig's resources_per_worker) "
                                 "in train_loop_config")

    def get_metadata(self) -> dict[str, Any]:
        """The ``metadata=`` passed to the trainer (``{}`` when none)."""
        return dict(self.metadata)

    def get_storage(self) -> StorageContext:
        """Where the run stores its results (:class:`StorageContext`)."""
        return StorageContext(storage_path=self.storage_path, experiment_dir_name=self.experiment_name)


@dataclass(frozen=True, slots=True, kw_only=True)
class StorageContext:
    """The run's storage (what ``get_context().get_storage()`` returns, as Ray's).

    Example:
        >>> StorageContext(storage_path="/tmp/r", experiment_dir_name="exp").experiment_fs_path
        '/tmp/r/exp'
    """

    storage_path: str
    experiment_dir_name: str

    @property
    def experiment_fs_path(self) -> str:
        return os.path.join(self.storage_path, self.experiment_dir_name)

    @property
    def trial_fs_path(self) -> str:
        return self.experiment_fs_path

    @property
    def storage_filesystem(self) -> Any:
        """A ``pyarrow.fs.LocalFileSystem`` (runs store on the local filesystem)."""
        import pyarrow.fs
        return pyarrow.fs.LocalFileSystem()

    def build_checkpoint_path_from_name(self, name: str) -> str:
        return os.path.join(self.experiment_fs_path, name)


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """One ``report`` call of one worker: its index in the run, metrics and the
    persisted checkpoint directory (or None)."""

    index: int
    metrics: dict[str, Any]
    checkpoint_path: str | None = None
    #: ``report(validation=...)`` with a checkpoint: True or a ValidationTaskConfig (else False)
    validation: Any = False


@dataclass(frozen=True, slots=True)
class CollectiveArrival:
    """A worker waiting in a collective (``train.collective``): the collective's number in
    the worker's calls (1, 2, ...; the same on every worker), the API called, and the
    pickled data it broadcasts (rank 0's; None elsewhere).

    Example:
        >>> CollectiveArrival(1, "barrier").payload is None
        True
    """

    seq: int
    name: str
    payload: bytes | None = None


@dataclass(kw_only=True)
class TrainSession:
    """The state of one worker's training session (one per worker process).

    ``first_index`` is the run-wide index of this attempt's first report, so the
    ``i``-th report of every worker lands in the same checkpoint directory.
    """

    context: TrainContext
    run_dir: str
    datasets: dict[str, Any] = field(default_factory=dict)
    checkpoint: Checkpoint | None = None
    first_index: int = 0
    use_gpu: bool = False
    reports: list[Report] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)
    #: the run-wide index of the first report the driver has not recorded yet (None: ``first_index``)
    recorded_index: int | None = None
    #: the run's kept checkpoints as the driver last sent them
    reported: list[ReportedCheckpoint] = field(default_factory=list)
    #: whether the trainer has a ``validation_config`` (``report(validation=...)`` needs one)
    validation_enabled: bool = False
    #: a local-mode session (``ScalingConfig(num_workers=0)``), whose ``report`` ignores the upload options
    local: ClassVar[bool] = False
    #: the collective this worker waits in (the driver's ``poll`` hands it over), or None
    arrival: CollectiveArrival | None = None
    #: how many collectives this worker entered
    collective_seq: int = 0
    #: the last collective the driver released, and the payload it released it with
    released: tuple[int, bytes | None] = (0, None)
    #: set by the driver when the group fails: every collective raises it from then on
    collective_error: BaseException | None = None

    def collective(self, name: str, payload: bytes | None) -> bytes | None:
        """Enter the next collective (``name``: the API called) and wait until the driver
        released it (every worker entered it): returns the payload it was released with
        (rank 0's). Raises the driver's error when the collective was aborted."""
        with self.cond:
            if self.collective_error is None:
                self.collective_seq += 1
                seq = self.collective_seq
                self.arrival = CollectiveArrival(seq, name, payload)
                self.cond.notify_all()  # a waiting poll() hands the arrival to the driver
                self.cond.wait_for(lambda: self.released[0] >= seq or self.collective_error is not None)
                self.arrival = None
                if self.released[0] >= seq:
                    return self.released[1]
            error = self.collective_error
        raise type(error)(f"`{name}` failed: {error}")

    def release_collective(self, seq: int, payload: bytes | None) -> None:
        """The driver: every worker entered collective ``seq``; its waiters return ``payload``."""
        with self.cond:
            if seq > self.released[0]:
                self.released = (seq, payload)
                self.cond.notify_all()

    def abort_collectives(self, error: BaseException) -> None:
        """The driver: the group fails; the collective waited in, and every later one, raise
        ``error``'s type with its message."""
        with self.cond:
            if self.collective_error is None:
                self.collective_error = error
                self.cond.notify_all()

    def update_reported(self, recorded_index: int, reported: list[ReportedCheckpoint]) -> None:
        """The driver recorded every report before ``recorded_index``; ``reported`` is the
        run's kept checkpoints now (an older update arriving late is ignored)."""
        with self.cond:
            if self.recorded_index is None or recorded_index > self.recorded_index:
                self.recorded_index = recorded_index
                self.reported = list(reported)
                self.cond.notify_all()

    def get_all_reported_checkpoints(self, timeout_s: float | None) -> list[ReportedCheckpoint]:
        """The kept checkpoints once the driver recorded this worker's reports (or when
        ``timeout_s`` passed: those recorded so far)."""
        with self.cond:
            mine = self.first_index + len(self.reports)
            self.cond.wait_for(lambda: (self.recorded_index if self.recorded_index is not None
                                        else self.first_index) >= mine, timeout_s)
            return list(self.reported)

    def report(self, metrics: dict[str, Any], checkpoint: Checkpoint | None = None,
               checkpoint_dir_name: str | None = None,
               upload_fn: Callable[[Checkpoint, str], Checkpoint] | None = None,
               delete_local: bool = False, validation: Any = False) -> None:
        if validation and not self.validation_enabled:
            raise ValueError("report(validation=...) asked for a validation, but the trainer was given no "
                             "validation_config (pass validation_config=ValidationConfig(fn) to the trainer)")
        if not isinstance(metrics, dict):
            raise TypeError(f"report() takes a dict of metrics, got {type(metrics).__name__}")
        if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
            raise TypeError("report(checkpoint=...) takes a streamdata.train.Checkpoint, "
                            f"got {type(checkpoint).__name__}")
        with self.cond:
            index = self.first_index + len(self.reports)
        path = None
        if checkpoint is not None:
            dest = os.path.join(self.run_dir, checkpoint_dir_name or default_dir_name(index))
            if upload_fn is None:
                path = persist_checkpoint(checkpoint, dest).path
            else:
                uploaded = upload_fn(checkpoint, dest)
                if not isinstance(uploaded, Checkpoint):
                    raise TypeError("report(checkpoint_upload_fn=...) must return the uploaded Checkpoint, got "
                                    f"{type(uploaded).__name__}")
                path = uploaded.path
            if delete_local and os.path.abspath(checkpoint.path) != os.path.abspath(path):
                shutil.rmtree(checkpoint.path, ignore_errors=True)
        with self.cond:
            self.reports.append(Report(index=index, metrics=dict(metrics), checkpoint_path=path,
                                       validation=validation if checkpoint is not None else False))
            self.cond.notify_all()

    def get_dataset_shard(self, name: str) -> Any:
        try:
            return self.datasets[name]
        except KeyError:
            raise KeyError(f"get_dataset_shard({name!r}): no dataset of that name was passed to the "
                           f"trainer (datasets={{...}}); it has: {sorted(self.datasets)}") from None


_session: TrainSession | None = None
_session_lock = threading.Lock()


def set_session(session: TrainSession | None) -> None:
    """Install (or clear) this process's training session (the worker actor does)."""
    global _session
    with _session_lock:
        _session = session


def _current() -> TrainSession:
    session = _session
    if session is None:
        raise RuntimeError("this function works only inside the training loop a trainer runs on its "
                           "workers (TorchTrainer(...).fit(), DataParallelTrainer(...).fit(), "
                           "sd.train.run(...))")
    return session


def get_context() -> TrainContext:
    """This worker's :class:`TrainContext` (ranks and sizes).

    Example (inside ``train_fn``)::

        rank = sd.train.get_context().get_world_rank()
    """
    return _current().context


def get_dataset_shard(dataset_name: str | None = None) -> Any:
    """This worker's share of the dataset ``dataset_name`` (default ``"train"``) passed to
    the trainer's ``datasets=``: a DataIterator (``iter_batches``, ``iter_torch_batches``);
    every worker's shard is part of one streaming execution, and each row goes to
    exactly one worker.

    Example (inside ``train_fn``)::

        for batch in sd.train.get_dataset_shard("train").iter_batches(batch_size=32):
            ...
    """
    if dataset_name is None:
        dataset_name = TRAIN_DATASET_KEY
    if not isinstance(dataset_name, str):
        raise TypeError(f"get_dataset_shard(dataset_name=...) must be a str, got {type(dataset_name).__name__}")
    return _current().get_dataset_shard(dataset_name)


def report(metrics: dict[str, Any], checkpoint: Checkpoint | None = None, checkpoint_dir_name: str | None = None,
           checkpoint_upload_mode: CheckpointUploadMode = CheckpointUploadMode.SYNC,
           delete_local_checkpoint_after_upload: bool | None = None,
           checkpoint_upload_fn: Callable[[Checkpoint, str], Checkpoint] | None = None,
           validation: bool | ValidationTaskConfig = False) -> None:
    """Report ``metrics`` (a dict) and optionally a checkpoint to the driver.

    Every worker should report the same number of times: the driver records a
    report once all workers made it (rank 0's metrics, and the checkpoint files
    of every worker that passed one, merged into one directory). The
    checkpoint's files are copied before ``report`` returns.

    Args:
        metrics: the metrics of this step.
        checkpoint: files to keep with them (copied into the run's directory).
        checkpoint_dir_name: the checkpoint's directory name in the run's
            directory (default ``checkpoint_<index>``); every worker passes the same.
        checkpoint_upload_mode: ``SYNC`` or ``ASYNC`` (copied before ``report``
            returns either way here: the storage is local); ``NO_UPLOAD`` is not
            supported.
        delete_local_checkpoint_after_upload: remove ``checkpoint``'s directory
            once copied (default: True for ``ASYNC``, else False).
        checkpoint_upload_fn: ``(checkpoint, destination_dir) -> Checkpoint`` to
            copy the files yourself.
        validation: validate this checkpoint in a task while training goes on (True, or a
            ``ValidationTaskConfig``; needs the trainer's ``validation_config``, see
            :mod:`streamdata.train.validation`); ignored without a checkpoint.

    Example (inside ``train_fn``)::

        sd.train.report({"loss": 0.1}, checkpoint=Checkpoint.from_directory(tmpdir))
    """
    mode = CheckpointUploadMode(checkpoint_upload_mode)
    if mode is CheckpointUploadMode.NO_UPLOAD and not _current().local:
        raise NotImplementedError("report(checkpoint_upload_mode=NO_UPLOAD) is not supported: the checkpoint is "
                                  "copied into the run's directory (use SYNC or ASYNC)")
    check_request(validation)
    if checkpoint_dir_name is not None and (not isinstance(checkpoint_dir_name, str) or not checkpoint_dir_name
                                            or os.sep in checkpoint_dir_name or checkpoint_dir_name in (".", "..")):
        raise ValueError(f"report(checkpoint_dir_name=...) must be a directory name, got {checkpoint_dir_name!r}")
    if checkpoint_upload_fn is not None and not callable(checkpoint_upload_fn):
        raise TypeError("report(checkpoint_upload_fn=...) must be callable (checkpoint, destination_dir) -> "
                        f"Checkpoint, got {type(checkpoint_upload_fn).__name__}")
    delete = (mode is CheckpointUploadMode.ASYNC if delete_local_checkpoint_after_upload is None
              else bool(delete_local_checkpoint_after_upload))
    _current().report(metrics, checkpoint, checkpoint_dir_name, checkpoint_upload_fn, delete, validation)


def get_all_reported_checkpoints(
        consistency_mode: CheckpointConsistencyMode = CheckpointConsistencyMode.VALIDATED,
        timeout_s: float | None = None) -> list[ReportedCheckpoint]:
    """The checkpoints the run reported so far (and still keeps, as ``CheckpointConfig``
    says), each a :class:`~streamdata.train.ReportedCheckpoint` with the metrics reported
    with it, in Ray's order (report order; by score when ``checkpoint_score_attribute``
    is set, best last). Waits until every worker made this worker's reports so far and
    the driver recorded them.

    Args:
        consistency_mode: ``COMMITTED`` or ``VALIDATED`` (the same here: checkpoints are
            not validated asynchronously, so a recorded checkpoint is final).
        timeout_s: how long to wait for the other workers' reports (None: no limit);
            on timeout, the checkpoints recorded so far.

    Example (inside ``train_fn``)::

        for rc in sd.train.get_all_reported_checkpoints():
            print(rc.checkpoint.path, rc.metrics)
    """
    try:
        CheckpointConsistencyMode(consistency_mode)
    except ValueError:
        raise ValueError("get_all_reported_checkpoints(consistency_mode=...) must be a CheckpointConsistencyMode "
                         f"(COMMITTED or VALIDATED), got {consistency_mode!r}") from None
    if timeout_s is not None and (isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float))
                                  or timeout_s < 0):
        raise ValueError(f"get_all_reported_checkpoints(timeout_s=...) must be a number >= 0 or None, "
                         f"got {timeout_s!r}")
    return _current().get_all_reported_checkpoints(timeout_s)


def get_checkpoint() -> Checkpoint | None:
    """The checkpoint to resume from: the latest one recorded before this attempt
    started (after a worker failure), or None on the first attempt.

    Example (inside ``train_fn``)::

        ckpt = sd.train.get_checkpoint()
        start_epoch = ckpt.get_metadata()["epoch"] + 1 if ckpt else 0
    """
    return _current().checkpoint


__all__ = ["CollectiveArrival", "Report", "StorageContext", "TrainContext", "TrainSession", "get_all_reported_checkpoints", "get_checkpoint",
           "get_context", "get_dataset_shard",
           "report", "set_session"]
