"""Backpressure (1): a fast producer feeding a slow actor stage declared ``num_gpus=1``.

The object store must stay within the executor's budget while the slow stage is kept
busy. Asserts on memory and on queue states, never on time.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from exec_testutil import make_bundles

from streamdata.context import DataContext
from streamdata.exec.executor import StreamingExecutor
from streamdata.exec.operators.actor_pool_map import ActorPoolMapOperator
from streamdata.exec.operators.input_data import InputDataOperator
from streamdata.exec.operators.map_transformer import BatchStage, MapTransformer
from streamdata.exec.operators.task_pool_map import TaskPoolMapOperator

RUNTIME_INIT = {"num_cpus": 2, "num_gpus": 1, "object_store_memory": 512 * 1024 * 1024}

BLOCK = 4 * 1024 * 1024  # bytes each producer task makes
BLOCKS = 60  # 240 MB through a 40 MB budget


def produce(batch: dict) -> dict:
    rows = BLOCK // 8
    return {"x": np.full(rows, int(batch["a"][0]), dtype=np.int64)}


class SlowModel:
    """Stands in for a GPU model: slow per batch, returns a tiny result."""

    def __call__(self, batch: dict) -> dict:
        import time
        time.sleep(0.03)
        return {"first": batch["x"][:1]}


class _Sampler:
    """Samples the object store's used bytes from a thread until stopped."""

    def __init__(self, rt: Any) -> None:
        self.rt = rt
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rt.object_store_stats()["used_bytes"])
            self._stop.wait(0.005)

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_fast_producer_slow_gpu_stage_stays_within_budget(runtime: Any) -> None:
    ctx = DataContext(enable_progress_bars=False, execution_memory_limit=40 * 1024 * 1024)
    producer = TaskPoolMapOperator("produce", InputDataOperator("seeds", bundles=make_bundles(BLOCKS, rows=1)),
                                   MapTransformer([BatchStage(name="produce", fn=produce)]))
    model = ActorPoolMapOperator("model", producer, MapTransformer([BatchStage(name="model", fn=SlowModel)]),
                                 min_size=1, max_size=1, ray_remote_args={"num_gpus": 1})
    assert model.per_actor_resources().gpu == 1 and model.per_actor_resources().cpu == 0

    ex = StreamingExecutor(ctx)
    starved = outputs = 0
    with _Sampler(runtime) as sampler:
        for bundle in ex.execute(model):
            outputs += 1
            # the slow stage is fed: while the producer still has work, the model has calls
            # in flight or input waiting
            if not producer.completed() and model.num_active_tasks() == 0 and model.internal_queue_size() == 0:
                starved += 1
    assert outputs == BLOCKS
    stats = ex.stats()
    assert stats.operator("model").rows_out == BLOCKS
    budget = ex.budget_bytes
    # within the budget, plus at most one block in transit per stage
    slack = 2 * BLOCK
    assert sampler.peak <= budget + slack, (sampler.peak, budget)
    assert stats.peak_object_store_bytes <= budget + slack
    # the producer really was held back: the data is 6x the budget
    assert BLOCKS * BLOCK > 5 * budget
    assert starved <= 2, f"the slow stage went idle {starved} times while the producer had work"
    assert runtime.object_store_stats()["spilled_total_bytes"] == 0


def test_gpu_stage_does_not_take_cpus_from_the_producer(runtime: Any) -> None:
    ctx = DataContext(enable_progress_bars=False)
    producer = TaskPoolMapOperator("produce", InputDataOperator("seeds", bundles=make_bundles(4, rows=1)),
                                   MapTransformer([BatchStage(name="produce", fn=produce)]))
    model = ActorPoolMapOperator("model", producer, MapTransformer([BatchStage(name="model", fn=SlowModel)]),
                                 min_size=1, max_size=1, ray_remote_args={"num_gpus": 1})
    ex = StreamingExecutor(ctx)
    assert len(list(ex.execute(model))) == 4
    assert ex.oversubscribed == {}  # the GPU actor holds no CPU, the producer keeps both


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-q"])
