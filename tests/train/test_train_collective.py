"""``train.collective`` (Ray's ``ray.train.collective``): ``barrier()`` and
``broadcast_from_rank_zero(data)`` across real worker processes (2 workers of 0.5 CPU on
the module's 2-CPU runtime), with 1 worker, in local mode, misused, and with a worker
failing while another waits (the run fails or restarts; nothing hangs)."""

from __future__ import annotations

import json
import logging
import os
import pickle
import threading
import time
from typing import Any, Callable

import cloudpickle
import numpy as np
import pytest

import streamdata as sd
from streamdata import train
from streamdata.errors import ActorDiedError, WorkerGroupError
from streamdata.train import FailureConfig, RunConfig, ScalingConfig
from streamdata.train.collective import (COLLECTIVE_TIMEOUT_S_ENV_VAR, COLLECTIVE_WARN_INTERVAL_S_ENV_VAR,
                                         CollectiveRounds, _env_seconds, _pack, barrier, broadcast_from_rank_zero)
from streamdata.train.session import CollectiveArrival, TrainContext
from streamdata.train.worker_group import TrainWorker

pytestmark = pytest.mark.usefixtures("data_runtime")  # sd.init(num_cpus=2) for the module

#: how long a worker waits for another's file before giving up (a failure, never a pass)
DEADLINE_S = 60.0


def _fit(loop: Callable[..., Any], tmp_path: Any, *, num_workers: int = 2, max_failures: int = 0,
         config: dict[str, Any] | None = None) -> train.Result:
    return train.DataParallelTrainer(
        loop, train_loop_config=config,
        scaling_config=ScalingConfig(num_workers=num_workers, resources_per_worker={"CPU": 0.5}),
        run_config=RunConfig(storage_path=str(tmp_path / "runs"),
                             failure_config=FailureConfig(max_failures=max_failures))).fit()


def _wait_for(path: str) -> None:
    """Block until ``path`` exists (another worker wrote it), failing after ``DEADLINE_S``."""
    deadline = time.monotonic() + DEADLINE_S
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {DEADLINE_S} s")
        time.sleep(0.01)  # polling a condition with a deadline, not sleeping to wait for one


def _write(path: str, obj: Any = None) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)  # readers never see a half-written file


def _read(path: str) -> Any:
    with open(path) as f:
        return json.load(f)


# ---------------------------------------------------------------- names and misuse (no workers)


def test_module_paths_match_rays() -> None:
    import streamdata.train.collective as collective
    from streamdata.train.collective import barrier as imported_barrier

    assert sd.train.collective is collective and sd.train.collective.barrier is imported_barrier
    assert sorted(collective.__all__) == ["barrier", "broadcast_from_rank_zero"]  # ray.train.collective.__all__
    assert barrier.__module__ == broadcast_from_rank_zero.__module__ == "streamdata.train.collective"


def test_outside_a_training_function_both_raise_runtime_error_as_in_ray() -> None:
    with pytest.raises(RuntimeError, match=r"`barrier` cannot be used outside of a training function"):
        barrier()
    with pytest.raises(RuntimeError, match=r"`broadcast_from_rank_zero` cannot be used outside of a training "
                                           r"function.*fit\(\)"):
        broadcast_from_rank_zero({"a": 1})


def test_pack_refuses_unpicklable_data_and_warns_above_rays_1000_bytes(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(TypeError, match=r"`broadcast_from_rank_zero`: the data must be picklable, and this lock "
                                        r"is not: TypeError: cannot pickle '_thread.lock' object"):
        _pack(threading.Lock(), "broadcast_from_rank_zero")
    with caplog.at_level(logging.WARNING, logger="streamdata.train.collective"):
        assert pickle.loads(_pack(list(range(10)), "broadcast_from_rank_zero")) == list(range(10))
        assert not caplog.records
        big = np.zeros(10_000)
        assert np.array_equal(pickle.loads(_pack(big, "broadcast_from_rank_zero")), big)  # sent anyway
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        f"Data size {len(cloudpickle.dumps(big))} bytes exceeds the maximum broadcast size of 1000 bytes"]


def test_environment_variables_are_read_as_ray_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(COLLECTIVE_TIMEOUT_S_ENV_VAR, raising=False)
    monkeypatch.setenv(COLLECTIVE_WARN_INTERVAL_S_ENV_VAR, "None")
    rounds = CollectiveRounds.from_env(2)
    assert (rounds.timeout_s, rounds.warn_interval_s) == (None, None)  # Ray's default: no timeout
    monkeypatch.setenv(COLLECTIVE_TIMEOUT_S_ENV_VAR, "2.5")
    monkeypatch.delenv(COLLECTIVE_WARN_INTERVAL_S_ENV_VAR)
    rounds = CollectiveRounds.from_env(2)
    assert (rounds.timeout_s, rounds.warn_interval_s) == (2.5, 60.0)
    monkeypatch.setenv(COLLECTIVE_TIMEOUT_S_ENV_VAR, "soon")
    with pytest.raises(ValueError, match="RAY_TRAIN_COLLECTIVE_TIMEOUT_S='soon' must be a number of seconds or None"):
        _env_seconds(COLLECTIVE_TIMEOUT_S_ENV_VAR, None)


def test_the_driver_releases_with_rank_zeros_data_warns_and_times_out() -> None:
    now = [0.0]
    rounds = CollectiveRounds(3, timeout_s=10.0, warn_interval_s=4.0, clock=lambda: now[0])
    assert rounds.arrive(2, CollectiveArrival(1, "broadcast_from_rank_zero")) is None
    assert rounds.arrive(0, CollectiveArrival(1, "broadcast_from_rank_zero", b"rank0")) is None
    assert rounds.warning() is None and rounds.failure() is None
    now[0] = 4.5
    warning = rounds.warning()
    assert warning is not None and "waiting for 4.50 s for the following ranks to join the " \
                                   "`broadcast_from_rank_zero` call: [1]" in warning
    assert rounds.warning() is None  # not again before another interval
    assert rounds.arrive(1, CollectiveArrival(1, "broadcast_from_rank_zero")) == (1, b"rank0")
    now[0] = 100.0
    assert rounds.failure() is None and rounds.warning() is None  # nobody waits any more
    assert rounds.arrive(1, CollectiveArrival(2, "barrier")) is None
    now[0] = 111.0
    error = rounds.failure()
    assert isinstance(error, TimeoutError)
    assert "timed out after 11.00 seconds. The following ranks have not joined the collective operation: [0, 2]" \
        in str(error)
    assert rounds.failure() is None  # reported once


def _ctx(rank: int = 0, world: int = 2) -> TrainContext:
    return TrainContext(world_rank=rank, world_size=world, local_rank=rank, local_world_size=world, node_rank=0)


def test_a_worker_hands_its_arrival_to_poll_and_an_abort_releases_it_with_an_error(tmp_path: Any) -> None:
    """TrainWorker in this process: poll hands the arrival over once; release returns rank
    0's payload; abort makes the waiting barrier (and later ones) raise."""
    from streamdata.train import session as session_mod

    out: dict[str, Any] = {}

    def loop() -> None:
        out["first"] = broadcast_from_rank_zero({"a": 1})
        try:
            barrier()
        except RuntimeError as exc:
            out["error"] = str(exc)
        with pytest.raises(RuntimeError, match="rank 1 of the worker group failed"):
            barrier()  # every later collective fails too

    w = TrainWorker()
    try:
        w.start(loop, None, _ctx(), str(tmp_path), {}, None, 0, False)
        reports, finished, arrival = w.poll(0, 30)
        assert (reports, finished) == ([], False) and arrival is not None
        assert (arrival.seq, arrival.name, pickle.loads(arrival.payload)) == (1, "broadcast_from_rank_zero", {"a": 1})
        w.release_collective(1, pickle.dumps({"from": "rank 0"}))
        reports, finished, arrival = w.poll(0, 30, 1)  # the driver saw #1: only #2 wakes it
        assert arrival is not None and (arrival.seq, arrival.name, arrival.payload) == (2, "barrier", None)
        assert w.poll(0, 0.0, 2) == ([], False, None)
        w.abort_collectives(RuntimeError("rank 1 of the worker group failed (ActorDiedError: gone)"))
        assert w.poll(0, 30, 2) == ([], True, None)
        assert out == {"first": {"from": "rank 0"},
                       "error": "`barrier` failed: rank 1 of the worker group failed (ActorDiedError: gone)"}
    finally:
        session_mod.set_session(None)


# ---------------------------------------------------------------- real workers


def _barrier_loop(config: dict) -> dict:
    d = config["dir"]
    rank = train.get_context().get_world_rank()
    if rank == 0:
        _wait_for(os.path.join(d, "rank1_at_barrier"))  # rank 1 is in (or entering) the barrier
        _write(os.path.join(d, "rank0_before"), time.time())
        barrier()
        return {"rank0_passed": time.time()}
    _write(os.path.join(d, "rank1_at_barrier"))
    barrier()
    passed = time.time()
    # rank 0 wrote its file only after rank 1 reached the barrier: rank 1 got past it after that
    _write(os.path.join(d, "rank1_after"), {"saw_rank0_before": os.path.exists(os.path.join(d, "rank0_before")),
                                            "passed": passed})
    return {}


def test_barrier_waits_for_every_worker(tmp_path: Any) -> None:
    result = _fit(_barrier_loop, tmp_path, config={"dir": str(tmp_path)})
    rank1 = _read(str(tmp_path / "rank1_after"))
    assert rank1["saw_rank0_before"] is True
    assert rank1["passed"] >= _read(str(tmp_path / "rank0_before"))
    assert result.return_value["rank0_passed"] >= _read(str(tmp_path / "rank0_before"))


def _broadcast_loop(config: dict) -> dict:
    rank = train.get_context().get_world_rank()
    settings = broadcast_from_rank_zero({"lr": 0.1, "layers": [64, 32], "rank": rank} if rank == 0 else None)
    weights = broadcast_from_rank_zero(np.arange(12.0).reshape(3, 4) * (rank + 1))  # other ranks' data: ignored
    seen = []
    for step in range(4):  # collectives in a row, with reports between them
        seen.append(broadcast_from_rank_zero(step * 10 if rank == 0 else -1))
        train.report({"step": step, "rank": rank})
        barrier()
    none = broadcast_from_rank_zero(None)
    np.save(os.path.join(config["dir"], f"weights{rank}.npy"), weights)
    _write(os.path.join(config["dir"], f"rank{rank}.json"), {"settings": settings, "seen": seen, "none": none,
                                                              "dtype": str(weights.dtype)})
    return settings


def test_broadcast_from_rank_zero_sends_rank_zeros_dict_and_numpy_array(tmp_path: Any) -> None:
    result = _fit(_broadcast_loop, tmp_path, config={"dir": str(tmp_path)})
    expected = {"settings": {"lr": 0.1, "layers": [64, 32], "rank": 0}, "seen": [0, 10, 20, 30], "none": None,
                "dtype": "float64"}
    for rank in (0, 1):
        assert _read(str(tmp_path / f"rank{rank}.json")) == expected
        np.testing.assert_array_equal(np.load(str(tmp_path / f"weights{rank}.npy")), np.arange(12.0).reshape(3, 4))
    assert result.return_value == expected["settings"]
    assert [m["step"] for m in result.metrics_history] == [0, 1, 2, 3]


def _one_worker_loop() -> dict:
    data = {"array": np.arange(3)}
    got = broadcast_from_rank_zero(data)
    return {"barrier": barrier(), "equal": bool(np.array_equal(got["array"], data["array"])),
            "copy": got is not data, "world": train.get_context().get_world_size()}


def test_one_worker(tmp_path: Any) -> None:
    result = _fit(_one_worker_loop, tmp_path, num_workers=1)
    assert result.return_value == {"barrier": None, "equal": True, "copy": True, "world": 1}


def test_local_mode_the_caller_is_the_only_rank_as_in_ray() -> None:
    lock = threading.Lock()

    def loop() -> dict:
        data = {"a": [1, 2]}
        # Ray's local mode returns the object itself and checks nothing (not even pickling)
        return {"same": broadcast_from_rank_zero(data) is data, "lock": broadcast_from_rank_zero(lock) is lock,
                "barrier": barrier()}

    result = train.DataParallelTrainer(loop, scaling_config=ScalingConfig(num_workers=0)).fit()
    assert result.return_value == {"same": True, "lock": True, "barrier": None}


def _unpicklable_loop() -> None:
    broadcast_from_rank_zero(threading.Lock() if train.get_context().get_world_rank() == 1 else {"ok": 1})


def test_unpicklable_data_fails_the_run_with_a_type_error(tmp_path: Any) -> None:
    # Ray checks every rank's data: rank 1's lock fails the run, with rank 1's TypeError
    with pytest.raises(WorkerGroupError) as info:
        _fit(_unpicklable_loop, tmp_path)
    assert isinstance(info.value.__cause__, TypeError)
    assert "`broadcast_from_rank_zero`: the data must be picklable" in str(info.value.__cause__)
    assert list(info.value.worker_failures) == [1]


def _large_loop() -> int:
    return int(broadcast_from_rank_zero(np.ones(50_000) if train.get_context().get_world_rank() == 0 else None).sum())


def test_large_data_is_sent_as_in_ray(tmp_path: Any) -> None:
    assert _fit(_large_loop, tmp_path).return_value == 50_000  # 400 KB: Ray warns, and sends it


def _returns_early_loop() -> None:
    if train.get_context().get_world_rank() == 1:
        barrier()  # rank 0 never calls it


@pytest.mark.timeout(120)
def test_a_worker_returning_without_the_collective_fails_the_run_instead_of_hanging(tmp_path: Any) -> None:
    with pytest.raises(WorkerGroupError) as info:
        _fit(_returns_early_loop, tmp_path)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert ("`barrier` failed: rank 1 waits in `barrier` (collective #1), but rank 0 returned from its training "
            "function without calling it") in str(info.value.__cause__)


def _write_once_waiting(path: str) -> None:
    """Write ``path`` (from a thread) once this worker waits in a collective."""
    from streamdata.train import session as session_mod

    session = session_mod._session
    assert session is not None

    def watch() -> None:
        with session.cond:
            if session.cond.wait_for(lambda: session.arrival is not None, DEADLINE_S):
                _write(path)

    threading.Thread(target=watch, daemon=True).start()


def _dies_loop(config: dict) -> str:
    d = config["dir"]
    rank = train.get_context().get_world_rank()
    first_attempt = not os.path.exists(os.path.join(d, "died"))
    if rank == 0:
        _write_once_waiting(os.path.join(d, "rank0_waiting"))
        barrier()
        return "passed"
    if first_attempt:
        _wait_for(os.path.join(d, "rank0_waiting"))
        _write(os.path.join(d, "died"))
        os._exit(1)  # the process dies while rank 0 waits at the barrier
    barrier()
    return "rank 1"


@pytest.mark.timeout(120)
def test_a_worker_dying_while_another_waits_at_the_barrier_fails_the_run(tmp_path: Any) -> None:
    start = time.monotonic()
    with pytest.raises(WorkerGroupError) as info:
        _fit(_dies_loop, tmp_path, config={"dir": str(tmp_path)})
    assert isinstance(info.value.__cause__, ActorDiedError)
    assert list(info.value.worker_failures) == [1]
    assert time.monotonic() - start < 60  # failed promptly: nobody waited for the dead worker


@pytest.mark.timeout(120)
def test_after_a_worker_died_at_the_barrier_the_restarted_group_passes_it(tmp_path: Any) -> None:
    result = _fit(_dies_loop, tmp_path, max_failures=1, config={"dir": str(tmp_path)})
    assert (result.num_failures, result.return_value, result.error) == (1, "passed", None)


def _slow_rank_loop(config: dict) -> None:
    if train.get_context().get_world_rank() == 1:
        _wait_for(os.path.join(config["dir"], "never"))  # until the run is killed
    barrier()


@pytest.mark.timeout(120)
def test_collective_timeout_fails_the_run(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(COLLECTIVE_TIMEOUT_S_ENV_VAR, "1")
    with pytest.raises(WorkerGroupError) as info:
        _fit(_slow_rank_loop, tmp_path, config={"dir": str(tmp_path)})
    assert isinstance(info.value.__cause__, TimeoutError)
    assert "The following ranks have not joined the collective operation: [1]" in str(info.value.__cause__)
    assert list(info.value.worker_failures) == [0]
