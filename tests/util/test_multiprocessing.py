"""``streamdata.util.multiprocessing.Pool``: ``multiprocessing.Pool``'s API on actors (2 CPUs)."""

from __future__ import annotations

import itertools
import multiprocessing
import os
import threading

import pytest
from _core_util import block_until_file, touch

import streamdata as sd
from streamdata.util.multiprocessing import Pool, TimeoutError

pytestmark = pytest.mark.usefixtures("runtime")


def square(x):
    return x * x


def add(a, b=0):
    return a + b


def fail_on_three(x):
    if x == 3:
        raise KeyError(f"bad item {x}")
    return x


def pid(_):
    return os.getpid()


_greeting = None


def set_greeting(word):
    global _greeting
    _greeting = word


def greet(name):
    return f"{_greeting} {name}"


@sd.remote
def remote_square(x):
    return x * x


def uses_a_task(x):
    return sd.get(remote_square.remote(x))


@pytest.fixture(scope="module")
def pool():
    with Pool(processes=2) as p:
        yield p


def test_map_starmap_apply(pool) -> None:
    assert pool.map(square, range(20)) == [i * i for i in range(20)]
    assert pool.map(square, range(5), chunksize=2) == [0, 1, 4, 9, 16]
    assert pool.map(square, []) == []
    assert pool.starmap(add, [(1, 2), (3, 4)]) == [3, 7]
    assert pool.apply(add, (1,), {"b": 5}) == 6
    assert pool.map_async(square, [3]).get(timeout=30) == [9]
    assert pool.starmap_async(add, [(2, 2)]).get() == [4]


def test_imap_reads_its_input_lazily(pool) -> None:
    assert list(itertools.islice(pool.imap(square, itertools.count()), 6)) == [0, 1, 4, 9, 16, 25]
    assert list(pool.imap(square, range(7), chunksize=3)) == [i * i for i in range(7)]
    assert sorted(pool.imap_unordered(square, range(7))) == [i * i for i in range(7)]
    it = pool.imap(square, [2])
    assert it.next(timeout=30) == 4
    with pytest.raises(StopIteration):
        next(it)


def test_work_runs_on_every_process(pool) -> None:
    assert len(set(pool.map(pid, range(16), chunksize=1))) == 2


def test_a_pool_as_big_as_the_cpus_leaves_room_for_tasks(pool) -> None:
    # the pool's actors hold no CPU (as Ray's), so tasks they start still run
    assert pool.map(uses_a_task, range(4), chunksize=1) == [0, 1, 4, 9]


def test_item_errors_are_the_items_own(pool) -> None:
    with pytest.raises(KeyError, match="bad item 3"):
        pool.map(fail_on_three, range(6))
    it = pool.imap(fail_on_three, range(5))
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(KeyError):
        next(it)
    assert next(it) == 4
    result = pool.map_async(fail_on_three, [3])
    result.wait(30)
    assert result.ready() and not result.successful()
    with pytest.raises(KeyError):
        pool.apply(fail_on_three, (3,))


def test_callbacks(pool) -> None:
    got, errors = [], []
    done = threading.Event()
    pool.apply_async(square, (4,), callback=lambda v: (got.append(v), done.set()))
    assert done.wait(30) and got == [16]
    failed = threading.Event()
    result = pool.map_async(fail_on_three, [1, 3], error_callback=lambda e: (errors.append(e), failed.set()))
    assert failed.wait(30) and isinstance(errors[0], KeyError)
    with pytest.raises(KeyError):
        result.get()


def test_get_timeout(pool, tmp_path) -> None:
    gate = str(tmp_path / "gate")
    result = pool.apply_async(block_until_file, (gate,))
    with pytest.raises(TimeoutError):
        result.get(timeout=0.05)
    with pytest.raises(multiprocessing.TimeoutError):
        pool.imap(block_until_file, [gate]).next(timeout=0.05)
    assert not result.ready()
    with pytest.raises(ValueError, match="not ready"):
        result.successful()
    touch(gate)
    assert result.get(timeout=60) is True


def test_initializer_and_maxtasksperchild() -> None:
    with Pool(processes=1, initializer=set_greeting, initargs=("hello",)) as p:
        assert p.map(greet, ["a", "b"]) == ["hello a", "hello b"]
    p = Pool(processes=1, maxtasksperchild=1)
    pids = p.map(pid, range(3), chunksize=1)
    assert len(set(pids)) == 3  # a fresh actor after each chunk
    p.close()
    p.join()


def test_lifecycle() -> None:
    p = Pool(processes=1)
    with pytest.raises(ValueError, match="still running"):
        p.join()
    p.close()
    with pytest.raises(ValueError, match="Pool not running"):
        p.map(square, [1])
    p.join()
    q = Pool(processes=1)
    q.terminate()
    with pytest.raises(ValueError, match="Pool not running"):
        q.apply(square, (1,))


def test_bad_input_names_the_argument(pool) -> None:
    cpus = int(sd.cluster_resources()["CPU"])
    with pytest.raises(ValueError, match=f"{cpus + 1} processes.*only {cpus} CPUs"):
        Pool(processes=cpus + 1)
    with pytest.raises(ValueError, match="processes"):
        Pool(processes=0)
    with pytest.raises(TypeError, match="processes"):
        Pool(processes="2")
    with pytest.raises(TypeError, match="initializer"):
        Pool(processes=1, initializer="setup")
    with pytest.raises(ValueError, match="maxtasksperchild"):
        Pool(processes=1, maxtasksperchild=0)
    with pytest.raises(TypeError, match="ray_remote_args"):
        Pool(processes=1, ray_remote_args=[("num_cpus", 1)])
    with pytest.raises(TypeError, match="func"):
        pool.map("square", [1])
    with pytest.raises(ValueError, match="chunksize"):
        pool.map(square, [1], chunksize=0)
    with pytest.raises(TypeError, match="iterable"):
        pool.imap(square, 5)
    with pytest.raises(TypeError, match="kwargs"):
        pool.apply(add, (1,), ["b"])
