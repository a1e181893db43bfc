"""The memory monitor without processes: the kill policy, its configuration, and the
state machine's handling of a MemoryPressure event (kill, then retry or OutOfMemoryError)."""

from __future__ import annotations

import pickle

import pytest

from streamdata.core import protocol as msgs
from streamdata.core.events import KillWorker, MemoryPressure, Send, SpawnWorker, WorkerDied, WorkerMessage
from streamdata.core.memory_monitor import MemoryMonitorConfig, RunningWork, pick_victim
from streamdata.core.state import RuntimeState
from streamdata.errors import OutOfMemoryError

GIB = 1 << 30


def work(worker_id: str, owner: str = "driver", retriable: bool = True, started: int = 0) -> RunningWork:
    return RunningWork(worker_id, f"task {worker_id}", owner, retriable, started)


# ---------------------------------------------------------------------------- policy


def test_nothing_is_killed_under_the_threshold() -> None:
    assert pick_victim(94, 100, 0.95, [work("w1")]) is None
    assert pick_victim(95, 100, 0.95, [work("w1")]).worker_id == "w1"
    assert pick_victim(99, 100, 0.95, []) is None


def test_the_newest_retriable_task_goes_first() -> None:
    running = [work("old", started=1), work("new", started=3), work("fixed", retriable=False, started=9)]
    assert pick_victim(99, 100, 0.9, running).worker_id == "new"


def test_the_owner_with_the_most_running_tasks_loses_one() -> None:
    running = [work("a1", owner="a", started=1), work("a2", owner="a", started=2),
               work("b1", owner="b", started=7)]
    assert pick_victim(99, 100, 0.9, running).worker_id == "a2"


def test_non_retriable_work_is_killed_only_when_nothing_else_runs() -> None:
    running = [work("x", retriable=False, started=1), work("y", retriable=False, started=2)]
    assert pick_victim(99, 100, 0.9, running).worker_id == "y"


def test_config_from_system_config_env_and_defaults() -> None:
    assert MemoryMonitorConfig.from_sources(None, {}) == MemoryMonitorConfig(0.95, 250)
    env = {"RAY_memory_usage_threshold": "0.8", "RAY_memory_monitor_refresh_ms": "100"}
    assert MemoryMonitorConfig.from_sources(None, env) == MemoryMonitorConfig(0.8, 100)
    assert MemoryMonitorConfig.from_sources({"memory_usage_threshold": 0.5}, env).usage_threshold == 0.5
    assert not MemoryMonitorConfig.from_sources({"memory_monitor_refresh_ms": 0}, {}).enabled


@pytest.mark.parametrize("system_config, env, match", [
    ({"memory_usage_threshold": 1.5}, {}, r"memory_usage_threshold must be a number in \(0, 1\], got 1.5"),
    ({"memory_usage_threshold": "high"}, {}, "got 'high'"),
    ({"memory_monitor_refresh_ms": -1}, {}, "memory_monitor_refresh_ms must be an int >= 0"),
    (None, {"RAY_memory_usage_threshold": "lots"}, "RAY_memory_usage_threshold='lots' is not a number"),
    (None, {"RAY_memory_monitor_refresh_ms": "0.5"}, "RAY_memory_monitor_refresh_ms='0.5' is not an int"),
])
def test_bad_config_names_the_setting(system_config, env, match) -> None:
    with pytest.raises(ValueError, match=match):
        MemoryMonitorConfig.from_sources(system_config, env)


# ---------------------------------------------------------------------------- state machine


def make_state() -> RuntimeState:
    state = RuntimeState(token="tok", num_cpus=2, total={"CPU": 2.0}, object_store_memory=1 << 30)
    assert all(isinstance(c, SpawnWorker) for c in state.start())
    return state


def submit(state: RuntimeState, task_id: str, max_retries: int) -> Send:
    spec = {"kind": "task", "task_id": task_id, "fn_id": "fn", "fn_bytes": b"FN", "name": f"f-{task_id}",
            "args": b"", "deps": [], "contained": [], "demand": {"CPU": 1.0}, "max_retries": max_retries,
            "return_ids": [f"{task_id}-out"]}
    state.handle(WorkerMessage(None, msgs.RefsDelta([(+1, f"{task_id}-out")])))
    commands = state.handle(WorkerMessage(None, msgs.Submit(spec)))
    [run] = [c for c in commands if isinstance(c, Send) and isinstance(c.message, msgs.TaskSpec)]
    return run


def pressure(state: RuntimeState, rss: dict[str, int]) -> list:
    return state.handle(MemoryPressure(used=23 * GIB, total=24 * GIB, threshold=0.9, rss=rss))


def test_pressure_kills_the_newest_task_once_and_it_is_retried() -> None:
    state = make_state()
    first = submit(state, "t1", max_retries=1)
    second = submit(state, "t2", max_retries=1)
    assert pressure(state, {second.worker_id: 3 * GIB}) == [KillWorker(second.worker_id)]
    assert pressure(state, {}) == []  # one kill at a time: the victim has not died yet
    commands = state.handle(WorkerDied(second.worker_id, "killed by SIGKILL"))
    [retry] = [c for c in commands if isinstance(c, Send) and isinstance(c.message, msgs.TaskSpec)]
    assert retry.message.task_id == "t2"
    assert state.oom_victim is None and first.worker_id in state.workers


def test_a_killed_task_without_retries_fails_with_out_of_memory_error() -> None:
    state = make_state()
    run = submit(state, "t", max_retries=0)
    pressure(state, {run.worker_id: 3 * GIB})
    state.handle(WorkerDied(run.worker_id, "killed by SIGKILL"))
    location = state.directory.location_of("t-out")
    error = pickle.loads(location[1][0])
    assert isinstance(error, OutOfMemoryError) and isinstance(error, MemoryError)
    text = str(error)
    assert "f-t" in text and "3.00 GiB" in text and "memory_usage_threshold=0.9" in text and "96%" in text


def test_pressure_with_nothing_running_kills_nothing() -> None:
    state = make_state()
    assert pressure(state, {}) == []
