"""``XGBoostTrainer``: data-parallel XGBoost (Ray's ``ray.train.xgboost.XGBoostTrainer``).

The training function runs on every worker inside one XGBoost communication group
(:mod:`~streamdata.train.xgboost.config`): each builds a ``DMatrix`` from its shard
(``train.get_dataset_shard``) and calls ``xgboost.train`` with a
:class:`~streamdata.train.xgboost.RayTrainReportCallback`; the workers train one model.

Ray's older form, ``XGBoostTrainer(label_column=..., params=..., num_boost_round=...,
datasets=...)`` with no training function, is accepted as Ray accepts it (with its
deprecation warning): every dataset is an evaluation set named by its key, ``"train"``
is trained on, and a run resumed from a checkpoint boosts only the rounds left.

Example:
    >>> import streamdata as sd
    >>> from streamdata import train
    >>> ds = sd.from_items([{"x": float(i), "y": float(2 * i)} for i in range(64)])
    >>> trainer = XGBoostTrainer(label_column="y", params={"objective": "reg:squarederror", "nthread": 1},
    ...                          num_boost_round=3, datasets={"train": ds},
    ...                          scaling_config=train.ScalingConfig(num_workers=2, resources_per_worker={"CPU": 0.5}))
    >>> result = trainer.fit()  # doctest: +SKIP
    >>> sorted(result.metrics), XGBoostTrainer.get_model(result.checkpoint).num_boosted_rounds()  # doctest: +SKIP
    (['train-rmse'], 3)
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

from streamdata.train.checkpoint import Checkpoint
from streamdata.train.config import DataConfig, RunConfig, ScalingConfig
from streamdata.train.data_parallel_trainer import DataParallelTrainer
from streamdata.train.xgboost.config import XGBoostConfig
from streamdata.train.xgboost.report_callback import CHECKPOINT_NAME, RayTrainReportCallback

#: what Ray says of the older form (its deprecation warning, in our words)
LEGACY_FORM_WARNING = ("XGBoostTrainer(label_column=..., params=..., num_boost_round=...) is deprecated in Ray Train "
                       "in favour of a training function (train_loop_per_worker) that calls xgboost.train itself")


class XGBoostTrainer(DataParallelTrainer):
    """Data-parallel XGBoost training (see the module docstring).

    Args:
        train_loop_per_worker: the loop each worker runs (None in the older form).
        xgboost_config: how the workers communicate (default ``XGBoostConfig()``).
        label_column, params, num_boost_round: the older form's arguments.
        The other arguments are :class:`~streamdata.train.DataParallelTrainer`'s.
    """

    def __init__(self, train_loop_per_worker: Callable[..., Any] | None = None, *,
                 train_loop_config: dict[str, Any] | None = None, xgboost_config: XGBoostConfig | None = None,
                 scaling_config: ScalingConfig | None = None, run_config: RunConfig | None = None,
                 datasets: dict[str, Any] | None = None, dataset_config: DataConfig | None = None,
                 metadata: dict[str, Any] | None = None, resume_from_checkpoint: Checkpoint | None = None,
                 label_column: str | None = None, params: dict[str, Any] | None = None,
                 num_boost_round: int | None = None) -> None:
        if xgboost_config is not None and not isinstance(xgboost_config, XGBoostConfig):
            raise TypeError("xgboost_config must be a streamdata.train.xgboost.XGBoostConfig, got "
                            f"{type(xgboost_config).__name__}")
        legacy = label_column is not None or params is not None or num_boost_round is not None
        if legacy:
            if train_loop_per_worker is not None:
                raise ValueError("XGBoostTrainer takes either train_loop_per_worker or the older "
                                 "label_column/params/num_boost_round arguments, not both")
            train_loop_per_worker, train_loop_config = _legacy_form(label_column, params, num_boost_round,
                                                                    datasets, train_loop_config)
        elif train_loop_per_worker is None:
            raise TypeError("XGBoostTrainer needs train_loop_per_worker (a function calling xgboost.train with "
                            "RayTrainReportCallback), or Ray's older label_column= and params= arguments")
        super().__init__(train_loop_per_worker, train_loop_config=train_loop_config,
                         backend_config=xgboost_config or XGBoostConfig(), scaling_config=scaling_config,
                         dataset_config=dataset_config, run_config=run_config, datasets=datasets,
                         metadata=metadata, resume_from_checkpoint=resume_from_checkpoint)

    @classmethod
    def get_model(cls, checkpoint: Checkpoint) -> Any:
        """The ``xgboost.Booster`` in a checkpoint this trainer's callback saved."""
        return RayTrainReportCallback.get_model(checkpoint, CHECKPOINT_NAME)


def _legacy_form(label_column: str | None, params: dict[str, Any] | None, num_boost_round: int | None,
                 datasets: dict[str, Any] | None, config: dict[str, Any] | None) -> tuple[Callable[..., Any], dict]:
    """The training function and config of the older form, checked."""
    warnings.warn(LEGACY_FORM_WARNING, DeprecationWarning, stacklevel=3)
    if not isinstance(label_column, str):
        raise TypeError(f"XGBoostTrainer(label_column=...) must name the label column, got {label_column!r}")
    if params is not None and not isinstance(params, dict):
        raise TypeError(f"XGBoostTrainer(params=...) must be a dict of XGBoost parameters, got {params!r}")
    rounds = 10 if num_boost_round is None else num_boost_round
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"XGBoostTrainer(num_boost_round=...) must be an int >= 1, got {num_boost_round!r}")
    if "train" not in (datasets or {}):
        raise KeyError(f"XGBoostTrainer: the older form trains on datasets['train']; got {sorted(datasets or {})}")
    return legacy_train_fn, {**(config or {}), "label_column": label_column, "params": dict(params or {}),
                             "num_boost_round": rounds, "dataset_keys": sorted(datasets or {})}


def legacy_train_fn(config: dict[str, Any]) -> None:
    """The older form's loop: a ``DMatrix`` per dataset shard, ``xgboost.train`` on
    ``"train"`` with every dataset as an evaluation set, resumed from the checkpoint."""
    import xgboost

    from streamdata import train

    label = config["label_column"]
    matrices = {}
    for key in config["dataset_keys"]:
        frame = train.get_dataset_shard(key).materialize().to_pandas()
        if label not in frame.columns:
            raise KeyError(f"XGBoostTrainer(label_column={label!r}): dataset {key!r} has no such column; it has "
                           f"{list(frame.columns)}")
        matrices[key] = xgboost.DMatrix(frame.drop(columns=[label]), label=frame[label])
    checkpoint = train.get_checkpoint()
    start = RayTrainReportCallback.get_model(checkpoint) if checkpoint is not None else None
    done = start.num_boosted_rounds() if start is not None else 0
    xgboost.train(config["params"], matrices["train"], num_boost_round=max(0, config["num_boost_round"] - done),
                  evals=[(m, key) for key, m in matrices.items()], xgb_model=start,
                  callbacks=[RayTrainReportCallback()], verbose_eval=False)


__all__ = ["LEGACY_FORM_WARNING", "XGBoostTrainer", "legacy_train_fn"]
