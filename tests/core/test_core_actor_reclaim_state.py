"""Unit tests of actor reclamation in the runtime's state machine (no processes).

Actor handles are counted like ObjectRefs (``RefsDelta`` with the actor's id);
when the count of an anonymous, non-detached actor drops to zero and it has no
call queued or running, its worker is killed and its resources come back.
"""

from __future__ import annotations

import pickle

from streamdata.core import protocol as msgs
from streamdata.core.events import KillWorker, Send, SpawnWorker, WorkerDied, WorkerMessage
from streamdata.core.state import RuntimeState
from streamdata.errors import ActorDiedError


def make_state() -> RuntimeState:
    state = RuntimeState(token="tok", num_cpus=2, total={"CPU": 2.0}, object_store_memory=1 << 30)
    assert all(isinstance(c, SpawnWorker) for c in state.start())
    return state


def actor_spec(actor_id: str, **extra: object) -> dict:
    return {"kind": "actor", "actor_id": actor_id, "task_id": actor_id, "fn_id": "cls", "fn_bytes": b"CLS",
            "name": "A", "actor_name": None, "args": b"", "deps": [], "contained": [], "demand": {"CPU": 1.0},
            "return_ids": [], **extra}


def call_spec(task_id: str, actor_id: str, contained: list[str] = ()) -> dict:
    return {"kind": "call", "task_id": task_id, "actor_id": actor_id, "method": "m", "name": "A.m",
            "args": b"", "deps": [], "contained": list(contained), "demand": {},
            "return_ids": [f"{task_id}-out"], "max_retries": 0}


def handles(state: RuntimeState, delta: int, actor_id: str, worker_id: str | None = None) -> list:
    return state.handle(WorkerMessage(worker_id, msgs.RefsDelta([(delta, actor_id)])))


def create(state: RuntimeState, actor_id: str, **extra: object) -> str:
    """Create an actor from the driver, which then holds one handle; returns its worker id."""
    commands = state.handle(WorkerMessage(None, msgs.Submit(actor_spec(actor_id, **extra))))
    handles(state, +1, actor_id)
    [init] = [c for c in commands if isinstance(c, Send) and isinstance(c.message, msgs.ActorInit)]
    state.handle(WorkerMessage(init.worker_id, msgs.ActorReady(actor_id)))
    return init.worker_id


def test_dropping_the_last_handle_kills_the_actor_and_frees_its_cpu() -> None:
    state = make_state()
    worker = create(state, "a1")
    assert state.node.available["CPU"] == 1.0
    assert handles(state, -1, "a1") == [KillWorker(worker)]
    state.handle(WorkerDied(worker, "killed"))
    assert state.actors.state_of("a1") == "dead"
    assert "every handle" in state.actors.actors["a1"].death_cause
    assert state.node.available["CPU"] == 2.0
    assert "a1" not in state.directory.objects


def test_a_handle_held_by_a_worker_keeps_the_actor_until_that_worker_dies() -> None:
    state = make_state()
    worker = create(state, "a1")
    other = next(w for w in state.workers if w != worker)
    handles(state, +1, "a1", other)  # a task deserialized a copy of the handle
    assert handles(state, -1, "a1") == []  # the driver's copy goes: one is left
    commands = state.handle(WorkerDied(other, "exited"))
    assert KillWorker(worker) in commands


def test_a_pending_call_runs_before_the_actor_is_reclaimed() -> None:
    state = make_state()
    worker = create(state, "a1")
    state.handle(WorkerMessage(None, msgs.RefsDelta([(+1, "c1-out")])))
    state.handle(WorkerMessage(None, msgs.Submit(call_spec("c1", "a1"))))
    assert handles(state, -1, "a1") == []  # c1 is in flight
    commands = state.handle(WorkerMessage(worker, msgs.TaskDone("c1", [("c1-out", ("inline", b""), [])], None)))
    assert KillWorker(worker) in commands


def test_a_handle_inside_a_pending_task_keeps_the_actor_alive() -> None:
    state = make_state()
    worker = create(state, "a1")
    submit = {"kind": "task", "task_id": "t", "fn_id": "fn", "fn_bytes": b"FN", "name": "f", "args": b"",
              "deps": [], "contained": ["a1"], "demand": {"CPU": 1.0}, "max_retries": 0, "return_ids": ["t-out"]}
    state.handle(WorkerMessage(None, msgs.Submit(submit)))
    assert handles(state, -1, "a1") == []  # the task's argument holds it
    task_worker = state.tasks["t"].worker.worker_id
    commands = state.handle(WorkerMessage(task_worker, msgs.TaskDone("t", [("t-out", ("inline", b""), [])], None)))
    assert KillWorker(worker) in commands


def test_named_and_detached_actors_are_not_reclaimed() -> None:
    state = make_state()
    create(state, "named", actor_name="keep")
    create(state, "detached", detached=True)
    assert handles(state, -1, "named") == []
    assert handles(state, -1, "detached") == []
    assert state.actors.state_of("named") == "alive" and state.actors.state_of("detached") == "alive"


def test_an_actor_still_waiting_for_resources_is_dropped_without_a_process() -> None:
    state = make_state()
    create(state, "a1")
    create(state, "a2")
    state.handle(WorkerMessage(None, msgs.Submit(actor_spec("a3"))))  # no CPU left: pending
    handles(state, +1, "a3")
    handles(state, -1, "a3")
    assert state.actors.state_of("a3") == "dead" and state.actors.pending == []
    state.handle(WorkerMessage(None, msgs.RefsDelta([(+1, "late-out")])))
    state.handle(WorkerMessage(None, msgs.Submit(call_spec("late", "a3"))))
    error = pickle.loads(state.directory.location_of("late-out")[1][0])
    assert isinstance(error, ActorDiedError) and "every handle" in str(error)
