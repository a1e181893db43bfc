"""Async and generator UDFs as Ray Data runs them: ``async def`` functions and callable
classes (coroutines and async generators) run on one event loop per process with a few
batches in flight, outputs in input order, the user's exception type kept."""

from __future__ import annotations

import asyncio
from typing import Any

import pyarrow as pa
import pytest

from streamdata.errors import UDFReturnError
from streamdata.exec.operators.async_udf import ASYNC_BATCH_CONCURRENCY, is_async, run_ordered
from streamdata.exec.operators.map_transformer import (BatchStage, FlatMapStage, MapTransformer,
                                                       RowStage, TaskContext)

CTX = TaskContext(task_index=0)


def run(stage: Any, n: int = 10, blocks: int = 1) -> list[dict]:
    step = -(-n // blocks)
    tables = [pa.table({"id": list(range(lo, min(n, lo + step)))}) for lo in range(0, n, step)]
    out = MapTransformer([stage]).apply(tables, CTX)
    return [row for t in out for row in t.to_pylist()]


def test_is_async_detects_functions_classes_and_generators():
    async def coro(x): return x

    async def agen(x):
        yield x

    class Cls:
        async def __call__(self, x): return x

    class Sync:
        def __call__(self, x): return x

    assert is_async(coro) and is_async(agen) and is_async(Cls())
    assert not is_async(Sync()) and not is_async(lambda x: x) and not is_async(len)


def test_async_function_map_batches_in_order():
    async def double(batch):
        await asyncio.sleep(0)
        return {"x": batch["id"] * 2}

    assert run(BatchStage(name="double", fn=double, batch_size=3), 10) == [{"x": 2 * i} for i in range(10)]


def test_async_generator_map_batches_yields_every_output_in_order():
    async def twice(batch):
        for k in range(2):
            await asyncio.sleep(0)
            yield {"id": batch["id"], "k": [k] * len(batch["id"])}

    got = run(BatchStage(name="twice", fn=twice, batch_size=4), 8)
    assert got == ([{"id": i, "k": 0} for i in range(4)] + [{"id": i, "k": 1} for i in range(4)]
                   + [{"id": i, "k": 0} for i in range(4, 8)] + [{"id": i, "k": 1} for i in range(4, 8)])


def test_async_callable_class_constructed_once_with_args():
    class Add:
        built = 0

        def __init__(self, n):
            Add.built += 1
            self.n = n

        async def __call__(self, batch):
            await asyncio.sleep(0)
            return {"x": batch["id"] + self.n}

    stage = BatchStage(name="add", fn=Add, batch_size=2, fn_constructor_args=(100,))
    assert run(stage, 6) == [{"x": 100 + i} for i in range(6)]
    assert Add.built == 1


def test_async_batches_run_concurrently_up_to_the_cap_and_keep_order():
    state = {"now": 0, "peak": 0}
    full = asyncio.Event()

    async def slow_first(batch):
        state["now"] += 1
        state["peak"] = max(state["peak"], state["now"])
        if state["now"] >= ASYNC_BATCH_CONCURRENCY:
            full.set()
        # the first batches wait until the cap is reached: only possible if they overlap
        await asyncio.wait_for(full.wait(), timeout=30)
        if int(batch["id"][0]) == 0:
            await asyncio.sleep(0.01)  # the first finishes last; its output still comes first
        state["now"] -= 1
        return {"x": batch["id"]}

    got = run(BatchStage(name="slow", fn=slow_first, batch_size=1), 12)
    assert got == [{"x": i} for i in range(12)]
    assert state["peak"] == ASYNC_BATCH_CONCURRENCY


def test_async_row_map_and_bad_returns():
    async def plus(row):
        return {"y": row["id"] + 1}

    assert run(RowStage(name="plus", fn=plus), 5, blocks=2) == [{"y": i + 1} for i in range(5)]

    async def not_a_row(row):
        return 3

    with pytest.raises(UDFReturnError, match=r"map UDF bad returned int"):
        run(RowStage(name="bad", fn=not_a_row), 3)

    async def none_batch(batch):
        return None

    with pytest.raises(UDFReturnError, match=r"map_batches UDF nb returned None"):
        run(BatchStage(name="nb", fn=none_batch), 3)


class MyError(Exception):
    pass


def test_async_errors_keep_the_user_exception_type():
    async def boom(batch):
        if int(batch["id"][0]) >= 4:
            raise MyError(f"bad batch at {int(batch['id'][0])}")
        return {"x": batch["id"]}

    with pytest.raises(MyError, match="bad batch at 4"):
        run(BatchStage(name="boom", fn=boom, batch_size=2), 10)

    async def gen_boom(batch):
        yield {"x": batch["id"]}
        raise KeyError("late")

    with pytest.raises(KeyError, match="late"):
        run(BatchStage(name="gb", fn=gen_boom, batch_size=5), 10)


def test_sync_generator_udfs_and_their_errors():
    def split(batch):
        for v in batch["id"]:
            yield {"x": [v]}

    assert run(BatchStage(name="split", fn=split, batch_size=3), 5) == [{"x": i} for i in range(5)]

    def gen_fail(batch):
        yield {"x": batch["id"]}
        raise ValueError("generator failed")

    with pytest.raises(ValueError, match="generator failed"):
        run(BatchStage(name="gf", fn=gen_fail, batch_size=5), 10)

    def rows(row):
        yield {"a": row["id"]}
        yield {"a": -row["id"]}

    assert run(FlatMapStage(name="fm", fn=rows), 2) == [{"a": 0}, {"a": 0}, {"a": 1}, {"a": -1}]


def test_run_ordered_stops_the_rest_after_an_error():
    started: list[int] = []

    async def fn(i):
        started.append(i)
        if i == 1:
            raise RuntimeError("one")
        await asyncio.sleep(0)
        return i

    with pytest.raises(RuntimeError, match="one"):
        for _ in run_ordered(fn, iter(range(100)), max_concurrency=2):
            pass
    assert len(started) < 100  # the input is not drained past the cap
