"""torch helpers used inside the training loop (Ray's ``ray.train.torch`` functions):
:func:`get_device`, :func:`prepare_model`, :func:`prepare_data_loader`,
:func:`enable_reproducibility`.

torch is imported only inside these functions.

Example:
    >>> get_device().type
    'cpu'
"""

from __future__ import annotations

import os
import random
from typing import Any, Iterator


def _use_gpu() -> bool:
    from streamdata.train import session
    return session._session is not None and session._session.use_gpu


def _local_mode() -> bool:
    from streamdata.train import session
    return session._session is not None and session._session.local


def get_device() -> Any:
    """The ``torch.device`` this worker trains on: its GPU when the run has
    ``use_gpu=True`` and CUDA is present, else the CPU. In local mode
    (``ScalingConfig(num_workers=0)``) torch's current CUDA device whenever CUDA is
    present (under torchrun: the process's ``LOCAL_RANK``), as Ray's local mode.

    Example:
        >>> str(get_device())
        'cpu'
    """
    import torch

    from streamdata.train.torch.process_group import _local_cuda_index

    if _local_mode():
        return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")
    if _use_gpu() and torch.cuda.is_available():
        return torch.device("cuda", _local_cuda_index())
    return torch.device("cpu")


def get_devices() -> list[Any]:
    """All the devices of this worker (one: see :func:`get_device`).

    Example:
        >>> [d.type for d in get_devices()]
        ['cpu']
    """
    return [get_device()]


def prepare_model(model: Any, move_to_device: bool | Any = True, parallel_strategy: str | None = "ddp",
                  parallel_strategy_kwargs: dict[str, Any] | None = None) -> Any:
    """Move ``model`` to this worker's device and, when the run has more than one
    worker, wrap it in ``DistributedDataParallel`` (gradients are averaged across
    workers on ``backward()``).

    Args:
        model: a ``torch.nn.Module``.
        move_to_device: move the model to :func:`get_device` (or to the device given).
        parallel_strategy: ``"ddp"``, ``"fsdp"`` or None (no wrapping).
        parallel_strategy_kwargs: extra arguments for the wrapper.

    Example (inside the training loop)::

        model = streamdata.train.torch.prepare_model(torch.nn.Linear(4, 1))
    """
    import torch
    import torch.distributed as dist

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"prepare_model expects a torch.nn.Module, got {type(model).__name__}")
    if parallel_strategy not in ("ddp", "fsdp", None):
        raise ValueError(f"prepare_model(parallel_strategy=...) must be 'ddp', 'fsdp' or None, "
                         f"got {parallel_strategy!r}")
    device = move_to_device if isinstance(move_to_device, torch.device) else get_device()
    if move_to_device is not False:
        model = model.to(device)
    if parallel_strategy is None or not (dist.is_available() and dist.is_initialized()):
        return model
    if dist.get_world_size() <= 1:
        return model
    kwargs = dict(parallel_strategy_kwargs or {})
    if parallel_strategy == "fsdp":
        from torch.distributed.fsdp import FullyShardedDataParallel
        return FullyShardedDataParallel(model, **kwargs)
    if device.type == "cuda":
        kwargs.setdefault("device_ids", [device.index])
        kwargs.setdefault("output_device", device.index)
    return torch.nn.parallel.DistributedDataParallel(model, **kwargs)


class _DeviceLoader:
    """A DataLoader whose batches land on a device (attributes go to the loader)."""

    def __init__(self, loader: Any, device: Any) -> None:
        self._loader = loader
        self._device = device

    def __iter__(self) -> Iterator[Any]:
        for batch in self._loader:
            yield _move(batch, self._device)

    def __len__(self) -> int:
        return len(self._loader)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


def _move(batch: Any, device: Any) -> Any:
    import torch

    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: _move(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        moved = [_move(v, device) for v in batch]
        return type(batch)(*moved) if hasattr(batch, "_fields") else type(batch)(moved)
    return batch


def prepare_data_loader(data_loader: Any, add_dist_sampler: bool = True, move_to_device: bool = True,
                        auto_transfer: bool = True) -> Any:
    """Give a ``torch.utils.data.DataLoader`` a ``DistributedSampler`` (each worker
    reads its own part of the data; shuffling kept when the loader shuffled) and
    move its batches to :func:`get_device`.

    Call ``loader.sampler.set_epoch(epoch)`` each epoch to reshuffle, as with torch.

    Example:
        >>> import torch
        >>> loader = torch.utils.data.DataLoader(list(range(4)), batch_size=2)
        >>> [b.tolist() for b in prepare_data_loader(loader)]  # one worker: unchanged
        [[0, 1], [2, 3]]
    """
    import torch
    import torch.distributed as dist
    from torch.utils.data import DataLoader, DistributedSampler, IterableDataset, RandomSampler

    if not isinstance(data_loader, DataLoader):
        raise TypeError(f"prepare_data_loader expects a torch DataLoader, got {type(data_loader).__name__}")
    distributed = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
    if (add_dist_sampler and distributed and not isinstance(data_loader.dataset, IterableDataset)
            and not isinstance(data_loader.sampler, DistributedSampler)):
        shuffle = isinstance(data_loader.sampler, RandomSampler)
        sampler = DistributedSampler(data_loader.dataset, shuffle=shuffle)
        data_loader = DataLoader(
            data_loader.dataset, batch_size=data_loader.batch_size, sampler=sampler,
            num_workers=data_loader.num_workers, collate_fn=data_loader.collate_fn,
            pin_memory=data_loader.pin_memory, drop_last=data_loader.drop_last,
            timeout=data_loader.timeout, worker_init_fn=data_loader.worker_init_fn,
            generator=data_loader.generator, persistent_workers=data_loader.persistent_workers)
    device = get_device()
    if move_to_device and device.type != "cpu":
        return _DeviceLoader(data_loader, device)
    del torch
    return data_loader


def enable_reproducibility(seed: int = 0) -> None:
    """Seed Python, numpy and torch and make torch use deterministic algorithms
    (call at the start of the training loop, before building the model).

    Example:
        >>> import torch
        >>> enable_reproducibility(3); a = torch.rand(2)
        >>> enable_reproducibility(3); bool((a == torch.rand(2)).all())
        True
        >>> torch.use_deterministic_algorithms(False)
    """
    import numpy as np
    import torch

    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"enable_reproducibility(seed=...) must be an int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


__all__ = ["enable_reproducibility", "get_device", "get_devices", "prepare_data_loader", "prepare_model"]
