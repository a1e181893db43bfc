"""The same TorchTrainer on the Ray backend (``sd.init(backend="ray")``, a local Ray
instance of 2 CPUs): Ray actors as workers, a streamdata dataset with map_batches
feeding both (no deadlock), gloo all_reduce, a reported checkpoint."""

from __future__ import annotations

import gc
import os
import tempfile
from typing import Any, Iterator

import pytest

import streamdata as sd
from streamdata import train
from streamdata.train.torch import TorchTrainer

pytest.importorskip("torch")
ray = pytest.importorskip("ray")

pytestmark = pytest.mark.slow  # starting a Ray instance takes a while on a small machine


@pytest.fixture(scope="module", autouse=True)
def ray_runtime() -> Iterator[None]:
    if sd.is_initialized():
        sd.shutdown()
    sd.init(backend="ray", num_cpus=2)
    yield
    gc.collect()
    sd.shutdown()


def test_torch_trainer_on_ray(tmp_path: Any) -> None:
    # defined here so that they are pickled by value (Ray's workers cannot import this test module)
    def _double(batch: Any) -> Any:
        return {"x": batch["id"] * 2}

    def _loop(config: dict) -> None:
        import ray as ray_mod
        import torch
        import torch.distributed as dist

        total = sum(int(b["x"].sum()) for b in train.get_dataset_shard("train").iter_batches(batch_size=16))
        t = torch.tensor([float(total)])
        dist.all_reduce(t)
        d = tempfile.mkdtemp()
        with open(os.path.join(d, f"rank{train.get_context().get_world_rank()}.txt"), "w") as f:
            f.write(str(total))
        train.report({"sum": t.item(), "world": train.get_context().get_world_size(), "backend": dist.get_backend(),
                      "actor": ray_mod.get_runtime_context().get_actor_id() is not None,
                      "master": os.environ["MASTER_ADDR"]}, checkpoint=train.Checkpoint.from_directory(d))

    assert sd.cluster_resources()["CPU"] == 2.0
    result = TorchTrainer(_loop, train_loop_config={}, scaling_config=train.ScalingConfig(num_workers=2),
                          run_config=train.RunConfig(storage_path=str(tmp_path), name="on_ray"),
                          datasets={"train": sd.range(200).map_batches(_double)}).fit()
    assert result.metrics == {"sum": float(sum(range(200)) * 2), "world": 2, "backend": "gloo", "actor": True,
                              "master": "127.0.0.1"}
    assert sorted(os.listdir(result.checkpoint.path)) == ["rank0.txt", "rank1.txt"]
