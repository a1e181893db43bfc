"""An actor's lifetime beyond its own process (a real runtime, 2 CPUs): it dies with the worker that
created it unless detached (Ray's ownership), and ``exit_actor()`` ends it from inside."""

from __future__ import annotations

import os
import signal

import pytest
from _core_util import gone, wait_for

import streamdata as sd
from streamdata.exceptions import ActorDiedError

RUNTIME_INIT = {"num_cpus": 2}
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("runtime")]


# ---------------------------------------------------------------------------- fate sharing


@sd.remote(max_restarts=-1, num_cpus=0)
class _Child:
    def pid(self) -> int:
        return os.getpid()


@sd.remote(num_cpus=0)
class _Creator:
    def make_children(self, detached_name: str) -> tuple:
        self.child = _Child.remote()
        self.detached = _Child.options(name=detached_name, lifetime="detached").remote()
        return self.child, self.detached, os.getpid()


@sd.remote(num_cpus=0)
def _make_child_in_a_task() -> object:
    return _Child.remote()


def test_an_actor_dies_with_the_worker_that_created_it_unless_detached() -> None:
    creator = _Creator.remote()  # kept: an actor whose last handle is gone exits (and so would its children)
    child, detached, creator_pid = sd.get(creator.make_children.remote("fate-detached"))
    child_pid = sd.get(child.pid.remote())
    os.kill(creator_pid, signal.SIGKILL)

    def child_died() -> ActorDiedError | None:
        try:
            sd.get(child.pid.remote(), timeout=60)
        except ActorDiedError as exc:
            return exc
        return None

    err = wait_for(child_died, what="the child actor to die with its creator")
    assert "the worker that created it died" in str(err)
    wait_for(lambda: gone(child_pid), what="the child's process to end (not restarted, though max_restarts=-1)")
    assert sd.get(detached.pid.remote()) not in (creator_pid, child_pid)  # the detached one lives on
    sd.kill(detached)


def test_an_actor_a_task_created_outlives_the_task() -> None:
    child = sd.get(_make_child_in_a_task.remote())  # the task's worker lives on, and so does its actor
    assert sd.get(child.pid.remote()) > 0


# ---------------------------------------------------------------------------- exit_actor


@sd.remote(max_restarts=-1, num_cpus=0)
class _Exiting:
    def __init__(self, mark: str) -> None:
        import atexit

        atexit.register(lambda: open(mark, "w").close())

    def pid(self) -> int:
        return os.getpid()

    def stop(self) -> None:
        sd.actor.exit_actor()


@sd.remote(num_cpus=0)
def _exit_in_a_task() -> None:
    sd.actor.exit_actor()


def test_exit_actor_ends_the_actor_for_good_after_its_atexit_handlers(tmp_path) -> None:
    mark = str(tmp_path / "atexit-ran")
    actor = _Exiting.remote(mark)
    pid = sd.get(actor.pid.remote())
    with pytest.raises(ActorDiedError, match="exited itself with exit_actor"):
        sd.get(actor.stop.remote())
    with pytest.raises(ActorDiedError, match="exited itself"):  # not restarted, though max_restarts=-1
        sd.get(actor.pid.remote())
    wait_for(lambda: gone(pid), what="the actor's process to end")
    assert os.path.exists(mark)


def test_exit_actor_outside_an_actor_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="outside an actor"):
        sd.actor.exit_actor()
    with pytest.raises(TypeError, match="outside an actor"):
        sd.get(_exit_in_a_task.remote())
