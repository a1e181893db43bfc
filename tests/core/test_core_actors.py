"""Actors on a real runtime (2 CPUs): ordering, concurrency, async, names, kill, restarts, failures."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Iterator

import pytest
from _core_util import append_line, block_until_file, gone, read_text, touch, wait_for

import streamdata as sd
from streamdata.exceptions import ActorDiedError, TaskCancelledError, TaskError

RUNTIME_INIT = {"num_cpus": 2}
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("runtime")]


class MyError(ValueError):
    pass


@sd.remote
class Counter:
    def __init__(self, start: int = 0) -> None:
        self.n = start
        self.kept = None

    def incr(self, by: int = 1) -> int:
        self.n += by
        return self.n

    def value(self) -> int:
        return self.n

    def pid(self) -> int:
        return os.getpid()

    def env(self, name: str) -> str | None:
        return os.environ.get(name)

    def fail(self) -> None:
        raise MyError("actor method failed")

    @sd.method(num_returns=2)
    def pair(self) -> tuple[int, int]:
        return self.n, -self.n

    def hold(self, started: str, release: str) -> str:
        append_line(started, str(os.getpid()))
        block_until_file(release)
        return "held"

    def hold_once(self, marker: str) -> str:
        """Block the first time (the test kills the process then); return at once on a retry."""
        if os.path.exists(marker):
            return "retried"
        touch(marker)
        block_until_file(marker + ".never")
        return "first run"

    def add_values(self, a: int, items: list) -> tuple[int, bool]:
        return a + sd.get(items[0]), isinstance(items[0], sd.ObjectRef)


@pytest.fixture()
def actors() -> Iterator[list]:
    """Actor handles a test creates; killed at the end so their processes go away."""
    handles: list = []
    yield handles
    for handle in handles:
        try:
            sd.kill(handle)
        except Exception:  # noqa: BLE001, S110 - already dead is fine
            pass


def _kill9(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: gone(pid), what=f"pid {pid} to die")


def _new_pid(handle, old_pid: int) -> int:
    """Poll the actor until it answers from a process other than ``old_pid``."""
    def probe() -> int | None:
        try:
            pid = sd.get(handle.pid.remote(), timeout=20)
        except ActorDiedError:
            return None
        return pid if pid != old_pid else None
    return wait_for(probe, what="the actor to restart")


# --------------------------------------------------------------------------- basics


def test_calls_run_in_submission_order(actors) -> None:
    c = Counter.remote(10)
    actors.append(c)
    refs = [c.incr.remote() for _ in range(30)]
    assert sd.get(refs) == list(range(11, 41))
    assert sd.get(c.value.remote()) == 40
    assert sd.get(c.pid.remote()) != os.getpid()


def test_actor_state_is_per_instance(actors) -> None:
    a, b = Counter.remote(), Counter.remote(100)
    actors += [a, b]
    sd.get([a.incr.remote(), a.incr.remote(), b.incr.remote()])
    assert sd.get([a.value.remote(), b.value.remote()]) == [2, 101]
    assert sd.get(a.pid.remote()) != sd.get(b.pid.remote())


def test_method_error_is_user_exception_and_actor_survives(actors) -> None:
    c = Counter.remote()
    actors.append(c)
    with pytest.raises(MyError, match="actor method failed") as info:
        sd.get(c.fail.remote())
    assert isinstance(info.value, TaskError) and "Counter.fail" in str(info.value)
    assert sd.get(c.incr.remote()) == 1


def test_method_num_returns(actors) -> None:
    c = Counter.remote(4)
    actors.append(c)
    a, b = c.pair.remote()
    assert sd.get([a, b]) == [4, -4]
    x, y = c.pair.options(num_returns=2).remote()
    assert sd.get(x) == 4 and sd.get(y) == -4


def test_bad_method_use(actors) -> None:
    c = Counter.remote()
    actors.append(c)
    with pytest.raises(AttributeError, match="no method 'nope'"):
        c.nope.remote()
    with pytest.raises(TypeError, match=r"\.incr\.remote"):
        c.incr()


def test_refs_as_actor_arguments(actors) -> None:
    c = Counter.remote()
    actors.append(c)
    x = sd.put(5)
    y = sd.put(7)
    assert sd.get(c.add_values.remote(x, [y])) == (12, True)
    assert sd.get(c.incr.remote(c.value.remote())) == 0  # a ref from the same actor, resolved first


def test_actor_handle_passed_to_tasks_and_actors(actors) -> None:
    c = Counter.remote()
    actors.append(c)

    @sd.remote
    def bump(handle, n):
        return sd.get([handle.incr.remote() for _ in range(n)])[-1]

    @sd.remote
    def bump_nested(handles):
        return sd.get(handles[0].incr.remote(100))

    assert sd.get(bump.remote(c, 3)) == 3
    assert sd.get(bump_nested.remote([c])) == 103
    assert sd.get(c.value.remote()) == 103


def test_runtime_env_of_an_actor(actors) -> None:
    c = Counter.options(runtime_env={"env_vars": {"SD_ACTOR_VAR": "yes"}}).remote()
    actors.append(c)
    assert sd.get(c.env.remote("SD_ACTOR_VAR")) == "yes"


def test_actor_num_cpus_held_while_alive() -> None:
    c = Counter.options(num_cpus=1).remote()
    sd.get(c.value.remote())
    assert sd.available_resources()["CPU"] == pytest.approx(1.0)
    sd.kill(c)
    wait_for(lambda: sd.available_resources()["CPU"] == pytest.approx(2.0), what="the CPU to come back")


def test_default_actors_hold_no_cpu(actors) -> None:
    actors += [Counter.remote() for _ in range(3)]
    sd.get([a.value.remote() for a in actors])
    assert sd.available_resources()["CPU"] == pytest.approx(2.0)

    @sd.remote
    def plain(x):
        return x

    assert sd.get([plain.remote(i) for i in range(4)]) == [0, 1, 2, 3]


# --------------------------------------------------------------------------- concurrency


@sd.remote
class Rendezvous:
    """Two calls must be inside ``meet`` at once for either to return."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties, timeout=30)

    def meet(self) -> int:
        return self.barrier.wait()


def test_threaded_actor_runs_calls_concurrently(actors) -> None:
    r = Rendezvous.options(max_concurrency=3).remote(3)
    actors.append(r)
    assert sorted(sd.get([r.meet.remote() for _ in range(3)], timeout=60)) == [0, 1, 2]


@sd.remote
class AsyncWaiter:
    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.count = 0

    async def wait_for_signal(self) -> str:
        await asyncio.wait_for(self.event.wait(), 30)
        return "woke"

    async def signal(self) -> str:
        self.event.set()
        return "signalled"

    def sync_method(self) -> int:
        self.count += 1
        return self.count


def test_async_actor_methods_run_concurrently(actors) -> None:
    a = AsyncWaiter.remote()
    actors.append(a)
    waiters = [a.wait_for_signal.remote() for _ in range(3)]
    ready, _ = sd.wait(waiters, timeout=0.2)
    assert ready == []  # they are waiting on the event
    signal_ref = a.signal.remote()  # runs while the three are still waiting
    assert sd.get(signal_ref, timeout=60) == "signalled"
    assert sd.get(waiters, timeout=60) == ["woke"] * 3
    assert sd.get(a.sync_method.remote()) == 1


# --------------------------------------------------------------------------- names


def test_named_actor_lookup(actors) -> None:
    c = Counter.options(name="named-counter").remote(5)
    actors.append(c)
    same = sd.get_actor("named-counter")
    assert sd.get(same.incr.remote()) == 6
    assert sd.get(c.value.remote()) == 6
    assert same == c
    again = Counter.options(name="named-counter", get_if_exists=True).remote(0)
    assert sd.get(again.value.remote()) == 6


def test_named_actor_duplicate_and_missing(actors) -> None:
    c = Counter.options(name="dup-counter").remote()
    actors.append(c)
    with pytest.raises(ValueError, match="dup-counter"):
        Counter.options(name="dup-counter").remote()
    with pytest.raises(ValueError, match="no-such-actor"):
        sd.get_actor("no-such-actor")


def test_named_actor_name_freed_after_kill() -> None:
    c = Counter.options(name="short-lived").remote()
    sd.get(c.value.remote())
    sd.kill(c)

    def name_released() -> bool:
        try:
            sd.get_actor("short-lived")
        except ValueError:
            return True
        return False

    wait_for(name_released, what="the name to be released")
    c2 = Counter.options(name="short-lived").remote(3)
    assert sd.get(sd.get_actor("short-lived").value.remote()) == 3
    sd.kill(c2)


def test_get_actor_from_a_task(actors) -> None:
    c = Counter.options(name="from-task").remote()
    actors.append(c)

    @sd.remote
    def use_named():
        return sd.get(sd.get_actor("from-task").incr.remote(2))

    assert sd.get(use_named.remote()) == 2


# --------------------------------------------------------------------------- kill, death, restarts


def test_kill_fails_pending_and_later_calls(tmp_path) -> None:
    c = Counter.remote()
    pid = sd.get(c.pid.remote())
    started = str(tmp_path / "started")
    inflight = c.hold.remote(started, str(tmp_path / "never"))
    wait_for(lambda: read_text(started), what="the call to start")
    queued = c.incr.remote()
    sd.kill(c)
    with pytest.raises(ActorDiedError):
        sd.get(inflight, timeout=30)
    with pytest.raises(ActorDiedError):
        sd.get(queued, timeout=30)
    with pytest.raises(ActorDiedError, match="kill"):
        sd.get(c.incr.remote(), timeout=30)
    wait_for(lambda: gone(pid), what="the actor process to exit")
    sd.kill(c)  # killing a dead actor is a no-op
    with pytest.raises(TypeError):
        sd.kill("not an actor")


def test_actor_died_error_without_restarts(tmp_path) -> None:
    c = Counter.remote()
    pid = sd.get(c.pid.remote())
    started = str(tmp_path / "started")
    inflight = c.hold.remote(started, str(tmp_path / "never"))
    wait_for(lambda: read_text(started), what="the call to start")
    _kill9(pid)
    with pytest.raises(ActorDiedError) as info:
        sd.get(inflight, timeout=30)
    assert "SIGKILL" in str(info.value) or "died" in str(info.value)
    with pytest.raises(ActorDiedError):
        sd.get(c.value.remote(), timeout=30)


def test_restart_after_sigkill_resets_state(actors) -> None:
    c = Counter.options(max_restarts=1).remote(100)
    actors.append(c)
    sd.get([c.incr.remote() for _ in range(5)])
    assert sd.get(c.value.remote()) == 105
    pid = sd.get(c.pid.remote())
    _kill9(pid)
    new_pid = _new_pid(c, pid)
    assert new_pid != pid
    assert sd.get(c.value.remote()) == 100  # the constructor ran again with its arguments
    assert sd.get(c.incr.remote()) == 101
    # no restart left: the next death is final
    _kill9(new_pid)
    wait_for(lambda: _dead(c), what="the actor to be dead for good")


def _dead(handle) -> bool:
    try:
        sd.get(handle.value.remote(), timeout=20)
    except ActorDiedError:
        return True
    return False


def test_unlimited_restarts(actors) -> None:
    c = Counter.options(max_restarts=-1).remote(1)
    actors.append(c)
    pid = sd.get(c.pid.remote())
    for _ in range(3):
        _kill9(pid)
        pid = _new_pid(c, pid)
    assert sd.get(c.value.remote()) == 1


def test_kill_with_restart_allowed(actors) -> None:
    c = Counter.options(max_restarts=1).remote(7)
    actors.append(c)
    pid = sd.get(c.pid.remote())
    sd.kill(c, no_restart=False)
    wait_for(lambda: gone(pid), what="the actor process to exit")
    assert _new_pid(c, pid) != pid
    assert sd.get(c.value.remote()) == 7


def test_max_task_retries_reruns_the_interrupted_call(tmp_path, actors) -> None:
    c = Counter.options(max_restarts=1, max_task_retries=1).remote()
    actors.append(c)
    pid = sd.get(c.pid.remote())
    marker = str(tmp_path / "marker")
    ref = c.hold_once.remote(marker)
    wait_for(lambda: os.path.exists(marker), what="the call to start")
    _kill9(pid)
    assert sd.get(ref, timeout=60) == "retried"
    assert _new_pid(c, pid) != pid


def test_restart_without_task_retries_fails_the_interrupted_call(tmp_path, actors) -> None:
    c = Counter.options(max_restarts=1).remote(3)
    actors.append(c)
    pid = sd.get(c.pid.remote())
    marker = str(tmp_path / "marker")
    ref = c.hold_once.remote(marker)
    wait_for(lambda: os.path.exists(marker), what="the call to start")
    _kill9(pid)
    with pytest.raises(ActorDiedError):
        sd.get(ref, timeout=60)
    assert _new_pid(c, pid) != pid
    assert sd.get(c.value.remote()) == 3


@sd.remote
class BrokenInit:
    def __init__(self, fail: bool) -> None:
        if fail:
            raise MyError("constructor exploded")

    def ping(self) -> str:
        return "pong"


def test_constructor_failure() -> None:
    b = BrokenInit.options(max_restarts=3).remote(True)
    with pytest.raises(ActorDiedError, match="constructor exploded"):
        sd.get(b.ping.remote(), timeout=30)
    with pytest.raises(ActorDiedError):
        sd.get(b.ping.remote(), timeout=30)
    ok = BrokenInit.remote(False)
    assert sd.get(ok.ping.remote()) == "pong"
    sd.kill(ok)


def test_constructor_failure_frees_the_name() -> None:
    b = BrokenInit.options(name="broken-one").remote(True)
    with pytest.raises(ActorDiedError):
        sd.get(b.ping.remote(), timeout=30)
    with pytest.raises(ValueError):
        sd.get_actor("broken-one")


# --------------------------------------------------------------------------- cancel of actor calls


def test_cancel_queued_actor_call(tmp_path, actors) -> None:
    c = Counter.remote()
    actors.append(c)
    started, release = str(tmp_path / "started"), str(tmp_path / "release")
    busy = c.hold.remote(started, release)
    wait_for(lambda: read_text(started), what="the first call to start")
    queued = c.incr.remote()
    sd.cancel(queued)
    try:
        # as in Ray, a queued call is cancelled at once, not when the actor gets to it
        with pytest.raises(TaskCancelledError):
            sd.get(queued, timeout=10)
    finally:
        touch(release)
    assert sd.get(busy, timeout=30) == "held"
    assert sd.get(c.value.remote()) == 0  # the cancelled increment never ran


def test_cancel_running_actor_call(tmp_path, actors) -> None:
    c = Counter.remote(9)
    actors.append(c)
    pid = sd.get(c.pid.remote())
    started = str(tmp_path / "started")
    ref = c.hold.remote(started, str(tmp_path / "never"))
    wait_for(lambda: read_text(started), what="the call to start")
    with pytest.raises(ValueError, match="force"):
        sd.cancel(ref, force=True)  # as in Ray: kill the actor instead
    sd.cancel(ref)
    with pytest.raises(TaskCancelledError):
        sd.get(ref, timeout=30)
    assert sd.get(c.pid.remote()) == pid and sd.get(c.value.remote()) == 9


def test_actor_created_from_a_short_lived_thread(actors) -> None:
    """Actors (and workers) started while serving a user thread must outlive that thread."""
    created: list = []

    def create() -> None:
        handle = Counter.options(runtime_env={"env_vars": {"SD_THREAD": "1"}}).remote(1)
        created.append((handle, sd.get(handle.pid.remote())))

    thread = threading.Thread(target=create)
    thread.start()
    thread.join()
    handle, pid = created[0]
    actors.append(handle)
    assert sd.get(handle.incr.remote(), timeout=30) == 2
    assert not gone(pid)


# --------------------------------------------------------------------------- more cases


@sd.remote
class Sleeper:
    """Calls that stay busy until a file exists (threaded or async, per the options)."""

    def __init__(self) -> None:
        self.done = 0

    def busy(self, started: str, release: str) -> str:
        touch(started, str(threading.get_ident()))
        block_until_file(release)
        self.done += 1
        return "finished"

    def count(self) -> int:
        return self.done


@sd.remote
class AsyncSleeper:
    def __init__(self) -> None:
        self.done = 0

    async def busy(self, started: str) -> str:
        touch(started)
        await asyncio.sleep(60)
        self.done += 1
        return "finished"

    async def count(self) -> int:
        return self.done


def test_cancel_running_call_of_a_threaded_actor(tmp_path, actors) -> None:
    s = Sleeper.options(max_concurrency=2).remote()
    actors.append(s)
    started = str(tmp_path / "started")
    ref = s.busy.remote(started, str(tmp_path / "never"))
    wait_for(lambda: read_text(started), what="the call to start")
    sd.cancel(ref)
    with pytest.raises(TaskCancelledError):
        sd.get(ref, timeout=30)
    assert sd.get(s.count.remote()) == 0


def test_cancel_running_call_of_an_async_actor(tmp_path, actors) -> None:
    a = AsyncSleeper.remote()
    actors.append(a)
    started = str(tmp_path / "started")
    ref = a.busy.remote(started)
    wait_for(lambda: read_text(started) is not None, what="the call to start")
    sd.cancel(ref)
    with pytest.raises(TaskCancelledError):
        sd.get(ref, timeout=30)
    assert sd.get(a.count.remote(), timeout=30) == 0


def test_actor_waiting_for_resources_queues_its_calls(tmp_path) -> None:
    @sd.remote
    def hold_cpu(started, release):
        touch(started)
        block_until_file(release)
        return "held"

    started, release = str(tmp_path / "started"), str(tmp_path / "release")
    task = hold_cpu.remote(started, release)
    wait_for(lambda: read_text(started) is not None, what="the task to start")
    c = Counter.options(num_cpus=2).remote(1)  # needs both CPUs: waits for the task
    calls = [c.incr.remote() for _ in range(3)]
    ready, _ = sd.wait(calls, timeout=0.3)
    assert ready == []
    touch(release)
    assert sd.get(task) == "held"
    assert sd.get(calls, timeout=60) == [2, 3, 4]
    sd.kill(c)


def test_restarted_actor_gets_its_constructor_arguments_again(actors) -> None:
    import numpy as np

    @sd.remote(max_restarts=1)
    class FromArray:
        def __init__(self, arr):
            self.total = int(arr.sum())

        def total_and_pid(self):
            return self.total, os.getpid()

    ref = sd.put(np.full(500_000, 2, dtype=np.int64))  # in shared memory
    a = FromArray.remote(ref)
    actors.append(a)
    del ref  # only the actor's creation keeps it now
    total, pid = sd.get(a.total_and_pid.remote())
    assert total == 1_000_000
    _kill9(pid)

    def restarted() -> tuple | None:
        try:
            out = sd.get(a.total_and_pid.remote(), timeout=20)
        except ActorDiedError:
            return None
        return out if out[1] != pid else None

    assert wait_for(restarted, what="the actor to restart")[0] == 1_000_000


def test_actor_output_reaches_the_driver(capfd, actors) -> None:
    @sd.remote
    class Talker:
        def say(self, text):
            print(text)
            return os.getpid()

    t = Talker.remote()
    actors.append(t)
    pid = sd.get(t.say.remote("actor-says-q9z"))
    seen = []

    def line_seen() -> bool:
        seen.append(capfd.readouterr().out)
        return "actor-says-q9z" in "".join(seen)

    wait_for(line_seen, what="the actor's output")
    line = next(x for x in "".join(seen).splitlines() if "actor-says-q9z" in x)
    assert str(pid) in line[: line.index("actor-says-q9z")]


def test_many_callers_of_one_actor_from_threads(actors) -> None:
    c = Counter.remote()
    actors.append(c)
    results: list = []

    def caller() -> None:
        results.append(sd.get([c.incr.remote() for _ in range(25)], timeout=60))

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(results) == 4
    flat = sorted(x for r in results for x in r)
    assert flat == list(range(1, 101))
    assert all(r == sorted(r) for r in results)  # each caller's calls ran in its order


def test_async_actor_awaits_object_refs(actors) -> None:
    @sd.remote
    def double(x):
        return 2 * x

    @sd.remote
    class Awaiter:
        async def run(self, n):
            values = [await double.remote(i) for i in range(n)]
            values.append(await sd.put("put"))
            return values

    a = Awaiter.remote()
    actors.append(a)
    assert sd.get(a.run.remote(3), timeout=60) == [0, 2, 4, "put"]

