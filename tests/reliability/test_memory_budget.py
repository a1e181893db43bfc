"""Memory under 10x inflation: a pipeline whose map inflates every block tenfold keeps the bytes in
shared memory within ``object_store_memory`` (the rest spills or waits), and finishes exactly."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading

import numpy as np
import psutil
import pytest

import streamdata as sd
from tests.reliability.conftest import rounds

pytestmark = pytest.mark.reliability

BUDGET = 48 << 20
BLOCKS = rounds(60, 300)
ROWS_PER_BLOCK = 25


def _inflate(batch):
    # 25 rows of 8 B ids -> 25 rows of 80 KB: each block grows to ~2 MB
    return {"id": batch["id"], "pad": np.zeros((len(batch["id"]), 10_000), dtype=np.int64)}


def _dir_bytes(path: str) -> int:
    total = 0
    try:
        for name in os.listdir(path):
            try:
                total += os.stat(os.path.join(path, name)).st_size
            except OSError:
                pass
    except OSError:
        pass
    return total


def test_inflating_pipeline_stays_within_store_budget(figures):
    if sd.is_initialized():
        sd.shutdown()
    spill_root = tempfile.mkdtemp()
    sd.init(num_cpus=2, object_store_memory=BUDGET, spill_dir=spill_root)
    from streamdata.core import api
    shm_dir = api._runtime.shm_dir
    peak = {"shm": 0, "rss": 0}
    halt = threading.Event()

    def sample() -> None:
        me = psutil.Process()
        while not halt.wait(0.02):
            peak["shm"] = max(peak["shm"], _dir_bytes(shm_dir))
            rss = 0
            for p in [me] + me.children(recursive=True):
                try:
                    rss += p.memory_info().rss
                except psutil.Error:
                    pass
            peak["rss"] = max(peak["rss"], rss)
    t = threading.Thread(target=sample, daemon=True)
    t.start()
    try:
        seen = 0
        ids = 0
        for batch in sd.range(BLOCKS * ROWS_PER_BLOCK, override_num_blocks=BLOCKS).map_batches(_inflate) \
                .iter_batches(batch_size=None):
            seen += len(batch["id"])
            ids += int(batch["id"].sum())
    finally:
        halt.set()
        t.join(timeout=10)
        sd.shutdown()
        shutil.rmtree(spill_root, ignore_errors=True)
    n = BLOCKS * ROWS_PER_BLOCK
    assert seen == n and ids == n * (n - 1) // 2
    # the segments' sizes on disk (recycled segments count too): the store's promise
    assert peak["shm"] <= BUDGET, f"shared memory peaked at {peak['shm'] >> 20} MiB over a {BUDGET >> 20} MiB budget"
    figures.record("memory: 10x inflating map", runs=1, rows_checked=n, peak_mem_mb=peak["shm"] >> 20,
                   budget_mb=BUDGET >> 20,
                   notes=f"{BLOCKS * 2} MB produced; peak RSS of the process tree {peak['rss'] >> 20} MiB")
