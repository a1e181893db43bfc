"""PyTorch Lightning inside a training loop (Ray's ``ray.train.lightning``).

Build a ``pl.Trainer`` inside ``train_loop_per_worker`` with
``strategy=RayDDPStrategy()`` (or :class:`RayFSDPStrategy`,
:class:`RayDeepSpeedStrategy`), ``plugins=[RayLightningEnvironment()]`` and
``callbacks=[RayTrainReportCallback()]``, then ``trainer = prepare_trainer(trainer)``.
Lightning then trains on the process group the trainer set up (ranks from
``streamdata.train.get_context()``), on the worker's device, and each epoch's
metrics and checkpoint reach ``streamdata.train.report``.

This module imports Lightning (``lightning.pytorch``, else ``pytorch_lightning``);
``import streamdata.train`` does not import it.

Example (inside the loop)::

    trainer = pl.Trainer(max_epochs=2, devices="auto", accelerator="auto",
                         strategy=RayDDPStrategy(), plugins=[RayLightningEnvironment()],
                         callbacks=[RayTrainReportCallback()], enable_checkpointing=False)
    trainer = prepare_trainer(trainer)
    trainer.fit(module, train_dataloaders=loader)
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

try:
    import lightning.pytorch as pl
    from lightning.pytorch.plugins.environments import LightningEnvironment
    from lightning.pytorch.strategies import DDPStrategy, DeepSpeedStrategy, FSDPStrategy
except ImportError:  # pragma: no cover - the older package name
    import pytorch_lightning as pl  # type: ignore[no-redef]
    from pytorch_lightning.plugins.environments import LightningEnvironment  # type: ignore[no-redef]
    from pytorch_lightning.strategies import DDPStrategy, DeepSpeedStrategy, FSDPStrategy  # type: ignore

#: the file name of the Lightning checkpoint inside a reported checkpoint
CHECKPOINT_NAME = "checkpoint.ckpt"


def _context() -> Any:
    from streamdata.train import get_context
    return get_context()


class _RayStrategyMixin:
    """Device and sampler settings taken from the training worker."""

    @property
    def root_device(self) -> Any:
        from streamdata.train.torch import get_device
        return get_device()

    @property
    def distributed_sampler_kwargs(self) -> dict[str, Any]:
        ctx = _context()
        return {"num_replicas": ctx.get_world_size(), "rank": ctx.get_world_rank()}


class RayDDPStrategy(_RayStrategyMixin, DDPStrategy):
    """Lightning's ``DDPStrategy`` on the trainer's process group and the worker's device."""


class RayFSDPStrategy(_RayStrategyMixin, FSDPStrategy):
    """Lightning's ``FSDPStrategy`` on the trainer's process group and the worker's device."""


class RayDeepSpeedStrategy(_RayStrategyMixin, DeepSpeedStrategy):
    """Lightning's ``DeepSpeedStrategy`` (its ``config`` passed through to DeepSpeed) on
    the trainer's process group and the worker's device."""


class RayLightningEnvironment(LightningEnvironment):  # type: ignore[misc]
    """Ranks and sizes from ``streamdata.train.get_context()``; Lightning does not launch
    processes (the trainer's workers are the processes)."""

    def world_size(self) -> int:
        return _context().get_world_size()

    def global_rank(self) -> int:
        return _context().get_world_rank()

    def local_rank(self) -> int:
        return _context().get_local_rank()

    def node_rank(self) -> int:
        return _context().get_node_rank()

    def set_world_size(self, size: int) -> None:
        pass  # fixed by the trainer

    def set_global_rank(self, rank: int) -> None:
        pass  # fixed by the trainer

    def teardown(self) -> None:
        pass  # the trainer tears the process group down


class RayTrainReportCallback(pl.callbacks.Callback):  # type: ignore[misc]
    """At the end of every training epoch, report ``trainer.callback_metrics`` (plus
    ``epoch`` and ``step``) and a checkpoint (``checkpoint.ckpt``, saved by
    ``trainer.save_checkpoint``) to ``streamdata.train.report``."""

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        from streamdata.train import Checkpoint, report

        metrics = {k: (v.item() if hasattr(v, "item") else v) for k, v in trainer.callback_metrics.items()}
        metrics["epoch"] = trainer.current_epoch
        metrics["step"] = trainer.global_step
        with tempfile.TemporaryDirectory(prefix="streamdata-pl-") as tmp:
            trainer.save_checkpoint(os.path.join(tmp, CHECKPOINT_NAME), weights_only=False)  # collective
            report(metrics, checkpoint=Checkpoint.from_directory(tmp))


_STRATEGIES = (RayDDPStrategy, RayFSDPStrategy, RayDeepSpeedStrategy)


def prepare_trainer(trainer: Any) -> Any:
    """Check that ``trainer`` (a ``pl.Trainer``) uses one of this module's strategies and
    :class:`RayLightningEnvironment`; returns it. Raises ``RuntimeError`` naming what is
    wrong otherwise (as Ray's does)."""
    if not isinstance(trainer, pl.Trainer):
        raise TypeError(f"prepare_trainer expects a Lightning Trainer, got {type(trainer).__name__} "
                        "(use the same package, lightning.pytorch or pytorch_lightning, as streamdata)")
    strategy = trainer.strategy
    if not isinstance(strategy, _STRATEGIES):
        raise RuntimeError(f"prepare_trainer: the Trainer's strategy is {type(strategy).__name__}; use "
                           "strategy=RayDDPStrategy(), RayFSDPStrategy() or RayDeepSpeedStrategy() from "
                           "streamdata.train.lightning")
    env = getattr(strategy, "cluster_environment", None)
    if not isinstance(env, RayLightningEnvironment):
        raise RuntimeError(f"prepare_trainer: the Trainer's cluster environment is {type(env).__name__}; pass "
                           "plugins=[RayLightningEnvironment()] from streamdata.train.lightning")
    if not getattr(trainer, "_streamdata_prepared", False):
        _restart_shards_each_epoch(trainer)
    return trainer


def _restart_shards_each_epoch(trainer: Any) -> None:
    """Make ``trainer.fit``/``validate`` read a streamdata shard (a DataIterator, or what its
    ``iter_torch_batches`` returned) afresh every epoch, as Ray's re-iterable shards are."""
    from streamdata.train.iterables import restartable

    def wrap(method: Any, names: tuple[str, ...]) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            args = tuple(restartable(a) if 0 < i <= len(names) else a for i, a in enumerate(args))
            kwargs = {k: restartable(v) if k in names else v for k, v in kwargs.items()}
            return method(*args, **kwargs)
        return call

    trainer.fit = wrap(trainer.fit, ("train_dataloaders", "val_dataloaders"))
    trainer.validate = wrap(trainer.validate, ("dataloaders",))
    trainer._streamdata_prepared = True


__all__ = ["CHECKPOINT_NAME", "RayDDPStrategy", "RayDeepSpeedStrategy", "RayFSDPStrategy",
           "RayLightningEnvironment", "RayTrainReportCallback", "prepare_trainer"]
