"""Ray Train V2's run callbacks and reported-checkpoint API on the real runtime:
``RunConfig(callbacks=[UserCallback])`` (after_report / after_exception on the driver,
a raising callback ends the run naming it), ``get_all_reported_checkpoints()`` inside
the loop (waits for every worker's report, retention and Ray's order, across a
restart) and ``Result.return_value`` (rank 0's)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from _train_util import json_checkpoint, read_json_checkpoint

from streamdata import train
from streamdata.errors import ControllerError, TrainingFailedError
from streamdata.train.torch import TorchConfig, TorchTrainer

torch = pytest.importorskip("torch")

HALF_CPU = train.ScalingConfig(num_workers=2, resources_per_worker={"CPU": 0.5})


pytestmark = pytest.mark.usefixtures("data_runtime")  # one runtime for the module


class Recorder(train.UserCallback):
    """Records every hook call (the callback runs on the driver: this very object)."""

    def __init__(self) -> None:
        self.reports: list[tuple[Any, list[dict], Any]] = []
        self.exceptions: list[tuple[Any, dict[int, BaseException]]] = []

    def after_report(self, run_context, metrics, checkpoint):  # noqa: ANN001 - Ray's signature
        self.reports.append((run_context, metrics, checkpoint))

    def after_exception(self, run_context, worker_exceptions):  # noqa: ANN001 - Ray's signature
        self.exceptions.append((run_context, worker_exceptions))


# ---------------------------------------------------------------- after_report


def _reporting_loop(config: dict) -> int:
    model = torch.nn.Linear(2, 1)
    rank = train.get_context().get_world_rank()
    for step in range(config["steps"]):
        loss = float(model(torch.ones(1, 2)).sum()) * 0 + step + rank / 10
        ckpt = json_checkpoint({"step": step, "rank": rank}) if step % 2 == 1 and rank == 0 else None
        train.report({"rank": rank, "step": step, "loss": loss}, checkpoint=ckpt)
    return rank * 100 + config["steps"]


def test_after_report_gets_every_workers_metrics_and_the_persisted_checkpoint(tmp_path: Any) -> None:
    rec = Recorder()
    run_config = train.RunConfig(name="cb", storage_path=str(tmp_path), callbacks=[rec])
    trainer = TorchTrainer(_reporting_loop, train_loop_config={"steps": 4}, scaling_config=HALF_CPU,
                           run_config=run_config, torch_config=TorchConfig(backend="gloo"))
    result = trainer.fit()
    assert len(rec.reports) == 4
    for step, (ctx, metrics, ckpt) in enumerate(rec.reports):
        assert [m["rank"] for m in metrics] == [0, 1]  # metrics[i]: world rank i's
        assert [m["step"] for m in metrics] == [step, step]
        assert metrics[1]["loss"] == pytest.approx(step + 0.1)
        if step % 2 == 1:
            assert isinstance(ckpt, train.Checkpoint)
            assert os.path.dirname(ckpt.path) == os.path.join(str(tmp_path), "cb")  # persisted, in the run dir
            assert read_json_checkpoint(ckpt) == {"step": step, "rank": 0}
        else:
            assert ckpt is None
    ctx = rec.reports[0][0]
    assert all(r[0] is ctx for r in rec.reports)  # one context for the run
    assert ctx.get_run_config() is run_config and ctx.run_config.callbacks == [rec]
    assert ctx.train_loop_config == {"steps": 4}
    assert ctx.scaling_config.num_workers == 2 and ctx.backend_config.backend == "gloo"
    assert isinstance(ctx.run_id, str) and len(ctx.run_id) == 32
    assert rec.exceptions == []
    assert result.return_value == 4  # rank 0's: 0 * 100 + steps


# ---------------------------------------------------------------- after_exception + restart


def _fail_once_loop(config: dict) -> dict:
    rank = train.get_context().get_world_rank()
    marker = config["marker"]
    seen_at_start = [(os.path.basename(rc.checkpoint.path), rc.metrics["step"])
                     for rc in train.get_all_reported_checkpoints()]
    start = read_json_checkpoint(train.get_checkpoint())["step"] + 1 if train.get_checkpoint() else 0
    for step in range(start, 3):
        train.report({"step": step}, checkpoint=json_checkpoint({"step": step}))
        if step == 1 and rank == 1 and not os.path.exists(marker):
            train.get_all_reported_checkpoints()  # fail once rank 0's step 1 is recorded too (deterministic)
            open(marker, "w").close()
            raise ValueError("rank 1 fails at step 1")
    return {"rank": rank, "seen_at_start": seen_at_start}


def test_after_exception_then_restart_keeps_reported_checkpoints(tmp_path: Any) -> None:
    rec = Recorder()
    trainer = TorchTrainer(
        _fail_once_loop, train_loop_config={"marker": str(tmp_path / "failed")}, scaling_config=HALF_CPU,
        run_config=train.RunConfig(storage_path=str(tmp_path), callbacks=[rec],
                                   failure_config=train.FailureConfig(max_failures=1)))
    result = trainer.fit()
    assert len(rec.exceptions) == 1
    _, worker_exceptions = rec.exceptions[0]
    assert list(worker_exceptions) == [1]
    assert isinstance(worker_exceptions[1], ValueError) and "rank 1 fails at step 1" in str(worker_exceptions[1])
    # step 0 and 1 of the first attempt, step 2 of the second: every round reached after_report
    assert [m[0]["step"] for _, m, _ in rec.reports] == [0, 1, 2]
    # the second attempt's workers start from the checkpoints recorded before the failure
    assert result.return_value == {"rank": 0, "seen_at_start": [("checkpoint_000000", 0), ("checkpoint_000001", 1)]}
    assert result.num_failures == 1


# ---------------------------------------------------------------- a callback that raises


class Boom(train.UserCallback):
    def after_report(self, run_context, metrics, checkpoint):  # noqa: ANN001 - Ray's signature
        if metrics[0]["step"] == 1:
            raise KeyError("no such tracker run")


def _long_loop() -> None:
    for step in range(10_000):  # would run for minutes: the raising callback must stop it
        train.report({"step": step})


def test_a_raising_callback_ends_the_run_naming_it(tmp_path: Any) -> None:
    trainer = TorchTrainer(_long_loop, scaling_config=HALF_CPU,
                           run_config=train.RunConfig(storage_path=str(tmp_path), callbacks=[Boom()],
                                                      failure_config=train.FailureConfig(max_failures=3)))
    with pytest.raises(ControllerError, match=r"Boom\.after_report raised KeyError: 'no such tracker run'") as info:
        trainer.fit()
    err = info.value
    assert isinstance(err, TrainingFailedError) and isinstance(err.__cause__, KeyError)
    assert err.result is not None and err.result.error is err and err.result.return_value is None
    assert [m["step"] for m in err.result.metrics_history][:2] == [0, 1]  # recorded before the callback ran


def test_callbacks_must_be_user_callbacks() -> None:
    with pytest.raises(ValueError, match=r"UserCallback.*got object at index 0.*Ray Tune callbacks"):
        train.RunConfig(callbacks=[object()])
    with pytest.raises(TypeError, match=r"RunConfig\(callbacks=...\) must be a list of UserCallback, got Recorder"):
        train.RunConfig(callbacks=Recorder())
    assert train.RunConfig().callbacks == [] and train.RunConfig(callbacks=None).callbacks == []


def test_a_ray_tune_logger_callback_is_refused_with_the_reason() -> None:
    tune = pytest.importorskip("ray.tune")
    with pytest.raises(ValueError, match=r"got CSVLoggerCallback at index 0\. Ray Tune callbacks .* not supported"):
        train.RunConfig(callbacks=[tune.logger.CSVLoggerCallback()])


# ---------------------------------------------------------------- get_all_reported_checkpoints


def _ranked_loop(config: dict) -> dict:
    rank = train.get_context().get_world_rank()
    views = []
    for step, acc in enumerate(config["accs"]):
        train.report({"acc": acc, "step": step}, checkpoint=json_checkpoint({"step": step}) if rank == 0 else None)
        got = train.get_all_reported_checkpoints()
        assert all(type(rc).__name__ == "ReportedCheckpoint" for rc in got)
        assert all(rc.status is train.ReportedCheckpointStatus.COMMITTED for rc in got)
        views.append([(read_json_checkpoint(rc.checkpoint)["step"], rc.metrics["acc"]) for rc in got])
    return {"rank": rank, "views": views}


def test_get_all_reported_checkpoints_waits_for_every_worker_and_keeps_rays_order(tmp_path: Any) -> None:
    trainer = TorchTrainer(
        _ranked_loop, train_loop_config={"accs": [0.5, 0.9, 0.1, 0.7]}, scaling_config=HALF_CPU,
        run_config=train.RunConfig(storage_path=str(tmp_path), checkpoint_config=train.CheckpointConfig(
            num_to_keep=2, checkpoint_score_attribute="acc")))
    result = trainer.fit()
    # after each report, the run's kept checkpoints including that report's: worst first, best last
    # (num_to_keep=2 keeps the two best plus the latest, as Ray)
    assert result.return_value == {"rank": 0, "views": [
        [(0, 0.5)],
        [(0, 0.5), (1, 0.9)],
        [(2, 0.1), (0, 0.5), (1, 0.9)],
        [(3, 0.7), (1, 0.9)],
    ]}


def _timeout_loop() -> dict:
    import torch.distributed as dist

    rank = train.get_context().get_world_rank()
    out: dict[str, Any] = {}
    if rank == 0:
        train.report({"step": 0}, checkpoint=json_checkpoint({"step": 0}))
        out["before"] = len(train.get_all_reported_checkpoints(timeout_s=0.3))  # rank 1 has not reported
        dist.barrier()
        out["after"] = len(train.get_all_reported_checkpoints())  # waits for rank 1's report
    else:
        dist.barrier()
        train.report({"step": 0})
    return out


def test_get_all_reported_checkpoints_times_out_with_what_was_recorded(tmp_path: Any) -> None:
    result = TorchTrainer(_timeout_loop, scaling_config=HALF_CPU, torch_config=TorchConfig(backend="gloo"),
                          run_config=train.RunConfig(storage_path=str(tmp_path))).fit()
    assert result.return_value == {"before": 0, "after": 1}


def test_get_all_reported_checkpoints_bad_input_and_outside_a_worker() -> None:
    with pytest.raises(ValueError, match=r"consistency_mode=...\) must be a CheckpointConsistencyMode.*'LATEST'"):
        train.get_all_reported_checkpoints(consistency_mode="LATEST")
    with pytest.raises(ValueError, match=r"timeout_s=...\) must be a number >= 0 or None, got -1"):
        train.get_all_reported_checkpoints(timeout_s=-1)
    with pytest.raises(RuntimeError, match="only inside the training loop"):
        train.get_all_reported_checkpoints()
