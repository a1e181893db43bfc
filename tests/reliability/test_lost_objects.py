"""Lost-object chaos: a seeded thread deletes random objects' files from the session's
shared-memory folder while pipelines run; lineage reconstruction re-runs their tasks and
every row comes out exactly once."""

from __future__ import annotations

import os
import random
import threading

import numpy as np
import pytest

import streamdata as sd
from tests.reliability.conftest import SEED, rounds

pytestmark = pytest.mark.reliability

N = 30_000
BLOCKS = 20
ROUNDS = rounds(1, 6)


class Deleter(threading.Thread):
    """Deletes a random object file of the runtime's store every few tens of ms (seeded)."""

    def __init__(self, seed: int, shm_dir: str, max_deletes: int = 8) -> None:
        super().__init__(daemon=True, name="reliability-deleter")
        self.rng = random.Random(seed)
        self.shm_dir = shm_dir
        self.max_deletes = max_deletes
        self.deletes = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while self.deletes < self.max_deletes and not self._halt.wait(self.rng.uniform(0.02, 0.08)):
            try:
                names = sorted(n for n in os.listdir(self.shm_dir) if n != "free")
            except FileNotFoundError:
                return
            if not names:
                continue
            try:
                os.unlink(os.path.join(self.shm_dir, self.rng.choice(names)))
                self.deletes += 1
            except FileNotFoundError:
                pass

    def stop(self) -> int:
        self._halt.set()
        self.join(timeout=10)
        return self.deletes


def _widen(batch):
    # 8 more float64 columns: blocks over the inline limit, so they live in shared memory
    ones = np.ones(len(batch["id"]))
    return {"id": batch["id"], **{f"x{i}": ones for i in range(8)}}


def _pipelines():
    return {
        "task map": lambda: sd.range(N, override_num_blocks=BLOCKS).map_batches(_widen),
        "map then sort": lambda: sd.range(N, override_num_blocks=BLOCKS).map_batches(_widen).sort("id"),
    }


@pytest.mark.parametrize("name", ["task map", "map then sort"])
def test_lost_object_files_are_rebuilt(runtime, figures, name):
    rt = sd.core.api._runtime_for_tests()
    deletes = rows = 0
    for r in range(ROUNDS):
        deleter = Deleter(SEED + r + (0 if name == "task map" else 50), rt.shm_dir)
        deleter.start()
        try:
            ids = []
            for batch in _pipelines()[name]().iter_batches(batch_size=5000):
                ids.append(np.asarray(batch["id"]))
        finally:
            deletes += deleter.stop()
        got = np.sort(np.concatenate(ids))
        assert np.array_equal(got, np.arange(N)), f"{name}: rows lost or duplicated ({len(got)} rows)"
        rows += len(got)
    figures.record(f"lost objects: {name}", runs=ROUNDS, kills=0, rows_checked=rows,
                   notes=f"{deletes} object files deleted")
    assert deletes > 0, f"{name}: nothing was deleted; the pipeline ran too fast to test anything"
