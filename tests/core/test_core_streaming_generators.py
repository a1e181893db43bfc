"""Streaming generators (``num_returns="streaming"``) on the local runtime: items reach the
caller while the task runs, errors come after the items yielded before them, a retried
task neither loses nor duplicates items, actor methods stream too (sync and async), and
items nobody took are freed with their generator."""

from __future__ import annotations

import asyncio
import os

import numpy as np
import pytest

import streamdata as sd
from _core_util import block_until_file, touch, wait_for

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("runtime")]


@sd.remote(num_returns="streaming")
def yield_then_wait(gate: str):
    yield "first"
    # the caller opens the gate only after it has the first item: without streaming
    # the first item would arrive at the task's end, which never comes
    if not block_until_file(gate, timeout=20):
        raise TimeoutError("the caller never saw the first item while the task ran")
    yield "second"


def test_items_arrive_while_the_task_runs(tmp_path) -> None:
    gate = str(tmp_path / "gate")
    gen = yield_then_wait.remote(gate)
    assert sd.get(next(gen)) == "first"
    assert not gen.is_finished()
    touch(gate)
    assert sd.get(next(gen)) == "second"
    with pytest.raises(StopIteration):
        next(gen)
    assert gen.is_finished()
    assert sd.get(gen.completed()) == 2  # ready once the task has finished


@sd.remote(num_returns="streaming", max_retries=1)
def dies_once_midway(marker: str, n: int):
    for i in range(n):
        yield i
        if i == 2 and not os.path.exists(marker):
            touch(marker)
            os._exit(1)  # the worker dies after three items were streamed


def test_a_retried_generator_neither_loses_nor_duplicates_items(tmp_path) -> None:
    refs = list(dies_once_midway.remote(str(tmp_path / "died"), 6))
    assert sd.get(refs) == [0, 1, 2, 3, 4, 5]
    assert os.path.exists(tmp_path / "died")


@sd.remote(num_returns="streaming", max_retries=0)
def dies_for_good():
    yield "kept"
    os._exit(1)


def test_a_generator_whose_worker_dies_ends_with_the_system_error() -> None:
    gen = dies_for_good.remote()
    assert sd.get(next(gen)) == "kept"
    with pytest.raises(sd.exceptions.WorkerCrashedError):
        sd.get(next(gen))
    assert list(gen) == []


@sd.remote
class Producer:
    def numbers(self, n: int):  # a generator method streams by default, as in Ray
        yield from range(n)

    @sd.method(num_returns="streaming")
    def words(self, text: str):
        yield from text.split()


@sd.remote
class AsyncProducer:
    async def ticks(self, n: int):
        for i in range(n):
            await asyncio.sleep(0)
            yield i * 10


def test_actor_methods_stream_sync_and_async() -> None:
    producer = Producer.remote()
    assert [sd.get(r) for r in producer.numbers.remote(4)] == [0, 1, 2, 3]
    assert [sd.get(r) for r in producer.words.remote("a b c")] == ["a", "b", "c"]
    assert isinstance(producer.words.options(num_returns="streaming").remote("x"), sd.ObjectRefGenerator)
    assert [sd.get(r) for r in AsyncProducer.remote().ticks.remote(3)] == [0, 10, 20]


def test_async_iteration() -> None:
    async def collect() -> list:
        return [await ref async for ref in yield_numbers.remote(5)]

    assert asyncio.run(collect()) == [0, 1, 2, 3, 4]


@sd.remote(num_returns="streaming")
def yield_numbers(n: int):
    yield from range(n)


@sd.remote
def consume_inside_a_task(n: int) -> list:
    return [sd.get(ref) for ref in yield_numbers.remote(n)]


def test_a_task_consumes_a_generator_it_started() -> None:
    assert sd.get(consume_inside_a_task.remote(4)) == [0, 1, 2, 3]


@sd.remote(num_returns="streaming")
def big_items(n: int):
    for i in range(n):
        yield np.full(256 * 1024, i, dtype=np.int64)  # 2 MiB each: in shared memory


def test_items_not_taken_are_freed_with_the_generator(runtime) -> None:
    gen = big_items.remote(4)
    kept = next(gen)
    sd.get(gen.completed())
    directory = runtime.state.directory
    with runtime.lock:
        streamed = list(runtime.state.streams._streams[gen.completed().id].items)
    assert len(streamed) == 4 and streamed[0] == kept.id
    del gen
    wait_for(lambda: not any(i in directory.objects for i in streamed[1:]), what="the untaken items freed")
    assert int(sd.get(kept)[0]) == 0  # the one taken lives on with its ref
    kept_id = kept.id
    del kept
    wait_for(lambda: kept_id not in directory.objects, what="the taken item freed with its ref")


def test_wrong_num_returns_are_named() -> None:
    with pytest.raises(ValueError, match="num_returns must be an int >= 0 or 'streaming'"):
        Producer.remote().numbers.options(num_returns="lots")
    with pytest.raises(ValueError, match="num_returns"):
        sd.method(num_returns=-1)


@sd.remote(num_returns="streaming")
def not_a_generator():
    return 5


def test_a_streaming_task_that_returns_a_value_is_a_named_error() -> None:
    gen = not_a_generator.remote()
    with pytest.raises(TypeError, match="not_a_generator was declared with num_returns='streaming'"):
        sd.get(next(gen))


def test_wait_treats_a_generator_as_ready_when_its_next_item_is(tmp_path) -> None:
    gate = str(tmp_path / "gate")
    gen = yield_then_wait.remote(gate)
    pending = sd.put("plain")
    ready, not_ready = sd.wait([gen], num_returns=1, timeout=30)
    assert ready == [gen] and not_ready == []
    assert sd.get(next(gen)) == "first"
    ready, not_ready = sd.wait([gen, pending], num_returns=2, timeout=0.2)  # item 2 waits for the gate
    assert ready == [pending] and not_ready == [gen]
    touch(gate)
    ready, _ = sd.wait([gen], num_returns=1, timeout=30)
    assert ready == [gen] and sd.get(next(gen)) == "second"
    assert sd.wait((gen,), num_returns=1, timeout=30)[0] == [gen]  # the end is ready too
    assert list(gen) == []


@sd.remote(num_returns="streaming")
def endless_large_items():
    while True:
        yield bytes(30_000)  # inline, and over one 16 KiB write: a message a cancellation could split


@sd.remote
def put_forever() -> None:
    while True:
        sd.put(bytes(30_000))


@sd.remote
def one() -> int:
    return 1


def test_cancelling_a_generator_ends_it_with_the_cancellation() -> None:
    gen = endless_large_items.remote()
    sd.get(next(gen))
    sd.cancel(gen)
    with pytest.raises(sd.exceptions.TaskCancelledError):
        for ref in gen:
            sd.get(ref)


def test_cancellations_landing_mid_message_never_stall_the_runtime() -> None:
    """A task cancelled while it sends (an item, a put) must not leave half a message
    on its worker's socket: the driver would wait for the rest forever, and every
    later task would hang."""
    for round_ in range(40):
        gen, putter = endless_large_items.remote(), put_forever.remote()
        for _ in range(round_ % 4 + 1):  # cancel at varying points of the stream
            sd.get(next(gen))
        sd.cancel(gen)
        sd.cancel(putter)
        assert sd.get(one.remote(), timeout=30) == 1, f"round {round_}"


@sd.remote(max_concurrency=2)
class Putter:
    def put_forever(self) -> None:
        while True:
            sd.put(bytes(30_000))

    def ping(self) -> int:
        return 1


def test_cancelling_a_threaded_actors_call_mid_message_leaves_the_actor_working() -> None:
    putter = Putter.remote()
    for round_ in range(20):
        call = putter.put_forever.remote()
        assert sd.get(putter.ping.remote(), timeout=30) == 1  # the call runs beside this one
        sd.cancel(call)
        with pytest.raises(sd.exceptions.TaskCancelledError):
            sd.get(call, timeout=30)
        assert sd.get(putter.ping.remote(), timeout=30) == 1, f"round {round_}"
