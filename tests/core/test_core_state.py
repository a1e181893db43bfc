"""Unit tests of the runtime's state machine (RuntimeState): events in, commands out.

No process, socket, thread or file is involved: each test feeds events the way
the loop would and checks the commands the state returns.
"""

from __future__ import annotations

import pickle

import pytest

from streamdata.core import protocol as msgs
from streamdata.core.events import (
    FreeObject,
    KillWorker,
    ObjectSpilled,
    ReplyToDriver,
    Send,
    ShutdownStarted,
    SpawnWorker,
    SpillFailed,
    SpillObject,
    StartTimer,
    TimerFired,
    WorkerDied,
    WorkerMessage,
)
from streamdata.core.serialization import serialize
from streamdata.core.state import RuntimeState
from streamdata.errors import (
    ActorAlreadyExistsError,
    ActorDiedError,
    InfeasiblePlacementGroupError,
    InfeasibleResourceError,
    PlacementGroupError,
    WorkerCrashedError,
)


def make_state(num_cpus: float = 2, store: int = 1 << 30) -> tuple[RuntimeState, list[str]]:
    state = RuntimeState(token="tok", num_cpus=num_cpus, total={"CPU": float(num_cpus)},
                         object_store_memory=store)
    spawned = [c.worker_id for c in state.start() if isinstance(c, SpawnWorker)]
    return state, spawned


def task_spec(task_id: str, *, deps: list[str] = (), cpus: float = 1.0, max_retries: int = 0,
              return_id: str | None = None) -> dict:
    return {"kind": "task", "task_id": task_id, "fn_id": "fn", "fn_bytes": b"FN", "name": f"f-{task_id}",
            "args": b"", "deps": list(deps), "contained": [], "demand": {"CPU": cpus},
            "max_retries": max_retries, "return_ids": [return_id or f"{task_id}-out"]}


def submit(state: RuntimeState, spec: dict) -> list:
    """Submit from the driver, which holds a ref to each return object (as ObjectRef does)."""
    state.handle(WorkerMessage(None, msgs.RefsDelta([(+1, i) for i in spec["return_ids"]])))
    return state.handle(WorkerMessage(None, msgs.Submit(spec)))


def sends(commands: list, kind: type) -> list[Send]:
    return [c for c in commands if isinstance(c, Send) and isinstance(c.message, kind)]


def inline(value: object) -> tuple:
    return ("inline", serialize(value).to_bytes())


def done(state: RuntimeState, worker_id: str, task_id: str, obj_id: str, value: object = 1) -> list:
    return state.handle(WorkerMessage(worker_id, msgs.TaskDone(task_id, [(obj_id, inline(value), [])], None)))


def test_start_spawns_one_task_worker_per_cpu() -> None:
    state, spawned = make_state(num_cpus=3)
    assert len(spawned) == 3 and len(set(spawned)) == 3
    assert all(w.startswith("tok") for w in spawned)


def test_submit_dispatches_to_an_idle_worker_with_the_function_once() -> None:
    state, _ = make_state()
    [first] = sends(submit(state, task_spec("t1")), msgs.TaskSpec)
    assert first.message.task_id == "t1" and first.message.fn_bytes == b"FN"
    assert state.node.available["CPU"] == 1.0
    done(state, first.worker_id, "t1", "t1-out")
    assert state.node.available["CPU"] == 2.0
    [second] = sends(submit(state, task_spec("t2")), msgs.TaskSpec)
    if second.worker_id == first.worker_id:  # the worker has the function already
        assert second.message.fn_bytes is None


def test_task_waits_for_its_dependency() -> None:
    state, _ = make_state()
    [producer] = sends(submit(state, task_spec("p", return_id="x")), msgs.TaskSpec)
    assert sends(submit(state, task_spec("c", deps=["x"])), msgs.TaskSpec) == []
    commands = done(state, producer.worker_id, "p", "x", value=41)
    [consumer] = sends(commands, msgs.TaskSpec)
    assert consumer.message.task_id == "c"
    assert [d for d, _ in consumer.message.deps] == ["x"]


def test_worker_death_retries_the_task_on_another_worker() -> None:
    state, _ = make_state()
    [run] = sends(submit(state, task_spec("t", max_retries=1)), msgs.TaskSpec)
    commands = state.handle(WorkerDied(run.worker_id, "pid 1 killed by SIGKILL"))
    assert any(isinstance(c, SpawnWorker) for c in commands)  # the pool is refilled
    [retry] = sends(commands, msgs.TaskSpec)
    assert retry.message.task_id == "t" and retry.worker_id != run.worker_id
    # out of retries: the next death stores a WorkerCrashedError
    state.handle(WorkerDied(retry.worker_id, "pid 2 killed by SIGKILL"))
    location = state.directory.location_of("t-out")
    assert location[0] == "error"
    assert isinstance(pickle.loads(location[1][0]), WorkerCrashedError)
    assert state.node.available["CPU"] == 2.0


def test_ref_count_to_zero_frees_the_object() -> None:
    state, _ = make_state()
    location = ("shm", "/nonexistent/obj-a", 100)
    state.handle(WorkerMessage(None, msgs.RefsDelta([(+1, "a")])))
    assert state.handle(WorkerMessage(None, msgs.PutObject("a", location, []))) == []
    assert state.handle(WorkerMessage(None, msgs.RefsDelta([(-1, "a")]))) == [FreeObject(location)]
    assert "a" not in state.directory.objects


def test_a_dead_workers_refs_are_released() -> None:
    state, spawned = make_state()
    location = ("shm", "/nonexistent/obj-b", 10)
    state.handle(WorkerMessage(spawned[0], msgs.RefsDelta([(+1, "b")])))
    state.handle(WorkerMessage(spawned[0], msgs.PutObject("b", location, [])))
    commands = state.handle(WorkerDied(spawned[0], "exited"))
    assert FreeObject(location) in commands


def test_blocked_get_lends_its_cpus_until_the_reply() -> None:
    state, _ = make_state(num_cpus=1)
    [outer] = sends(submit(state, task_spec("outer")), msgs.TaskSpec)
    assert state.node.available["CPU"] == 0.0
    # the task asks for an object still pending: it blocks and lends its CPU
    submit_inner = submit(state, task_spec("inner", return_id="y"))
    assert sends(submit_inner, msgs.TaskSpec) == []  # no CPU for it yet
    commands = state.handle(WorkerMessage(outer.worker_id, msgs.Request(7, "get", (["y"], None))))
    [inner] = sends(commands, msgs.TaskSpec)  # lent CPU: inner runs (on a new worker)
    assert inner.message.task_id == "inner"
    assert any(isinstance(c, SpawnWorker) for c in commands)
    commands = done(state, inner.worker_id, "inner", "y", value=5)
    [reply] = sends(commands, msgs.Reply)
    assert reply.worker_id == outer.worker_id and reply.message.req_id == 7 and reply.message.ok
    assert state.node.available["CPU"] == 0.0  # taken back by the outer task
    assert not state.workers[outer.worker_id].blocked


def test_a_cancelled_request_drops_the_late_reply_and_the_lent_cpus_come_back() -> None:
    state, _ = make_state(num_cpus=1)
    [outer] = sends(submit(state, task_spec("outer")), msgs.TaskSpec)
    # waits for an object nobody makes: z stays pending
    submit(state, task_spec("never", deps=["made-by-nobody"], return_id="z"))
    state.handle(WorkerMessage(outer.worker_id, msgs.Request(1, "get", (["z"], 0.1))))
    assert state.node.available["CPU"] == 1.0  # lent
    state.handle(WorkerMessage(outer.worker_id, msgs.RequestCancel(1)))
    assert state.node.available["CPU"] == 0.0  # taken back
    commands = state.handle(WorkerMessage(None, msgs.Request(2, "cancel", ("z", False))))
    assert sends(commands, msgs.Reply) == []  # z is ready (cancelled) but the worker gave up on it
    assert state.directory.location_of("z")[0] == "error"


def test_driver_wait_with_timeout_answers_through_a_timer() -> None:
    state, _ = make_state()
    submit(state, task_spec("big", deps=["made-by-nobody"], return_id="never"))
    commands = state.handle(WorkerMessage(None, msgs.Request(3, "wait", (["never"], 1, 0.5))))
    [timer] = [c for c in commands if isinstance(c, StartTimer)]
    assert timer.delay == 0.5
    assert state.handle(TimerFired(timer.timer_id)) == [ReplyToDriver(3, True, set())]


def test_unknown_request_fails() -> None:
    state, _ = make_state()
    [reply] = state.handle(WorkerMessage(None, msgs.Request(4, "nope", ())))
    assert isinstance(reply, ReplyToDriver) and not reply.ok and "nope" in str(reply.value)


def test_force_cancel_kills_the_worker_and_stores_the_cancellation() -> None:
    state, _ = make_state()
    [run] = sends(submit(state, task_spec("t", max_retries=3)), msgs.TaskSpec)
    commands = state.handle(WorkerMessage(None, msgs.Request(5, "cancel", ("t-out", True))))
    assert KillWorker(run.worker_id) in commands
    state.handle(WorkerDied(run.worker_id, "killed"))
    assert state.directory.location_of("t-out")[0] == "error"
    assert "t" not in state.tasks  # not retried


def actor_spec(actor_id: str, **extra: object) -> dict:
    return {"kind": "actor", "actor_id": actor_id, "task_id": actor_id, "fn_id": "cls", "fn_bytes": b"CLS",
            "name": "A", "actor_name": None, "args": b"", "deps": [], "contained": [], "demand": {"CPU": 0.0},
            "return_ids": [], **extra}


def call_spec(task_id: str, actor_id: str) -> dict:
    return {"kind": "call", "task_id": task_id, "actor_id": actor_id, "method": "m", "name": "A.m",
            "args": b"", "deps": [], "contained": [], "demand": {}, "return_ids": [f"{task_id}-out"],
            "max_retries": -1}


def test_actor_restarts_and_retries_its_call_after_a_death() -> None:
    state, _ = make_state()
    [init] = sends(submit(state, actor_spec("a1", max_restarts=1, max_task_retries=1)), msgs.ActorInit)
    host = init.worker_id
    state.handle(WorkerMessage(host, msgs.ActorReady("a1")))
    [call] = sends(submit(state, call_spec("c1", "a1")), msgs.TaskSpec)
    assert call.worker_id == host and call.message.is_call
    commands = state.handle(WorkerDied(host, "killed"))
    [reinit] = sends(commands, msgs.ActorInit)
    assert reinit.worker_id != host
    commands = state.handle(WorkerMessage(reinit.worker_id, msgs.ActorReady("a1")))
    [again] = sends(commands, msgs.TaskSpec)
    assert again.message.task_id == "c1"
    # no restarts left: the next death fails the actor's calls
    state.handle(WorkerDied(reinit.worker_id, "killed"))
    submit(state, call_spec("c2", "a1"))
    payload = state.directory.location_of("c2-out")[1]
    assert isinstance(pickle.loads(payload[0]), ActorDiedError)


def test_spill_command_and_its_answers() -> None:
    state, _ = make_state(store=1000)
    for i in range(3):
        state.handle(WorkerMessage(None, msgs.RefsDelta([(+1, f"o{i}")])))
    state.handle(WorkerMessage(None, msgs.PutObject("o0", ("shm", "/x/o0", 500), [])))
    commands = state.handle(WorkerMessage(None, msgs.PutObject("o1", ("shm", "/x/o1", 500), [])))
    assert commands == [SpillObject("o0", ("shm", "/x/o0", 500))]
    assert state.directory.stats()["spilled_bytes"] == 500
    assert state.handle(ObjectSpilled("o0", ("disk", "/d/o0", 500))) == []
    assert state.directory.location_of("o0") == ("disk", "/d/o0", 500)
    # a failed spill keeps the object in shared memory
    commands = state.handle(WorkerMessage(None, msgs.PutObject("o2", ("shm", "/x/o2", 500), [])))
    [spill] = commands
    state.handle(SpillFailed(spill.obj_id))
    assert state.directory.location_of(spill.obj_id)[0] == "shm"
    assert state.directory.stats()["spilled_bytes"] == 500


def test_an_object_freed_while_spilling_drops_its_disk_copy() -> None:
    state, _ = make_state(store=1000)
    state.handle(WorkerMessage(None, msgs.RefsDelta([(+1, "p0"), (+1, "p1")])))
    state.handle(WorkerMessage(None, msgs.PutObject("p0", ("shm", "/x/p0", 500), [])))
    state.handle(WorkerMessage(None, msgs.PutObject("p1", ("shm", "/x/p1", 500), [])))
    assert state.handle(WorkerMessage(None, msgs.RefsDelta([(-1, "p0")]))) == [FreeObject(("shm", "/x/p0", 500))]
    assert state.handle(ObjectSpilled("p0", ("disk", "/d/p0", 500))) == [FreeObject(("disk", "/d/p0", 500))]
    assert state.directory.stats()["spilled_bytes"] == 0


def test_shutdown_tells_every_worker_to_exit() -> None:
    state, spawned = make_state()
    commands = state.handle(ShutdownStarted())
    assert sorted(c.worker_id for c in sends(commands, msgs.Exit)) == sorted(spawned)
    assert state.handle(WorkerDied(spawned[0], "")) == []


def test_messages_of_an_unknown_worker_are_ignored() -> None:
    state, _ = make_state()
    assert state.handle(WorkerMessage("ghost", msgs.TaskDone("t", None, None))) == []


def test_duplicate_actor_name_raises_and_keeps_earlier_commands() -> None:
    state, _ = make_state()
    submit(state, actor_spec("a1", actor_name="x"))
    with pytest.raises(ActorAlreadyExistsError, match="already exists"):  # a ValueError, as Ray's
        submit(state, actor_spec("a2", actor_name="x"))
    assert state.take_commands() == []


def _error_of(state: RuntimeState, obj_id: str) -> BaseException:
    location = state.directory.location_of(obj_id)
    assert location[0] == "error", location
    return pickle.loads(location[1][0])


@pytest.mark.parametrize("demand, short", [
    ({"CPU": 100.0}, "CPU 100 > 2"),
    ({"CPU": 1.0, "GPU": 1.0}, "GPU 1 > 0"),
    ({"CPU": 1.0, "accel": 1.0}, "accel 1 > 0"),
])
def test_a_task_no_resource_can_ever_meet_fails_at_once(demand: dict, short: str) -> None:
    state, _ = make_state()
    spec = dict(task_spec("t1"), demand=demand)
    commands = submit(state, spec)
    assert not sends(commands, msgs.TaskSpec)
    err = _error_of(state, "t1-out")
    assert isinstance(err, InfeasibleResourceError) and isinstance(err, ValueError)
    assert short in str(err) and "f-t1" in str(err) and "'CPU': 2.0" in str(err)
    assert not state.ready_queue and not state.tasks


def test_an_actor_no_resource_can_ever_meet_fails_its_calls_at_once() -> None:
    state, _ = make_state()
    commands = submit(state, actor_spec("a1", demand={"CPU": 1.0, "GPU": 2.0}))
    assert not sends(commands, msgs.ActorInit)
    submit(state, call_spec("c1", "a1"))
    err = _error_of(state, "c1-out")
    assert isinstance(err, InfeasibleResourceError) and "GPU 2 > 0" in str(err)


def test_a_placement_group_no_resource_can_ever_meet_fails_at_once() -> None:
    state, _ = make_state()
    state.handle(WorkerMessage(None, msgs.RefsDelta([(+1, "pg1-ready")])))
    state.placement.create("pg1", "pg1-ready", [{"CPU": 1.0}, {"CPU": 1.0, "GPU": 1.0}], "PACK", "")
    err = _error_of(state, "pg1-ready")
    assert isinstance(err, InfeasiblePlacementGroupError) and isinstance(err, PlacementGroupError)
    assert isinstance(err, InfeasibleResourceError) and "bundle 1" in str(err) and "GPU 1 > 0" in str(err)


def test_a_task_larger_than_its_bundle_fails_at_once() -> None:
    state, _ = make_state()
    state.handle(WorkerMessage(None, msgs.RefsDelta([(+1, "pg1-ready")])))
    state.placement.create("pg1", "pg1-ready", [{"CPU": 1.0}], "PACK", "")
    spec = dict(task_spec("t1", cpus=2.0), pg_id="pg1", bundle_index=0)
    submit(state, spec)
    err = _error_of(state, "t1-out")
    assert isinstance(err, InfeasibleResourceError) and "bundle" in str(err)


def test_a_feasible_task_still_waits_for_busy_resources() -> None:
    state, _ = make_state()
    submit(state, task_spec("t1", cpus=2.0))
    commands = submit(state, task_spec("t2", cpus=2.0))
    assert not sends(commands, msgs.TaskSpec) and len(state.ready_queue) == 1
