"""Asynchronous checkpoint validation (``ValidationConfig``, ``report(validation=...)``) on
the real runtime: validation tasks beside the training, their metrics merged into the
checkpoints' and the reports', kwargs from the config and the report, failures and
timeouts that leave the training alone, and checkpoint retention scored by a validated
metric."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from _train_util import json_checkpoint, read_json_checkpoint

from streamdata import train
from streamdata.errors import TrainingFailedError
from streamdata.train import ReportedCheckpointStatus, ValidationConfig, ValidationTaskConfig

pytestmark = pytest.mark.usefixtures("data_runtime")  # one runtime for the module

ONE_WORKER = train.ScalingConfig(num_workers=1, resources_per_worker={"CPU": 0.5})


def score(checkpoint: train.Checkpoint, offset: int = 0, fail: bool = False, block: bool = False) -> dict:
    """The validation: the checkpoint's value plus ``offset``; it also overwrites ``loss``."""
    if fail:
        raise RuntimeError("validation broke")
    if block:
        threading.Event().wait(120)  # a validation far slower than its timeout
    return {"val": read_json_checkpoint(checkpoint)["value"] + offset, "loss": -1.0}


def loop(config: dict) -> None:
    for value, validation in config["reports"]:
        train.report({"loss": float(value), "value": value}, checkpoint=json_checkpoint({"value": value}),
                     validation=validation)
    seen = {tuple(sorted(rc.metrics)) for rc in train.get_all_reported_checkpoints()}
    assert seen  # the loop can list what it reported while validations run


def fit(reports: list, tmp_path: Any, validation_config: ValidationConfig | None = None,
        checkpoint_config: train.CheckpointConfig | None = None) -> train.Result:
    trainer = train.DataParallelTrainer(
        loop, train_loop_config={"reports": reports}, scaling_config=ONE_WORKER, validation_config=validation_config,
        run_config=train.RunConfig(storage_path=str(tmp_path), checkpoint_config=checkpoint_config))
    return trainer.fit()


def test_validated_metrics_join_their_checkpoints_and_reports(tmp_path: Any) -> None:
    config = ValidationConfig(score, task_config=ValidationTaskConfig(fn_kwargs={"offset": 10}))
    result = fit([(1, True), (2, ValidationTaskConfig(fn_kwargs={"offset": 100})), (3, False)], tmp_path, config)
    history = result.metrics_history
    assert [(h.get("val"), h["loss"]) for h in history] == [(11, -1.0), (102, -1.0), (None, 3.0)]
    kept = {read_json_checkpoint(c)["value"]: m for c, m in result.best_checkpoints}
    assert kept[1]["val"] == 11 and kept[2]["val"] == 102 and "val" not in kept[3]
    assert result.metrics == {"loss": 3.0, "value": 3}


def test_a_failed_or_timed_out_validation_leaves_the_metrics_and_the_run(tmp_path: Any,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    config = ValidationConfig(score)
    with caplog.at_level(logging.WARNING, logger="streamdata.train.validation"):
        result = fit([(1, ValidationTaskConfig(fn_kwargs={"fail": True})),
                      (2, ValidationTaskConfig(fn_kwargs={"block": True}, timeout_s=0.5)), (3, True)],
                     tmp_path, config)
    assert result.error is None
    assert [h.get("val") for h in result.metrics_history] == [None, None, 3]
    assert "validation broke" in caplog.text and "timeout_s" in caplog.text


def test_checkpoints_are_kept_by_a_score_only_the_validation_gives(tmp_path: Any) -> None:
    keep_best = train.CheckpointConfig(num_to_keep=1, checkpoint_score_attribute="val", checkpoint_score_order="max")
    result = fit([(5, True), (1, True), (2, True)], tmp_path, ValidationConfig(score), keep_best)
    kept = sorted(read_json_checkpoint(c)["value"] for c, _ in result.best_checkpoints)
    assert kept == [2, 5]  # the best by the validated "val", and the latest (always kept)


def test_statuses_of_the_reported_checkpoints(tmp_path: Any) -> None:
    from streamdata.train.checkpoint_manager import CheckpointManager
    from streamdata.train.trainer import _RunState
    from streamdata.train.validation import Finished, Validations

    state = _RunState(CheckpointManager(train.CheckpointConfig()), None, validations=Validations(None))
    state.checkpoints.register("/a", {"loss": 1.0}, pending=True)
    state.validations.statuses["/a"] = ReportedCheckpointStatus.PENDING_VALIDATION
    assert state.reported()[0].status is ReportedCheckpointStatus.PENDING_VALIDATION
    state.validations.statuses["/a"] = ReportedCheckpointStatus.VALIDATED
    state.validated([Finished(index=0, path="/a", metrics={"acc": 0.5}, status=ReportedCheckpointStatus.VALIDATED)])
    assert state.reported()[0].metrics == {"loss": 1.0, "acc": 0.5}


def test_asking_for_a_validation_without_a_config_names_it(tmp_path: Any) -> None:
    with pytest.raises(TrainingFailedError) as info:
        fit([(1, True)], tmp_path)
    assert "validation_config" in str(info.value.__cause__)


@pytest.mark.parametrize("make, error, match", [
    (lambda: ValidationConfig("not a function"), TypeError, "fn"),
    (lambda: ValidationConfig(score, task_config={"offset": 1}), TypeError, "task_config"),
    (lambda: ValidationTaskConfig(timeout_s=0), ValueError, "timeout_s"),
    (lambda: ValidationTaskConfig(fn_kwargs=[1]), TypeError, "fn_kwargs"),
    (lambda: train.DataParallelTrainer(loop, validation_config=score), TypeError, "ValidationConfig"),
])
def test_bad_configs_name_themselves(make: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        make()
