"""Callable classes in actors as Ray runs them: an actor with ``max_concurrency > 1``
runs a synchronous UDF one call at a time unless ``true_multi_threading`` is on (then its
calls overlap in threads); an async UDF's calls overlap on the event loop."""

from __future__ import annotations

import asyncio
import threading
import time

import pyarrow as pa
import pytest

from streamdata.exec.operators.map_task import MapWorker
from streamdata.exec.operators.map_transformer import BatchStage, MapTransformer, TaskContext


class Overlap:
    """Counts calls running at once in this actor; ``meet`` calls wait for each other."""

    def __init__(self, meet: int = 0):
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0
        self.barrier = threading.Barrier(meet, timeout=60) if meet else None

    def __call__(self, batch):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        if self.barrier is not None:
            self.barrier.wait()  # only passes when `meet` calls run together
        else:
            time.sleep(0.05)  # a little work, so overlapping calls would be seen
        with self.lock:
            self.now -= 1
            return {"peak": [self.peak] * len(batch["id"])}


class AsyncOverlap:
    def __init__(self):
        self.now = 0
        self.peak = 0
        self.full = asyncio.Event()

    async def __call__(self, batch):
        self.now += 1
        self.peak = max(self.peak, self.now)
        if self.now >= 3:
            self.full.set()
        await asyncio.wait_for(self.full.wait(), timeout=60)
        self.now -= 1
        return {"peak": [self.peak] * len(batch["id"])}


def _peaks(runtime, fn, *, calls: int, **worker_kwargs) -> list[int]:
    chain = MapTransformer([BatchStage(name="udf", fn=fn, fn_constructor_args=())])
    actor = runtime.remote(MapWorker).options(max_concurrency=calls).remote(chain, None, **worker_kwargs)
    assert runtime.get(actor.ready.remote(), timeout=120)
    refs = [actor.submit.options(num_returns=2).remote(TaskContext(task_index=i), pa.table({"id": [i]}))
            for i in range(calls)]
    tables = [runtime.get(block_ref, timeout=120) for block_ref, _ in refs]
    runtime.kill(actor)
    return [t.column("peak")[0].as_py() for t in tables]


def test_sync_udf_runs_one_call_at_a_time_by_default(runtime):
    assert max(_peaks(runtime, Overlap, calls=3)) == 1


def test_true_multi_threading_overlaps_sync_calls(runtime):
    class Meet(Overlap):
        def __init__(self):
            super().__init__(meet=3)

    assert _peaks(runtime, Meet, calls=3, true_multi_threading=True) == [3, 3, 3]


def test_async_udf_calls_overlap_in_one_actor(runtime):
    assert _peaks(runtime, AsyncOverlap, calls=3) == [3, 3, 3]


class AsyncAdd:
    def __init__(self, n):
        self.n = n

    async def __call__(self, batch):
        await asyncio.sleep(0)
        if int(batch["id"][0]) < 0:
            raise LookupError("negative id")
        return {"id": batch["id"] + self.n}


class AsyncGen:
    async def __call__(self, batch):
        for part in (batch["id"][:1], batch["id"][1:]):
            if len(part):
                yield {"id": part}


def test_dataset_async_callable_classes_in_an_actor_pool(runtime, ctx):
    import streamdata as sd

    out = sd.range(20).map_batches(AsyncAdd, fn_constructor_args=(100,), batch_size=4, concurrency=1)
    assert sorted(r["id"] for r in out.take_all()) == list(range(100, 120))
    gen = sd.range(10).map_batches(AsyncGen, batch_size=5, concurrency=1)
    assert sorted(r["id"] for r in gen.take_all()) == list(range(10))
    bad = sd.from_items([{"id": -1}]).map_batches(AsyncAdd, fn_constructor_args=(1,), concurrency=1)
    with pytest.raises(LookupError, match="negative id"):  # the user's exception type
        bad.take_all()
