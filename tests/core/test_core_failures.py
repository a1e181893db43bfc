"""Worker deaths (2 CPUs): tasks retried after SIGKILL, WorkerCrashedError without retries."""

from __future__ import annotations

import os
import signal

import pytest
from _core_util import (
    append_line,
    block_until_file,
    count_lines,
    gone,
    read_text,
    touch,
    wait_for,
)

import streamdata as sd
from streamdata.exceptions import WorkerCrashedError

RUNTIME_INIT = {"num_cpus": 2}
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("runtime")]


@sd.remote
def killed_on_first_try(log: str, value: int) -> int:
    """The first attempt reports its pid and waits to be killed; a retry answers."""
    if append_line(log, str(os.getpid())) == 1:
        block_until_file(log + ".never")
        return -1
    return value * 2


def _pids(log: str) -> list[int]:
    return [int(x) for x in (read_text(log) or "").split()]


def _first_pid(log: str) -> int:
    return wait_for(lambda: _pids(log), what="the task to report its pid")[0]


def test_sigkilled_task_is_retried_with_the_right_answer(tmp_path) -> None:
    log = str(tmp_path / "pids")
    ref = killed_on_first_try.remote(log, 21)
    pid = _first_pid(log)
    os.kill(pid, signal.SIGKILL)
    assert sd.get(ref, timeout=60) == 42
    pids = _pids(log)
    assert len(pids) == 2 and pids[1] != pid
    wait_for(lambda: gone(pid), what="the killed worker to be reaped")


def test_no_retries_gives_worker_crashed_error(tmp_path) -> None:
    log = str(tmp_path / "pids")
    ref = killed_on_first_try.options(max_retries=0).remote(log, 1)
    pid = _first_pid(log)
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(WorkerCrashedError) as info:
        sd.get(ref, timeout=60)
    assert "killed_on_first_try" in str(info.value) and str(pid) in str(info.value)
    assert count_lines(log) == 1


def test_retries_are_bounded(tmp_path) -> None:
    log = str(tmp_path / "attempts")

    @sd.remote(max_retries=2)
    def always_exits(p):
        append_line(p, str(os.getpid()))
        os._exit(3)

    with pytest.raises(WorkerCrashedError, match="code 3"):
        sd.get(always_exits.remote(log), timeout=60)
    assert count_lines(log) == 3


def test_segfaulting_task(tmp_path) -> None:
    @sd.remote(max_retries=0)
    def segfault():
        import ctypes
        ctypes.string_at(0)

    with pytest.raises(WorkerCrashedError, match="SIGSEGV"):
        sd.get(segfault.remote(), timeout=60)


def test_pool_recovers_after_crashes(runtime, tmp_path) -> None:
    @sd.remote(max_retries=0)
    def die():
        os._exit(1)

    for _ in range(3):
        with pytest.raises(WorkerCrashedError):
            sd.get(die.remote(), timeout=60)

    @sd.remote
    def square(x):
        return x * x

    assert sd.get([square.remote(i) for i in range(10)], timeout=60) == [i * i for i in range(10)]
    wait_for(lambda: sd.available_resources()["CPU"] == 2.0, what="the crashed tasks' CPUs to come back")
    with runtime.lock:
        alive = [w for w in runtime.workers.values() if w.proc.poll() is None]
    assert len(alive) >= 2


def test_idle_worker_killed(runtime) -> None:
    with runtime.lock:
        idle = [runtime.workers[w.worker_id] for w in runtime.state.idle if w.worker_id in runtime.workers]
        victim = idle[0].pid if idle else None
    if victim is None:
        pytest.skip("no idle worker")
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: gone(victim), what="the idle worker to die")

    @sd.remote
    def pid():
        return os.getpid()

    pids = set(sd.get([pid.remote() for _ in range(8)], timeout=60))
    assert victim not in pids


def test_task_blocked_in_get_is_retried_after_a_kill(tmp_path) -> None:
    log = str(tmp_path / "pids")

    @sd.remote
    def inner(x):
        return x + 1

    @sd.remote
    def outer(p):
        first = append_line(p, str(os.getpid())) == 1
        value = sd.get(inner.remote(1))
        if first:
            block_until_file(p + ".never")
        return value

    ref = outer.remote(log)
    pid = _first_pid(log)
    os.kill(pid, signal.SIGKILL)
    assert sd.get(ref, timeout=60) == 2
    wait_for(lambda: sd.available_resources()["CPU"] == 2.0, what="the CPUs to come back")


def test_worker_killed_while_blocked_in_get(tmp_path) -> None:
    log, release = str(tmp_path / "pids"), str(tmp_path / "release")

    @sd.remote
    def slow_inner(r):
        block_until_file(r)
        return 5

    @sd.remote
    def outer(p, r):
        inner = slow_inner.remote(r)
        append_line(p, str(os.getpid()))
        return sd.get(inner)

    ref = outer.remote(log, release)
    pid = _first_pid(log)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: len(_pids(log)) == 2, what="the retry to start")
    touch(release)
    assert sd.get(ref, timeout=60) == 5
    wait_for(lambda: sd.available_resources()["CPU"] == 2.0, what="the CPUs to come back")


def test_retried_task_still_has_its_dropped_argument(runtime, tmp_path) -> None:
    import numpy as np

    log = str(tmp_path / "pids")

    @sd.remote
    def use_then_maybe_wait(arr, p):
        if append_line(p, str(os.getpid())) == 1:
            block_until_file(p + ".never")
        return int(arr.sum())

    ref = sd.put(np.full(500_000, 3, dtype=np.int64))
    out = use_then_maybe_wait.remote(ref, log)
    del ref  # the task's pin is all that keeps the argument now
    pid = _first_pid(log)
    os.kill(pid, signal.SIGKILL)
    assert sd.get(out, timeout=60) == 1_500_000


class _DiesOnceWhilePickled:
    """Pickling it kills the worker the first time (a marker file remembers it)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        if not os.path.exists(self.marker):
            touch(self.marker)
            os._exit(1)
        return (_DiesOnceWhilePickled, (self.marker,))


@sd.remote(num_returns=2)
def big_then_dying(marker: str) -> tuple:
    # return 0 is large, so it goes to /dev/shm before return 1 kills the first attempt
    return b"x" * (1 << 20), _DiesOnceWhilePickled(marker)


def test_retry_reclaims_the_return_a_dead_attempt_wrote(tmp_path) -> None:
    marker = str(tmp_path / "died-once")
    first, second = big_then_dying.remote(marker)
    assert sd.get(first, timeout=60) == b"x" * (1 << 20)
    assert isinstance(sd.get(second, timeout=60), _DiesOnceWhilePickled)
    assert os.path.exists(marker)  # the first attempt did die


@sd.remote(max_retries=0)
def garbles_its_channel() -> None:
    """Writes a frame no worker writes (a protocol bug's symptom), then waits."""
    from streamdata.core import context
    context.current_client().conn.send(b"\x00 not a message")
    block_until_file("/nonexistent/never")


def test_an_undecodable_message_ends_that_worker_not_the_runtime() -> None:
    with pytest.raises(WorkerCrashedError):
        sd.get(garbles_its_channel.remote(), timeout=60)
    assert sd.get(sd.remote(lambda: 7).remote(), timeout=60) == 7  # the other workers still answer
