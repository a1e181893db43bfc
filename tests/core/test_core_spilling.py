"""Spilling: a 300 MB store holding 800 MB of objects spills to disk and reads back right."""

from __future__ import annotations

import gc
import os
import stat

import numpy as np
import pytest
from _core_util import shm_files, wait_for

import streamdata as sd

MB = 1024 * 1024
RUNTIME_INIT = {"num_cpus": 2, "object_store_memory": 300 * MB}
pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("runtime")]


def _array(i: int) -> np.ndarray:
    """100 MB whose content depends on ``i`` (first and last elements tell them apart)."""
    arr = np.full(100 * MB // 8, i, dtype=np.int64)
    arr[0], arr[-1] = -i, 1000 + i
    return arr


def _check(arr: np.ndarray, i: int) -> None:
    assert arr.shape == (100 * MB // 8,)
    assert int(arr[0]) == -i and int(arr[-1]) == 1000 + i
    assert int(arr[1:-1].min()) == i and int(arr[1:-1].max()) == i


def test_spills_past_capacity_and_reads_back(runtime) -> None:
    refs = []
    for i in range(8):
        refs.append(sd.put(_array(i)))
        gc.collect()
    stats = sd.object_store_stats()
    assert stats["capacity_bytes"] == 300 * MB
    assert stats["spilled_bytes"] > 0 and stats["spilled_total_bytes"] >= stats["spilled_bytes"]
    assert stats["used_bytes"] <= 300 * MB
    shm_bytes = sum(os.path.getsize(os.path.join(runtime.shm_dir, f)) for f in shm_files(runtime.shm_dir))
    assert shm_bytes <= 300 * MB, "shared memory holds more than the store's capacity"
    spilled = shm_files(runtime.spill_dir)
    assert spilled, "nothing in the spill directory"
    for i, ref in enumerate(refs):
        _check(sd.get(ref), i)

    @sd.remote
    def first_last(x):
        return int(x[0]), int(x[-1]), int(x[1:-1].sum())

    n = 100 * MB // 8 - 2
    assert sd.get([first_last.remote(r) for r in refs]) == [(-i, 1000 + i, i * n) for i in range(8)]

    # spill files are private too
    info = os.stat(runtime.spill_dir)
    assert stat.S_IMODE(info.st_mode) == 0o700
    for name in spilled:
        assert stat.S_IMODE(os.stat(os.path.join(runtime.spill_dir, name)).st_mode) == 0o600

    del refs, ref
    gc.collect()
    sd.available_resources()
    wait_for(lambda: sd.object_store_stats()["spilled_bytes"] == 0, what="spilled objects to be freed")
    wait_for(lambda: shm_files(runtime.spill_dir) == [], what="the spill files to go")
    wait_for(lambda: sd.object_store_stats()["used_bytes"] < 100 * MB, what="shared memory to be freed")


def test_task_outputs_spill_too(runtime) -> None:
    @sd.remote
    def make(i):
        return _array(i)

    refs = [make.remote(i) for i in range(5)]
    sd.wait(refs, num_returns=5, timeout=60)
    assert sd.object_store_stats()["spilled_bytes"] > 0
    for i, ref in enumerate(refs):
        _check(sd.get(ref), i)
