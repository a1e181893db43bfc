"""``sd.train``: data-parallel training on a group of workers fed by streamdata
datasets, with Ray Train's names and semantics (``from ray import train`` →
``from streamdata import train``).

Driver side: :class:`DataParallelTrainer` and ``streamdata.train.torch.TorchTrainer``
with :class:`ScalingConfig`, :class:`RunConfig` (:class:`FailureConfig`,
:class:`CheckpointConfig`), :class:`DataConfig`; ``fit()`` returns a
:class:`Result`. ``sd.train.run(train_fn, ...)`` is the short form. Inside the
loop: :func:`get_context`, :func:`get_dataset_shard`, :func:`report`,
:func:`get_checkpoint`, :class:`Checkpoint`, and ``train.collective.barrier()`` /
``broadcast_from_rank_zero(data)`` (:mod:`streamdata.train.collective`); framework glue in
``streamdata.train.torch``, ``streamdata.train.huggingface.transformers`` and
``streamdata.train.lightning`` (Accelerate and DeepSpeed run on the process group
the trainer builds, with no glue).

What this package owns: the worker group (actors in a placement group), the
per-worker session, report/checkpoint bookkeeping and retention, restarts,
the torch process group (loopback rendezvous), the CPU split between workers
and the datasets feeding them (no deadlock), and the framework integrations.

Layering: train is a client of the facade and of core. It may import
``streamdata.core.api`` (the public runtime API), ``streamdata.dataset`` /
``streamdata.iterator`` (Dataset, DataIterator, ``shutdown_split``) and
``streamdata.errors``; nothing below train imports it. Heavy libraries (torch,
transformers, lightning, accelerate, deepspeed, pandas) are imported only
inside the functions that use them, so ``import streamdata`` stays fast.

Example:
    >>> import streamdata as sd
    >>> from streamdata import train
    >>> def train_fn():
    ...     shard = train.get_dataset_shard("train")
    ...     train.report({"rows": sum(len(b["id"]) for b in shard.iter_batches())})
    >>> train.run(train_fn, datasets={"train": sd.range(8)}, num_workers=2,
    ...           resources_per_worker={"CPU": 0.5}).metrics
    {'rows': 4}
"""

from __future__ import annotations

from streamdata.errors import ControllerError, NCCLHangError, PreemptionError, TrainingFailedError, WorkerGroupError
from streamdata.train.api_types import (
    TRAIN_DATASET_KEY, BackendConfig, CheckpointConsistencyMode, CheckpointUploadMode, LoggingConfig, PreemptionInfo,
    ReportedCheckpoint, ReportedCheckpointStatus, SyncConfig, get_preemption_info,
)
from streamdata.train import collective, torch
from streamdata.train.callback import UserCallback
from streamdata.train.checkpoint import Checkpoint
from streamdata.train.config import CheckpointConfig, DataConfig, FailureConfig, RunConfig, ScalingConfig
from streamdata.train.data_parallel_trainer import DataParallelTrainer
from streamdata.train.result import Result
from streamdata.train.session import (TrainContext, get_all_reported_checkpoints, get_checkpoint, get_context,
                                      get_dataset_shard, report)
from streamdata.train.trainer import run
from streamdata.train.validation import ValidationConfig, ValidationFn, ValidationTaskConfig

__all__ = ["Checkpoint", "CheckpointConfig", "DataConfig", "DataParallelTrainer", "FailureConfig", "Result",
           "RunConfig", "ScalingConfig", "TrainContext", "TrainingFailedError", "get_checkpoint", "get_context",
           "get_dataset_shard", "report", "run", "torch", "TRAIN_DATASET_KEY", "BackendConfig",
           "CheckpointConsistencyMode", "CheckpointUploadMode", "LoggingConfig", "PreemptionInfo", "ReportedCheckpoint",
           "ReportedCheckpointStatus", "SyncConfig", "get_preemption_info", "ControllerError", "NCCLHangError",
           "PreemptionError", "WorkerGroupError", "UserCallback", "get_all_reported_checkpoints", "ValidationConfig",
           "ValidationFn", "ValidationTaskConfig", "collective"]
