"""Ray Train's optimizer helpers of the torch loop: ``accelerate``, ``prepare_optimizer``, ``backward``.

Ray uses them to switch automatic mixed precision on for ``prepare_model``,
``prepare_optimizer`` and ``backward`` together. Without mixed precision (the
default, and the only mode here) they are the plain torch calls, so loops that
use them run unchanged.

Example:
    >>> import torch
    >>> accelerate(amp=False)
    >>> model = torch.nn.Linear(2, 1)
    >>> opt = prepare_optimizer(torch.optim.SGD(model.parameters(), lr=0.1))
    >>> backward(model(torch.ones(1, 2)).sum())
    >>> model.weight.grad is not None
    True
"""

from __future__ import annotations

from typing import Any


def accelerate(amp: bool = False) -> None:
    """Set the loop's acceleration options: ``amp=True`` (mixed precision) is not supported
    here; use ``torch.autocast`` in the loop instead."""
    if not isinstance(amp, bool):
        raise TypeError(f"accelerate(amp=...) must be a bool, got {amp!r}")
    if amp:
        raise NotImplementedError("accelerate(amp=True): automatic mixed precision through Ray Train's helpers is "
                                  "not supported by streamdata.train; use torch.autocast / torch.amp.GradScaler "
                                  "in the training loop")


def prepare_optimizer(optimizer: Any) -> Any:
    """The optimizer to use in the loop (``optimizer`` itself: no mixed precision here)."""
    import torch

    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"prepare_optimizer(optimizer=...) expects a torch.optim.Optimizer, got "
                        f"{type(optimizer).__name__}")
    return optimizer


def backward(tensor: Any) -> None:
    """Back-propagate ``tensor`` (a loss): ``tensor.backward()`` (no loss scaling here)."""
    import torch

    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"backward(tensor=...) expects a torch.Tensor, got {type(tensor).__name__}")
    tensor.backward()


__all__ = ["accelerate", "backward", "prepare_optimizer"]
