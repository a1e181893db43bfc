"""``streamdata.util.ActorPool`` on the local runtime (Ray's ActorPool semantics)."""

from __future__ import annotations

import os

import pytest
from _core_util import block_until_file, touch

import streamdata as sd
from streamdata.util import ActorPool

pytestmark = pytest.mark.usefixtures("runtime")


@sd.remote
class Worker:
    def double(self, x):
        return 2 * x

    def pid(self, _):
        return os.getpid()

    def wait_file(self, path):
        return block_until_file(path)


def double(actor, value):
    return actor.double.remote(value)


def test_map_keeps_order_and_map_unordered_returns_all() -> None:
    pool = ActorPool([Worker.remote() for _ in range(3)])
    assert list(pool.map(double, range(10))) == [2 * i for i in range(10)]
    assert sorted(pool.map_unordered(double, range(10))) == [2 * i for i in range(10)]
    assert not pool.has_next()


def test_more_submits_than_actors_wait_for_a_free_actor() -> None:
    pool = ActorPool([Worker.remote()])
    for i in range(5):
        pool.submit(double, i)
    assert not pool.has_free()
    assert [pool.get_next() for _ in range(5)] == [0, 2, 4, 6, 8]
    assert pool.has_free()
    with pytest.raises(StopIteration, match="No more results"):
        pool.get_next()


def test_work_is_spread_over_the_actors() -> None:
    actors = [Worker.remote() for _ in range(2)]
    pool = ActorPool(actors)
    pids = set(pool.map(lambda a, v: a.pid.remote(v), range(8)))
    assert len(pids) == 2


def test_get_next_timeout_and_unordered_then_ordered(tmp_path) -> None:
    pool = ActorPool([Worker.remote(), Worker.remote()])
    gate = str(tmp_path / "gate")
    pool.submit(lambda a, v: a.wait_file.remote(v), gate)
    pool.submit(double, 21)
    with pytest.raises(TimeoutError):
        pool.get_next(timeout=0.05)  # the first is blocked on the gate
    assert pool.get_next_unordered(timeout=30) == 42  # the second is ready
    touch(gate)
    assert pool.get_next_unordered() is True
    pool.submit(double, 1)
    pool.get_next_unordered()
    pool.submit(double, 2)
    assert pool.get_next() == 4


def test_get_next_after_unordered_out_of_order_is_an_error(tmp_path) -> None:
    pool = ActorPool([Worker.remote(), Worker.remote()])
    gate = str(tmp_path / "gate")
    pool.submit(lambda a, v: a.wait_file.remote(v), gate)
    pool.submit(double, 1)
    assert pool.get_next_unordered(timeout=30) == 2
    with pytest.raises(ValueError, match="get_next\\(\\) after get_next_unordered"):
        pool.get_next()  # as Ray's: the order was given up
    touch(gate)
    assert pool.get_next_unordered() is True
    pool.submit(double, 5)
    assert pool.get_next() == 10  # in order again once nothing is out of order


def test_ignore_if_timedout_returns_the_actor(tmp_path) -> None:
    pool = ActorPool([Worker.remote()])
    gate = str(tmp_path / "gate")
    pool.submit(lambda a, v: a.wait_file.remote(v), gate)
    with pytest.raises(TimeoutError, match="ignored"):
        pool.get_next(timeout=0.05, ignore_if_timedout=True)
    assert not pool.has_next() and pool.has_free()
    touch(gate)
    assert list(pool.map(double, [1])) == [2]


def test_push_and_pop_idle() -> None:
    first, second = Worker.remote(), Worker.remote()
    pool = ActorPool([first])
    pool.push(second)
    with pytest.raises(ValueError, match="already belongs"):
        pool.push(second)
    popped = pool.pop_idle()
    assert popped in (first, second)
    assert pool.pop_idle() is not None
    assert pool.pop_idle() is None and not pool.has_free()


def test_bad_input_names_the_argument() -> None:
    with pytest.raises(TypeError, match="actors"):
        ActorPool("worker")
    with pytest.raises(TypeError, match="not an actor handle"):
        ActorPool([1, 2])
    pool = ActorPool([Worker.remote()])
    with pytest.raises(TypeError, match="fn"):
        pool.submit("double", 1)
    with pytest.raises(TypeError, match="must return the ObjectRef"):
        pool.submit(lambda a, v: v, 1)
    assert pool.has_free()  # the actor was given back
    with pytest.raises(StopIteration):
        pool.get_next_unordered()
