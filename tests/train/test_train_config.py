"""Ray Train's config objects, checkpoint retention, the CPU split between workers and
datasets, and the torch backend choice: pure code, no processes."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

import streamdata as sd
from streamdata import train
from streamdata.train.checkpoint_manager import CheckpointManager
from streamdata.train.resources import data_cpu_need, plan_worker_cpus
from streamdata.train.session import TrainContext
from streamdata.train.torch import TorchConfig
from streamdata.train.torch.process_group import choose_backend, loopback_interface


# ---------------------------------------------------------------- Ray's names and defaults


@pytest.mark.parametrize("name, params", [
    ("ScalingConfig", ["num_workers", "use_gpu", "resources_per_worker", "placement_strategy",
                       "accelerator_type"]),
    ("RunConfig", ["name", "storage_path", "failure_config", "checkpoint_config"]),
    ("FailureConfig", ["max_failures"]),
    ("CheckpointConfig", ["num_to_keep", "checkpoint_score_attribute", "checkpoint_score_order"]),
    ("DataConfig", ["datasets_to_split"]),
])
def test_configs_take_rays_parameters_with_rays_defaults(name: str, params: list[str]) -> None:
    ray_train = pytest.importorskip("ray.train")
    ours = inspect.signature(getattr(train, name)).parameters
    theirs = inspect.signature(getattr(ray_train, name)).parameters
    for p in params:
        assert p in ours, f"{name} lacks {p}"
        assert ours[p].default == theirs[p].default, (name, p, ours[p].default, theirs[p].default)


def test_trainers_take_rays_parameters() -> None:
    ray_torch = pytest.importorskip("ray.train.torch")
    from streamdata.train.torch import TorchTrainer
    ours = inspect.signature(TorchTrainer.__init__).parameters
    for p in ["train_loop_per_worker", "train_loop_config", "torch_config", "scaling_config", "run_config",
              "datasets", "dataset_config", "metadata", "resume_from_checkpoint"]:
        assert p in ours and p in inspect.signature(ray_torch.TorchTrainer.__init__).parameters, p
    for fn in ["prepare_model", "prepare_data_loader", "get_device", "enable_reproducibility"]:
        theirs = list(inspect.signature(getattr(ray_torch, fn)).parameters)
        assert list(inspect.signature(getattr(train.torch, fn)).parameters)[:len(theirs)] == theirs, fn


def test_context_has_rays_methods() -> None:
    ray_ctx = pytest.importorskip("ray.train").TrainContext
    wanted = [m for m in dir(ray_ctx) if m.startswith("get_") and m != "get_trial_resources"]
    ctx = TrainContext(world_rank=1, world_size=2, local_rank=0, local_world_size=1, node_rank=1,
                       storage_path="/s", experiment_name="exp", metadata={"k": 1})
    for m in wanted:
        assert callable(getattr(ctx, m)), m
    assert (ctx.get_trial_name(), ctx.get_experiment_name(), ctx.get_node_rank()) == ("exp", "exp", 1)
    assert ctx.get_storage().experiment_fs_path == "/s/exp" and ctx.get_trial_dir() == "/s/exp"
    assert ctx.get_metadata() == {"k": 1}


@pytest.mark.parametrize("make, error, match", [
    (lambda: train.ScalingConfig(num_workers=-1), ValueError, r"num_workers=\.\.\.\) must be an int >= 0, got -1"),
    (lambda: train.ScalingConfig(num_workers="2"), ValueError, "got '2'"),
    (lambda: train.ScalingConfig(use_gpu="yes"), TypeError, "use_gpu"),
    (lambda: train.ScalingConfig(resources_per_worker={"CPU": -1}), ValueError, "'CPU'"),
    (lambda: train.ScalingConfig(placement_strategy="FAST"), ValueError, "placement_strategy"),
    (lambda: train.ScalingConfig(accelerator_type=""), ValueError, "accelerator_type"),
    (lambda: train.FailureConfig(max_failures=-2), ValueError, "max_failures"),
    (lambda: train.CheckpointConfig(num_to_keep=0), ValueError, "num_to_keep"),
    (lambda: train.CheckpointConfig(checkpoint_score_order="up"), ValueError, "'max' or 'min'"),
    (lambda: train.RunConfig(failure_config={"max_failures": 1}), TypeError, "FailureConfig"),
    (lambda: train.RunConfig(name="a/b"), ValueError, "name"),
    (lambda: train.RunConfig(callbacks=[object()]), ValueError, "UserCallback.*Ray Tune callbacks"),
    (lambda: train.DataConfig(datasets_to_split="train"), TypeError, "datasets_to_split"),
    (lambda: TorchConfig(backend="mpi"), ValueError, "backend"),
    (lambda: train.torch.TorchTrainer(lambda: None, scaling_config={"num_workers": 2}), TypeError,
     "scaling_config must be a streamdata.train.ScalingConfig"),
    (lambda: train.torch.TorchTrainer(lambda: None, train_loop_config={"a": 1}), TypeError,
     "cannot receive train_loop_config"),
    (lambda: train.torch.TorchTrainer(lambda: None, datasets={"train": [1, 2]}), TypeError,
     r"datasets\['train'\] must be a streamdata Dataset"),
    (lambda: train.torch.TorchTrainer(lambda: None, resume_from_checkpoint="/tmp"), TypeError,
     "resume_from_checkpoint"),
    (lambda: train.torch.TorchTrainer(lambda: None, torch_config="gloo"), TypeError, "torch_config"),
])
def test_bad_configuration_is_named(make: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        make()


def test_scaling_config_resources() -> None:
    assert train.ScalingConfig(num_workers=2).total_resources == {"CPU": 2.0}
    gpu = train.ScalingConfig(num_workers=2, use_gpu=True, accelerator_type="A100")
    assert gpu.worker_resources() == {"CPU": 1.0, "GPU": 1.0, "accelerator_type:A100": 0.001}
    assert train.ScalingConfig(resources_per_worker={"CPU": 0, "GPU": 2}, use_gpu=True).worker_resources() == \
        {"CPU": 0.0, "GPU": 2.0}


def test_data_config_chooses_the_split_datasets() -> None:
    assert train.DataConfig().splits("anything")
    cfg = train.DataConfig(datasets_to_split=["train"])
    assert cfg.splits("train") and not cfg.splits("valid")


def test_torch_backend_choice() -> None:
    assert choose_backend(TorchConfig(), use_gpu=False, cuda_available=False) == "gloo"
    assert choose_backend(TorchConfig(), use_gpu=True, cuda_available=True) == "nccl"
    assert choose_backend(TorchConfig(), use_gpu=True, cuda_available=False) == "gloo"
    with pytest.raises(RuntimeError, match="needs CUDA GPUs"):
        choose_backend(TorchConfig(backend="nccl"), use_gpu=True, cuda_available=False)
    assert loopback_interface() is not None


# ---------------------------------------------------------------- checkpoint retention


def _manager(**kwargs: Any) -> tuple[CheckpointManager, list[str]]:
    deleted: list[str] = []
    return CheckpointManager(train.CheckpointConfig(**kwargs), delete=deleted.append), deleted


def test_keep_the_best_by_score_and_always_the_latest() -> None:
    m, deleted = _manager(num_to_keep=2, checkpoint_score_attribute="loss", checkpoint_score_order="min")
    for i, loss in enumerate([0.5, 0.2, 0.9, 0.1, 0.8]):
        m.register(f"c{i}", {"loss": loss})
    # best two are c3 (0.1) and c1 (0.2); c4 is the latest and stays for recovery
    assert [p for p, _ in m.kept()] == ["c1", "c3", "c4"]
    assert sorted(deleted) == ["c0", "c2"]
    assert m.best() == ("c3", {"loss": 0.1}) and m.latest == ("c4", {"loss": 0.8})


def test_keep_the_latest_without_a_score() -> None:
    m, deleted = _manager(num_to_keep=2)
    for i in range(4):
        m.register(f"c{i}", {"i": i})
    assert [p for p, _ in m.kept()] == ["c2", "c3"] and deleted == ["c0", "c1"]


def test_keep_everything_by_default_and_max_order() -> None:
    m, deleted = _manager(checkpoint_score_attribute="acc")
    for i, acc in enumerate([0.1, 0.7, 0.3]):
        m.register(f"c{i}", {"acc": acc})
    assert deleted == [] and len(m.kept()) == 3 and m.best()[0] == "c1"


def test_missing_score_attribute_is_named() -> None:
    m, _ = _manager(num_to_keep=1, checkpoint_score_attribute="acc")
    with pytest.raises(KeyError, match="lack 'acc'; reported: \\['loss'\\]"):
        m.register("c0", {"loss": 1.0})


# ---------------------------------------------------------------- workers vs datasets CPUs


def test_data_cpu_need_reads_the_plan() -> None:
    assert data_cpu_need(sd.range(10)) == 1.0
    assert data_cpu_need(sd.range(10).map_batches(lambda b: b, num_cpus=2)) == 2.0

    class Identity:
        def __call__(self, batch: Any) -> Any:
            return batch

    pool = sd.range(10).map_batches(Identity, concurrency=2, num_cpus=0.5)
    assert data_cpu_need(pool) == 2.0  # 1 CPU for the read tasks + 2 actors x 0.5


def test_worker_cpus_make_room_for_the_datasets() -> None:
    assert plan_worker_cpus(num_workers=2, worker_cpus=1.0, cluster_cpus=2.0, data_cpus=1.0) == 0.5
    assert plan_worker_cpus(num_workers=2, worker_cpus=1.0, cluster_cpus=3.0, data_cpus=1.0) == 1.0
    assert plan_worker_cpus(num_workers=3, worker_cpus=2.0, cluster_cpus=4.0, data_cpus=1.0) == 1.0
    with pytest.raises(ValueError, match="need 4 CPU\\(s\\), but the cluster has only 2"):
        plan_worker_cpus(num_workers=2, worker_cpus=1.0, cluster_cpus=2.0, data_cpus=4.0)
