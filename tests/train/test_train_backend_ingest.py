"""Ray Train's backend and ingest hooks and TorchCheckpoint: a custom ``Backend`` /
``BackendConfig`` (on_start through ``worker_group.execute``, ``train_func_context``
around the loop, on_shutdown), a ``DataConfig`` subclass overriding ``configure``,
``TorchConfig``'s Ray properties, and ``TorchCheckpoint`` reported from the workers
and loaded back on the driver."""

from __future__ import annotations

import os
import warnings
from typing import Any

import pytest

import streamdata as sd
from streamdata import train
from streamdata.train.backend import Backend, BackendConfig, TrainingFramework
from streamdata.train.torch import TorchCheckpoint, TorchConfig, TorchTrainer

torch = pytest.importorskip("torch")

HALF_CPU = train.ScalingConfig(num_workers=2, resources_per_worker={"CPU": 0.5})


pytestmark = pytest.mark.usefixtures("data_runtime")  # one runtime for the module


# ---------------------------------------------------------------- a custom backend


def _set_env(name: str, value: str) -> int:
    os.environ[name] = value
    return os.getpid()


def _get_env(name: str) -> str | None:
    return os.environ.get(name)


class MarkerContext:
    """Runs around the training function in each worker."""

    def __enter__(self) -> None:
        os.environ["IN_TRAIN_FUNC_CONTEXT"] = "yes"

    def __exit__(self, *exc: Any) -> bool:
        os.environ["IN_TRAIN_FUNC_CONTEXT"] = "left"
        return False


class MarkerBackend(Backend):
    calls: list[tuple[str, Any]] = []  # on the driver: the hooks run there

    def on_start(self, worker_group, backend_config):  # noqa: ANN001 - Ray's signature
        pids = worker_group.execute(_set_env, "MARKER_BACKEND", backend_config.flavour)
        MarkerBackend.calls.append(("on_start", pids))

    def on_training_start(self, worker_group, backend_config):  # noqa: ANN001 - Ray's signature
        MarkerBackend.calls.append(("on_training_start", len(worker_group.workers)))

    def on_shutdown(self, worker_group, backend_config):  # noqa: ANN001 - Ray's signature
        MarkerBackend.calls.append(("on_shutdown", worker_group.execute(_get_env, "IN_TRAIN_FUNC_CONTEXT")))


class MarkerConfig(BackendConfig):
    def __init__(self, flavour: str) -> None:
        self.flavour = flavour

    @property
    def backend_cls(self) -> type[Backend]:
        return MarkerBackend

    @property
    def train_func_context(self) -> Any:
        return MarkerContext


def _env_loop() -> dict:
    out = {"backend": os.environ.get("MARKER_BACKEND"), "ctx": os.environ.get("IN_TRAIN_FUNC_CONTEXT"),
           "pid": os.getpid()}
    train.report(out)
    return out


def test_a_custom_backend_sets_the_workers_up(tmp_path: Any) -> None:
    MarkerBackend.calls.clear()
    result = train.DataParallelTrainer(_env_loop, backend_config=MarkerConfig("mint"), scaling_config=HALF_CPU,
                                       run_config=train.RunConfig(storage_path=str(tmp_path))).fit()
    assert result.return_value["backend"] == "mint" and result.return_value["ctx"] == "yes"
    names = [name for name, _ in MarkerBackend.calls]
    assert names == ["on_start", "on_training_start", "on_shutdown"]
    pids = MarkerBackend.calls[0][1]
    assert len(set(pids)) == 2 and result.return_value["pid"] == pids[0]  # execute: world-rank order
    assert MarkerBackend.calls[2][1] == ["left", "left"]  # the context exited after the loop returned


def test_backend_config_must_be_a_backend_config() -> None:
    with pytest.raises(TypeError, match=r"backend_config must be a streamdata.train.BackendConfig .*got dict"):
        train.DataParallelTrainer(_env_loop, backend_config={"backend": "gloo"})


def test_torch_config_has_rays_properties() -> None:
    cfg = TorchConfig(backend="gloo", timeout_s=60)
    assert isinstance(cfg, BackendConfig) and cfg.framework is TrainingFramework.TORCH
    assert cfg.to_dict() == {"backend": "gloo", "init_method": "env", "timeout_s": 60}
    assert issubclass(cfg.backend_cls, Backend)
    with cfg.train_func_context():  # no GPU: a no-op
        pass
    base = BackendConfig()
    assert base.framework is None and base.to_dict() == {} and base.backend_cls is Backend


# ---------------------------------------------------------------- DataConfig.configure


class EvenOddConfig(train.DataConfig):
    """Worker 0 gets the even ids, worker 1 the odd ones (instead of a streaming split)."""

    def configure(self, datasets, world_size, worker_handles, worker_node_ids, **kwargs):  # noqa: ANN001
        ds = datasets["train"]
        return [{"train": ds.filter(lambda row, r=rank: row["id"] % 2 == r).iterator()} for rank in range(world_size)]


def _ids_loop() -> list:
    ids = sorted(int(x) for b in train.get_dataset_shard("train").iter_batches(batch_size=None) for x in b["id"])
    train.report({"n": len(ids)})
    return ids


def test_a_data_config_subclass_feeds_the_workers(tmp_path: Any) -> None:
    result = TorchTrainer(_ids_loop, scaling_config=HALF_CPU, datasets={"train": sd.range(10)},
                          dataset_config=EvenOddConfig(),
                          run_config=train.RunConfig(storage_path=str(tmp_path))).fit()
    assert result.return_value == [0, 2, 4, 6, 8]  # rank 0's


def test_default_data_config_configure_splits_and_ingest_options() -> None:
    shards = train.DataConfig(datasets_to_split=["a"]).configure({"a": sd.range(6), "b": sd.range(3)}, world_size=2,
                                                                 worker_handles=None, worker_node_ids=None)
    assert len(shards) == 2 and all(set(s) == {"a", "b"} for s in shards)
    from streamdata.iterator import shutdown_split
    shutdown_split([s["a"] for s in shards])
    ctx = sd.DataContext.get_current()
    old = ctx.execution_options.preserve_order
    try:
        ctx.execution_options.preserve_order = True
        assert train.DataConfig.default_ingest_options().preserve_order is True
    finally:
        ctx.execution_options.preserve_order = old


def test_bad_configure_output_is_named(tmp_path: Any) -> None:
    class Broken(train.DataConfig):
        def configure(self, datasets, world_size, worker_handles, worker_node_ids, **kwargs):  # noqa: ANN001
            return [{}]

    with pytest.raises(TypeError, match=r"Broken.configure must return a list of 2 dicts .* got list of 1"):
        TorchTrainer(_ids_loop, scaling_config=HALF_CPU, datasets={"train": sd.range(4)}, dataset_config=Broken(),
                     run_config=train.RunConfig(storage_path=str(tmp_path))).fit()


# ---------------------------------------------------------------- TorchCheckpoint


def _model() -> Any:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))


def _ddp_checkpoint_loop() -> None:
    from streamdata.train.torch import prepare_model

    model = prepare_model(_model())  # DistributedDataParallel: keys start with "module."
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = model(torch.ones(4, 3)).pow(2).mean()
    loss.backward()
    opt.step()
    ckpt = TorchCheckpoint.from_state_dict(model.state_dict()) if train.get_context().get_world_rank() == 0 else None
    train.report({"loss": float(loss)}, checkpoint=ckpt)


def test_torch_checkpoint_from_a_ddp_model_loads_on_the_driver(tmp_path: Any) -> None:
    result = TorchTrainer(_ddp_checkpoint_loop, scaling_config=HALF_CPU, torch_config=TorchConfig(backend="gloo"),
                          run_config=train.RunConfig(storage_path=str(tmp_path))).fit()
    ckpt = TorchCheckpoint(result.checkpoint.path)
    model = ckpt.get_model(_model())  # the "module." prefix was stripped
    fresh = _model()
    assert not torch.equal(model[0].weight, fresh[0].weight)  # trained: one SGD step moved it
    assert str(model(torch.ones(1, 3)).shape) == "torch.Size([1, 1])"


def test_torch_checkpoint_round_trips_and_names_its_errors() -> None:
    model = _model()
    with pytest.warns(DeprecationWarning, match="from_state_dict"):
        whole = TorchCheckpoint.from_model(model, preprocessor={"scale": 2})
    assert whole.get_preprocessor() == {"scale": 2}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = whole.get_model(_model())
    assert any("discarded" in str(w.message) for w in caught)
    assert torch.equal(loaded[0].weight, model[0].weight)
    sd_ckpt = TorchCheckpoint.from_state_dict(model.state_dict())
    assert sd_ckpt.get_preprocessor() is None
    with pytest.raises(ValueError, match="holds a state dict; pass the model"):
        sd_ckpt.get_model()
    import pickle
    assert type(pickle.loads(pickle.dumps(sd_ckpt))) is TorchCheckpoint
    with pytest.raises(RuntimeError, match="'model.pt' not found"):
        TorchCheckpoint.from_directory(_empty_dir()).get_model()
    with pytest.raises(TypeError, match=r"from_state_dict\(state_dict=...\) must be a model's state dict, got Sequential"):
        TorchCheckpoint.from_state_dict(model)
    with pytest.raises(TypeError, match=r"from_model\(model=...\) must be a torch.nn.Module, got OrderedDict"):
        TorchCheckpoint.from_model(model.state_dict())


def _empty_dir() -> str:
    import tempfile
    return tempfile.mkdtemp()


def test_get_trial_resources_is_deprecated_as_in_ray() -> None:
    from streamdata.train.session import TrainContext

    ctx = TrainContext(world_rank=0, world_size=1, local_rank=0, local_world_size=1, node_rank=0)
    with pytest.raises(DeprecationWarning, match="get_trial_resources"):
        ctx.get_trial_resources()
