"""Local mode: ``ScalingConfig(num_workers=0)`` runs the training function in the calling
process, with no worker actors (Ray Train V2's local mode).

The ``train`` functions answer as for one worker: ``get_context()`` is rank 0 of 1
(``get_storage()`` raises ``NotImplementedError``, as Ray's), ``get_dataset_shard(name)``
is the dataset passed to the trainer, whole; ``report`` keeps the last metrics and
checkpoint in memory (nothing is copied to storage; the upload mode, upload function,
validation and deletion arguments are ignored, as Ray ignores them), ``get_checkpoint()``
is the last reported checkpoint, ``get_all_reported_checkpoints()`` is ``[]``. Failure
policies and ``RunConfig(callbacks=...)`` do not apply; the loop's exception propagates.

Under ``torchrun`` (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``,
``MASTER_ADDR`` and ``MASTER_PORT`` set) a ``TorchTrainer`` joins torchrun's process group
(nccl with CUDA, else gloo; its CUDA device is ``LOCAL_RANK``'s) and the context reports
torchrun's ranks; datasets are then refused, as Ray refuses them. ``train.torch.get_device()``
is torch's current CUDA device when CUDA is present, else the CPU.

Example:
    >>> from streamdata import train
    >>> from streamdata.train.torch import TorchTrainer
    >>> def loop(config):
    ...     ctx = train.get_context()
    ...     train.report({"lr": config["lr"], "world": ctx.get_world_size()})
    ...     return "done"
    >>> result = TorchTrainer(loop, train_loop_config={"lr": 0.1},
    ...                       scaling_config=train.ScalingConfig(num_workers=0)).fit()
    >>> result.metrics, result.return_value, result.path
    ({'lr': 0.1, 'world': 1}, 'done', None)
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from streamdata.train import session as session_mod
from streamdata.train.checkpoint import Checkpoint
from streamdata.train.config import RunSpec
from streamdata.train.result import Result
from streamdata.train.session import TrainContext, TrainSession
from streamdata.train.worker_group import call_train_fn

logger = logging.getLogger(__name__)

#: the variables ``torch.distributed.init_process_group(init_method="env://")`` reads, as torchrun sets them
TORCHRUN_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalTrainContext(TrainContext):
    """The context of a local-mode run: a run with no storage of its own."""

    def get_storage(self) -> Any:
        raise NotImplementedError("get_storage(): a local-mode run (ScalingConfig(num_workers=0)) has no "
                                  "storage context; checkpoints stay where they were reported")


@dataclass(kw_only=True)
class LocalSession(TrainSession):
    """The session of a local-mode run: reports stay in memory."""

    local: ClassVar[bool] = True
    last_metrics: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def report(self, metrics: dict[str, Any], checkpoint: Checkpoint | None = None,
               checkpoint_dir_name: str | None = None,
               upload_fn: Callable[[Checkpoint, str], Checkpoint] | None = None,
               delete_local: bool = False, validation: Any = False) -> None:
        if not isinstance(metrics, dict):
            raise TypeError(f"report() takes a dict of metrics, got {type(metrics).__name__}")
        if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
            raise TypeError("report(checkpoint=...) takes a streamdata.train.Checkpoint, "
                            f"got {type(checkpoint).__name__}")
        self.last_metrics = metrics
        self.history.append(dict(metrics))
        self.checkpoint = checkpoint
        logger.info("Reported metrics: %s", metrics)

    def get_all_reported_checkpoints(self, timeout_s: float | None) -> list[Any]:
        return []


def has_torchrun_env() -> bool:
    """Whether this process was started by ``torchrun`` (its rendezvous variables are set).

    Example:
        >>> has_torchrun_env() == all(name in os.environ for name in TORCHRUN_ENV)
        True
    """
    return all(name in os.environ for name in TORCHRUN_ENV)


def _join_torchrun(spec: RunSpec) -> tuple[int, int, int, int, int] | None:
    """Join torchrun's process group (a ``TorchTrainer`` under torchrun only); returns
    (world_size, world_rank, local_rank, local_world_size, node_rank), or None."""
    from streamdata.train.torch.process_group import TorchConfig

    if not isinstance(spec.backend, TorchConfig) or not has_torchrun_env():
        return None
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        raise RuntimeError("local mode under torchrun: torch.distributed is already initialized")
    backend = spec.backend.backend or ("nccl" if torch.cuda.is_available() else "gloo")
    dist.init_process_group(backend=backend)
    local_rank = int(os.environ["LOCAL_RANK"])
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
    local_world_size = int(os.environ["LOCAL_WORLD_SIZE"])
    rank = dist.get_rank()
    return dist.get_world_size(), rank, local_rank, local_world_size, rank // local_world_size


def run_local(spec: RunSpec) -> Result:
    """Run ``spec``'s training function here, once (what ``fit()`` does with
    ``num_workers=0``); its exception propagates."""
    ranks = _join_torchrun(spec)
    try:
        world_size, world_rank, local_rank, local_world_size, node_rank = ranks or (1, 0, 0, 1, 0)
        if world_size != 1 and spec.datasets:
            raise ValueError("datasets are not supported in local mode with several processes (torchrun): "
                             "load data with torch's DataLoader and DistributedSampler instead")
        context = LocalTrainContext(world_rank=world_rank, world_size=world_size, local_rank=local_rank,
                                    local_world_size=local_world_size, node_rank=node_rank,
                                    experiment_name=spec.run.name or "", metadata=dict(spec.metadata))
        session = LocalSession(context=context, run_dir="", datasets=dict(spec.datasets),
                               checkpoint=spec.resume_from_checkpoint, use_gpu=spec.scaling.use_gpu,
                               validation_enabled=spec.validation is not None)
        previous = session_mod._session
        session_mod.set_session(session)
        try:
            returned = call_train_fn(spec.train_fn, spec.config)
        finally:
            session_mod.set_session(previous)
    finally:
        if ranks is not None:
            import torch.distributed as dist
            if dist.is_initialized():
                dist.destroy_process_group()
    return Result(metrics=session.last_metrics, metrics_history=session.history, checkpoint=session.checkpoint,
                  error=None, path=None, config=spec.config, return_value=returned)


__all__ = ["LocalSession", "LocalTrainContext", "TORCHRUN_ENV", "has_torchrun_env", "run_local"]
