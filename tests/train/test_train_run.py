"""sd.train.run on the real runtime: actor workers, dataset shards, torch gloo
process groups, reports and checkpoints, and recovery from a SIGKILLed worker."""

from __future__ import annotations

import gc
import json
import os
import signal
import tempfile
from typing import Any, Iterator

import pytest

import streamdata as sd
from streamdata import train
from streamdata.errors import TrainingFailedError
from streamdata.train import Checkpoint

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module", autouse=True)
def runtime() -> Iterator[None]:
    # 4 logical CPUs: two workers of 1 CPU each leave room for the datasets' tasks
    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=4)
    yield
    gc.collect()
    sd.shutdown()


def _save(obj: Any, name: str) -> Checkpoint:
    d = tempfile.mkdtemp()
    with open(os.path.join(d, name), "w") as f:
        json.dump(obj, f)
    return Checkpoint.from_directory(d)


# ---------------------------------------------------------------- shards, context, torch


def _shard_fn(config: dict) -> None:
    import torch.distributed as dist

    ctx = train.get_context()
    ids: list[int] = []
    for batch in train.get_dataset_shard("train").iter_batches(batch_size=16):
        ids.extend(int(x) for x in batch["id"])
    valid = sum(len(b["x"]) for b in train.get_dataset_shard("valid").iter_batches(batch_size=None))
    t = torch.tensor([float(ctx.get_world_rank() + 1)])
    dist.all_reduce(t)  # gloo across the two worker processes
    meta = {"rank": ctx.world_rank, "world_size": ctx.world_size, "local_rank": ctx.local_rank,
            "local_world_size": ctx.local_world_size, "node_rank": ctx.node_rank, "pid": os.getpid(),
            "backend": dist.get_backend(), "master": os.environ["MASTER_ADDR"], "ids": ids}
    train.report({"rank": ctx.world_rank, "allreduce": t.item(), "valid_rows": valid,
                  "tag": config["tag"]}, checkpoint=_save(meta, f"rank{ctx.world_rank}.json"))


def test_shards_cover_the_dataset_once_and_torch_is_initialised(tmp_path: Any) -> None:
    ds = sd.range(200, override_num_blocks=8)
    valid = sd.from_items([{"x": i} for i in range(10)])
    result = train.run(_shard_fn, datasets={"train": ds, "valid": valid}, num_workers=2,
                       config={"tag": "t1"}, storage_path=str(tmp_path))
    assert result.error is None and result.num_failures == 0
    assert result.metrics == {"rank": 0, "allreduce": 3.0, "valid_rows": 5, "tag": "t1"}
    assert result.path.startswith(str(tmp_path))
    ckpt = result.checkpoint
    assert ckpt is not None and os.path.dirname(ckpt.path) == result.path
    metas = []
    with ckpt.as_directory() as d:  # both workers' files, merged into one checkpoint
        assert sorted(os.listdir(d)) == ["rank0.json", "rank1.json"]
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name)) as f:
                metas.append(json.load(f))
    ids0, ids1 = metas[0]["ids"], metas[1]["ids"]
    assert len(ids0) == len(ids1) == 100
    assert sorted(ids0 + ids1) == list(range(200))  # every row exactly once
    assert [m["rank"] for m in metas] == [0, 1]
    assert {m["world_size"] for m in metas} == {2} and {m["local_world_size"] for m in metas} == {2}
    assert sorted(m["local_rank"] for m in metas) == [0, 1] and {m["node_rank"] for m in metas} == {0}
    assert metas[0]["pid"] != metas[1]["pid"] != os.getpid()
    assert {m["backend"] for m in metas} == {"gloo"} and {m["master"] for m in metas} == {"127.0.0.1"}


# ---------------------------------------------------------------- reports, checkpoints, DDP


def _epochs_fn(config: dict) -> None:
    from streamdata.train.torch import get_device, prepare_model

    ctx = train.get_context()
    assert train.get_checkpoint() is None  # first (and only) attempt
    torch.manual_seed(0)
    model = prepare_model(torch.nn.Linear(1, 1, bias=False))
    assert isinstance(model, torch.nn.parallel.DistributedDataParallel)
    assert get_device().type == "cpu"
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    shard = train.get_dataset_shard("train")
    for epoch in range(config["epochs"]):
        for batch in shard.iter_torch_batches(batch_size=10, dtypes=torch.float32):
            x = batch["x"].reshape(-1, 1)
            loss = ((model(x) - 2 * x) ** 2).mean()
            opt.zero_grad()
            loss.backward()  # DDP averages the gradients of the two workers
            opt.step()
        w = float(model.module.weight.item())
        # every rank saves its weight: DDP keeps them equal although the shards differ
        train.report({"epoch": epoch, "w": w, "rank": ctx.world_rank},
                     checkpoint=_save({"epoch": epoch, "w": w}, f"state{ctx.world_rank}.json"))


def test_reports_checkpoints_and_ddp(tmp_path: Any) -> None:
    ds = sd.from_items([{"x": float(i % 5) / 5} for i in range(40)])
    result = train.run(_epochs_fn, datasets={"train": ds}, num_workers=2, config={"epochs": 3},
                       storage_path=str(tmp_path))
    assert [m["epoch"] for m in result.metrics_history] == [0, 1, 2]
    assert {m["rank"] for m in result.metrics_history} == {0}  # rank 0's reports
    assert result.metrics == result.metrics_history[-1]
    assert len(result.best_checkpoints) == 3
    assert [os.path.basename(c.path) for c, _ in result.best_checkpoints] == \
        ["checkpoint_000000", "checkpoint_000001", "checkpoint_000002"]
    states = []
    for rank in range(2):
        with open(os.path.join(result.checkpoint.path, f"state{rank}.json")) as f:
            states.append(json.load(f))
    assert states[0] == states[1] == {"epoch": 2, "w": result.metrics["w"]}
    ws = [m["w"] for m in result.metrics_history]
    assert abs(ws[-1] - 2) < abs(ws[0] - 2)  # learning y = 2x


# ---------------------------------------------------------------- failures


def _resumable_fn(config: dict) -> None:
    import torch.distributed as dist

    ctx = train.get_context()
    ckpt = train.get_checkpoint()
    start, resumed_from = 0, -1
    if ckpt is not None:
        with open(os.path.join(ckpt.path, "state.json")) as f:
            start = json.load(f)["epoch"] + 1
        resumed_from = start
    shard = train.get_dataset_shard("train")
    for epoch in range(start, config["epochs"]):
        total = rows = 0
        for i, batch in enumerate(shard.iter_batches(batch_size=8)):
            if (epoch == config["kill_epoch"] and ctx.world_rank == 1 and i == 1
                    and not os.path.exists(config["marker"])):
                open(config["marker"], "w").close()
                os.kill(os.getpid(), signal.SIGKILL)  # dies mid-epoch, mid-shard
            total += int(batch["id"].sum())
            rows += len(batch["id"])
        t = torch.tensor([float(total), float(rows)], dtype=torch.float64)
        dist.all_reduce(t)
        ckpt_out = _save({"epoch": epoch}, "state.json") if ctx.world_rank == 0 else None
        train.report({"epoch": epoch, "sum": t[0].item(), "rows": t[1].item(), "resumed_from": resumed_from,
                      "pid": os.getpid()}, checkpoint=ckpt_out)


def test_killed_worker_restarts_the_group_from_the_checkpoint(tmp_path: Any) -> None:
    marker = str(tmp_path / "killed")
    ds = sd.range(64, override_num_blocks=4)
    result = train.run(_resumable_fn, datasets={"train": ds}, num_workers=2, max_failures=1,
                       config={"epochs": 4, "kill_epoch": 2, "marker": marker},
                       storage_path=str(tmp_path / "store"))
    assert os.path.exists(marker)  # the worker really was killed once
    assert result.error is None and result.num_failures == 1
    assert [m["epoch"] for m in result.metrics_history] == [0, 1, 2, 3]
    first, last = result.metrics_history[0], result.metrics
    assert last["resumed_from"] >= 1 and first["resumed_from"] == -1
    assert last["pid"] != first["pid"]  # a new worker group
    for m in result.metrics_history:  # every epoch saw every row once, before and after the restart
        assert (m["sum"], m["rows"]) == (float(sum(range(64))), 64.0)
    with open(os.path.join(result.checkpoint.path, "state.json")) as f:
        assert json.load(f) == {"epoch": 3}
    names = sorted(n for n in os.listdir(result.path) if n.startswith("checkpoint_"))
    assert names == [f"checkpoint_{i:06d}" for i in range(4)]


def _ahead_then_failing_fn() -> None:
    """Rank 0 fails right after its report of epoch 1 (as Ray's restore example does, until
    it resumes past that epoch); rank 1 makes the same report later."""
    import threading

    checkpoint = train.get_checkpoint()
    start = json.load(open(os.path.join(checkpoint.path, "epoch.json"))) + 1 if checkpoint else 0
    for epoch in range(start, 3):
        if epoch == 1 and train.get_context().world_rank == 1:
            threading.Event().wait(0.5)  # this worker is slower to reach the round
        train.report({"epoch": epoch}, checkpoint=_save(epoch, "epoch.json"))
        if epoch == 1 and train.get_context().world_rank == 0:
            raise RuntimeError("failed right after its report")


def test_a_round_the_failed_worker_finished_is_recorded_once_the_others_reach_it(tmp_path: Any) -> None:
    result = train.run(_ahead_then_failing_fn, num_workers=2, resources_per_worker={"CPU": 0.5}, max_failures=1,
                       storage_path=str(tmp_path / "store"))
    # round 1 counted although rank 1 made it after rank 0 failed: the restart went on from epoch 2
    # (from epoch 1, rank 0 would fail again and exceed max_failures)
    assert result.error is None and result.num_failures == 1
    assert [m["epoch"] for m in result.metrics_history] == [0, 1, 2]


def _failing_fn() -> None:
    train.report({"step": 0})
    if train.get_context().world_rank == 0:
        raise ValueError("loss is nan")


def test_train_fn_error_without_failures_left(tmp_path: Any) -> None:
    with pytest.raises(TrainingFailedError, match="ValueError") as info:
        train.run(_failing_fn, num_workers=2, resources_per_worker={"CPU": 0.5}, storage_path=str(tmp_path))
    err = info.value
    assert isinstance(err.__cause__, ValueError) and "loss is nan" in str(err.__cause__)
    assert "_failing_fn" in err.__cause__.remote_traceback  # the worker's traceback
    result = err.result
    assert result.error is err.__cause__ and result.num_failures == 1
    assert result.metrics == {"step": 0} and result.checkpoint is None


def _unknown_shard_fn() -> None:
    train.get_dataset_shard("validation")


def test_unknown_dataset_name(tmp_path: Any) -> None:
    with pytest.raises(TrainingFailedError) as info:
        train.run(_unknown_shard_fn, datasets={"train": sd.range(4)}, num_workers=1,
                  storage_path=str(tmp_path))
    assert isinstance(info.value.__cause__, KeyError)
    assert "it has: ['train']" in str(info.value.__cause__)


def test_bad_arguments_fail_before_starting_anything() -> None:
    with pytest.raises(ValueError, match="need 6 CPU in all, but the cluster has 4"):
        train.run(_failing_fn, num_workers=3, resources_per_worker={"CPU": 2})
    with pytest.raises(TypeError, match="cannot receive"):
        train.run(_failing_fn, config={"a": 1})
    with pytest.raises(TypeError, match="must be a streamdata Dataset"):
        train.run(_shard_fn, datasets={"train": [1, 2]})
    with pytest.raises(ValueError, match="num_workers"):
        train.run(_failing_fn, num_workers=0)
