"""TorchTrainer / DataParallelTrainer on the real runtime: Ray Train's configs end to
end (checkpoint retention, resume_from_checkpoint, DataConfig, context, metadata),
prepare_data_loader under DDP, and FailureConfig(max_failures=-1)."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from _train_util import json_checkpoint

import streamdata as sd
from streamdata import train
from streamdata.train.torch import TorchConfig, TorchTrainer

torch = pytest.importorskip("torch")


RUNTIME_INIT = {"num_cpus": 4}
pytestmark = pytest.mark.usefixtures("data_runtime")  # one runtime for the module


LOSSES = [0.5, 0.2, 0.9, 0.8]


def _loop(config: dict) -> None:
    import torch.distributed as dist
    from torch.utils.data import DataLoader, DistributedSampler

    from streamdata.train.torch import enable_reproducibility, get_device, prepare_data_loader

    enable_reproducibility(7)
    ctx = train.get_context()
    resumed = train.get_checkpoint()
    with resumed.as_directory() as d:
        start = json.load(open(os.path.join(d, "state.json")))["step"]
    loader = prepare_data_loader(DataLoader(list(range(10)), batch_size=5, shuffle=True))
    assert isinstance(loader.sampler, DistributedSampler)
    seen = sorted(int(x) for b in loader for x in b)
    rows = sum(len(b["id"]) for b in train.get_dataset_shard("train").iter_batches(batch_size=None))
    valid = sum(len(b["id"]) for b in train.get_dataset_shard("valid").iter_batches(batch_size=None))
    info = {"world": ctx.get_world_size(), "rank": ctx.get_world_rank(), "local_rank": ctx.get_local_rank(),
            "local_world": ctx.get_local_world_size(), "node_rank": ctx.get_node_rank(),
            "trial": ctx.get_trial_name(), "experiment": ctx.get_experiment_name(),
            "storage": ctx.get_storage().experiment_fs_path, "metadata": ctx.get_metadata(),
            "backend": dist.get_backend(), "device": str(get_device()), "start": start,
            "loader_rows": seen, "rows": rows, "valid_rows": valid, "env_var": os.environ.get("MY_FLAG")}
    for i, loss in enumerate(config["losses"]):
        train.report({"loss": loss, "i": i, **info}, checkpoint=json_checkpoint({"step": start + i + 1}))


def test_torch_trainer_end_to_end(tmp_path: Any) -> None:
    storage = str(tmp_path)
    trainer = TorchTrainer(
        _loop, train_loop_config={"losses": LOSSES}, torch_config=TorchConfig(backend="gloo"),
        scaling_config=train.ScalingConfig(num_workers=2),
        run_config=train.RunConfig(
            name="e2e", storage_path=storage, worker_runtime_env={"env_vars": {"MY_FLAG": "on"}},
            checkpoint_config=train.CheckpointConfig(num_to_keep=2, checkpoint_score_attribute="loss",
                                                     checkpoint_score_order="min")),
        datasets={"train": sd.range(100), "valid": sd.range(7)},
        dataset_config=train.DataConfig(datasets_to_split=["train"]),
        metadata={"owner": "test"}, resume_from_checkpoint=json_checkpoint({"step": 10}))
    result = trainer.fit()
    m = result.metrics
    assert result.error is None and result.path == os.path.join(storage, "e2e")
    assert (m["world"], m["rank"], m["local_world"], m["node_rank"], m["backend"]) == (2, 0, 2, 0, "gloo")
    assert (m["trial"], m["experiment"], m["storage"]) == ("e2e", "e2e", result.path)
    assert m["metadata"] == {"owner": "test"} and m["env_var"] == "on" and m["device"] == "cpu"
    assert m["start"] == 10  # get_checkpoint() is resume_from_checkpoint until the run reports one
    assert len(m["loader_rows"]) == 5  # DistributedSampler: half of the 10 items
    assert m["rows"] == 50 and m["valid_rows"] == 7  # "train" split, "valid" whole on every worker
    assert list(result.metrics_dataframe["loss"]) == LOSSES
    # num_to_keep=2 by min loss: 0.2 and 0.5 kept, plus the latest (0.8); 0.9's directory removed
    assert [c["loss"] for _, c in result.best_checkpoints] == [0.5, 0.2, 0.8]
    assert sorted(os.listdir(result.path)) == ["checkpoint_000000", "checkpoint_000001", "checkpoint_000003",
                                                 "result.json"]
    with result.checkpoint.as_directory() as d:
        assert json.load(open(os.path.join(d, "state.json"))) == {"step": 14}


def _flaky(config: dict) -> None:
    marker = config["marker"]
    ckpt = train.get_checkpoint()
    done = json.load(open(os.path.join(ckpt.path, "state.json")))["step"] if ckpt else 0
    for step in range(done, 3):
        train.report({"step": step + 1}, checkpoint=json_checkpoint({"step": step + 1}))
        if step == 1 and train.get_context().get_world_rank() == 1 and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # the worker process dies once, after its 2nd report


def test_max_failures_forever_restarts_from_the_latest_checkpoint(tmp_path: Any) -> None:
    trainer = train.DataParallelTrainer(
        _flaky, train_loop_config={"marker": str(tmp_path / "died")},
        scaling_config=train.ScalingConfig(num_workers=2, resources_per_worker={"CPU": 0.5}),
        run_config=train.RunConfig(storage_path=str(tmp_path), failure_config=train.FailureConfig(max_failures=-1)))
    result = trainer.fit()
    assert result.num_failures == 1 and result.metrics == {"step": 3}
    steps = list(result.metrics_dataframe["step"])
    assert steps[-1] == 3 and set(steps) == {1, 2, 3}


def test_fit_with_no_gpu_on_the_machine_fails_before_starting() -> None:
    trainer = TorchTrainer(lambda: None, scaling_config=train.ScalingConfig(num_workers=2, use_gpu=True))
    assert trainer.scaling_config.worker_resources()["GPU"] == 1.0
    with pytest.raises(ValueError, match="need 2 GPU in all, but the cluster has 0"):
        trainer.fit()
    with pytest.raises(ValueError, match="accelerator_type:A100"):
        TorchTrainer(lambda: None, scaling_config=train.ScalingConfig(num_workers=1, accelerator_type="A100")).fit()
