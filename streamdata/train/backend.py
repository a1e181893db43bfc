"""A trainer's framework backend (Ray's ``ray.train.backend``): a :class:`BackendConfig`
names the :class:`Backend` that sets the framework up on the worker group, the context
the training function runs in on each worker, and the framework.

The run loop calls the backend's hooks on the driver: ``on_start`` and
``on_training_start`` once the worker group started (before the training function),
``on_shutdown`` before a finished group stops. A hook reaches the workers through
``worker_group.execute(func, *args, **kwargs)`` (``func`` runs on every worker; the
results come back in world-rank order), as in Ray. ``TorchConfig``'s backend builds
the ``torch.distributed`` process group this way.

Example:
    >>> BackendConfig().framework is None, BackendConfig().to_dict()
    (True, {})
    >>> with BackendConfig().train_func_context():
    ...     "inside"
    'inside'
"""

from __future__ import annotations

import contextlib
import enum
from typing import Any


class TrainingFramework(str, enum.Enum):
    """The framework a backend sets up (``BackendConfig.framework``)."""

    TORCH = "torch"
    JAX = "jax"
    TENSORFLOW = "tensorflow"
    XGBOOST = "xgboost"
    LIGHTGBM = "lightgbm"


class Backend:
    """Sets a framework up on the training workers (subclass it for a custom framework;
    every hook is a no-op here)."""

    #: Ray's flag for sharing every local GPU with each worker (one machine: not used)
    share_cuda_visible_devices: bool = False

    def on_start(self, worker_group: Any, backend_config: BackendConfig) -> None:
        """After the workers started, before the training function runs."""

    def on_training_start(self, worker_group: Any, backend_config: BackendConfig) -> None:
        """Right before the training function starts on the workers."""

    def on_shutdown(self, worker_group: Any, backend_config: BackendConfig) -> None:
        """Before a worker group whose training function finished is stopped."""


class BackendConfig:
    """The base of a trainer's backend config (``TorchConfig`` is one)."""

    @property
    def backend_cls(self) -> type[Backend]:
        """The :class:`Backend` class the run instantiates to set the workers up."""
        return Backend

    @property
    def train_func_context(self) -> Any:
        """A context-manager factory the training function runs inside, on each worker."""
        return contextlib.nullcontext

    @property
    def framework(self) -> TrainingFramework | None:
        """The framework (None for a plain config)."""
        return None

    def to_dict(self) -> dict[str, Any]:
        """The config's serialisable fields (none for the base)."""
        return {}


__all__ = ["Backend", "BackendConfig", "TrainingFramework"]
