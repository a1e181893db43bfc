"""Actor reclamation with real processes (2 CPUs): an actor whose last handle is gone exits.

As in Ray, handles count like ObjectRefs across processes (the driver's, those
deserialized in tasks, those inside pending tasks' arguments); a named or
``lifetime="detached"`` actor lives until it is killed.
"""

from __future__ import annotations

import gc
import os

import pytest
from _core_util import gone, wait_for

import streamdata as sd
from streamdata.exceptions import ActorDiedError

RUNTIME_INIT = {"num_cpus": 2}
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("runtime")]


@sd.remote(num_cpus=1)
class Counter:
    def __init__(self) -> None:
        self.n = 0

    def incr(self) -> int:
        self.n += 1
        return self.n

    def pid(self) -> int:
        return os.getpid()


@sd.remote
def use_handle(counter, times: int) -> int:
    return [sd.get(counter.incr.remote()) for _ in range(times)][-1]


def _cpus() -> float:
    return sd.available_resources().get("CPU", 0.0)


def _start_and_drop(**options) -> int:
    counter = Counter.options(**options).remote()
    assert sd.get(counter.incr.remote(), timeout=60) == 1
    return sd.get(counter.pid.remote(), timeout=60)


def test_an_actor_whose_handles_are_gone_exits_and_its_cpu_comes_back() -> None:
    pid = _start_and_drop()
    gc.collect()
    wait_for(lambda: gone(pid), what="the actor's process to exit")
    wait_for(lambda: _cpus() == 2.0, what="the actor's CPU to come back")


def test_a_handle_passed_to_a_task_keeps_the_actor_alive_while_the_task_uses_it() -> None:
    counter = Counter.remote()
    pid = sd.get(counter.pid.remote(), timeout=60)
    ref = use_handle.remote(counter, 3)
    del counter  # the pending task's argument (then the task's own copy) holds it now
    gc.collect()
    assert sd.get(ref, timeout=60) == 3
    wait_for(lambda: gone(pid), what="the actor to exit once the task's copy is gone too")
    wait_for(lambda: _cpus() == 2.0, what="the actor's CPU to come back")


def test_a_call_submitted_before_the_last_handle_goes_still_runs() -> None:
    counter = Counter.remote()
    pid = sd.get(counter.pid.remote(), timeout=60)
    ref = counter.incr.remote()
    del counter
    gc.collect()
    assert sd.get(ref, timeout=60) == 1
    wait_for(lambda: gone(pid), what="the actor's process to exit")


def test_a_handle_inside_a_put_object_keeps_the_actor_alive() -> None:
    counter = Counter.remote()
    pid = sd.get(counter.pid.remote(), timeout=60)
    box = sd.put({"actor": counter})
    del counter
    gc.collect()
    again = sd.get(box, timeout=60)["actor"]
    assert sd.get(again.incr.remote(), timeout=60) == 1  # still the same, live actor
    del again, box
    gc.collect()
    wait_for(lambda: gone(pid), what="the actor to exit once the object is freed")


@pytest.mark.parametrize("options", [{"name": "kept-by-name"}, {"lifetime": "detached"}],
                         ids=["named", "detached"])
def test_named_and_detached_actors_survive_their_handles(options) -> None:
    counter = Counter.options(**options).remote()
    actor_id = counter._actor_id
    pid = sd.get(counter.pid.remote(), timeout=60)
    del counter
    gc.collect()
    # a later call (through a handle rebuilt from the id) reaches the same live process
    probe = sd.core.actor.ActorHandle(actor_id, "Counter", {"incr": 1, "pid": 1})
    assert sd.get(probe.pid.remote(), timeout=60) == pid
    assert sd.get(probe.incr.remote(), timeout=60) == 1
    assert not gone(pid)
    sd.kill(probe)
    wait_for(lambda: gone(pid), what="the killed actor to exit")
    with pytest.raises(ActorDiedError):
        sd.get(probe.incr.remote(), timeout=60)


def test_lifetime_is_validated() -> None:
    with pytest.raises(ValueError, match="lifetime"):
        Counter.options(lifetime="forever").remote()
