"""``streamdata.train.xgboost``: XGBoost trained by a group of workers, in Ray's two forms.

Real xgboost on 2 workers (0.5 CPU each), a few hundred rows, a few rounds. That the
workers train one model together is checked by its numbers: the RMSE the group reports
(XGBoost sums it over every worker's shard) is the RMSE of rank 0's model over the whole
dataset, which a model trained on one shard alone would not give.
"""

from __future__ import annotations

import gc
import sys
import warnings
from typing import Any

import numpy as np
import pytest

import streamdata as sd
from streamdata import train
from streamdata.errors import TrainingFailedError

xgboost = pytest.importorskip("xgboost")
from streamdata.train.xgboost import RayTrainReportCallback, XGBoostConfig, XGBoostTrainer  # noqa: E402
from streamdata.train.xgboost.report_callback import report_metrics  # noqa: E402

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("data_runtime")]  # one runtime for the module

FEATURES = ["a", "b"]
PARAMS = {"objective": "reg:squarederror", "tree_method": "hist", "max_depth": 3, "nthread": 1}
SCALING = train.ScalingConfig(num_workers=2, resources_per_worker={"CPU": 0.5})


def frame(n: int, seed: int) -> Any:
    import pandas as pd

    rng = np.random.default_rng(seed)
    a = np.sort(rng.random(n))  # sorted: the shards cover different ranges of a
    b = rng.random(n)
    return pd.DataFrame({"a": a, "b": b, "y": 10 * a ** 2 + b})


def rmse(booster: Any, df: Any) -> float:
    pred = booster.predict(xgboost.DMatrix(df[FEATURES]))
    return float(np.sqrt(np.mean((pred - df["y"].to_numpy()) ** 2)))


def loop_per_worker(config: dict) -> None:
    """Ray's documented form: the shards as DMatrix, xgboost.train with the callback."""
    train_df = train.get_dataset_shard("train").materialize().to_pandas()
    eval_df = train.get_dataset_shard("validation").materialize().to_pandas()
    dtrain = xgboost.DMatrix(train_df[FEATURES], label=train_df["y"])
    deval = xgboost.DMatrix(eval_df[FEATURES], label=eval_df["y"])
    xgboost.train(PARAMS, dtrain, num_boost_round=config["rounds"], evals=[(dtrain, "train"), (deval, "validation")],
                  verbose_eval=False, callbacks=[RayTrainReportCallback(frequency=config["frequency"])])


def test_the_workers_train_one_model_on_all_their_shards(tmp_path: Any) -> None:
    train_df, valid_df = frame(400, 0), frame(200, 1)
    trainer = XGBoostTrainer(loop_per_worker, train_loop_config={"rounds": 4, "frequency": 2},
                             datasets={"train": sd.from_pandas(train_df), "validation": sd.from_pandas(valid_df)},
                             scaling_config=SCALING, run_config=train.RunConfig(storage_path=str(tmp_path)))
    result = trainer.fit()
    assert result.error is None
    assert sorted(result.metrics) == ["train-rmse", "validation-rmse"]
    assert len(result.metrics_dataframe) == 4  # one report a round; the last round's checkpoint is the end's
    assert len(result.best_checkpoints) == 2  # rounds 2 and 4 (frequency=2)
    booster = XGBoostTrainer.get_model(result.checkpoint)
    assert booster.num_boosted_rounds() == 4
    assert result.metrics["train-rmse"] == pytest.approx(rmse(booster, train_df), rel=1e-5)
    assert result.metrics["validation-rmse"] == pytest.approx(rmse(booster, valid_df), rel=1e-5)


def test_the_older_form_trains_resumes_and_warns(tmp_path: Any) -> None:
    df = frame(300, 2)

    def older(rounds: int, resume: Any = None) -> Any:
        with pytest.warns(DeprecationWarning, match="label_column"):
            trainer = XGBoostTrainer(label_column="y", params=PARAMS, num_boost_round=rounds,
                                     datasets={"train": sd.from_pandas(df)}, scaling_config=SCALING,
                                     resume_from_checkpoint=resume,
                                     run_config=train.RunConfig(storage_path=str(tmp_path)))
        return trainer.fit()

    first = older(2)
    assert list(first.metrics) == ["train-rmse"]
    assert XGBoostTrainer.get_model(first.checkpoint).num_boosted_rounds() == 2
    resumed = older(5, resume=first.checkpoint)
    booster = XGBoostTrainer.get_model(resumed.checkpoint)
    assert booster.num_boosted_rounds() == 5  # 2 from the checkpoint, 3 boosted now
    assert len(resumed.metrics_dataframe) == 4  # rounds 3-5, then the end's checkpoint
    assert resumed.metrics["train-rmse"] < first.metrics["train-rmse"]


def test_a_missing_label_column_names_it(tmp_path: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        trainer = XGBoostTrainer(label_column="target", params=PARAMS, num_boost_round=2,
                                 datasets={"train": sd.from_pandas(frame(50, 3))}, scaling_config=SCALING,
                                 run_config=train.RunConfig(storage_path=str(tmp_path)))
    with pytest.raises(TrainingFailedError) as info:
        trainer.fit()
    assert "label_column='target'" in str(info.value.__cause__) and "'train'" in str(info.value.__cause__)


@pytest.mark.parametrize("kwargs, error, match", [
    ({}, TypeError, "train_loop_per_worker"),
    ({"train_loop_per_worker": loop_per_worker, "label_column": "y"}, ValueError, "not both"),
    ({"label_column": "y", "num_boost_round": 0, "datasets": {"train": None}}, ValueError, "num_boost_round"),
    ({"label_column": "y", "datasets": {"valid": None}}, KeyError, r"datasets\['train'\]"),
    ({"train_loop_per_worker": loop_per_worker, "xgboost_config": {"x": 1}}, TypeError, "XGBoostConfig"),
])
def test_bad_arguments_name_themselves(kwargs: dict, error: type, match: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with pytest.raises(error, match=match):
            XGBoostTrainer(**kwargs)


def test_config_and_metric_names_without_a_run() -> None:
    with pytest.raises(ValueError, match="rabit"):
        XGBoostConfig(xgboost_communicator="nccl")
    log = {"train": {"rmse": [0.5, 0.3], "mae": [0.4, 0.2]}}
    assert report_metrics(log, ["train-mae"]) == {"train-mae": 0.2}
    with pytest.raises(KeyError, match="validation-rmse"):
        report_metrics(log, ["validation-rmse"])
    with pytest.raises(ValueError, match="frequency"):
        RayTrainReportCallback(frequency=-1)


def failing_once_loop(config: dict) -> None:
    """Boosts to 4 rounds from the latest checkpoint; rank 1 raises after round 2 the first time."""
    import os

    df = train.get_dataset_shard("train").materialize().to_pandas()
    dtrain = xgboost.DMatrix(df[FEATURES], label=df["y"])

    class FailOnce(xgboost.callback.TrainingCallback):
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            if epoch == 1 and train.get_context().get_world_rank() == 1 and not os.path.exists(config["marker"]):
                open(config["marker"], "w").close()
                raise RuntimeError("worker 1 failed")
            return False

    checkpoint = train.get_checkpoint()
    start = XGBoostTrainer.get_model(checkpoint) if checkpoint is not None else None
    done = start.num_boosted_rounds() if start is not None else 0
    xgboost.train(PARAMS, dtrain, num_boost_round=4 - done, xgb_model=start, evals=[(dtrain, "train")],
                  verbose_eval=False, callbacks=[FailOnce(), RayTrainReportCallback(frequency=1)])


def test_a_failed_worker_restarts_the_group_from_the_latest_checkpoint(tmp_path: Any) -> None:
    trainer = XGBoostTrainer(failing_once_loop, train_loop_config={"marker": str(tmp_path / "failed")},
                             datasets={"train": sd.from_pandas(frame(200, 4))}, scaling_config=SCALING,
                             run_config=train.RunConfig(storage_path=str(tmp_path),
                                                        failure_config=train.FailureConfig(max_failures=1)))
    unraisable: list = []
    hook, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        result = trainer.fit()
        gc.collect()
    finally:
        sys.unraisablehook = hook
    assert result.error is None and result.num_failures == 1
    assert not unraisable, [repr(u.exc_value) for u in unraisable]  # the failed attempt's tracker freed quietly
    assert XGBoostTrainer.get_model(result.checkpoint).num_boosted_rounds() == 4
    # rounds 1-2 before the failure; the new group (a new tracker) went on from round 2's checkpoint
    assert len(result.metrics_dataframe) == 4
