"""``streamdata.util.state`` against work whose state the test knows: running, waiting, finished,
failed tasks; live, dead actors; objects; placement groups; workers."""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

import pytest

import streamdata as sd
from _obs_util import wait_until
from streamdata.util import state

RUNTIME_INIT = {"num_cpus": 2}


def _hold(path: str) -> int:
    deadline = time.monotonic() + 60
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.getpid()


@sd.remote
def held_task(path: str) -> int:
    return _hold(path)


@sd.remote
def quick_task(x: int) -> int:
    return x + 1


@sd.remote
def failing_task() -> None:
    raise ValueError("boom")


@sd.remote
class Keeper:
    def pid(self) -> int:
        return os.getpid()

    def hold(self, path: str) -> int:
        return _hold(path)


def test_finished_and_failed_tasks_are_listed_with_their_worker(runtime: Any) -> None:
    sd.get([quick_task.remote(i) for i in range(3)])
    with pytest.raises(ValueError):
        sd.get(failing_task.remote())
    done = state.list_tasks(filters=[("name", "=", "quick_task")])
    assert len(done) == 3 and {t.state for t in done} == {"FINISHED"}
    assert all(t.type == "NORMAL_TASK" and t.func_or_class_name == "quick_task" for t in done)
    assert all(t["worker_pid"] is not None and t.worker_id for t in done)  # dict-style access too
    [failed] = state.list_tasks(filters=[("name", "=", "failing_task")])
    assert failed.state == "FAILED" and failed.error_type == "TASK_EXECUTION_EXCEPTION"
    assert state.get_task(failed.task_id).state == "FAILED"
    assert state.get_task("no-such-task") is None
    with pytest.raises(NotImplementedError, match="get_task\\(ObjectRef\\)"):
        state.get_task(sd.put(0))
    with pytest.raises(TypeError, match="expects a str id"):
        state.get_actor(3)
    summary = state.summarize_tasks()["cluster"]
    assert summary["summary"]["quick_task"]["state_counts"] == {"FINISHED": 3}
    assert summary["summary"]["failing_task"]["state_counts"] == {"FAILED": 1}
    assert summary["total_tasks"] >= 4


def test_running_and_pending_tasks_have_ray_states(runtime: Any, tmp_path: Any) -> None:
    gate = str(tmp_path / "gate")
    refs = [held_task.remote(gate) for _ in range(3)]  # 2 CPUs: two run, one waits
    running = wait_until(lambda: len(state.list_tasks(filters=[("name", "=", "held_task"),
                                                               ("state", "=", "RUNNING")])) == 2 and
                         state.list_tasks(filters=[("name", "=", "held_task"), ("state", "!=", "RUNNING")]),
                         what="two running held tasks and one pending")
    assert [t.state for t in running] == ["PENDING_NODE_ASSIGNMENT"]
    live = state.list_tasks(filters=[("name", "=", "held_task"), ("state", "=", "running")], detail=True)
    assert all(t.start_time_ms and t.end_time_ms is None and t.required_resources == {"CPU": 1.0} for t in live)
    assert {t.worker_pid for t in live} <= {w.pid for w in state.list_workers()}
    open(gate, "w").close()
    pids = sd.get(refs)
    finished = state.list_tasks(filters=[("name", "=", "held_task")])
    assert {t.state for t in finished} == {"FINISHED"} and {t.worker_pid for t in finished} == set(pids)


def test_actors_and_their_calls(runtime: Any, tmp_path: Any) -> None:
    keeper = Keeper.options(name="keeper").remote()
    pid = sd.get(keeper.pid.remote())
    [row] = state.list_actors(filters=[("class_name", "=", "Keeper"), ("state", "=", "ALIVE")])
    assert row.name == "keeper" and row.pid == pid and row.state == "ALIVE"
    assert state.get_actor(row.actor_id).pid == pid
    gate = str(tmp_path / "gate")
    ref = keeper.hold.remote(gate)
    call = wait_until(lambda: state.list_tasks(filters=[("name", "=", "Keeper.hold"), ("state", "=", "RUNNING")]),
                      what="the actor call running")[0]
    assert call.type == "ACTOR_TASK" and call.actor_id == row.actor_id and call.worker_pid == pid
    open(gate, "w").close()
    sd.get(ref)
    sd.kill(keeper)
    wait_until(lambda: state.get_actor(row.actor_id).state == "DEAD", what="the killed actor DEAD")
    assert state.summarize_actors()["cluster"]["summary"]["Keeper"]["state_counts"].get("DEAD") == 1


def test_objects_and_placement_groups(runtime: Any) -> None:
    big = sd.put(b"x" * (1 << 20))
    small = sd.put(7)
    objects = {o.object_id: o for o in state.list_objects(limit=10_000)}
    assert objects[big.id].object_size >= 1 << 20 and objects[big.id].task_status == "FINISHED"
    assert small.id in objects
    assert state.summarize_objects()["cluster"]["total_objects"] >= 2
    pg = sd.placement_group([{"CPU": 1}], strategy="PACK")
    sd.get(pg.ready())
    rows = state.list_placement_groups(detail=True)
    [row] = [r for r in rows if r.placement_group_id == pg.id]
    assert row.state == "CREATED" and row.bundles[0]["unit_resources"] == {"CPU": 1.0}
    sd.remove_placement_group(pg)
    assert state.get_placement_group(pg.id).state == "REMOVED"
    [node] = state.list_nodes()
    assert node.state == "ALIVE" and node.resources_total["CPU"] == 2.0


def test_limit_warns_and_bad_filters_name_the_column(runtime: Any) -> None:
    sd.get([quick_task.remote(i) for i in range(4)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = state.list_tasks(limit=2)
    assert len(rows) == 2 and any("limit=2" in str(w.message) for w in caught)
    with pytest.raises(ValueError, match="'nope'.*supported filter columns"):
        state.list_tasks(filters=[("nope", "=", 1)])
    with pytest.raises(ValueError, match="predicate '>'"):
        state.list_tasks(filters=[("state", ">", "RUNNING")])
    with pytest.raises(ValueError, match="limit"):
        state.list_tasks(limit=-1)
    with pytest.warns(UserWarning, match="left out"):
        first = state.list_tasks(limit=1)[0]
    assert first.start_time_ms is None  # a detail column, left out


def test_the_state_api_works_inside_a_task(runtime: Any) -> None:
    @sd.remote
    def count_alive_actors() -> int:
        from streamdata.util.state import list_workers
        return len(list_workers())

    assert sd.get(count_alive_actors.remote()) >= 1


def test_get_worker_node_and_objects(runtime: Any) -> None:
    keeper = Keeper.remote()
    pid = sd.get(keeper.pid.remote())
    [worker] = [w for w in state.list_workers() if w.pid == pid]
    assert state.get_worker(worker.worker_id).pid == pid
    assert state.get_worker("no-such-worker") is None
    [node] = state.list_nodes()
    assert state.get_node(node.node_id).node_id == node.node_id and state.get_node("elsewhere") is None
    ref = sd.put(b"y" * 1000)
    [row] = state.get_objects(ref.id)
    assert row.object_id == ref.id and row.object_size >= 1000
    assert state.get_objects("0" * 40) == []
    sd.kill(keeper)
