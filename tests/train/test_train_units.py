"""sd.train pieces that need no runtime: ranks, report rounds, checkpoints, the
session functions, the worker's poll protocol (in-process, on threads)."""

from __future__ import annotations

import os
import pickle
import threading
from pathlib import Path
from typing import Any

import pytest

from streamdata import train
from streamdata.train import session as session_mod
from streamdata.train.checkpoint import Checkpoint, checkpoint_dir_name, persist_checkpoint
from streamdata.train.result import ReportRounds, Result
from streamdata.train.session import Report, TrainContext, TrainSession
from streamdata.train.trainer import _remove_unrecorded_checkpoints
from streamdata.train.worker_group import (
    TrainWorker,
    assign_ranks,
    call_train_fn,
    check_fits,
    takes_config,
    worker_spec,
)


def _ctx(rank: int = 0, world: int = 1) -> TrainContext:
    return TrainContext(world_rank=rank, world_size=world, local_rank=rank, local_world_size=world, node_rank=0)


# ---------------------------------------------------------------- ranks and resources


def test_assign_ranks_groups_nodes_and_keeps_order_within_a_node() -> None:
    ranks = assign_ranks(["b", "a", "b", "a", "c"])
    assert [r.world_rank for r in ranks] == [0, 2, 1, 3, 4]
    assert [r.local_rank for r in ranks] == [0, 0, 1, 1, 0]
    assert [r.local_world_size for r in ranks] == [2, 2, 2, 2, 1]
    assert [r.node_rank for r in ranks] == [0, 1, 0, 1, 2]


def test_assign_ranks_one_node() -> None:
    ranks = assign_ranks(["h"] * 3)
    assert [(r.world_rank, r.local_rank, r.local_world_size, r.node_rank) for r in ranks] == \
        [(0, 0, 3, 0), (1, 1, 3, 0), (2, 2, 3, 0)]


def test_worker_spec_maps_resources_to_actor_options() -> None:
    spec = worker_spec({"CPU": 2, "memory": 1e9, "accel": 1}, use_gpu=False)
    assert spec.options["num_cpus"] == 2.0 and spec.options["num_gpus"] == 0.0
    assert spec.options["memory"] == 1e9 and spec.options["resources"] == {"accel": 1.0}
    assert spec.bundle == {"CPU": 2.0, "memory": 1e9, "accel": 1.0}
    gpu = worker_spec({"CPU": 1, "GPU": 2}, use_gpu=True)
    assert gpu.options["num_gpus"] == 2.0  # an explicit GPU count wins over use_gpu's one
    assert worker_spec({"CPU": 0}, use_gpu=False).bundle == {}
    with pytest.raises(ValueError, match="resources_per_worker\\['CPU'\\]"):
        worker_spec({"CPU": -1}, use_gpu=False)
    with pytest.raises(TypeError):
        worker_spec([("CPU", 1)], use_gpu=False)  # type: ignore[arg-type]


def test_check_fits_names_the_missing_resource() -> None:
    check_fits(4, {"CPU": 0.5}, {"CPU": 2.0})
    with pytest.raises(ValueError, match="need 2 GPU in all, but the cluster has 0"):
        check_fits(2, {"GPU": 1.0}, {"CPU": 8.0})


def test_train_fn_gets_config_only_when_it_takes_an_argument() -> None:
    assert takes_config(lambda config: None) and takes_config(lambda *a: None)
    assert not takes_config(lambda: None) and not takes_config(lambda *, x=1: None)
    assert call_train_fn(lambda: "none", {"a": 1}) == "none"
    assert call_train_fn(lambda cfg: cfg, None) == {}


# ---------------------------------------------------------------- report rounds


def test_rounds_complete_when_every_worker_reported() -> None:
    rounds = ReportRounds(3)
    assert rounds.add(0, [Report(index=5, metrics={"r": 0}), Report(index=6, metrics={"r": 0, "i": 6})]) == []
    assert rounds.add(2, [Report(index=5, metrics={"r": 2}, checkpoint_path="/c5")]) == []
    done = rounds.add(1, [Report(index=5, metrics={"r": 1}), Report(index=6, metrics={"r": 1})])
    assert [(r.index, r.metrics, r.checkpoint_path) for r in done] == [(5, {"r": 0}, "/c5")]
    assert rounds.unmatched() == [1, 1, 0]
    done = rounds.add(2, [Report(index=6, metrics={"r": 2})])
    assert [(r.index, r.metrics, r.checkpoint_path) for r in done] == [(6, {"r": 0, "i": 6}, None)]


def test_rounds_out_of_step_is_an_error() -> None:
    rounds = ReportRounds(2)
    rounds.add(0, [Report(index=0, metrics={})])
    with pytest.raises(RuntimeError, match="out of step"):
        rounds.add(1, [Report(index=1, metrics={})])


def test_result_dataframe_and_repr() -> None:
    res = Result(metrics={"a": 2}, metrics_history=[{"a": 1}, {"a": 2}], path="/x")
    assert list(res.metrics_dataframe["a"]) == [1, 2]
    assert "metrics={'a': 2}" in repr(res)


# ---------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip(tmp_path: Any) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "w.txt").write_text("weights")
    (src / "sub" / "x").write_text("x")
    ckpt = Checkpoint.from_directory(src)
    assert pickle.loads(pickle.dumps(ckpt)) == ckpt
    with ckpt.as_directory() as d:
        assert Path(d, "w.txt").read_text() == "weights"
    out = ckpt.to_directory(tmp_path / "out")
    assert sorted(os.listdir(out)) == ["sub", "w.txt"]
    assert Path(out, "sub", "x").read_text() == "x"
    assert ckpt.get_metadata() == {}
    ckpt.set_metadata({"epoch": 1})
    ckpt.update_metadata({"loss": 0.5})
    assert Checkpoint.from_directory(src).get_metadata() == {"epoch": 1, "loss": 0.5}


def test_checkpoint_of_a_missing_directory(tmp_path: Any) -> None:
    # As Ray's Checkpoint docstring: from_directory does not read the directory, using it does.
    nope = Checkpoint.from_directory(tmp_path / "nope")
    assert nope.path == str(tmp_path / "nope")
    assert type(nope.filesystem).__name__ == "LocalFileSystem"
    with pytest.raises(FileNotFoundError, match="nope.*does not exist"):
        with nope.as_directory():
            pass
    gone = Checkpoint(str(tmp_path / "gone"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        gone.to_directory()
    with pytest.raises(TypeError, match="from_directory path must be a str"):
        Checkpoint.from_directory(3)


def test_persist_merges_files_of_several_workers(tmp_path: Any) -> None:
    dest = str(tmp_path / "run" / checkpoint_dir_name(3))
    for rank in range(2):
        src = tmp_path / f"w{rank}"
        src.mkdir()
        (src / f"rank{rank}.txt").write_text(str(rank))
        assert persist_checkpoint(Checkpoint.from_directory(src), dest).path == dest
    assert sorted(os.listdir(dest)) == ["rank0.txt", "rank1.txt"]
    with pytest.raises(TypeError):
        persist_checkpoint(str(tmp_path), dest)  # type: ignore[arg-type]


def test_unrecorded_checkpoints_are_removed(tmp_path: Any) -> None:
    for i in range(4):
        (tmp_path / checkpoint_dir_name(i)).mkdir()
    (tmp_path / "checkpoint_notes").mkdir()
    _remove_unrecorded_checkpoints(str(tmp_path), 2)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint_000000", "checkpoint_000001", "checkpoint_notes"]


# ---------------------------------------------------------------- the session


def test_session_functions_outside_a_worker_raise() -> None:
    for fn, args in [(train.get_context, ()), (train.get_dataset_shard, ("train",)),
                     (train.report, ({},)), (train.get_checkpoint, ())]:
        with pytest.raises(RuntimeError, match="only inside the training loop"):
            fn(*args)


def test_context_checks_ranks() -> None:
    with pytest.raises(ValueError, match="world_rank 2 out of range"):
        _ctx(2, 2)


def test_session_report_numbers_and_persists(tmp_path: Any) -> None:
    s = TrainSession(context=_ctx(), run_dir=str(tmp_path), first_index=4, datasets={"train": "it"})
    src = tmp_path / "mine"
    src.mkdir()
    (src / "m").write_text("1")
    s.report({"a": 1})
    s.report({"a": 2}, Checkpoint.from_directory(src))
    assert [(r.index, r.metrics) for r in s.reports] == [(4, {"a": 1}), (5, {"a": 2})]
    assert s.reports[1].checkpoint_path == str(tmp_path / "checkpoint_000005")
    assert os.listdir(s.reports[1].checkpoint_path) == ["m"]
    with pytest.raises(TypeError, match="dict of metrics"):
        s.report([1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Checkpoint"):
        s.report({}, checkpoint=str(src))  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="it has: \\['train'\\]"):
        s.get_dataset_shard("valid")


def test_worker_poll_hands_reports_then_the_error(tmp_path: Any) -> None:
    """TrainWorker used in-process: train_fn runs in its thread, poll waits for it."""
    gate = threading.Event()

    def train_fn(config: dict) -> None:
        train.report({"step": 0, "lr": config["lr"], "rank": train.get_context().get_world_rank()})
        gate.wait(30)
        train.report({"step": 1})
        raise ValueError("diverged")

    w = TrainWorker()
    try:
        w.start(train_fn, {"lr": 0.1}, _ctx(), str(tmp_path), {}, None, 0, False)
        reports, finished, _ = w.poll(0, 30)
        assert [r.metrics for r in reports] == [{"step": 0, "lr": 0.1, "rank": 0}] and not finished
        assert w.poll(1, 0.0) == ([], False, None)  # nothing new yet: answers at once
        gate.set()
        reports, finished, _ = w.poll(1, 30)
        assert [r.metrics["step"] for r in reports] == [1]
        with pytest.raises(ValueError, match="diverged"):
            w.poll(2, 30)
        with pytest.raises(RuntimeError, match="already started"):
            w.start(train_fn, None, _ctx(), str(tmp_path), {}, None, 0, False)
    finally:
        gate.set()
        session_mod.set_session(None)


def test_worker_poll_reports_finish(tmp_path: Any) -> None:
    w = TrainWorker()
    try:
        w.start(lambda: None, None, _ctx(), str(tmp_path), {}, None, 0, False)
        assert w.poll(0, 30) == ([], True, None)
    finally:
        session_mod.set_session(None)
