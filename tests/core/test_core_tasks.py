"""Remote functions on a real runtime (2 CPUs): options, arguments, nesting, get/put/wait, cancel."""

from __future__ import annotations

import asyncio
import os
import subprocess

import numpy as np
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
from streamdata.exceptions import GetTimeoutError, InfeasibleResourceError, TaskCancelledError, TaskError

RUNTIME_INIT = {"num_cpus": 2}
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("runtime")]


class MyError(ValueError):
    """A user exception class (importable, so the driver can rebuild it)."""


@sd.remote
def add(a, b=0):
    return a + b


@sd.remote
def identity(x):
    return x


@sd.remote
def pid_of(_=None):
    return os.getpid()


@sd.remote
def hold(started: str, release: str, value=None):
    """Mark itself started (with its pid), then stay busy until ``release`` exists."""
    append_line(started, str(os.getpid()))
    if not block_until_file(release):
        return "deadline"
    return value


def _started_pids(path: str) -> list[int]:
    text = read_text(path) or ""
    return [int(x) for x in text.split()]


# --------------------------------------------------------------------------- basics


def test_remote_call_with_args_and_kwargs() -> None:
    assert sd.get(add.remote(1, 2)) == 3
    assert sd.get(add.remote(1, b=5)) == 6
    assert sd.get(add.remote("a", b="b")) == "ab"
    assert sd.get([add.remote(i, i) for i in range(10)]) == [2 * i for i in range(10)]


def test_lambda_and_closure() -> None:
    factor = 7
    scaled = sd.remote(lambda x: x * factor)
    assert sd.get(scaled.remote(6)) == 42


def test_workers_are_started_once_and_reused(runtime) -> None:
    with runtime.lock:
        pool = {w.pid for w in runtime.workers.values()}
    first = set(sd.get([pid_of.remote() for _ in range(20)]))
    second = set(sd.get([pid_of.remote() for _ in range(20)]))
    assert first <= pool and second <= pool, "tasks ran in processes started after init"
    assert os.getpid() not in first
    assert len(first | second) <= len(pool)


def test_function_is_shipped_once_per_worker(runtime) -> None:
    @sd.remote
    def marker() -> int:
        return os.getpid()

    sd.get([marker.remote() for _ in range(6)])
    fn_id = marker._pickled.get()[0]
    with runtime.lock:
        assert fn_id in runtime.state.functions
        shipped = [w for w in runtime.state.workers.values() if fn_id in w.known_functions]
        num_workers = len(runtime.state.workers)
    assert 1 <= len(shipped) <= num_workers


# --------------------------------------------------------------------------- options


def test_num_cpus_is_held_while_the_task_runs() -> None:
    @sd.remote
    def cpus_left() -> float:
        return sd.available_resources().get("CPU", 0.0)

    assert sd.get(cpus_left.options(num_cpus=2).remote()) == pytest.approx(0.0)
    assert sd.get(cpus_left.options(num_cpus=0.5).remote()) == pytest.approx(1.5)
    assert sd.get(cpus_left.options(num_cpus=0).remote()) == pytest.approx(2.0)
    assert sd.available_resources()["CPU"] == pytest.approx(2.0)


def test_memory_is_accounted() -> None:
    total = sd.cluster_resources()["memory"]

    @sd.remote(memory=100 * 1024 * 1024)
    def memory_left() -> float:
        return sd.available_resources()["memory"]

    assert sd.get(memory_left.remote()) == pytest.approx(total - 100 * 1024 * 1024)
    wait_for(lambda: sd.available_resources()["memory"] == pytest.approx(total), what="memory released")


def test_infeasible_task_fails_at_once_without_blocking_others() -> None:
    ref = add.options(num_cpus=3).remote(1, 1)  # the node has 2 CPUs: it can never run
    ready, not_ready = sd.wait([ref], timeout=30)
    assert ready == [ref] and not_ready == []
    with pytest.raises(InfeasibleResourceError, match="CPU 3 > 2"):
        sd.get(ref, timeout=30)
    assert sd.get([add.remote(i) for i in range(4)]) == [0, 1, 2, 3]


def test_num_returns_two() -> None:
    @sd.remote(num_returns=2)
    def split(x):
        return x, x * 10

    a, b = split.remote(3)
    assert isinstance(a, sd.ObjectRef) and isinstance(b, sd.ObjectRef)
    assert sd.get([a, b]) == [3, 30]
    # a large and a small output
    big, small = split.options(num_returns=2).remote(np.ones(200_000))
    assert sd.get(small).sum() == 2_000_000 and sd.get(big).shape == (200_000,)


def test_num_returns_via_options_and_three() -> None:
    @sd.remote
    def three():
        return [1, 2, 3]

    refs = three.options(num_returns=3).remote()
    assert len(refs) == 3 and sd.get(refs) == [1, 2, 3]
    assert sd.get(three.remote()) == [1, 2, 3]


def test_num_returns_zero_runs_for_side_effects(tmp_path) -> None:
    path = str(tmp_path / "side")

    @sd.remote(num_returns=0)
    def side(p):
        touch(p, "done")

    assert side.remote(path) is None
    wait_for(lambda: read_text(path) == "done", what="the num_returns=0 task to run")


def test_num_returns_mismatch_is_a_clear_error() -> None:
    @sd.remote(num_returns=2)
    def wrong():
        return 1

    a, b = wrong.remote()
    for ref in (a, b):
        with pytest.raises(ValueError, match="num_returns=2"):
            sd.get(ref)


def test_retry_exceptions_true(tmp_path) -> None:
    log = str(tmp_path / "attempts")

    @sd.remote(max_retries=3, retry_exceptions=True)
    def flaky(p):
        if append_line(p, "x") < 3:
            raise MyError("not yet")
        return "ok"

    assert sd.get(flaky.remote(log)) == "ok"
    assert count_lines(log) == 3


def test_retry_exceptions_gives_up_after_max_retries(tmp_path) -> None:
    log = str(tmp_path / "attempts")

    @sd.remote(max_retries=2, retry_exceptions=True)
    def always(p):
        append_line(p, "x")
        raise MyError("always")

    with pytest.raises(MyError, match="always"):
        sd.get(always.remote(log))
    assert count_lines(log) == 3  # the first try and two retries


def test_retry_exceptions_list_of_classes(tmp_path) -> None:
    log = str(tmp_path / "attempts")

    @sd.remote(max_retries=3, retry_exceptions=[MyError])
    def listed(p, exc_type):
        if append_line(p, "x") < 2:
            raise exc_type("first try fails")
        return "ok"

    assert sd.get(listed.remote(log, MyError)) == "ok"
    assert count_lines(log) == 2
    other = str(tmp_path / "other")
    with pytest.raises(KeyError):
        sd.get(listed.remote(other, KeyError))  # not in the list: no retry
    assert count_lines(other) == 1


def test_exceptions_not_retried_by_default(tmp_path) -> None:
    log = str(tmp_path / "attempts")

    @sd.remote(max_retries=3)
    def once(p):
        append_line(p, "x")
        raise MyError("no retry")

    with pytest.raises(MyError):
        sd.get(once.remote(log))
    assert count_lines(log) == 1


@pytest.mark.parametrize("strategy", ["DEFAULT", "SPREAD", None])
def test_scheduling_strategies(strategy) -> None:
    assert sd.get(add.options(scheduling_strategy=strategy).remote(2, 3)) == 5


def test_bad_scheduling_options_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="scheduling_strategy"):
        add.options(scheduling_strategy="NEAREST").remote(1)
    with pytest.raises(TypeError, match="PlacementGroup"):
        add.options(placement_group="my-group").remote(1)


def test_runtime_env_vars_apply_to_that_task_only() -> None:
    @sd.remote
    def env_and_pid(name):
        return os.environ.get(name), os.getpid()

    name = "STREAMDATA_TEST_ENV_VAR"
    value, pid = sd.get(env_and_pid.options(runtime_env={"env_vars": {name: "on"}}).remote(name))
    assert value == "on"
    assert os.environ.get(name) is None  # not the driver's
    seen_same_worker = []

    def plain_run_on_that_worker() -> bool:
        v, p = sd.get(env_and_pid.remote(name))
        assert v is None, "env_vars leaked into a later task on the same worker"
        seen_same_worker.append(p == pid)
        return p == pid

    wait_for(plain_run_on_that_worker, what="a later task on the same worker")


def test_options_return_a_new_function() -> None:
    base = sd.remote(num_returns=1)(lambda: (1, 2))
    two = base.options(num_returns=2)
    assert len(two.remote()) == 2
    assert sd.get(base.remote()) == (1, 2)
    assert "lambda" in repr(base)


# --------------------------------------------------------------------------- object refs as arguments and results


def test_top_level_refs_are_resolved() -> None:
    x = sd.put(10)
    y = add.remote(1, 2)
    assert sd.get(add.remote(x, y)) == 13
    assert sd.get(add.remote(x, b=y)) == 13
    assert sd.get(add.remote(add.remote(x, x), b=add.remote(y, y))) == 26


def test_nested_refs_are_passed_as_refs() -> None:
    ref = sd.put("payload")

    @sd.remote
    def inspect(items, mapping):
        assert isinstance(items[0], sd.ObjectRef) and isinstance(mapping["r"], sd.ObjectRef)
        return sd.get(items[0]), sd.get(mapping["r"]), items[0] == mapping["r"]

    assert sd.get(inspect.remote([ref], {"r": ref})) == ("payload", "payload", True)


def test_large_arguments_go_through_the_store() -> None:
    arr = np.arange(1_000_000, dtype=np.int64)

    @sd.remote
    def stats(a, b):
        return int(a.sum()), a.flags.writeable, len(b)

    total, writeable, n = sd.get(stats.remote(arr, b"x" * 300_000))
    assert total == int(arr.sum()) and n == 300_000
    assert writeable is False  # mapped read-only from shared memory, not a private copy


def test_refs_returned_from_tasks() -> None:
    @sd.remote
    def make_refs():
        return [sd.put("put-in-task"), add.remote(20, 22)]

    inner = sd.get(make_refs.remote())
    assert all(isinstance(r, sd.ObjectRef) for r in inner)
    assert sd.get(inner) == ["put-in-task", 42]

    @sd.remote
    def one_ref():
        return sd.put(np.full(100_000, 3, dtype=np.int32))

    ref = sd.get(one_ref.remote())
    assert isinstance(ref, sd.ObjectRef) and int(sd.get(ref).sum()) == 300_000


def test_ref_to_failed_task_propagates_its_error(tmp_path) -> None:
    ran = str(tmp_path / "consumer-ran")

    @sd.remote
    def fails():
        raise MyError("upstream broke")

    @sd.remote
    def consumer(x, p):
        touch(p)
        return x

    with pytest.raises(MyError, match="upstream broke") as info:
        sd.get(consumer.remote(fails.remote(), ran))
    assert isinstance(info.value, TaskError)
    assert not os.path.exists(ran)


def test_async_await_and_future() -> None:
    ref = add.remote(4, 5)
    assert ref.future().result(timeout=30) == 9

    async def main():
        return await add.remote(1, 1), await sd.put("x")

    assert asyncio.run(main()) == (2, "x")


@sd.remote
def released_by(gate: str) -> str:
    return "released" if block_until_file(gate) else "deadline"


def test_a_future_cancelled_before_its_value_arrives_stays_cancelled(tmp_path) -> None:
    """The thread that resolves ``ref.future()`` finds it cancelled and leaves it so (it
    used to raise InvalidStateError there, printed as a thread's traceback)."""
    import threading

    errors: list[BaseException] = []
    old_hook = threading.excepthook
    threading.excepthook = lambda args: errors.append(args.exc_value)
    try:
        gate = str(tmp_path / "gate")
        ref = released_by.remote(gate)
        fut = ref.future()
        assert fut.cancel()
        touch(gate)
        assert sd.get(ref, timeout=60) == "released"
        for thread in threading.enumerate():
            if thread.name == "streamdata-future":
                thread.join(30)
    finally:
        threading.excepthook = old_hook
    assert fut.cancelled() and errors == []


# --------------------------------------------------------------------------- tasks inside tasks


@sd.remote
def tree(depth):
    if depth == 0:
        return 1
    return sum(sd.get([tree.remote(depth - 1), tree.remote(depth - 1)]))


def test_tasks_submit_tasks_and_get_results() -> None:
    assert sd.get(tree.remote(3)) == 8


def test_more_blocked_tasks_than_cpus_do_not_deadlock() -> None:
    @sd.remote
    def outer(i):
        inner = add.remote(i, 100)
        ready, _ = sd.wait([inner], timeout=60)
        return sd.get(inner) + len(ready) - 1

    assert sd.get([outer.remote(i) for i in range(6)], timeout=90) == [i + 100 for i in range(6)]


def test_put_get_wait_inside_a_task() -> None:
    @sd.remote
    def work():
        ref = sd.put(np.arange(50_000))
        ready, not_ready = sd.wait([ref, add.remote(1, 1)], num_returns=2, timeout=30)
        return int(sd.get(ref).sum()), len(ready), len(not_ready), sd.is_initialized()

    assert sd.get(work.remote()) == (int(np.arange(50_000).sum()), 2, 0, True)


def test_get_timeout_inside_a_task(tmp_path) -> None:
    release = str(tmp_path / "release")

    @sd.remote
    def impatient(ref_list):
        try:
            sd.get(ref_list[0], timeout=0.2)
        except GetTimeoutError as exc:
            return isinstance(exc, TimeoutError)
        return "no timeout"

    blocker = hold.options(num_cpus=0).remote(str(tmp_path / "s"), release)
    assert sd.get(impatient.remote([blocker])) is True
    touch(release)
    sd.get(blocker)


# --------------------------------------------------------------------------- errors


def test_task_error_is_the_user_exception_with_remote_traceback() -> None:
    @sd.remote
    def explode(n):
        raise MyError(f"bad input {n}")

    with pytest.raises(MyError) as info:
        sd.get(explode.remote(7))
    err = info.value
    assert isinstance(err, TaskError) and isinstance(err, ValueError)
    assert isinstance(err.cause, MyError)
    text = str(err)
    assert "bad input 7" in text and "explode" in text
    assert "Remote traceback" in text and "in explode" in text
    # the user's frame with its source line; the exception line once (in the first line)
    assert text.rstrip().endswith('raise MyError(f"bad input {n}")')
    assert text.count("MyError: bad input 7") == 1


def test_task_error_of_a_class_with_a_custom_init() -> None:
    @sd.remote
    def run_command():
        raise subprocess.CalledProcessError(2, ["false"])

    with pytest.raises(subprocess.CalledProcessError) as info:
        sd.get(run_command.remote())
    assert info.value.returncode == 2 and isinstance(info.value, TaskError)


def test_error_inside_nested_task_reaches_the_driver() -> None:
    @sd.remote
    def inner():
        raise MyError("deep")

    @sd.remote
    def middle():
        return sd.get(inner.remote())

    with pytest.raises(MyError, match="deep"):
        sd.get(middle.remote())


def test_get_of_many_raises_the_first_error() -> None:
    @sd.remote
    def maybe(i):
        if i == 2:
            raise KeyError(i)
        return i

    with pytest.raises(KeyError):
        sd.get([maybe.remote(i) for i in range(4)])


# --------------------------------------------------------------------------- put / get / wait


def test_put_get_values() -> None:
    values = [None, 1, "s", {"a": [1, 2]}, b"x" * 200_000, np.arange(30_000)]
    refs = [sd.put(v) for v in values]
    out = sd.get(refs)
    assert out[:5] == values[:5]
    np.testing.assert_array_equal(out[5], values[5])


def test_put_of_a_ref_is_refused() -> None:
    with pytest.raises(TypeError):
        sd.put(sd.put(1))


def test_get_argument_errors() -> None:
    with pytest.raises(TypeError):
        sd.get(5)
    with pytest.raises(TypeError):
        sd.get([sd.put(1), 5])
    with pytest.raises(ValueError):
        sd.get(sd.put(1), timeout=-1)
    assert sd.get([]) == []


def test_get_timeout_raises_get_timeout_error(tmp_path) -> None:
    release = str(tmp_path / "release")
    ref = hold.remote(str(tmp_path / "started"), release, "late")
    with pytest.raises(GetTimeoutError) as info:
        sd.get(ref, timeout=0.2)
    assert isinstance(info.value, TimeoutError)
    touch(release)
    assert sd.get(ref, timeout=60) == "late"
    assert sd.get(ref, timeout=0) == "late"


def test_wait_keeps_order_and_honours_num_returns(tmp_path) -> None:
    release = str(tmp_path / "release")
    slow = hold.remote(str(tmp_path / "started"), release, "slow")
    fast = [add.remote(i) for i in range(3)]
    put = sd.put("p")
    refs = [fast[2], slow, put, fast[0], fast[1]]
    ready, not_ready = sd.wait(refs, num_returns=4, timeout=60)
    assert ready == [fast[2], put, fast[0], fast[1]] and not_ready == [slow]
    ready, not_ready = sd.wait(refs, num_returns=2, timeout=60)
    assert ready == [fast[2], put] and not_ready == [slow, fast[0], fast[1]]
    ready, not_ready = sd.wait(refs, num_returns=5, timeout=0.2)  # times out with what is ready
    assert not_ready == [slow] and len(ready) == 4
    touch(release)
    ready, not_ready = sd.wait(refs, num_returns=5)
    assert ready == refs and not_ready == []


def test_wait_defaults_and_errors() -> None:
    a, b = sd.put(1), sd.put(2)
    ready, not_ready = sd.wait([a, b])
    assert ready == [a] and not_ready == [b]
    assert sd.wait([]) == ([], [])  # as Ray: an empty list is not an error
    with pytest.raises(ValueError):
        sd.wait([a, b], num_returns=3)
    with pytest.raises(ValueError):
        sd.wait([a, a])
    with pytest.raises(TypeError):
        sd.wait(a)


# --------------------------------------------------------------------------- cancel


def test_cancel_pending_task(tmp_path) -> None:
    release = str(tmp_path / "release")
    started = str(tmp_path / "started")
    blocker = hold.options(num_cpus=2).remote(started, release, "blocker")
    wait_for(lambda: _started_pids(started), what="the blocker to start")
    ran = str(tmp_path / "pending-ran")
    pending = hold.remote(ran, release, "pending")  # no CPU left: stays queued
    sd.cancel(pending)
    with pytest.raises(TaskCancelledError):
        sd.get(pending, timeout=30)
    touch(release)
    assert sd.get(blocker, timeout=60) == "blocker"
    assert sd.get(add.remote(1)) == 1
    assert not os.path.exists(ran)


def test_cancel_running_task_cooperatively(tmp_path) -> None:
    started = str(tmp_path / "started")
    ref = hold.options(max_retries=3).remote(started, str(tmp_path / "never"), "finished")
    pid = wait_for(lambda: _started_pids(started), what="the task to start")[0]
    sd.cancel(ref)
    with pytest.raises(TaskCancelledError):
        sd.get(ref, timeout=30)
    assert not gone(pid), "force=False must not kill the worker"
    assert _started_pids(started) == [pid]  # not retried
    # the worker is healthy and still in the pool
    wait_for(lambda: pid in sd.get([pid_of.remote() for _ in range(4)]), what="the worker to run tasks again")


def test_cancel_running_task_with_force_kills_the_worker(tmp_path) -> None:
    started = str(tmp_path / "started")
    ref = hold.options(max_retries=3).remote(started, str(tmp_path / "never"), "finished")
    pid = wait_for(lambda: _started_pids(started), what="the task to start")[0]
    sd.cancel(ref, force=True)
    with pytest.raises(TaskCancelledError):
        sd.get(ref, timeout=30)
    wait_for(lambda: gone(pid), what="the worker to die")
    assert sd.get([add.remote(i) for i in range(4)]) == [0, 1, 2, 3]
    assert _started_pids(started) == [pid]  # force-cancelled tasks are not retried


@sd.remote
def import_and_read(directory: str, module: str, then_hold: str | None = None):
    import importlib
    import sys
    if directory not in sys.path:
        sys.path.insert(0, directory)
    value = importlib.import_module(module).VALUE
    if then_hold is not None:
        block_until_file(then_hold)  # where the deferred cancel lands
    return os.getpid(), value


def test_cancel_during_an_import_waits_for_the_import(tmp_path) -> None:
    """A cancel that lands while the task imports a module must not leave the
    module half-initialized in the worker: later tasks there import it fine."""
    started, release = str(tmp_path / "started"), str(tmp_path / "release")
    package = tmp_path / "slow_import_pkg"
    package.mkdir()
    (package / "sub.py").write_text("VALUE = 42\n")
    (package / "__init__.py").write_text(  # the cancel lands after the submodule is imported
        "import os\n"
        "import slow_import_pkg.sub\n"
        "from _core_util import append_line, block_until_file\n"
        f"append_line({started!r}, str(os.getpid()))\n"
        f"block_until_file({release!r})\n"
        "VALUE = slow_import_pkg.sub.VALUE\n")
    ref = import_and_read.remote(str(tmp_path), "slow_import_pkg", str(tmp_path / "never"))
    pid = wait_for(lambda: _started_pids(started), what="the import to start")[0]
    sd.cancel(ref)
    touch(release)
    with pytest.raises(TaskCancelledError):
        sd.get(ref, timeout=30)
    assert not gone(pid)
    wait_for(lambda: (pid, 42) in sd.get([import_and_read.remote(str(tmp_path), "slow_import_pkg")
                                          for _ in range(4)]),
             what="the cancelled task's worker to import the module again")


def test_cancel_finished_task_is_a_no_op() -> None:
    ref = add.remote(2, 2)
    assert sd.get(ref) == 4
    sd.cancel(ref)
    sd.cancel(ref, force=True)
    assert sd.get(ref) == 4
    with pytest.raises(TypeError):
        sd.cancel("not a ref")


# --------------------------------------------------------------------------- worker output


def test_worker_output_reaches_the_driver_with_a_prefix(capfd) -> None:
    @sd.remote
    def speak(tag):
        import sys
        print(f"out-line {tag}")
        print(f"err-line {tag}", file=sys.stderr)
        return os.getpid()

    tag = "a1b2c3"
    pid = sd.get(speak.remote(tag))
    seen = {"out": "", "err": ""}

    def both_lines_seen() -> bool:
        out, err = capfd.readouterr()
        seen["out"] += out
        seen["err"] += err
        return f"out-line {tag}" in seen["out"] and f"err-line {tag}" in seen["err"]

    wait_for(both_lines_seen, what="the worker's output")
    out_line = next(line for line in seen["out"].splitlines() if f"out-line {tag}" in line)
    err_line = next(line for line in seen["err"].splitlines() if f"err-line {tag}" in line)
    for line, text in ((out_line, f"out-line {tag}"), (err_line, f"err-line {tag}")):
        prefix = line[: line.index(text)]
        assert str(pid) in prefix, f"no worker prefix in {line!r}"


def test_submitting_from_many_threads() -> None:
    import threading

    results: dict[int, list] = {}

    def submitter(k: int) -> None:
        refs = [add.remote(k * 1000, i) for i in range(25)]
        results[k] = sd.get(refs, timeout=60)

    threads = [threading.Thread(target=submitter, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results == {k: [k * 1000 + i for i in range(25)] for k in range(4)}


def test_get_same_ref_from_many_threads() -> None:
    import threading

    ref = sd.put(np.arange(100_000))
    sums: list = []

    def reader() -> None:
        sums.append(int(sd.get(ref).sum()))

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sums == [int(np.arange(100_000).sum())] * 8


def test_cancel_task_waiting_for_its_arguments(tmp_path) -> None:
    release = str(tmp_path / "release")
    upstream = hold.remote(str(tmp_path / "started"), release, 5)
    ran = str(tmp_path / "ran")

    @sd.remote
    def downstream(x, marker):
        touch(marker)
        return x

    ref = downstream.remote(upstream, ran)
    sd.cancel(ref)
    with pytest.raises(TaskCancelledError):
        sd.get(ref, timeout=30)
    touch(release)
    assert sd.get(upstream) == 5
    assert sd.get(downstream.remote(upstream, str(tmp_path / "other"))) == 5  # a later one runs
    assert not os.path.exists(ran)


def test_wait_with_zero_timeout_does_not_block(tmp_path) -> None:
    release = str(tmp_path / "release")
    slow = hold.remote(str(tmp_path / "started"), release, 1)
    done = sd.put(2)
    ready, not_ready = sd.wait([slow, done], num_returns=2, timeout=0)
    assert ready == [done] and not_ready == [slow]
    touch(release)
    sd.get(slow)


def test_many_small_tasks() -> None:
    refs = [add.remote(i, 1) for i in range(500)]
    assert sd.get(refs, timeout=120) == [i + 1 for i in range(500)]


def test_exception_class_defined_inside_the_task() -> None:
    @sd.remote
    def local_error():
        class LocalOnlyError(Exception):
            pass

        raise LocalOnlyError("made in the worker")

    with pytest.raises(TaskError) as info:
        sd.get(local_error.remote())
    assert type(info.value.cause).__name__ == "LocalOnlyError"
    assert "made in the worker" in str(info.value)


def test_threads_inside_a_task_use_the_runtime() -> None:
    @sd.remote
    def fan_out(n):
        from concurrent.futures import ThreadPoolExecutor

        def one(i):
            return sd.get(add.remote(i, 1)) + sd.get(sd.put(i))

        with ThreadPoolExecutor(4) as pool:
            return list(pool.map(one, range(n)))

    assert sd.get(fan_out.remote(12), timeout=60) == [2 * i + 1 for i in range(12)]
