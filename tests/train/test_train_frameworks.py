"""The framework integrations, each through its example in examples/ (tiny models
built from configs, no downloads), on 2 CPU workers and the trainer's process group."""

from __future__ import annotations

import gc
import importlib.util
import os
import sys
from typing import Any, Iterator

import cloudpickle
import pytest

import streamdata as sd

pytest.importorskip("torch")
EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


@pytest.fixture(scope="module", autouse=True)
def runtime() -> Iterator[None]:
    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=4)
    yield
    gc.collect()
    sd.shutdown()


def _example(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    cloudpickle.register_pickle_by_value(module)  # the workers cannot import examples/: ship the code
    return module


@pytest.mark.slow
def test_transformers_trainer_reports_logs_and_checkpoints(tmp_path: Any) -> None:
    pytest.importorskip("transformers")
    result = _example("train_transformers").main(storage_path=str(tmp_path), max_steps=4)
    df = result.metrics_dataframe
    assert list(df["step"]) == [2, 4]  # one report per Trainer save (save_steps=2)
    assert df["loss"].notna().all() and result.metrics["step"] == 4
    # num_to_keep=1: only the latest checkpoint stays, holding the Trainer's files
    assert [os.path.basename(c.path) for c, _ in result.best_checkpoints] == ["checkpoint_000001"]
    files = os.listdir(os.path.join(result.checkpoint.path, "checkpoint"))
    assert "model.safetensors" in files and "trainer_state.json" in files


def test_lightning_trains_every_epoch_on_the_shard(tmp_path: Any) -> None:
    pytest.importorskip("lightning")
    result = _example("train_lightning").main(storage_path=str(tmp_path), epochs=2)
    df = result.metrics_dataframe
    assert list(df["epoch"]) == [0, 1]
    # 1024 rows / 2 workers / 32 per batch = 16 steps per epoch: the second epoch read the shard again
    assert list(df["step"]) == [16, 32]
    assert df["train_loss"].iloc[1] < df["train_loss"].iloc[0]
    assert os.listdir(result.checkpoint.path) == ["checkpoint.ckpt"]


def test_lightning_prepare_trainer_rejects_other_strategies() -> None:
    pl = pytest.importorskip("lightning.pytorch")
    from streamdata.train.lightning import prepare_trainer

    with pytest.raises(RuntimeError, match="use strategy=RayDDPStrategy"):
        prepare_trainer(pl.Trainer(accelerator="cpu", devices=1, logger=False))
    with pytest.raises(TypeError, match="expects a Lightning Trainer"):
        prepare_trainer(object())


def test_accelerate_runs_on_the_trainers_process_group(tmp_path: Any) -> None:
    pytest.importorskip("accelerate")
    result = _example("train_accelerate").main(storage_path=str(tmp_path), epochs=2)
    m = result.metrics
    assert (m["num_processes"], m["process_index"], m["distributed_type"]) == (2, 0, "DistributedType.MULTI_CPU")
    assert m["rows"] == 500  # half of the 1000 rows per epoch
    assert result.metrics_dataframe["loss"].iloc[1] < result.metrics_dataframe["loss"].iloc[0]


@pytest.mark.slow
def test_deepspeed_runs_on_the_trainers_process_group(tmp_path: Any) -> None:
    pytest.importorskip("deepspeed", reason="deepspeed is not installed (pip install 'streamdata[deepspeed]')")
    result = _example("train_deepspeed").main(storage_path=str(tmp_path), epochs=2)
    m = result.metrics
    assert (m["world_size"], m["dp_world_size"], m["rows"]) == (2, 2, 256)
    assert m["files"] == ["epoch1", "latest"]
    assert sorted(os.listdir(result.checkpoint.path)) == ["epoch1", "latest"]
    assert result.metrics_dataframe["loss"].iloc[1] < result.metrics_dataframe["loss"].iloc[0]
