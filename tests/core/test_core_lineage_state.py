"""Unit tests of lineage reconstruction in the runtime's state machine (no processes).

A lost object is reported with the ``lost`` request (a reader found its file
gone); the state re-runs the task that made it, rebuilding freed arguments
first, or stores the error saying why it cannot.
"""

from __future__ import annotations

import pickle

from streamdata.core import protocol as msgs
from streamdata.core.events import FreeObject, ReplyToDriver, Send, SpawnWorker, WorkerDied, WorkerMessage
from streamdata.core.state import RuntimeState
from streamdata.errors import (
    ObjectLostError,
    ObjectReconstructionFailedLineageEvictedError,
    ObjectReconstructionFailedMaxAttemptsExceededError,
)


def make_state(num_cpus: float = 2) -> RuntimeState:
    state = RuntimeState(token="tok", num_cpus=num_cpus, total={"CPU": float(num_cpus)},
                         object_store_memory=1 << 30)
    assert all(isinstance(c, SpawnWorker) for c in state.start())
    return state


def spec(task_id: str, *, deps: list[str] = (), max_retries: int = 3, returns: int = 1) -> dict:
    return {"kind": "task", "task_id": task_id, "fn_id": "fn", "fn_bytes": b"FN", "name": f"f-{task_id}",
            "args": b"", "deps": list(deps), "contained": [], "demand": {"CPU": 1.0},
            "max_retries": max_retries, "return_ids": [f"{task_id}-out{i}" for i in range(returns)]}


def refs(state: RuntimeState, delta: int, *ids: str) -> list:
    return state.handle(WorkerMessage(None, msgs.RefsDelta([(delta, i) for i in ids])))


def submit(state: RuntimeState, task: dict) -> list:
    refs(state, +1, *task["return_ids"])
    return state.handle(WorkerMessage(None, msgs.Submit(task)))


def task_specs(commands: list) -> list[Send]:
    return [c for c in commands if isinstance(c, Send) and isinstance(c.message, msgs.TaskSpec)]


def shm(obj_id: str, attempt: int = 0) -> tuple:
    return ("shm", f"/nonexistent/{obj_id}.{attempt}", 1000)


def finish(state: RuntimeState, run: Send, attempt: int = 0) -> list:
    outputs = [(i, shm(i, attempt), []) for i in run.message.return_ids]
    return state.handle(WorkerMessage(run.worker_id, msgs.TaskDone(run.message.task_id, outputs, None)))


def run_to_end(state: RuntimeState, task: dict) -> Send:
    [run] = task_specs(submit(state, task))
    finish(state, run)
    return run


def lost(state: RuntimeState, obj_id: str, location: tuple, req_id: int = 1) -> list:
    return state.handle(WorkerMessage(None, msgs.Request(req_id, "lost", (obj_id, location))))


def stored_error(reply: ReplyToDriver) -> BaseException:
    assert reply.ok and reply.value[0] == "error", reply
    return pickle.loads(reply.value[1][0])


def test_a_lost_task_output_reruns_its_task_and_the_reader_gets_the_new_copy() -> None:
    state = make_state()
    run_to_end(state, spec("t"))
    commands = lost(state, "t-out0", shm("t-out0"))
    [rerun] = task_specs(commands)
    assert rerun.message.task_id == "t" and rerun.message.return_ids == ["t-out0"]
    assert not [c for c in commands if isinstance(c, ReplyToDriver)]  # answered once rebuilt
    commands = finish(state, rerun, attempt=1)
    assert ReplyToDriver(1, True, shm("t-out0", 1)) in commands
    assert state.lineage.records["t"].retries_left == 2  # a reconstruction uses up a retry


def test_a_stale_report_is_answered_with_the_current_location() -> None:
    state = make_state()
    run_to_end(state, spec("t"))
    commands = lost(state, "t-out0", ("shm", "/nonexistent/an-older-copy", 1000))
    assert task_specs(commands) == []
    assert commands == [ReplyToDriver(1, True, shm("t-out0"))]


def test_two_readers_of_one_lost_object_share_one_rerun() -> None:
    state = make_state()
    run_to_end(state, spec("t"))
    assert len(task_specs(lost(state, "t-out0", shm("t-out0"), req_id=1))) == 1
    assert task_specs(lost(state, "t-out0", shm("t-out0"), req_id=2)) == []
    [rerun] = [c for c in state.tasks.values()]
    commands = finish(state, Send(rerun.worker.worker_id, msgs.TaskSpec(
        "t", "fn", None, b"", [], ["t-out0"], None, [], "f-t")), attempt=1)
    replies = [c for c in commands if isinstance(c, ReplyToDriver)]
    assert sorted(r.req_id for r in replies) == [1, 2]


def test_a_put_object_is_not_reconstructable() -> None:
    state = make_state()
    refs(state, +1, "p")
    state.handle(WorkerMessage(None, msgs.PutObject("p", shm("p"), [])))
    [reply] = lost(state, "p", shm("p"))
    error = stored_error(reply)
    assert type(error) is ObjectLostError and "put()" in str(error) and "p" in str(error)


def test_a_task_without_retries_has_no_lineage() -> None:
    state = make_state()
    run_to_end(state, spec("t", max_retries=0))
    assert state.lineage.records == {}
    [reply] = lost(state, "t-out0", shm("t-out0"))
    error = stored_error(reply)
    assert isinstance(error, ObjectReconstructionFailedMaxAttemptsExceededError)
    assert "f-t" in str(error) and "max_retries" in str(error)


def test_reconstruction_stops_when_the_retries_are_used_up() -> None:
    state = make_state()
    run_to_end(state, spec("t", max_retries=1))
    [rerun] = task_specs(lost(state, "t-out0", shm("t-out0")))
    finish(state, rerun, attempt=1)
    [reply] = lost(state, "t-out0", shm("t-out0", 1), req_id=2)
    assert isinstance(stored_error(reply), ObjectReconstructionFailedMaxAttemptsExceededError)


def test_a_chain_is_rebuilt_recursively_from_a_freed_argument() -> None:
    state = make_state()
    run_to_end(state, spec("a"))
    run_to_end(state, spec("b", deps=["a-out0"]))
    refs(state, -1, "a-out0")  # the driver drops a: its value is freed, its lineage kept for b
    assert "a-out0" not in state.directory.objects and "a" in state.lineage.records
    commands = lost(state, "b-out0", shm("b-out0"))
    [rerun_a] = task_specs(commands)  # a first: b waits for its argument
    assert rerun_a.message.task_id == "a"
    [rerun_b] = task_specs(finish(state, rerun_a, attempt=1))
    assert rerun_b.message.task_id == "b" and rerun_b.message.deps == [("a-out0", shm("a-out0", 1))]
    commands = finish(state, rerun_b, attempt=1)
    assert ReplyToDriver(1, True, shm("b-out0", 1)) in commands
    assert FreeObject(shm("a-out0", 1)) in commands  # a's new copy is freed again once b is done


def test_lineage_is_released_with_the_last_reference() -> None:
    state = make_state()
    run_to_end(state, spec("a", returns=2))
    run_to_end(state, spec("b", deps=["a-out0"]))
    refs(state, -1, "a-out0", "a-out1")
    assert set(state.lineage.records) == {"a", "b"}  # b's lineage keeps a's
    refs(state, -1, "b-out0")
    assert state.lineage.records == {} and state.lineage.producer == {} and state.lineage.lineage_refs == {}


def test_a_put_argument_is_kept_while_lineage_names_it() -> None:
    state = make_state()
    refs(state, +1, "p")
    state.handle(WorkerMessage(None, msgs.PutObject("p", shm("p"), [])))
    run_to_end(state, spec("b", deps=["p"]))
    refs(state, -1, "p")  # the driver drops p: b's lineage keeps its value (it has no lineage)
    assert "p" in state.directory.objects
    [rerun] = task_specs(lost(state, "b-out0", shm("b-out0")))
    assert rerun.message.deps == [("p", shm("p"))]
    finish(state, rerun, attempt=1)
    assert FreeObject(shm("p")) in refs(state, -1, "b-out0")  # freed with the lineage


def test_a_freed_argument_whose_lineage_was_evicted_cannot_be_rebuilt() -> None:
    state = make_state()
    run_to_end(state, spec("a"))
    run_to_end(state, spec("b", deps=["a-out0"]))
    refs(state, -1, "a-out0")  # freed; its lineage kept for b...
    state.lineage.max_bytes = 200  # room for one record
    state.lineage._evict()  # ...until the cap evicts it, the oldest
    assert list(state.lineage.records) == ["b"]
    [reply] = lost(state, "b-out0", shm("b-out0"))
    error = stored_error(reply)
    assert isinstance(error, ObjectReconstructionFailedLineageEvictedError)
    assert "argument a-out0" in str(error)


def test_a_worker_death_during_reconstruction_retries_it() -> None:
    state = make_state()
    run_to_end(state, spec("t", max_retries=2))
    [rerun] = task_specs(lost(state, "t-out0", shm("t-out0")))
    [again] = task_specs(state.handle(WorkerDied(rerun.worker_id, "killed")))
    assert again.message.task_id == "t"
    assert ReplyToDriver(1, True, shm("t-out0", 2)) in finish(state, again, attempt=2)
    assert "t" not in state.lineage.records or state.lineage.records["t"].retries_left == 0


def test_a_worker_asking_for_a_lost_argument_lends_its_cpu() -> None:
    state = make_state(num_cpus=1)
    run_to_end(state, spec("a"))
    [consumer] = task_specs(submit(state, spec("c", deps=["a-out0"])))
    assert state.node.available["CPU"] == 0.0
    msg = msgs.Request(9, "lost", ("a-out0", shm("a-out0")))
    [rerun] = task_specs(state.handle(WorkerMessage(consumer.worker_id, msg)))  # runs on the lent CPU
    commands = finish(state, rerun, attempt=1)
    [reply] = [c for c in commands if isinstance(c, Send) and isinstance(c.message, msgs.Reply)]
    assert reply.worker_id == consumer.worker_id and reply.message.value == shm("a-out0", 1)


def test_lineage_past_max_lineage_bytes_is_evicted_oldest_first() -> None:
    state = make_state()
    state.lineage.max_bytes = 2 * (len(b"") + 200)  # room for two records
    for name in ("t1", "t2", "t3"):
        run_to_end(state, spec(name))
    assert list(state.lineage.records) == ["t2", "t3"] and state.lineage.bytes == 400
    [reply] = lost(state, "t1-out0", shm("t1-out0"))
    error = stored_error(reply)
    assert isinstance(error, ObjectReconstructionFailedLineageEvictedError)
    assert "max_lineage_bytes=400" in str(error)
    assert len(task_specs(lost(state, "t3-out0", shm("t3-out0"), req_id=2))) == 1  # still kept
    refs(state, -1, "t1-out0", "t2-out0")
    assert "t1-out0" not in state.lineage.no_lineage and list(state.lineage.records) == ["t3"]
