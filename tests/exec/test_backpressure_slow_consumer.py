"""Backpressure (2): a slow consumer keeps peak memory bounded for data 10x the budget.

A separate runtime with a small object store (200 MB); the executor's budget is half
of it. Asserts on memory, never on time.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from exec_testutil import make_bundles

from streamdata.context import DataContext
from streamdata.exec.executor import StreamingExecutor
from streamdata.exec.operators.input_data import InputDataOperator
from streamdata.exec.operators.map_transformer import BatchStage, MapTransformer
from streamdata.exec.operators.task_pool_map import TaskPoolMapOperator

RUNTIME_INIT = {"num_cpus": 2, "object_store_memory": 200 * 1024 * 1024}

BLOCK = 4 * 1024 * 1024


def produce(batch: dict) -> dict:
    return {"x": np.full(BLOCK // 8, int(batch["a"][0]), dtype=np.int64)}


def double(batch: dict) -> dict:
    return {"x": batch["x"] * 2}


def test_slow_consumer_bounds_memory_for_data_ten_times_the_budget(runtime: Any) -> None:
    ctx = DataContext(enable_progress_bars=False)
    capacity = runtime.object_store_stats()["capacity_bytes"]
    budget = capacity * ctx.execution_object_store_share
    n_blocks = int(10 * budget // BLOCK) + 1
    source = TaskPoolMapOperator("produce", InputDataOperator("seeds", bundles=make_bundles(n_blocks, rows=1)),
                                 MapTransformer([BatchStage(name="produce", fn=produce)]))
    dag = TaskPoolMapOperator("double", source, MapTransformer([BatchStage(name="double", fn=double)]))
    ex = StreamingExecutor(ctx)
    peak = 0
    seen = 0
    total = 0
    for bundle in ex.execute(dag):
        for ref, _ in bundle.blocks:
            block = runtime.get(ref)
            total += int(block.column("x")[0].as_py())
            seen += block.num_rows
            del block
        del bundle, ref
        peak = max(peak, runtime.object_store_stats()["used_bytes"])
        time.sleep(0.004)  # the slow consumer's "work"
    assert seen == n_blocks * (BLOCK // 8)
    assert total == 2 * sum(range(n_blocks))
    assert n_blocks * BLOCK >= 10 * ex.budget_bytes
    slack = 3 * BLOCK  # blocks in transit: the consumer's, one per running task
    assert peak <= ex.budget_bytes + slack, (peak, ex.budget_bytes)
    assert ex.stats().peak_object_store_bytes <= ex.budget_bytes + slack
    assert runtime.object_store_stats()["spilled_total_bytes"] == 0


def test_slow_iter_batches_consumer_bounds_memory(runtime: Any, ctx: DataContext) -> None:
    from streamdata import read_api as rd
    from streamdata.iterator import DataIterator

    capacity = runtime.object_store_stats()["capacity_bytes"]
    budget = capacity * ctx.execution_object_store_share
    n_blocks = int(10 * budget // BLOCK) + 1
    ds = rd.range(n_blocks, override_num_blocks=n_blocks).map_batches(
        lambda b: {"x": np.full(BLOCK // 8, int(b["id"][0]), dtype=np.int64)})
    peak = 0
    rows = 0
    for batch in DataIterator(ds).iter_batches(batch_size=BLOCK // 16, prefetch_batches=2):
        rows += len(batch["x"])
        del batch
        peak = max(peak, runtime.object_store_stats()["used_bytes"])
        time.sleep(0.002)  # the slow consumer's "work"
    assert rows == n_blocks * (BLOCK // 8)
    assert n_blocks * BLOCK >= 10 * budget
    slack = 4 * BLOCK  # the iterator's block and prefetched batches, one block per running task
    assert peak <= budget + slack, (peak, budget)
    assert runtime.object_store_stats()["spilled_total_bytes"] == 0
