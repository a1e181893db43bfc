"""``TorchTrainer``: a :class:`~streamdata.train.DataParallelTrainer` whose workers
share a ``torch.distributed`` process group (Ray's ``ray.train.torch.TorchTrainer``).

Example:
    >>> import streamdata as sd
    >>> from streamdata import train
    >>> from streamdata.train.torch import TorchTrainer
    >>> def loop():
    ...     import torch.distributed as dist
    ...     train.report({"world": dist.get_world_size(), "backend": dist.get_backend()})
    >>> TorchTrainer(loop, scaling_config=train.ScalingConfig(
    ...     num_workers=2, resources_per_worker={"CPU": 0.5})).fit().metrics
    {'world': 2, 'backend': 'gloo'}
"""

from __future__ import annotations

from typing import Any, Callable

from streamdata.train.checkpoint import Checkpoint
from streamdata.train.config import DataConfig, RunConfig, ScalingConfig
from streamdata.train.data_parallel_trainer import DataParallelTrainer
from streamdata.train.torch.process_group import TorchConfig


class TorchTrainer(DataParallelTrainer):
    """Data-parallel torch training (see :class:`~streamdata.train.DataParallelTrainer`).

    Args:
        torch_config: how the process group is set up (default ``TorchConfig()``:
            gloo on CPU, nccl with ``ScalingConfig(use_gpu=True)`` and CUDA).
        validation_config: how reported checkpoints are validated beside the training
            (:mod:`streamdata.train.validation`).
        The other arguments are :class:`~streamdata.train.DataParallelTrainer`'s.
    """

    def __init__(self, train_loop_per_worker: Callable[..., Any], *, train_loop_config: dict[str, Any] | None = None,
                 torch_config: TorchConfig | None = None, scaling_config: ScalingConfig | None = None,
                 run_config: RunConfig | None = None, datasets: dict[str, Any] | None = None,
                 dataset_config: DataConfig | None = None, validation_config: Any = None,
                 metadata: dict[str, Any] | None = None, resume_from_checkpoint: Checkpoint | None = None) -> None:
        if torch_config is not None and not isinstance(torch_config, TorchConfig):
            raise TypeError("torch_config must be a streamdata.train.torch.TorchConfig, got "
                            f"{type(torch_config).__name__}")
        super().__init__(train_loop_per_worker, train_loop_config=train_loop_config,
                         backend_config=torch_config or TorchConfig(), scaling_config=scaling_config,
                         dataset_config=dataset_config, run_config=run_config, datasets=datasets,
                         metadata=metadata, resume_from_checkpoint=resume_from_checkpoint,
                         validation_config=validation_config)


__all__ = ["TorchTrainer"]
