"""``streamdata.util.queue.Queue`` on the local runtime: shared by the driver, tasks and actors."""

from __future__ import annotations

import asyncio
import queue as stdlib_queue

import pytest

import streamdata as sd
from streamdata.util import list_named_actors
from streamdata.util.queue import Empty, Full, Queue

pytestmark = pytest.mark.usefixtures("runtime")


@sd.remote
def produce(q, items):
    for item in items:
        q.put(item)
    return len(items)


@sd.remote
class Consumer:
    def __init__(self, q):
        self.q = q

    def take(self, n):
        return [self.q.get(timeout=30) for _ in range(n)]


def test_fifo_between_a_task_an_actor_and_the_driver() -> None:
    q = Queue()
    consumer = Consumer.remote(q)
    taken = consumer.take.remote(3)  # waits in the actor for items the task puts
    assert sd.get(produce.remote(q, ["a", "b", "c"])) == 3
    assert sd.get(taken, timeout=60) == ["a", "b", "c"]
    assert sd.get(produce.remote(q, [1, 2])) == 2
    assert [q.get(), q.get()] == [1, 2]
    assert q.empty() and len(q) == 0
    q.shutdown()


def test_sizes_and_the_nowait_forms() -> None:
    q = Queue(maxsize=2)
    assert q.empty() and not q.full()
    q.put_nowait(1)
    q.put(2, block=False)
    assert q.full() and q.size() == q.qsize() == 2
    with pytest.raises(Full):
        q.put_nowait(3)
    with pytest.raises(stdlib_queue.Full):  # also the standard library's Full
        q.put(3, block=False)
    assert q.get_nowait() == 1 and q.get(block=False) == 2
    with pytest.raises(Empty):
        q.get_nowait()
    with pytest.raises(stdlib_queue.Empty):
        q.get(block=False)
    q.shutdown()


def test_blocking_calls_time_out() -> None:
    q = Queue(maxsize=1)
    with pytest.raises(Empty, match="empty"):
        q.get(timeout=0.05)
    q.put("x")
    with pytest.raises(Full, match="full"):
        q.put("y", timeout=0.05)
    assert q.get(timeout=5) == "x"
    q.shutdown()


def test_batches_are_all_or_nothing() -> None:
    q = Queue(maxsize=3)
    q.put_nowait_batch([1, 2])
    with pytest.raises(Full, match="Cannot add 2 items"):
        q.put_nowait_batch([3, 4])
    assert q.size() == 2  # nothing of the failed batch went in
    with pytest.raises(Empty, match="Cannot get 3 items"):
        q.get_nowait_batch(3)
    assert q.get_nowait_batch(2) == [1, 2]
    assert q.get_nowait_batch(0) == []
    q.shutdown()


def test_async_forms() -> None:
    q = Queue()

    async def main():
        await q.put_async(5)
        first = await q.get_async(timeout=5)
        with pytest.raises(Empty):
            await q.get_async(block=False)
        return first

    assert asyncio.run(main()) == 5
    q.shutdown()


def test_actor_options_name_the_queue_and_shutdown_ends_it() -> None:
    q = Queue(actor_options={"name": "util-test-queue"})
    assert "util-test-queue" in list_named_actors()
    q.put(1)
    q.shutdown()
    with pytest.raises(RuntimeError, match="shut down"):
        q.put(2)
    q.shutdown()  # twice is fine


def test_bad_input_names_the_argument() -> None:
    with pytest.raises(TypeError, match="maxsize"):
        Queue(maxsize="3")
    with pytest.raises(TypeError, match="actor_options"):
        Queue(actor_options=["name"])
    q = Queue()
    with pytest.raises(ValueError, match="timeout"):
        q.get(timeout=-1)
    with pytest.raises(ValueError, match="timeout"):
        q.put(1, timeout=-1)
    with pytest.raises(TypeError, match="items"):
        q.put_nowait_batch(5)
    with pytest.raises(TypeError, match="num_items"):
        q.get_nowait_batch("2")
    with pytest.raises(ValueError, match="num_items"):
        q.get_nowait_batch(-1)
    q.shutdown(force=True)
