"""``RayTrainReportCallback``: an XGBoost training callback that reports each round's
evaluation metrics to the trainer and saves the model as a checkpoint (Ray's
``ray.train.xgboost.RayTrainReportCallback``).

Every worker reports every round (the trainer records a round once all workers made
it); the checkpoint comes from rank 0, whose model is the group's. Metrics are named
``<eval name>-<metric>`` (``train-rmse``, ``validation-logloss``), each the last
round's value.

Example:
    >>> report_metrics({"train": {"rmse": [0.5, 0.25]}, "eval": {"rmse": [0.6, 0.4]}}, None)
    {'train-rmse': 0.25, 'eval-rmse': 0.4}
    >>> report_metrics({"train": {"rmse": [0.5]}}, {"loss": "train-rmse"})
    {'loss': 0.5}
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any

from xgboost.callback import TrainingCallback

from streamdata.train.checkpoint import Checkpoint

#: the file the model is saved in, in each checkpoint
CHECKPOINT_NAME = "model.ubj"


def report_metrics(evals_log: dict[str, dict[str, Any]],
                   metrics: list[str] | dict[str, str] | None) -> dict[str, float]:
    """The last round's values of ``evals_log``, flattened to ``<eval>-<metric>`` and
    picked (a list) or renamed (a dict ``{reported name: xgboost name}``) by ``metrics``."""
    flat: dict[str, float] = {}
    for data_name, by_metric in evals_log.items():
        for metric, values in by_metric.items():
            last = values[-1]
            flat[f"{data_name}-{metric}"] = float(last[0] if isinstance(last, tuple) else last)
    if metrics is None:
        return flat
    names = metrics if isinstance(metrics, dict) else {m: m for m in metrics}
    missing = sorted(set(names.values()) - set(flat))
    if missing:
        raise KeyError(f"RayTrainReportCallback(metrics=...): XGBoost logged no {missing}; it logged "
                       f"{sorted(flat)}")
    return {reported: flat[logged] for reported, logged in names.items()}


class RayTrainReportCallback(TrainingCallback):
    """Reports metrics and checkpoints from ``xgboost.train`` (pass it in ``callbacks``).

    Args:
        metrics: which metrics to report: a name, a list of names, or a dict renaming
            them (``{"loss": "train-rmse"}``); None: all.
        filename: the model's file name in each checkpoint.
        frequency: save a checkpoint every this many rounds (0: only at the end).
        checkpoint_at_end: save one after the last round.
        results_postprocessing_fn: maps the reported dict to the dict to report.
    """

    CHECKPOINT_NAME = CHECKPOINT_NAME

    def __init__(self, metrics: str | list[str] | dict[str, str] | None = None, filename: str = CHECKPOINT_NAME,
                 frequency: int = 0, checkpoint_at_end: bool = True,
                 results_postprocessing_fn: Callable[[dict[str, float]], dict[str, float]] | None = None) -> None:
        if isinstance(frequency, bool) or not isinstance(frequency, int) or frequency < 0:
            raise ValueError(f"RayTrainReportCallback(frequency=...) must be an int >= 0, got {frequency!r}")
        self._metrics = [metrics] if isinstance(metrics, str) else metrics
        self._filename = filename
        self._frequency = frequency
        self._checkpoint_at_end = checkpoint_at_end
        self._postprocess = results_postprocessing_fn
        self._last_metrics: dict[str, float] = {}
        self._last_round_checkpointed = False

    @classmethod
    def get_model(cls, checkpoint: Checkpoint, filename: str = CHECKPOINT_NAME) -> Any:
        """The ``xgboost.Booster`` saved in ``checkpoint``."""
        import xgboost

        path = os.path.join(checkpoint.path, filename)
        if not os.path.exists(path):
            raise FileNotFoundError(f"no XGBoost model {filename!r} in checkpoint {checkpoint.path}")
        booster = xgboost.Booster()
        booster.load_model(path)
        return booster

    def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, Any]) -> bool:
        self._last_metrics = self._metrics_of(evals_log)
        self._last_round_checkpointed = bool(self._frequency) and (epoch + 1) % self._frequency == 0
        self._report(model, with_checkpoint=self._last_round_checkpointed)
        return False  # never stops the training

    def after_training(self, model: Any) -> Any:
        if self._checkpoint_at_end and not self._last_round_checkpointed:
            self._report(model, with_checkpoint=True)  # the last round's metrics again, with the model
        return model

    def _metrics_of(self, evals_log: dict[str, Any]) -> dict[str, float]:
        reported = report_metrics(evals_log, self._metrics)
        return self._postprocess(reported) if self._postprocess is not None else reported

    def _report(self, model: Any, *, with_checkpoint: bool) -> None:
        from streamdata import train

        if not with_checkpoint:
            train.report(dict(self._last_metrics))
            return
        if train.get_context().get_world_rank() != 0:  # the group's model is rank 0's
            train.report(dict(self._last_metrics))
            return
        with tempfile.TemporaryDirectory() as tmp:
            model.save_model(os.path.join(tmp, self._filename))
            train.report(dict(self._last_metrics), checkpoint=Checkpoint.from_directory(tmp))


__all__ = ["CHECKPOINT_NAME", "RayTrainReportCallback", "report_metrics"]
