"""``streamdata.train.torch``: torch data-parallel training (Ray's ``ray.train.torch``).

:class:`TorchTrainer` and :class:`TorchConfig` on the driver; inside the loop
:func:`prepare_model`, :func:`prepare_data_loader`, :func:`get_device`,
:func:`enable_reproducibility`. torch itself is imported only when used.

Example:
    >>> from streamdata.train.torch import TorchConfig
    >>> TorchConfig().backend is None
    True
"""

from __future__ import annotations

from streamdata.train.torch.amp import accelerate, backward, prepare_optimizer
from streamdata.train.torch.process_group import TorchConfig
from streamdata.train.torch.torch_checkpoint import TorchCheckpoint
from streamdata.train.torch.torch_trainer import TorchTrainer
from streamdata.train.torch.train_loop_utils import (enable_reproducibility, get_device, get_devices,
                                                     prepare_data_loader, prepare_model)

__all__ = ["TorchCheckpoint", "TorchConfig", "TorchTrainer", "enable_reproducibility", "get_device", "get_devices",
           "prepare_data_loader", "prepare_model", "accelerate", "backward", "prepare_optimizer"]
