"""``TorchConfig`` and the ``torch.distributed`` process group of a training run.

The trainer sets the group up in every worker before the training loop starts
and destroys it at the end: gloo on CPU, nccl when the run uses GPUs and CUDA
is present (``TorchConfig(backend=...)`` overrides). The rendezvous store is a
``TCPStore`` that rank 0 opens on a socket bound to ``127.0.0.1`` (torch's own
``env://`` store listens on every interface), and gloo's connections stay on the
loopback interface too, unless the workers span several machines. The
environment torch's launchers set (``MASTER_ADDR``, ``MASTER_PORT``, ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``NODE_RANK``) is set as
well, so Accelerate, Lightning and Transformers find the group.

torch is imported only inside functions.

Example:
    >>> choose_backend(TorchConfig(), use_gpu=False, cuda_available=True)
    'gloo'
    >>> choose_backend(TorchConfig(), use_gpu=True, cuda_available=True)
    'nccl'
"""

from __future__ import annotations

import datetime
import os
import socket
from dataclasses import dataclass
from typing import Any

from streamdata.train.backend import Backend, BackendConfig, TrainingFramework

#: the address every single-machine rendezvous uses
LOOPBACK = "127.0.0.1"

_store: Any = None  # rank 0 keeps its TCPStore alive for the whole run


@dataclass(frozen=True, kw_only=True)
class TorchConfig(BackendConfig):
    """How the trainer sets ``torch.distributed`` up (Ray's ``TorchConfig``).

    Args:
        backend: ``"gloo"``, ``"nccl"`` (GPUs) or None (nccl with GPUs, else gloo).
        init_method: ``"env"`` (the only one: the trainer runs the rendezvous store).
        timeout_s: how long collectives and the rendezvous wait.

    Example:
        >>> TorchConfig(backend="nccl").backend
        'nccl'
        >>> TorchConfig(backend="mpi")
        Traceback (most recent call last):
        ...
        ValueError: TorchConfig(backend=...) must be 'gloo', 'nccl' or None, got 'mpi'
    """

    backend: str | None = None
    init_method: str = "env"
    timeout_s: int = 1800

    def __post_init__(self) -> None:
        if self.backend not in (None, "gloo", "nccl"):
            raise ValueError(f"TorchConfig(backend=...) must be 'gloo', 'nccl' or None, got {self.backend!r}")
        if self.init_method not in ("env", "tcp"):
            raise ValueError(f"TorchConfig(init_method=...) must be 'env' or 'tcp', got {self.init_method!r}")
        if isinstance(self.timeout_s, bool) or not isinstance(self.timeout_s, (int, float)) or self.timeout_s <= 0:
            raise ValueError(f"TorchConfig(timeout_s=...) must be a positive number, got {self.timeout_s!r}")

    @property
    def backend_cls(self) -> type[Backend]:
        """:class:`TorchBackend`: builds the process group on the workers."""
        return TorchBackend

    @property
    def train_func_context(self) -> Any:
        """:class:`TorchConfigContextManager` (sets the worker's CUDA device, if any)."""
        return TorchConfigContextManager

    @property
    def framework(self) -> TrainingFramework:
        return TrainingFramework.TORCH

    def to_dict(self) -> dict[str, Any]:
        """``{"backend": ..., "init_method": ..., "timeout_s": ...}``.

        Example:
            >>> TorchConfig(backend="gloo").to_dict()
            {'backend': 'gloo', 'init_method': 'env', 'timeout_s': 1800}
        """
        return {"backend": self.backend, "init_method": self.init_method, "timeout_s": self.timeout_s}


class TorchBackend(Backend):
    """``TorchConfig``'s backend: ``on_start`` joins every worker to the run's
    ``torch.distributed`` group (rendezvous on rank 0, see the module docstring);
    ``on_shutdown`` destroys it."""

    def on_start(self, worker_group: Any, backend_config: BackendConfig) -> None:
        worker_group.setup_torch(config=backend_config, use_gpu=worker_group.use_gpu)

    def on_shutdown(self, worker_group: Any, backend_config: BackendConfig) -> None:
        worker_group.execute(teardown_process_group)


class TorchConfigContextManager:
    """What the training function runs inside with a ``TorchConfig``: the worker's CUDA
    device becomes torch's current device when the worker has one (no-op on CPU)."""

    def __enter__(self) -> None:
        import torch

        from streamdata.train import session

        current = session._session
        if current is not None and current.use_gpu and torch.cuda.is_available():
            torch.cuda.set_device(_local_cuda_index())  # the device get_device() returns

    def __exit__(self, *exc: Any) -> bool:
        return False


def torch_installed() -> bool:
    """Whether torch can be imported (without importing it)."""
    import importlib.util
    return importlib.util.find_spec("torch") is not None


def choose_backend(config: TorchConfig, *, use_gpu: bool, cuda_available: bool) -> str:
    """The backend of a run: the configured one, else nccl on GPUs with CUDA, else gloo.

    Raises ``RuntimeError`` when nccl is asked for without CUDA (as torch would, later
    and less clearly).

    Example:
        >>> choose_backend(TorchConfig(backend="gloo"), use_gpu=True, cuda_available=True)
        'gloo'
    """
    backend = config.backend or ("nccl" if use_gpu and cuda_available else "gloo")
    if backend == "nccl" and not cuda_available:
        raise RuntimeError("TorchConfig(backend='nccl') needs CUDA GPUs, but torch.cuda.is_available() is "
                           "False in the training worker; use backend='gloo' or run where GPUs are")
    return backend


def loopback_interface() -> str | None:
    """The name of the network interface holding 127.0.0.1 (e.g. ``lo``), if any."""
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a dependency of the runtime
        return None
    for name, addrs in psutil.net_if_addrs().items():
        if any(getattr(a, "address", None) == LOOPBACK for a in addrs):
            return name
    return None


def start_store(*, world_size: int, timeout_s: float) -> int:
    """Rank 0: open the rendezvous ``TCPStore`` on a socket bound to 127.0.0.1; returns its port."""
    global _store
    import torch.distributed as dist

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((LOOPBACK, 0))
    sock.listen(128)
    port = int(sock.getsockname()[1])
    _store = dist.TCPStore(LOOPBACK, port, world_size, True, timeout=datetime.timedelta(seconds=timeout_s),
                           wait_for_workers=False, master_listen_fd=sock.detach())
    return port


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


def setup_process_group(*, rank: int, world_size: int, local_rank: int, local_world_size: int, node_rank: int,
                        master_addr: str, master_port: int, use_gpu: bool, config: TorchConfig,
                        multi_node: bool = False) -> str:
    """Join this worker to the run's process group; returns the backend used.

    Rank 0 must have called :func:`start_store` (its store serves ``master_port``).
    """
    import torch
    import torch.distributed as dist

    os.environ.update({
        "MASTER_ADDR": master_addr, "MASTER_PORT": str(master_port), "RANK": str(rank),
        "WORLD_SIZE": str(world_size), "LOCAL_RANK": str(local_rank),
        "LOCAL_WORLD_SIZE": str(local_world_size), "NODE_RANK": str(node_rank),
    })
    if not multi_node and "GLOO_SOCKET_IFNAME" not in os.environ:
        ifname = loopback_interface()
        if ifname is not None:
            os.environ["GLOO_SOCKET_IFNAME"] = ifname
    cuda = torch.cuda.is_available()
    backend = choose_backend(config, use_gpu=use_gpu, cuda_available=cuda)
    if use_gpu and cuda:
        torch.cuda.set_device(_local_cuda_index())
    if dist.is_initialized():
        dist.destroy_process_group()
    timeout = datetime.timedelta(seconds=config.timeout_s)
    if rank == 0:
        if _store is None:
            raise RuntimeError("rank 0 joins the process group before it started the rendezvous store")
        store = _store
    else:
        store = dist.TCPStore(master_addr, master_port, world_size, False, timeout=timeout)
    dist.init_process_group(backend=backend, store=store, rank=rank, world_size=world_size, timeout=timeout)
    return backend


def teardown_process_group() -> None:
    """Destroy this worker's process group and store, if any."""
    global _store
    import sys
    if "torch" not in sys.modules:
        return
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
    _store = None


__all__ = ["LOOPBACK", "TorchBackend", "TorchConfig", "TorchConfigContextManager", "choose_backend",
           "loopback_interface", "setup_process_group",
           "start_store", "teardown_process_group", "torch_installed"]
