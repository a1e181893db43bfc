"""``DataParallelTrainer``: Ray Train's framework-free trainer (``TorchTrainer`` adds
the torch process group on top of it).

``fit()`` starts ``scaling_config.num_workers`` workers, hands each its shard of
every split dataset, runs ``train_loop_per_worker`` everywhere, records the
reports (rank 0's metrics; every worker's checkpoint files merged into one
directory), restarts the group from the latest checkpoint after a failure as
``run_config.failure_config`` allows, and returns a :class:`Result`.

Example:
    >>> import streamdata as sd
    >>> from streamdata import train
    >>> def loop(config):
    ...     rows = sum(len(b["id"]) for b in train.get_dataset_shard("train").iter_batches())
    ...     train.report({"rows": rows, "lr": config["lr"]})
    >>> trainer = train.DataParallelTrainer(
    ...     loop, train_loop_config={"lr": 0.1}, datasets={"train": sd.range(6)},
    ...     scaling_config=train.ScalingConfig(num_workers=2, resources_per_worker={"CPU": 0.5}))
    >>> trainer.fit().metrics
    {'rows': 3, 'lr': 0.1}
"""

from __future__ import annotations

from typing import Any, Callable

from streamdata.train.checkpoint import Checkpoint
from streamdata.train.config import DataConfig, RunConfig, RunSpec, ScalingConfig
from streamdata.train.result import Result


_RESTORE_DEPRECATED = ("Trainer.restore and Trainer.can_restore are deprecated in Ray Train and not supported: "
                       "build a new trainer with resume_from_checkpoint=Result.from_path(run_dir).checkpoint "
                       "(see https://github.com/ray-project/ray/issues/49454)")


def _typed(name: str, value: Any, cls: type, default: Any) -> Any:
    if value is None:
        return default
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be a streamdata.train.{cls.__name__}, got {type(value).__name__}")
    return value


class DataParallelTrainer:
    """Runs ``train_loop_per_worker`` on a group of workers (Ray's ``DataParallelTrainer``).

    Args:
        train_loop_per_worker: the loop; takes no argument or ``train_loop_config``.
        train_loop_config: passed to the loop.
        backend_config: the process group to set up (a ``TorchConfig``), or None.
        scaling_config: workers and their resources (default ``ScalingConfig()``: 1 worker).
        dataset_config: which datasets are split (default: all).
        run_config: name, storage, failure and checkpoint policy.
        datasets: name → streamdata Dataset (or a callable returning one).
        metadata: a dict the loop reads with ``get_context().get_metadata()``, also added to
            the ``get_metadata()`` of every checkpoint the run records (Ray Train V1's
            ``metadata=``; Ray Train V2 refuses the argument).
        resume_from_checkpoint: what ``get_checkpoint()`` returns until the run
            reports a checkpoint of its own.
        validation_config: how reported checkpoints are validated in tasks beside the
            training (:mod:`streamdata.train.validation`), or None.
    """

    _default_backend: Callable[[], Any] | None = None

    def __init__(self, train_loop_per_worker: Callable[..., Any], *, train_loop_config: dict[str, Any] | None = None,
                 backend_config: Any = None, scaling_config: ScalingConfig | None = None,
                 dataset_config: DataConfig | None = None, run_config: RunConfig | None = None,
                 datasets: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None,
                 resume_from_checkpoint: Checkpoint | None = None, validation_config: Any = None) -> None:
        from streamdata.train.trainer import check_spec

        if datasets is not None and not isinstance(datasets, dict):
            raise TypeError(f"datasets must be a dict of name -> Dataset, got {type(datasets).__name__}")
        if metadata is not None and not isinstance(metadata, dict):
            raise TypeError(f"metadata must be a dict, got {type(metadata).__name__}")
        resolved = {name: ds() if callable(ds) and not hasattr(ds, "_logical_plan") else ds
                    for name, ds in (datasets or {}).items()}
        if backend_config is None and self._default_backend is not None:
            backend_config = self._default_backend()
        self._spec = RunSpec(
            train_fn=train_loop_per_worker, config=train_loop_config, datasets=resolved,
            scaling=_typed("scaling_config", scaling_config, ScalingConfig, ScalingConfig()),
            run=_typed("run_config", run_config, RunConfig, RunConfig()),
            data=_typed("dataset_config", dataset_config, DataConfig, DataConfig()),
            backend=backend_config, resume_from_checkpoint=resume_from_checkpoint, metadata=dict(metadata or {}),
            validation=validation_config)
        check_spec(self._spec)

    @property
    def scaling_config(self) -> ScalingConfig:
        return self._spec.scaling

    @property
    def run_config(self) -> RunConfig:
        return self._spec.run

    def fit(self) -> Result:
        """Run the training to its end; returns the :class:`Result`.

        Raises :class:`~streamdata.errors.TrainingFailedError` (its ``result`` holds the
        metrics and checkpoints reached) when workers fail more often than
        ``run_config.failure_config.max_failures`` allows.
        """
        from streamdata.train.trainer import fit
        return fit(self._spec)

    @classmethod
    def restore(cls, *args: Any, **kwargs: Any) -> DataParallelTrainer:
        """Deprecated in Ray Train (it raises there too): to go on from a run's checkpoint,
        pass ``resume_from_checkpoint=Result.from_path(path).checkpoint`` to a new trainer."""
        raise DeprecationWarning(_RESTORE_DEPRECATED)

    @classmethod
    def can_restore(cls, *args: Any, **kwargs: Any) -> bool:
        """Deprecated in Ray Train (it raises there too); see :meth:`restore`."""
        raise DeprecationWarning(_RESTORE_DEPRECATED)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(num_workers={self._spec.scaling.num_workers}, "
                f"datasets={sorted(self._spec.datasets)})")


__all__ = ["DataParallelTrainer"]
