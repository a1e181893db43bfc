"""What Ray Core's user-guide pages show, on a real runtime (2 CPUs and some accelerator
resources): the gaps the ``core_pages`` docs probe found (docs/ray-compatibility-core.md).

- actors.md: bare ``@sd.method``, ``ActorClass[T]`` / ``ActorProxy[T]`` annotations;
- async_api.md: an async actor's ``max_concurrency`` admits calls as Ray does;
- accelerators.md: ids and ``*_VISIBLE_*`` variables of every accelerator resource, ``max_calls``;
- handling-dependencies.md: a runtime_env that cannot be set up fails at ``get``;
- miscellaneous.md: a worker's process title is ``ray::<task name>``;
- user-spawn-processes.md: a dead worker's subprocesses are killed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess

import psutil
import pytest
from _core_util import block_until_file, gone, touch, wait_for

import streamdata as sd

RUNTIME_INIT = {"num_cpus": 2, "num_gpus": 1, "resources": {"TPU": 2, "FURIOSA": 1}}
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("runtime")]


def test_typed_actor_with_bare_method_decorator() -> None:
    from streamdata.actor import ActorClass, ActorProxy

    class Counter:  # actors.md: ray.remote(Counter), @ray.method, ActorProxy[Counter]
        def __init__(self) -> None:
            self.value = 0

        @sd.method
        def increment(self) -> int:
            self.value += 1
            return self.value

    counter_actor: ActorClass[Counter] = sd.remote(Counter)
    counter: ActorProxy[Counter] = counter_actor.remote()
    ref: sd.ObjectRef[int] = counter.increment.remote()
    assert sd.get(ref, timeout=60) == 1
    assert ActorClass[Counter].__origin__ is ActorClass


@sd.remote(num_cpus=0)
class Batches:
    """async_api.md's example: calls pair up; each pair must finish before the next starts."""

    def __init__(self, batch_size: int, release: str) -> None:
        block_until_file(release)  # every call below is queued before the actor runs any
        self._event = asyncio.Event()
        self._curr = 0
        self._batch_size = batch_size
        self.started: list[int] = []

    async def run_task(self) -> int:
        self._curr += 1
        self.started.append(self._curr)
        if self._curr == self._batch_size:
            self._event.set()
        else:
            await self._event.wait()
            self._event.clear()
            self._curr = 0
        return self._curr

    async def log(self) -> list[int]:
        return self.started


def test_async_max_concurrency_starts_a_call_after_what_the_last_one_woke(tmp_path) -> None:
    release = str(tmp_path / "go")
    actor = Batches.options(max_concurrency=2).remote(2, release)
    refs = [actor.run_task.remote() for _ in range(8)]
    touch(release)
    ready, _ = sd.wait(refs, num_returns=8, timeout=30)
    assert len(ready) == 8, "a newly admitted call ran before the call its predecessor woke"
    assert sd.get(actor.log.remote(), timeout=30) == [1, 2] * 4


@sd.remote(resources={"TPU": 1})
def tpu_view() -> tuple:
    return sd.get_runtime_context().get_accelerator_ids(), os.environ.get("TPU_VISIBLE_CHIPS")


@sd.remote(resources={"TPU": 1}, num_cpus=0)
class TPUHolder:
    def view(self) -> tuple:
        return sd.get_runtime_context().get_accelerator_ids()["TPU"], os.environ.get("TPU_VISIBLE_CHIPS")


@sd.remote(resources={"FURIOSA": 1})
def furiosa_view() -> tuple:
    return sd.get_runtime_context().get_accelerator_ids()["FURIOSA"], os.environ.get("FURIOSA_DEVICES")


def test_accelerator_resources_get_device_ids_and_visible_variables() -> None:
    holder = TPUHolder.remote()
    held_ids, held_env = sd.get(holder.view.remote(), timeout=60)
    every, env = sd.get(tpu_view.remote(), timeout=60)
    assert held_ids in (["0"], ["1"]) and held_env == held_ids[0]
    ids = every["TPU"]
    assert ids in (["0"], ["1"]) and ids != held_ids and env == ids[0]  # the actor keeps its chip
    assert every["GPU"] == every["neuron_cores"] == []  # every accelerator resource is listed, as in Ray
    assert sd.get(furiosa_view.remote(), timeout=60) == (["0"], "npu:0")


def worker_pid() -> int:
    return os.getpid()


def test_max_calls_retires_the_worker_after_that_many_runs() -> None:
    limited = sd.remote(max_calls=2)(worker_pid)
    pids = [sd.get(limited.remote(), timeout=60) for _ in range(6)]
    runs = {pid: pids.count(pid) for pid in pids}
    assert max(runs.values()) <= 2 and len(runs) >= 3, runs  # no worker ran it a third time
    for pid, count in runs.items():
        if count == 2:
            wait_for(lambda: gone(pid), what="a worker that ran it twice exits")
    unlimited = sd.remote(worker_pid)
    assert len({sd.get(unlimited.remote(), timeout=60) for _ in range(6)}) <= 2  # workers are reused
    with pytest.raises(ValueError, match="max_calls"):
        limited.options(max_calls=-1)


def test_a_gpu_function_runs_each_time_in_a_fresh_worker_unless_told_otherwise() -> None:
    gpu = sd.remote(num_gpus=1)(worker_pid)  # Ray's default max_calls=1 for num_gpus > 0
    pids = [sd.get(gpu.remote(), timeout=60) for _ in range(3)]
    assert len(set(pids)) == 3, pids
    assert len({sd.get(gpu.options(num_gpus=0).remote(), timeout=60) for _ in range(3)}) == 3  # kept, as Ray
    kept = sd.remote(num_gpus=1, max_calls=0)(worker_pid)
    assert len({sd.get(kept.remote(), timeout=60) for _ in range(4)}) <= 2  # workers are reused
    late = sd.remote(worker_pid).options(num_gpus=1)  # only the decorator's options set it, as in Ray
    assert len({sd.get(late.remote(), timeout=60) for _ in range(4)}) <= 2


@sd.remote
def noop() -> None:
    pass


@sd.remote(num_cpus=0)
class Plain:
    def f(self) -> None:
        pass


def test_a_runtime_env_that_cannot_be_set_up_fails_at_get() -> None:
    bad_env = {"conda": {"dependencies": ["this_doesnt_exist"]}}
    ref = noop.options(runtime_env=bad_env).remote()  # as on Ray: submitting does not raise
    with pytest.raises(sd.exceptions.RuntimeEnvSetupError, match="conda"):
        sd.get(ref, timeout=60)
    actor = Plain.options(runtime_env=bad_env).remote()
    with pytest.raises(sd.exceptions.RuntimeEnvSetupError, match="conda"):
        sd.get(actor.f.remote(), timeout=60)


@sd.remote
def own_title() -> str:
    return psutil.Process().cmdline()[0]


@sd.remote(num_cpus=0)
class Titled:
    def title(self) -> str:
        return psutil.Process().cmdline()[0]


def test_a_worker_shows_what_it_runs_as_its_process_title() -> None:
    assert sd.get(own_title.options(name="special_f").remote(), timeout=60) == "ray::special_f"
    assert sd.get(own_title.remote(), timeout=60) == "ray::own_title"
    assert sd.get(Titled.remote().title.remote(), timeout=60) == "ray::Titled.title"


@sd.remote(num_cpus=0)
class Spawner:
    def start(self) -> int:
        return subprocess.Popen(["/bin/sh", "-c", "sleep 10000"]).pid

    def die(self) -> None:
        os.kill(os.getpid(), signal.SIGKILL)


def test_a_dead_workers_subprocesses_are_killed() -> None:
    spawner = Spawner.remote()
    child = sd.get(spawner.start.remote(), timeout=60)
    assert not gone(child)
    spawner.die.remote()
    wait_for(lambda: gone(child), what="the subprocess of the SIGKILLed actor is killed")
