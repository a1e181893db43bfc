"""The configuration objects of a training run (Ray Train's names, parameters and defaults).

``ScalingConfig`` (how many workers, with what resources), ``RunConfig`` (name,
storage, failure and checkpoint policy), ``FailureConfig``, ``CheckpointConfig``
and ``DataConfig`` (which datasets are split among the workers). All are
frozen dataclasses that check their arguments when built, so a typo fails
before any process starts.

Example:
    >>> ScalingConfig(num_workers=2).worker_resources()
    {'CPU': 1.0}
    >>> ScalingConfig(num_workers=1, use_gpu=True).worker_resources()
    {'CPU': 1.0, 'GPU': 1.0}
    >>> RunConfig(name="exp").failure_config.max_failures
    0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamdata.train.callback import check_callbacks

_PLACEMENT_STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")


def _check_int(what: str, value: Any, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{what} must be an int >= {minimum}, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class ScalingConfig:
    """How many training workers run, and what each reserves (Ray's ``ScalingConfig``).

    Args:
        num_workers: how many workers run the training loop; 0 runs it in the calling
            process, with no workers (local mode: :mod:`streamdata.train.local_mode`).
        use_gpu: give each worker one GPU (unless ``resources_per_worker`` names
            GPUs); torch then uses nccl and the worker's CUDA device.
        resources_per_worker: each worker's resources (default ``{"CPU": 1}``, plus
            ``{"GPU": 1}`` with ``use_gpu``).
        placement_strategy: the workers' placement group strategy.
        accelerator_type: the accelerator type each worker needs (e.g. ``"A100"``);
            it becomes the resource ``accelerator_type:<type>`` (0.001 per worker),
            as in Ray, so the run fails at once on a machine without it.
        trainer_resources: accepted for compatibility; the driver runs the loop
            controller, so it reserves nothing.
        label_selector: labels the workers' node must have (a dict, or one dict per
            worker); the local runtime's one node must match them.
        use_tpu, topology: TPU workers; need a cluster with TPUs (an error here).
        elastic_resize_monitor_interval_s: how often an elastic run (``num_workers``
            given as ``(min, max)``) looks for more resources; elastic runs need a
            cluster that grows, so ``num_workers`` is an int here.

    Example:
        >>> ScalingConfig(num_workers=2, resources_per_worker={"CPU": 2}).total_resources
        {'CPU': 4.0}
        >>> ScalingConfig(num_workers=-1)
        Traceback (most recent call last):
        ...
        ValueError: ScalingConfig(num_workers=...) must be an int >= 0, got -1
    """

    num_workers: int = 1
    use_gpu: bool = False
    resources_per_worker: dict[str, float] | None = None
    placement_strategy: str = "PACK"
    accelerator_type: str | None = None
    trainer_resources: dict[str, float] | None = None
    label_selector: dict[str, str] | list[dict[str, str]] | None = None
    use_tpu: bool = False
    topology: str | None = None
    elastic_resize_monitor_interval_s: float = 60.0

    def __post_init__(self) -> None:
        if isinstance(self.num_workers, tuple):
            raise NotImplementedError("ScalingConfig(num_workers=(min, max)): elastic training needs a cluster "
                                      "that grows; pass an int here (or use sd.init(backend='ray'))")
        _check_int("ScalingConfig(num_workers=...)", self.num_workers, minimum=0)
        if self.use_tpu or self.topology is not None:
            raise NotImplementedError("ScalingConfig(use_tpu=True / topology=...): TPU workers need a TPU "
                                      "cluster; the local runtime has none")
        selector = self.label_selector
        if selector is not None and not (isinstance(selector, dict) or (
                isinstance(selector, list) and len(selector) == self.num_workers
                and all(isinstance(s, dict) for s in selector))):
            raise TypeError(f"ScalingConfig(label_selector=...) must be a dict of labels, or a list of "
                            f"{self.num_workers} dicts (one per worker), got {selector!r}")
        if (isinstance(self.elastic_resize_monitor_interval_s, bool)
                or not isinstance(self.elastic_resize_monitor_interval_s, (int, float))
                or self.elastic_resize_monitor_interval_s <= 0):
            raise ValueError("ScalingConfig(elastic_resize_monitor_interval_s=...) must be a number > 0, got "
                             f"{self.elastic_resize_monitor_interval_s!r}")
        if not isinstance(self.use_gpu, bool):
            raise TypeError(f"ScalingConfig(use_gpu=...) must be a bool, got {self.use_gpu!r}")
        if self.resources_per_worker is not None:
            if not isinstance(self.resources_per_worker, dict):
                raise TypeError("ScalingConfig(resources_per_worker=...) must be a dict, got "
                                f"{type(self.resources_per_worker).__name__}")
            for key, amount in self.resources_per_worker.items():
                if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount < 0:
                    raise ValueError(f"ScalingConfig(resources_per_worker={{{key!r}: ...}}) must be a "
                                     f"number >= 0, got {amount!r}")
        if self.placement_strategy not in _PLACEMENT_STRATEGIES:
            raise ValueError(f"ScalingConfig(placement_strategy=...) must be one of {_PLACEMENT_STRATEGIES}, "
                             f"got {self.placement_strategy!r}")
        if self.accelerator_type is not None and (not isinstance(self.accelerator_type, str)
                                                  or not self.accelerator_type):
            raise ValueError("ScalingConfig(accelerator_type=...) must be a non-empty str such as 'A100', "
                             f"got {self.accelerator_type!r}")

    def worker_resources(self) -> dict[str, float]:
        """What one worker reserves.

        Example:
            >>> ScalingConfig(use_gpu=True, accelerator_type="A100").worker_resources()
            {'CPU': 1.0, 'GPU': 1.0, 'accelerator_type:A100': 0.001}
        """
        if self.resources_per_worker is None:
            res = {"CPU": 1.0}
        else:
            res = {k: float(v) for k, v in self.resources_per_worker.items()}
        if self.use_gpu and res.get("GPU", 0.0) == 0.0:
            res["GPU"] = 1.0
        if self.accelerator_type is not None:
            res[f"accelerator_type:{self.accelerator_type}"] = 0.001
        return res

    @property
    def total_resources(self) -> dict[str, float]:
        """What all the workers reserve together."""
        return {k: v * self.num_workers for k, v in self.worker_resources().items()}

    @property
    def num_cpus_per_worker(self) -> float:
        """CPUs each worker reserves.

        Example:
            >>> ScalingConfig(resources_per_worker={"CPU": 2, "acc": 1}).num_cpus_per_worker
            2.0
        """
        return self.worker_resources().get("CPU", 0.0)

    @property
    def num_gpus_per_worker(self) -> float:
        """GPUs each worker reserves."""
        return self.worker_resources().get("GPU", 0.0)

    @property
    def num_tpus_per_worker(self) -> float:
        """TPUs each worker reserves."""
        return self.worker_resources().get("TPU", 0.0)

    @property
    def additional_resources_per_worker(self) -> dict[str, float]:
        """Each worker's resources other than CPU, GPU, TPU and memory.

        Example:
            >>> ScalingConfig(resources_per_worker={"CPU": 1, "acc": 1}).additional_resources_per_worker
            {'acc': 1.0}
        """
        return {k: v for k, v in self.worker_resources().items() if k not in ("CPU", "GPU", "TPU", "memory")}

    @property
    def min_workers(self) -> int:
        """The fewest workers of the run (``num_workers``: runs are not elastic here)."""
        return self.num_workers

    @property
    def max_workers(self) -> int:
        """The most workers of the run (``num_workers``: runs are not elastic here)."""
        return self.num_workers

    @property
    def elasticity_enabled(self) -> bool:
        """Whether the worker count may change during the run (never here)."""
        return False

    def bundle_label_selectors(self) -> list[dict[str, str]] | None:
        """``label_selector`` as one dict per worker (None when unset)."""
        if self.label_selector is None:
            return None
        if isinstance(self.label_selector, dict):
            return [dict(self.label_selector) for _ in range(self.num_workers)]
        return [dict(s) for s in self.label_selector]


#: the default of Ray's deprecated config fields: any other value is an error (as in Ray Train)
DEPRECATED = "DEPRECATED"


def _reject_deprecated(owner: str, obj: Any, names: tuple[str, ...], why: str) -> None:
    for name in names:
        if getattr(obj, name) != DEPRECATED:
            raise DeprecationWarning(f"{owner}({name}=...) is deprecated in Ray Train and not supported: {why}")


@dataclass(frozen=True, kw_only=True)
class FailureConfig:
    """How many worker-group failures a run recovers from (Ray's ``FailureConfig``).

    Args:
        max_failures: restarts allowed (from the latest checkpoint); ``-1``: no limit.
        controller_failure_limit: failures of the run's controller allowed (``-1``:
            no limit); the controller is the driver's loop here, which fails only
            with the driver.
        max_preemption_failures, relax_collectives_on_preemption, preemption_grace_s:
            how a run handles preempted (spot) nodes; one local machine is never
            preempted, so they are checked and have no effect.
        fail_fast: deprecated in Ray Train (an error if set).

    Example:
        >>> FailureConfig(max_failures=-1).max_failures
        -1
    """

    max_failures: int = 0
    fail_fast: bool | str = DEPRECATED
    controller_failure_limit: int = -1
    max_preemption_failures: int = -1
    relax_collectives_on_preemption: bool = False
    preemption_grace_s: float = 0.0

    def __post_init__(self) -> None:
        _check_int("FailureConfig(max_failures=...)", self.max_failures, minimum=-1)
        _reject_deprecated("FailureConfig", self, ("fail_fast",), "use max_failures=0 to stop at the first failure")
        _check_int("FailureConfig(controller_failure_limit=...)", self.controller_failure_limit, minimum=-1)
        _check_int("FailureConfig(max_preemption_failures=...)", self.max_preemption_failures, minimum=-1)
        if not isinstance(self.relax_collectives_on_preemption, bool):
            raise TypeError("FailureConfig(relax_collectives_on_preemption=...) must be a bool, got "
                            f"{self.relax_collectives_on_preemption!r}")
        if (isinstance(self.preemption_grace_s, bool) or not isinstance(self.preemption_grace_s, (int, float))
                or self.preemption_grace_s < 0):
            raise ValueError(f"FailureConfig(preemption_grace_s=...) must be a number >= 0, got "
                             f"{self.preemption_grace_s!r}")


@dataclass(frozen=True, kw_only=True)
class CheckpointConfig:
    """Which reported checkpoints are kept (Ray's ``CheckpointConfig``).

    Args:
        num_to_keep: keep this many (the best by ``checkpoint_score_attribute``, or
            the latest when no attribute is set); the latest checkpoint is always
            kept too, for recovery. None keeps all.
        checkpoint_score_attribute: the reported metric that ranks checkpoints.
        checkpoint_score_order: ``"max"`` (higher is better) or ``"min"``.

    Example:
        >>> CheckpointConfig(num_to_keep=2, checkpoint_score_attribute="loss",
        ...                  checkpoint_score_order="min").num_to_keep
        2
    """

    num_to_keep: int | None = None
    checkpoint_score_attribute: str | None = None
    checkpoint_score_order: str = "max"
    checkpoint_frequency: int | None | str = DEPRECATED
    checkpoint_at_end: bool | None | str = DEPRECATED

    def __post_init__(self) -> None:
        _reject_deprecated("CheckpointConfig", self, ("checkpoint_frequency", "checkpoint_at_end"),
                           "the training loop decides when to checkpoint (train.report(..., checkpoint=...))")
        if self.num_to_keep is not None:
            _check_int("CheckpointConfig(num_to_keep=...)", self.num_to_keep, minimum=1)
        if self.checkpoint_score_attribute is not None and not isinstance(self.checkpoint_score_attribute, str):
            raise TypeError("CheckpointConfig(checkpoint_score_attribute=...) must be a metric name (str), got "
                            f"{self.checkpoint_score_attribute!r}")
        if self.checkpoint_score_order not in ("max", "min"):
            raise ValueError("CheckpointConfig(checkpoint_score_order=...) must be 'max' or 'min', got "
                             f"{self.checkpoint_score_order!r}")


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Where a run stores its results and how it handles failures and checkpoints.

    Args:
        name: the run's directory name under ``storage_path`` (default: a new unique
            name ``sd_train_<time>_<id>``).
        storage_path: where the run's directory is created (default: a new temporary
            directory; Ray's default is ``~/ray_results``).
        failure_config: see :class:`FailureConfig`.
        checkpoint_config: see :class:`CheckpointConfig`.
        storage_filesystem: a ``pyarrow.fs.FileSystem`` for ``storage_path`` (only the
            local filesystem is supported here: None or a ``LocalFileSystem``).
        callbacks: :class:`~streamdata.train.UserCallback` objects called on the driver
            after each report and after worker failures (Ray Tune callbacks are refused,
            as Ray Train V2 does).
        worker_runtime_env, logging_config: accepted as in Ray;
            ``worker_runtime_env`` may hold ``{"env_vars": {...}}`` for the workers.
        sync_config, verbose, stop, progress_reporter, log_to_file: deprecated in Ray
            Train (an error if set).

    Example:
        >>> RunConfig(failure_config=FailureConfig(max_failures=2)).failure_config.max_failures
        2
    """

    name: str | None = None
    storage_path: str | None = None
    failure_config: FailureConfig | None = None
    checkpoint_config: CheckpointConfig | None = None
    callbacks: list[Any] | None = None
    worker_runtime_env: dict[str, Any] | None = None
    logging_config: Any = None
    storage_filesystem: Any = None
    sync_config: Any = DEPRECATED
    verbose: Any = DEPRECATED
    stop: Any = DEPRECATED
    progress_reporter: Any = DEPRECATED
    log_to_file: Any = DEPRECATED

    def __post_init__(self) -> None:
        import os

        _reject_deprecated("RunConfig", self, ("sync_config", "verbose", "stop", "progress_reporter", "log_to_file"),
                           "Ray Train V2 removed them (Ray Tune has its own)")
        if self.storage_filesystem is not None and type(self.storage_filesystem).__name__ != "LocalFileSystem":
            raise NotImplementedError("RunConfig(storage_filesystem=...) supports only pyarrow's LocalFileSystem "
                                      f"here, got {type(self.storage_filesystem).__name__}")

        if self.name is not None and (not isinstance(self.name, str) or not self.name
                                      or os.sep in self.name):
            raise ValueError(f"RunConfig(name=...) must be a non-empty directory name, got {self.name!r}")
        if self.storage_path is not None and not isinstance(self.storage_path, (str, os.PathLike)):
            raise TypeError(f"RunConfig(storage_path=...) must be a path, got {type(self.storage_path).__name__}")
        if self.failure_config is None:
            object.__setattr__(self, "failure_config", FailureConfig())
        elif not isinstance(self.failure_config, FailureConfig):
            raise TypeError("RunConfig(failure_config=...) must be a FailureConfig, got "
                            f"{type(self.failure_config).__name__}")
        if self.checkpoint_config is None:
            object.__setattr__(self, "checkpoint_config", CheckpointConfig())
        elif not isinstance(self.checkpoint_config, CheckpointConfig):
            raise TypeError("RunConfig(checkpoint_config=...) must be a CheckpointConfig, got "
                            f"{type(self.checkpoint_config).__name__}")
        object.__setattr__(self, "callbacks", check_callbacks(self.callbacks))
        env = self.worker_runtime_env
        if env is not None and (not isinstance(env, dict) or set(env) - {"env_vars"}):
            raise NotImplementedError("RunConfig(worker_runtime_env=...) supports only {'env_vars': {...}}, "
                                      f"got {env!r}")


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    """Which datasets are split among the workers (Ray's ``DataConfig``).

    A split dataset is cut into ``num_workers`` shards of one streaming execution
    (each row reaches one worker); any other dataset is read whole by every worker.

    Args:
        datasets_to_split: ``"all"`` or a list of dataset names.
        execution_options: the ``ExecutionOptions`` of the split datasets' executions
            (one for all, or a dict by dataset name; default
            :meth:`default_ingest_options`). A dataset read whole by every worker runs
            in that worker, with its own ``DataContext``.
        enable_shard_locality: accepted as in Ray (one machine: no effect).

    Example:
        >>> DataConfig(datasets_to_split=["train"]).splits("valid")
        False
    """

    datasets_to_split: str | list[str] = "all"
    execution_options: Any = None
    enable_shard_locality: bool = True

    def __post_init__(self) -> None:
        split = self.datasets_to_split
        if split != "all" and not (isinstance(split, (list, tuple)) and all(isinstance(s, str) for s in split)):
            raise TypeError(f"DataConfig(datasets_to_split=...) must be 'all' or a list of dataset names, "
                            f"got {split!r}")
        from streamdata.context_options import ExecutionOptions

        options = self.execution_options
        values = options.values() if isinstance(options, dict) else [options]
        if options is not None and not all(isinstance(o, ExecutionOptions) for o in values):
            raise TypeError("DataConfig(execution_options=...) must be an ExecutionOptions or a dict of dataset "
                            f"name -> ExecutionOptions, got {options!r}")

    def options_for(self, name: str) -> Any:
        """The execution options of the dataset ``name``'s split execution.

        Example:
            >>> from streamdata.context_options import ExecutionOptions
            >>> DataConfig(execution_options={"train": ExecutionOptions(preserve_order=True)}).options_for(
            ...     "train").preserve_order
            True
        """
        options = self.execution_options
        if isinstance(options, dict):
            options = options.get(name)
        return options if options is not None else self.default_ingest_options()

    def splits(self, name: str) -> bool:
        """Whether the dataset ``name`` is split among the workers."""
        return self.datasets_to_split == "all" or name in self.datasets_to_split

    @staticmethod
    def default_ingest_options() -> Any:
        """The execution options of the datasets a run feeds its workers: those of
        ``DataContext.get_current().execution_options`` (resource limits, excluded
        resources, order, verbosity), as Ray's.

        Example:
            >>> DataConfig.default_ingest_options().preserve_order
            False
        """
        from streamdata.context import DataContext
        from streamdata.context_options import ExecutionOptions

        current = DataContext.get_current().execution_options
        return ExecutionOptions(resource_limits=current.resource_limits, exclude_resources=current.exclude_resources,
                                preserve_order=current.preserve_order, verbose_progress=current.verbose_progress)

    def configure(self, datasets: dict[str, Any], world_size: int, worker_handles: list[Any] | None,
                  worker_node_ids: list[str] | None, **kwargs: Any) -> list[dict[str, Any]]:
        """Each worker's dataset iterators, by dataset name: a split dataset is cut with
        ``streaming_split(world_size, equal=True)`` (worker ``i`` gets split ``i``), any
        other is read whole by every worker. The run calls this once per worker group;
        override it (as in Ray) to feed the workers differently.

        Args:
            datasets: the trainer's ``datasets``.
            world_size: how many workers.
            worker_handles: the workers' actor handles (world-rank order).
            worker_node_ids: the workers' nodes (one machine: not used).
            **kwargs: accepted for compatibility.

        Returns:
            ``world_size`` dicts: worker ``i``'s iterators by dataset name.
        """
        from streamdata.context import DataContext

        out: list[dict[str, Any]] = [{} for _ in range(world_size)]
        ctx = DataContext.get_current()
        for name, ds in datasets.items():
            if self.splits(name):
                saved, ctx.execution_options = ctx.execution_options, self.options_for(name)
                try:  # the split's execution takes the context as it is now
                    splits = ds.streaming_split(world_size, equal=True)
                finally:
                    ctx.execution_options = saved
                for i, split in enumerate(splits):
                    out[i][name] = split
            else:
                for i in range(world_size):
                    out[i][name] = ds.iterator()
        return out


@dataclass(frozen=True, kw_only=True)
class RunSpec:
    """Everything one ``fit()`` needs, checked (built by the trainers, read by the run loop)."""

    train_fn: Any
    config: dict[str, Any] | None
    datasets: dict[str, Any]
    scaling: ScalingConfig
    run: RunConfig
    data: DataConfig
    backend: Any = None  # a TorchConfig, or None for no process group
    resume_from_checkpoint: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)
    extra_env: dict[str, str] = field(default_factory=dict)
    validation: Any = None  # a ValidationConfig, or None


__all__ = ["CheckpointConfig", "DataConfig", "FailureConfig", "RunConfig", "RunSpec", "ScalingConfig"]
