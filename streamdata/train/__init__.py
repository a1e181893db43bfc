"""``sd.train``: data-parallel training on a group of workers fed by streamdata
datasets (Ray Train's names and semantics).

``sd.train.run(train_fn, datasets={"train": ds}, num_workers=2)`` runs
``train_fn(config)`` on ``num_workers`` actors; each dataset is split once among
them (``streaming_split(num_workers, equal=True)``), so every row goes to exactly
one worker. Inside ``train_fn``: :func:`get_context`, :func:`get_dataset_shard`,
:func:`report`, :func:`get_checkpoint`; with torch installed,
``torch.distributed`` is ready and :func:`streamdata.train.torch.prepare_model`
wraps a model in DDP.

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

from streamdata.train import torch
from streamdata.train.checkpoint import Checkpoint
from streamdata.train.result import Result
from streamdata.train.session import TrainContext, get_checkpoint, get_context, get_dataset_shard, report
from streamdata.train.trainer import run

__all__ = ["Checkpoint", "Result", "TrainContext", "get_checkpoint", "get_context", "get_dataset_shard",
           "report", "run", "torch"]
