"""Ray Train's names beyond the core loop: the configs' extra fields (and Ray's deprecated ones),
``report``'s checkpoint options, ``get_dataset_shard(dataset_name=...)``, ``Result``'s look-ups,
``WorkerGroupError`` and the torch optimizer helpers, on the real runtime."""

from __future__ import annotations

import gc
import os
import tempfile
from typing import Iterator

import pytest

import streamdata as sd
from streamdata import train
from streamdata.train import Checkpoint, CheckpointConfig, FailureConfig, RunConfig, ScalingConfig

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def runtime() -> Iterator[None]:
    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=2)
    yield
    gc.collect()
    sd.shutdown()


# ---------------------------------------------------------------- configs (no processes)


def test_deprecated_fields_are_errors_as_in_ray_train() -> None:
    with pytest.raises(DeprecationWarning, match="RunConfig\\(verbose=...\\)"):
        RunConfig(verbose=1)
    with pytest.raises(DeprecationWarning, match="stop"):
        RunConfig(stop={"loss": 0.1})
    with pytest.raises(DeprecationWarning, match="fail_fast"):
        FailureConfig(fail_fast=True)
    with pytest.raises(DeprecationWarning, match="checkpoint_frequency"):
        CheckpointConfig(checkpoint_frequency=2)
    assert RunConfig().verbose == "DEPRECATED"


def test_failure_and_scaling_fields() -> None:
    assert FailureConfig(controller_failure_limit=3, max_preemption_failures=1, preemption_grace_s=5,
                         relax_collectives_on_preemption=True).controller_failure_limit == 3
    with pytest.raises(ValueError, match="preemption_grace_s"):
        FailureConfig(preemption_grace_s=-1)
    with pytest.raises(ValueError, match="controller_failure_limit"):
        FailureConfig(controller_failure_limit=-2)
    cfg = ScalingConfig(num_workers=2, use_gpu=True, resources_per_worker={"CPU": 2, "acc": 1})
    assert (cfg.num_cpus_per_worker, cfg.num_gpus_per_worker, cfg.num_tpus_per_worker) == (2.0, 1.0, 0.0)
    assert cfg.additional_resources_per_worker == {"acc": 1.0}
    assert (cfg.min_workers, cfg.max_workers, cfg.elasticity_enabled) == (2, 2, False)
    assert ScalingConfig(num_workers=2, label_selector={"a": "b"}).bundle_label_selectors() == [{"a": "b"}] * 2
    with pytest.raises(TypeError, match="label_selector"):
        ScalingConfig(num_workers=2, label_selector=[{"a": "b"}])
    with pytest.raises(NotImplementedError, match="TPU"):
        ScalingConfig(use_tpu=True)
    with pytest.raises(NotImplementedError, match="elastic"):
        ScalingConfig(num_workers=(1, 4))
    with pytest.raises(ValueError, match="elastic_resize_monitor_interval_s"):
        ScalingConfig(elastic_resize_monitor_interval_s=0)
    with pytest.raises(NotImplementedError, match="storage_filesystem"):
        RunConfig(storage_filesystem=object())
    with pytest.raises(NotImplementedError, match="filesystem"):
        Checkpoint("/tmp", filesystem=object())
    from pyarrow import fs
    assert RunConfig(storage_filesystem=fs.LocalFileSystem()).storage_filesystem is not None
    assert train.SyncConfig(sync_period=10).sync_period == 10
    assert train.TRAIN_DATASET_KEY == "train" and train.get_preemption_info() is None
    assert issubclass(train.WorkerGroupError, train.TrainingFailedError)
    assert issubclass(train.NCCLHangError, train.WorkerGroupError)


def test_torch_optimizer_helpers() -> None:
    from streamdata.train.torch import accelerate, backward, prepare_optimizer

    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    assert prepare_optimizer(opt) is opt
    before = model.weight.detach().clone()
    backward(model(torch.ones(2, 3)).sum())
    opt.step()
    assert not torch.equal(before, model.weight.detach())
    with pytest.raises(NotImplementedError, match="mixed precision"):
        accelerate(amp=True)
    with pytest.raises(TypeError, match="optimizer"):
        prepare_optimizer(model)
    with pytest.raises(TypeError, match="tensor"):
        backward(1.0)
    with pytest.raises(TypeError, match="ValidationConfig"):
        train.torch.TorchTrainer(lambda: None, validation_config=object())


# ---------------------------------------------------------------- runs


def _write(tag: str) -> Checkpoint:
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "tag.txt"), "w") as f:
        f.write(tag)
    return Checkpoint.from_directory(d)


def _named_checkpoints(config: dict) -> None:
    rows = sum(len(b["id"]) for b in train.get_dataset_shard(dataset_name="train").iter_batches())
    first = _write("first")
    train.report({"rows": rows, "score": 1}, checkpoint=first, checkpoint_dir_name="epoch_a",
                 delete_local_checkpoint_after_upload=True)
    assert not os.path.exists(first.path)  # deleted once copied

    def upload(checkpoint: Checkpoint, dest: str) -> Checkpoint:
        os.makedirs(dest, exist_ok=True)
        with open(os.path.join(dest, "uploaded.txt"), "w") as f:
            f.write(open(os.path.join(checkpoint.path, "tag.txt")).read())
        return Checkpoint(dest)

    second = _write("second")
    train.report({"rows": rows, "score": 3}, checkpoint=second, checkpoint_upload_mode=train.CheckpointUploadMode.ASYNC,
                 checkpoint_upload_fn=upload)
    assert not os.path.exists(second.path)  # ASYNC deletes by default
    third = _write("third")
    train.report({"rows": rows, "score": 2}, checkpoint=third, checkpoint_upload_mode="SYNC")
    assert os.path.exists(third.path)
    for bad in ({"checkpoint_upload_mode": "NO_UPLOAD"}, {"validation": True}, {"checkpoint_dir_name": "a/b"}):
        try:
            train.report({"rows": rows}, checkpoint=third, **bad)
        except (NotImplementedError, ValueError) as e:
            assert next(iter(bad)) in str(e)
        else:
            raise AssertionError(f"report({bad}) did not fail")


def test_report_checkpoint_options_and_result_lookups(runtime, tmp_path) -> None:
    trainer = train.torch.TorchTrainer(
        _named_checkpoints, train_loop_config={"lr": 0.1}, datasets={"train": sd.range(10)},
        scaling_config=ScalingConfig(num_workers=1, resources_per_worker={"CPU": 0.5}),
        run_config=RunConfig(storage_path=str(tmp_path), name="names"))
    result = trainer.fit()
    assert result.metrics == {"rows": 10, "score": 2} and result.config == {"lr": 0.1}
    assert os.path.isdir(os.path.join(result.path, "epoch_a"))
    best = result.get_best_checkpoint("score", "max")
    assert open(os.path.join(best.path, "uploaded.txt")).read() == "second"
    assert result.get_best_checkpoint("score", "min").path.endswith("epoch_a")
    assert result.get_best_checkpoint("missing", "max") is None
    with pytest.raises(ValueError, match="mode"):
        result.get_best_checkpoint("score", "best")
    assert type(result.filesystem).__name__ == "LocalFileSystem"
    again = train.Result.from_path(result.path)
    assert (again.metrics, again.metrics_history, again.config) == (result.metrics, result.metrics_history,
                                                                    result.config)
    assert again.checkpoint == result.checkpoint and again.best_checkpoints == result.best_checkpoints
    assert again.get_best_checkpoint("score", "max") == best
    with pytest.raises(FileNotFoundError, match="not a training run"):
        train.Result.from_path(tmp_path)
    with pytest.raises(DeprecationWarning, match="resume_from_checkpoint"):
        train.torch.TorchTrainer.restore(result.path)
    with pytest.raises(DeprecationWarning):
        train.torch.TorchTrainer.can_restore(result.path)


def _fails() -> None:
    raise KeyError("broken loop")


def test_a_failed_group_raises_worker_group_error(runtime, tmp_path) -> None:
    trainer = train.DataParallelTrainer(_fails, scaling_config=ScalingConfig(num_workers=1,
                                                                             resources_per_worker={"CPU": 0.5}),
                                        run_config=RunConfig(storage_path=str(tmp_path)))
    with pytest.raises(train.WorkerGroupError, match="broken loop") as info:
        trainer.fit()
    assert isinstance(info.value, train.TrainingFailedError) and info.value.result is not None
    assert list(info.value.worker_failures) == [0] and isinstance(info.value.worker_failures[0], KeyError)


def test_train_errors_take_ray_trains_arguments() -> None:
    import pickle

    err = train.WorkerGroupError("2 workers failed", {1: ValueError("x")})
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == "2 workers failed" and isinstance(again.worker_failures[1], ValueError)
    ctl = pickle.loads(pickle.dumps(train.ControllerError(RuntimeError("lost"))))
    assert isinstance(ctl.controller_failure, RuntimeError) and "lost" in str(ctl)
    assert train.PreemptionError(drain_timed_out=True).drain_timed_out


def test_label_selector_the_node_does_not_have_fails(runtime, tmp_path) -> None:
    trainer = train.DataParallelTrainer(lambda: None, scaling_config=ScalingConfig(
        num_workers=1, resources_per_worker={"CPU": 0.5}, label_selector={"zone": "us-1"}),
        run_config=RunConfig(storage_path=str(tmp_path)))
    with pytest.raises(train.TrainingFailedError, match="zone"):
        trainer.fit()
