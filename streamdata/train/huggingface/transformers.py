"""Hugging Face ``transformers.Trainer`` inside a training loop (Ray's
``ray.train.huggingface.transformers``).

Inside ``train_loop_per_worker`` build a ``transformers.Trainer`` as usual; the
process group the trainer set up is already there, so Transformers (through
Accelerate) trains data-parallel on it. Two pieces of glue:

- :class:`RayTrainReportCallback`: at every checkpoint the ``Trainer`` saves,
  reports the latest logged metrics (plus ``step`` and ``epoch``) with a copy of
  the checkpoint directory (under ``checkpoint/``) to ``streamdata.train.report``.
- :func:`prepare_trainer`: lets the ``Trainer`` read a streamdata shard
  (``get_dataset_shard("train").iter_torch_batches(...)``, or the shard itself)
  as its ``train_dataset``/``eval_dataset``: batches go to the model as they come,
  and every epoch is a new pass over the shard. Set ``max_steps`` (an iterable
  has no length), as with Ray.

transformers is imported only when these are used.

Example (inside the loop)::

    trainer = transformers.Trainer(model=model, args=args,
                                   train_dataset=shard.iter_torch_batches(batch_size=8))
    trainer.add_callback(RayTrainReportCallback())
    trainer = prepare_trainer(trainer)
    trainer.train()
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Iterator

#: the sub-directory of a reported checkpoint holding the Trainer's checkpoint files
CHECKPOINT_NAME = "checkpoint"


def _callback_base() -> type:
    from transformers import TrainerCallback
    return TrainerCallback


def _metrics_at(log_history: list[dict[str, Any]], step: int) -> dict[str, Any]:
    """The metrics the Trainer logged at ``step`` (train and eval entries merged).

    Example:
        >>> _metrics_at([{"loss": 2.0, "step": 1}, {"loss": 1.0, "step": 2}, {"eval_loss": 1.5, "step": 2}], 2)
        {'loss': 1.0, 'step': 2, 'eval_loss': 1.5}
    """
    out: dict[str, Any] = {}
    for entry in log_history:
        if entry.get("step") == step:
            out.update(entry)
    return out


class _ReportCallbackMixin:
    """The callback's behaviour (mixed into ``transformers.TrainerCallback`` on first use)."""

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        from streamdata.train import Checkpoint, report

        metrics = _metrics_at(state.log_history, state.global_step)
        metrics.update({"step": state.global_step, "epoch": state.epoch})
        source = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        with tempfile.TemporaryDirectory(prefix="streamdata-hf-") as tmp:
            checkpoint = None
            if state.is_world_process_zero and os.path.isdir(source):
                shutil.copytree(source, os.path.join(tmp, CHECKPOINT_NAME))
                checkpoint = Checkpoint.from_directory(tmp)
            report(metrics, checkpoint=checkpoint)


_CALLBACK_CLASS: type | None = None


def _callback_class() -> type:
    global _CALLBACK_CLASS
    if _CALLBACK_CLASS is None:
        _CALLBACK_CLASS = type("RayTrainReportCallback", (_ReportCallbackMixin, _callback_base()),
                               {"__doc__": RayTrainReportCallback.__doc__,
                                "__module__": __name__})
    return _CALLBACK_CLASS


class RayTrainReportCallback:
    """A ``transformers.TrainerCallback`` that reports the Trainer's metrics and
    checkpoints to ``streamdata.train.report`` at every save (Ray's name).

    ``RayTrainReportCallback()`` returns an instance of a real ``TrainerCallback``
    subclass (built on first use, so importing this module needs no transformers).
    Every worker reports at the same saves; rank 0 attaches the checkpoint.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:  # noqa: D102 - documented on the class
        return _callback_class()(*args, **kwargs)


def _iterable_dataset(data: Any) -> Any:
    """A torch IterableDataset yielding the batches of a re-iterable shard view."""
    from torch.utils.data import IterableDataset

    class _ShardBatches(IterableDataset):
        def __init__(self, source: Any) -> None:
            self.source = source

        def __iter__(self) -> Iterator[Any]:
            return iter(self.source)

    return _ShardBatches(data)


def _loader(data: Any) -> Any:
    """A DataLoader handing each batch of the shard to the Trainer as is."""
    from torch.utils.data import DataLoader

    return DataLoader(_iterable_dataset(data), batch_size=1, collate_fn=lambda items: items[0])


def prepare_trainer(trainer: Any) -> Any:
    """Let ``trainer`` (a ``transformers.Trainer``) read streamdata shards as its train
    and eval datasets (see the module docstring); returns the same trainer.

    Raises ``TypeError`` for anything but a ``transformers.Trainer``.
    """
    import transformers

    from streamdata.train.iterables import is_streamdata_iterable, restartable

    if not isinstance(trainer, transformers.Trainer):
        raise TypeError(f"prepare_trainer expects a transformers.Trainer, got {type(trainer).__name__}")
    if is_streamdata_iterable(trainer.train_dataset):
        trainer.train_dataset = restartable(trainer.train_dataset)
        if getattr(trainer.args, "max_steps", -1) is None or trainer.args.max_steps <= 0:
            raise ValueError("prepare_trainer: a streamdata shard has no length, so TrainingArguments("
                             "max_steps=...) must be set (as with Ray Train)")
    if is_streamdata_iterable(trainer.eval_dataset):
        trainer.eval_dataset = restartable(trainer.eval_dataset)
    base = type(trainer)
    if getattr(base, "_streamdata_prepared", False):
        return trainer

    class StreamdataTransformersTrainer(base):  # type: ignore[misc, valid-type]
        _streamdata_prepared = True

        def get_train_dataloader(self) -> Any:
            if is_streamdata_iterable(self.train_dataset):
                return _loader(self.train_dataset)
            return super().get_train_dataloader()

        def get_eval_dataloader(self, eval_dataset: Any = None) -> Any:
            data = eval_dataset if eval_dataset is not None else self.eval_dataset
            if is_streamdata_iterable(data):
                return _loader(restartable(data))
            return super().get_eval_dataloader(eval_dataset)

    StreamdataTransformersTrainer.__name__ = f"Streamdata{base.__name__}"
    trainer.__class__ = StreamdataTransformersTrainer
    return trainer


__all__ = ["CHECKPOINT_NAME", "RayTrainReportCallback", "prepare_trainer"]
