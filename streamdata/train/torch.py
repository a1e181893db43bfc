"""torch helpers for ``sd.train`` (Ray Train's ``ray.train.torch``).

``sd.train.run`` initialises ``torch.distributed`` in every worker when torch is
installed (gloo on CPU, nccl when ``use_gpu`` and CUDA is present), with the
rendezvous at ``MASTER_ADDR=127.0.0.1`` and a port the driver chose, and
destroys the process group at the end. Inside ``train_fn``:
:func:`prepare_model` moves a model to the worker's device and wraps it in
``DistributedDataParallel`` when there is more than one worker;
:func:`get_device` is that device.

torch is imported only inside these functions.

Example:
    >>> from streamdata.train.torch import choose_backend
    >>> choose_backend(use_gpu=False, cuda_available=True)
    'gloo'
"""

from __future__ import annotations

import datetime
import os
import socket
from typing import Any

#: how long ``init_process_group`` waits for every worker to join
DEFAULT_INIT_TIMEOUT_S = 300.0


def torch_installed() -> bool:
    """Whether torch can be imported (without importing it)."""
    import importlib.util
    return importlib.util.find_spec("torch") is not None


def choose_backend(*, use_gpu: bool, cuda_available: bool) -> str:
    """``"nccl"`` when training on GPUs with CUDA present, else ``"gloo"``.

    Example:
        >>> choose_backend(use_gpu=True, cuda_available=True)
        'nccl'
    """
    return "nccl" if use_gpu and cuda_available else "gloo"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (the OS picks it).

    Example:
        >>> 0 < free_port() < 65536
        True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _local_cuda_index() -> int:
    """The CUDA device index of this worker's first assigned GPU, as this process sees it."""
    from streamdata.core import api as rt

    gpu_ids = [str(g) for g in rt.get_gpu_ids()]
    visible = [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    if gpu_ids and gpu_ids[0] in visible:
        return visible.index(gpu_ids[0])
    if gpu_ids and not visible:
        return int(gpu_ids[0])
    return 0


def setup_process_group(*, rank: int, world_size: int, local_rank: int, local_world_size: int,
                        master_port: int, use_gpu: bool, master_addr: str = "127.0.0.1",
                        timeout_s: float = DEFAULT_INIT_TIMEOUT_S) -> str:
    """Initialise ``torch.distributed`` in this worker; returns the backend used.

    Sets the environment torch's launchers set (``MASTER_ADDR``, ``MASTER_PORT``,
    ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``) and blocks
    until every worker joined (at most ``timeout_s``).
    """
    import torch
    import torch.distributed as dist

    os.environ.update({
        "MASTER_ADDR": master_addr, "MASTER_PORT": str(master_port), "RANK": str(rank),
        "WORLD_SIZE": str(world_size), "LOCAL_RANK": str(local_rank),
        "LOCAL_WORLD_SIZE": str(local_world_size),
    })
    cuda = bool(use_gpu and torch.cuda.is_available())
    backend = choose_backend(use_gpu=use_gpu, cuda_available=cuda)
    if cuda:
        torch.cuda.set_device(_local_cuda_index())
    if dist.is_initialized():
        dist.destroy_process_group()
    dist.init_process_group(backend=backend, init_method="env://", rank=rank, world_size=world_size,
                            timeout=datetime.timedelta(seconds=timeout_s))
    return backend


def teardown_process_group() -> None:
    """Destroy this worker's process group, if any."""
    import sys
    if "torch" not in sys.modules:
        return
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def get_device() -> Any:
    """The ``torch.device`` this worker trains on: its GPU when the run has
    ``use_gpu=True`` and CUDA is present, else the CPU.

    Example:
        >>> get_device().type
        'cpu'
    """
    import torch

    from streamdata.train import session

    use_gpu = session._session is not None and session._session.use_gpu
    if use_gpu and torch.cuda.is_available():
        return torch.device("cuda", _local_cuda_index())
    return torch.device("cpu")


def prepare_model(model: Any, *, move_to_device: bool = True, parallel_strategy: str | None = "ddp",
                  parallel_strategy_kwargs: dict[str, Any] | None = None) -> Any:
    """Move ``model`` to this worker's device and, when the run has more than one
    worker, wrap it in ``DistributedDataParallel`` (gradients are averaged across
    workers on ``backward()``).

    Args:
        model: a ``torch.nn.Module``.
        move_to_device: move the model to :func:`get_device` first.
        parallel_strategy: ``"ddp"`` or None (no wrapping).
        parallel_strategy_kwargs: extra arguments for ``DistributedDataParallel``.

    Example (inside ``train_fn``)::

        model = sd.train.torch.prepare_model(torch.nn.Linear(4, 1))
    """
    import torch
    import torch.distributed as dist

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"prepare_model expects a torch.nn.Module, got {type(model).__name__}")
    if parallel_strategy not in ("ddp", None):
        raise ValueError(f"parallel_strategy must be 'ddp' or None, got {parallel_strategy!r}")
    device = get_device()
    if move_to_device:
        model = model.to(device)
    if parallel_strategy is None or not (dist.is_available() and dist.is_initialized()):
        return model
    if dist.get_world_size() <= 1:
        return model
    kwargs = dict(parallel_strategy_kwargs or {})
    if device.type == "cuda":
        kwargs.setdefault("device_ids", [device.index])
    return torch.nn.parallel.DistributedDataParallel(model, **kwargs)


__all__ = ["choose_backend", "free_port", "get_device", "prepare_model", "setup_process_group",
           "teardown_process_group", "torch_installed"]
