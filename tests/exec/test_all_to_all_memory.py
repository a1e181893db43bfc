"""A sort of data ten times the object store keeps the process tree's memory bounded.

Read tasks generate 4 MiB blocks (480 MiB in all) into a 48 MiB object store; the
sort must spill its intermediate blocks instead of holding them in any process. A
thread samples the summed RSS of the driver and its worker processes; the growth
over the warmed-up baseline must stay within the store's size plus a fixed 200 MiB
for the tasks' working memory — far below the data size.
"""

from __future__ import annotations

import threading

import numpy as np
import psutil
import pyarrow as pa

from streamdata.context import DataContext
from streamdata.exec.interfaces import RefBundle
from streamdata.plan.lowering.all_to_all import lower_all_to_all
from streamdata.exec.operators.input_data import InputDataOperator
from streamdata.block_metadata import BlockMetadata
from streamdata.read_task import ReadTask
from streamdata.plan import logical as L

import streamdata.exec.executor as executor_mod
import streamdata.exec.operators.task_pool_map as map_mod
import streamdata.exec.operators.map_transformer as transformer_mod

STORE = 48 << 20
BLOCK_ROWS = (4 << 20) // 32  # 4 MiB: four float64 columns
NUM_BLOCKS = 120  # 480 MiB, 10x the store
OVERHEAD = 200 << 20

RUNTIME_INIT = {"num_cpus": 2, "object_store_memory": STORE}


def _reader(i: int):
    def read():
        rng = np.random.default_rng(i)
        yield pa.table({f"c{j}": rng.random(BLOCK_ROWS) for j in range(4)})
    return read


def tree_rss() -> int:
    me = psutil.Process()
    total = 0
    for proc in [me, *me.children(recursive=True)]:
        try:
            total += proc.memory_info().rss
        except psutil.Error:
            pass
    return total


def sort_generated(rt, num_blocks: int) -> tuple[int, bool]:
    """Generate, sort and consume; (rows, whether the output was globally sorted)."""
    tasks = [ReadTask(_reader(i), BlockMetadata(num_rows=BLOCK_ROWS, size_bytes=BLOCK_ROWS * 32))
             for i in range(num_blocks)]

    def bundles():
        return [RefBundle(blocks=((rt.put(t), BlockMetadata(num_rows=1, size_bytes=0)),), owns_blocks=True)
                for t in tasks]

    src = InputDataOperator("Input", bundles_factory=bundles)
    read = map_mod.TaskPoolMapOperator("Read", src, transformer_mod.MapTransformer([transformer_mod.ReadStage()]))
    op = lower_all_to_all(L.Sort(inputs=(L.InputData(),), keys=("c0",)), read)
    rows, ok, prev = 0, True, -1.0
    for bundle in executor_mod.StreamingExecutor(DataContext(enable_progress_bars=False)).execute(op):
        for ref in bundle.block_refs():
            col = rt.get(ref).column("c0").to_numpy()
            ok = ok and bool(col[0] >= prev) and bool((np.diff(col) >= 0).all())
            prev = float(col[-1])
            rows += len(col)
            del col
    return rows, ok


def test_sort_larger_than_the_object_store_stays_within_budget(runtime) -> None:
    rt = runtime
    sort_generated(rt, 4)  # warm the workers up (imports, pools)
    baseline = tree_rss()
    peak = [baseline]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], tree_rss())
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        rows, ok = sort_generated(rt, NUM_BLOCKS)
    finally:
        stop.set()
        sampler.join()
    assert rows == NUM_BLOCKS * BLOCK_ROWS and ok
    assert rt.object_store_stats()["spilled_total_bytes"] > NUM_BLOCKS * BLOCK_ROWS * 32 // 2
    growth = peak[0] - baseline
    assert growth < STORE + OVERHEAD, f"tree RSS grew {growth >> 20} MiB for {NUM_BLOCKS * 4} MiB of data"
