"""Lineage reconstruction with real processes (2 CPUs): a lost object's task re-runs.

An object is "lost" here the way it is on a machine: its stored copy (a file in
the session's shared-memory folder, or in the spill folder) disappears. ``get``
then re-executes the task that made it, recursively through freed arguments;
a ``put`` object or a task without retries gets a clear error instead.
"""

from __future__ import annotations

import gc
import os
import signal

import numpy as np
import pytest
from _core_util import append_line, count_lines, gone, wait_for

import streamdata as sd
from streamdata.exceptions import (
    ObjectLostError,
    ObjectReconstructionFailedError,
    ObjectReconstructionFailedMaxAttemptsExceededError,
)

RUNTIME_INIT = {"num_cpus": 2}
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("runtime")]

N = 50_000  # 400 KB of float64: stored in shared memory, not inline


@sd.remote
def make(log: str, seed: int) -> np.ndarray:
    append_line(log, str(os.getpid()))
    return np.arange(N, dtype=np.float64) + seed


@sd.remote
def double(log: str, x: np.ndarray) -> np.ndarray:
    append_line(log, str(os.getpid()))
    return x * 2


@sd.remote
def total(x: np.ndarray) -> float:
    return float(x.sum())


def _delete_copy(runtime, ref) -> str:
    """Make ``ref`` ready without reading it here, then delete its stored copy."""
    sd.wait([ref], timeout=60)
    with runtime.lock:
        location = runtime.state.directory.objects[ref.id].location
    assert location[0] in ("shm", "disk"), location
    os.unlink(location[1])
    return location[1]


def test_a_lost_task_output_is_rebuilt_by_get(runtime, tmp_path) -> None:
    log = str(tmp_path / "runs")
    ref = make.remote(log, 1)
    path = _delete_copy(runtime, ref)
    value = sd.get(ref, timeout=60)
    assert np.array_equal(value, np.arange(N, dtype=np.float64) + 1)
    assert count_lines(log) == 2  # the task ran again
    with runtime.lock:
        assert runtime.state.directory.objects[ref.id].location[1] == path  # the same id, a new copy


def test_a_lost_argument_is_rebuilt_for_the_task_that_reads_it(runtime, tmp_path) -> None:
    log = str(tmp_path / "runs")
    arg = make.remote(log, 2)
    _delete_copy(runtime, arg)
    assert sd.get(total.remote(arg), timeout=60) == float((np.arange(N) + 2).sum())
    assert count_lines(log) == 2


def test_a_chain_is_rebuilt_through_a_freed_argument(runtime, tmp_path) -> None:
    log_a, log_b = str(tmp_path / "a"), str(tmp_path / "b")
    a = make.remote(log_a, 3)
    b = double.remote(log_b, a)
    sd.wait([b], timeout=60)
    a_id = a.id
    del a
    gc.collect()
    wait_for(lambda: _freed(runtime, a_id), what="a to be freed")
    _delete_copy(runtime, b)
    assert np.array_equal(sd.get(b, timeout=60), (np.arange(N, dtype=np.float64) + 3) * 2)
    assert count_lines(log_a) == 2 and count_lines(log_b) == 2
    del b
    gc.collect()
    wait_for(lambda: _lineage_released(runtime, a_id), what="the lineage to be released with b")


def _freed(runtime, obj_id: str) -> bool:
    with runtime.lock:
        runtime.apply_local_refs()
        return obj_id not in runtime.state.directory.objects


def _lineage_released(runtime, obj_id: str) -> bool:
    with runtime.lock:
        runtime.apply_local_refs()
        return obj_id not in runtime.state.lineage.producer


def test_the_object_survives_the_death_of_the_worker_that_made_it(runtime, tmp_path) -> None:
    log = str(tmp_path / "runs")
    ref = make.remote(log, 4)
    sd.wait([ref], timeout=60)
    pid = int(open(log).read().split()[0])
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: gone(pid), what="the worker to die")
    # the driver owns the object, not the worker: nothing to rebuild...
    assert np.array_equal(sd.get(ref, timeout=60), np.arange(N, dtype=np.float64) + 4)
    assert count_lines(log) == 1
    # ...and when its copy is lost too, the task re-runs on another worker
    ref2 = make.remote(log, 5)
    _delete_copy(runtime, ref2)
    assert np.array_equal(sd.get(ref2, timeout=60), np.arange(N, dtype=np.float64) + 5)
    assert count_lines(log) == 3


def test_a_lost_spilled_object_is_rebuilt(runtime, tmp_path) -> None:
    log = str(tmp_path / "runs")
    ref = make.remote(log, 6)
    sd.wait([ref], timeout=60)
    with runtime.lock:  # move it to the spill folder the way the store does when full
        from streamdata.core.events import SpillObject
        entry = runtime.state.directory.objects[ref.id]
        entry.in_shm, entry.spilling = False, True
        runtime.state.directory.accounting.mark_spilled(ref.id)
        runtime._execute([SpillObject(ref.id, entry.location)])
        assert entry.location[0] == "disk"
    _delete_copy(runtime, ref)
    assert np.array_equal(sd.get(ref, timeout=60), np.arange(N, dtype=np.float64) + 6)
    assert count_lines(log) == 2


def test_a_lost_put_object_raises_object_lost_error(runtime) -> None:
    ref = sd.put(np.ones(N))
    _delete_copy(runtime, ref)
    with pytest.raises(ObjectLostError, match=r"put\(\)") as info:
        sd.get(ref, timeout=60)
    assert ref.id in str(info.value)
    assert not isinstance(info.value, ObjectReconstructionFailedError)


def test_a_task_without_retries_is_not_rebuilt(runtime, tmp_path) -> None:
    log = str(tmp_path / "runs")
    ref = make.options(max_retries=0).remote(log, 7)
    _delete_copy(runtime, ref)
    with pytest.raises(ObjectReconstructionFailedMaxAttemptsExceededError, match="make.*max_retries"):
        sd.get(ref, timeout=60)
    assert count_lines(log) == 1


@sd.remote
class Maker:
    def __init__(self) -> None:
        self.calls = 0

    def make(self, seed: int) -> np.ndarray:
        self.calls += 1
        return np.arange(N, dtype=np.float64) + seed

    def count(self) -> int:
        return self.calls


def test_an_actor_task_output_is_rebuilt_with_max_task_retries(runtime) -> None:
    actor = Maker.options(max_task_retries=1).remote()
    ref = actor.make.remote(8)
    _delete_copy(runtime, ref)
    assert np.array_equal(sd.get(ref, timeout=60), np.arange(N, dtype=np.float64) + 8)
    assert sd.get(actor.count.remote(), timeout=60) == 2
    sd.kill(actor)


def test_an_actor_task_output_without_max_task_retries_is_not_rebuilt(runtime) -> None:
    actor = Maker.remote()
    ref = actor.make.remote(9)
    _delete_copy(runtime, ref)
    with pytest.raises(ObjectReconstructionFailedError, match="max_task_retries"):
        sd.get(ref, timeout=60)
    assert sd.get(actor.count.remote(), timeout=60) == 1
    sd.kill(actor)
