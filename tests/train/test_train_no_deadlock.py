"""On a 2-CPU runtime (with 2 declared GPUs), two training workers of 1 CPU each fed by a dataset with a
``map_batches`` stage finish (the trainer keeps a CPU for the datasets and logs it),
the workers' torch rendezvous and gloo sockets listen on loopback only, and
``use_gpu=True`` gives each worker its own GPU (and fails clearly asking for nccl
where CUDA is missing)."""

from __future__ import annotations

import gc
import logging
import os
from typing import Any, Iterator

import numpy as np
import pytest

import streamdata as sd
from streamdata import train
from streamdata.errors import TrainingFailedError
from streamdata.train.torch import TorchConfig, TorchTrainer

psutil = pytest.importorskip("psutil")
pytest.importorskip("torch")


@pytest.fixture(scope="module", autouse=True)
def runtime() -> Iterator[None]:
    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=2, num_gpus=2)  # GPUs declared for scheduling; this machine has no CUDA
    yield
    gc.collect()
    sd.shutdown()


def _double(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {"x": batch["id"] * 2}


def _listeners(pid: int) -> list[str]:
    """The TCP sockets process ``pid`` listens on, as ``ip:port``."""
    return sorted(f"{c.laddr.ip}:{c.laddr.port}" for c in psutil.Process(pid).net_connections("inet")
                  if c.status == psutil.CONN_LISTEN)


def _loop(config: dict) -> None:
    import torch
    import torch.distributed as dist

    total = 0
    for batch in train.get_dataset_shard("train").iter_batches(batch_size=25):
        total += int(batch["x"].sum())
    t = torch.tensor([float(total)])
    dist.all_reduce(t)  # the loop runs while the group and its store are up: look at the sockets now
    train.report({"sum": t.item(), "rank": train.get_context().get_world_rank(), "pid": os.getpid(),
                  "listening": _listeners(os.getpid()), "master": os.environ["MASTER_ADDR"],
                  "gloo_if": os.environ.get("GLOO_SOCKET_IFNAME")})
    dist.barrier()


def test_workers_taking_every_cpu_still_get_their_data_and_listen_on_loopback(
        tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    assert sd.cluster_resources()["CPU"] == 2.0
    ds = sd.range(400, override_num_blocks=8).map_batches(_double)
    trainer = TorchTrainer(_loop, train_loop_config={},
                           scaling_config=train.ScalingConfig(num_workers=2),  # 1 CPU each: all of them
                           run_config=train.RunConfig(storage_path=str(tmp_path), name="no_deadlock"),
                           datasets={"train": ds})
    with caplog.at_level(logging.WARNING, logger="streamdata.train.trainer"):
        result = trainer.fit()
    assert result.metrics["sum"] == float(sum(range(400)) * 2)  # every row, once, through map_batches
    assert "reserving 1 CPU for the datasets and 0.5 CPU per training worker" in caplog.text
    listening = result.metrics["listening"]
    assert listening, "rank 0 should listen (rendezvous store, gloo)"
    assert all(addr.startswith("127.0.0.1:") for addr in listening), listening
    assert result.metrics["master"] == "127.0.0.1" and result.metrics["gloo_if"]


def test_datasets_that_can_never_fit_fail_before_training(tmp_path: Any) -> None:
    ds = sd.range(10).map_batches(_double, num_cpus=3)
    with pytest.raises(ValueError, match="need 3 CPU\\(s\\), but the cluster has only 2"):
        TorchTrainer(_loop, train_loop_config={}, scaling_config=train.ScalingConfig(num_workers=2),
                     run_config=train.RunConfig(storage_path=str(tmp_path)), datasets={"train": ds}).fit()


def _gpu_loop() -> None:
    import torch.distributed as dist

    from streamdata.train.torch import get_device

    train.report({"visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
                  "backend": dist.get_backend(), "device": str(get_device())})


def test_use_gpu_is_carried_to_the_workers(tmp_path: Any) -> None:
    scaling = train.ScalingConfig(num_workers=2, use_gpu=True, resources_per_worker={"CPU": 0.5})
    result = TorchTrainer(_gpu_loop, scaling_config=scaling,
                          run_config=train.RunConfig(storage_path=str(tmp_path))).fit()
    m = result.metrics
    assert m["visible"] in ("0", "1")  # one GPU of its own
    assert (m["backend"], m["device"]) == ("gloo", "cpu")  # no CUDA here: gloo and the CPU
    with pytest.raises(TrainingFailedError) as info:
        TorchTrainer(_gpu_loop, scaling_config=scaling, torch_config=TorchConfig(backend="nccl"),
                     run_config=train.RunConfig(storage_path=str(tmp_path))).fit()
    assert "TorchConfig(backend='nccl') needs CUDA GPUs" in str(info.value)
