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
    """Deletes a random object file of the runtime's store as soon as the store holds one,
    then every few tens of ms (seeded)."""

    def __init__(self, seed: int, shm_dir: str, max_deletes: int = 8) -> None:
        super().__init__(daemon=True, name="reliability-deleter")
        self.rng = random.Random(seed)
        self.shm_dir = shm_dir
        self.max_deletes = max_deletes
        self.deletes = 0
        self._halt = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        # a pipeline's objects live for milliseconds: look for one every millisecond until
        # one is deleted, then pause a seeded few tens of ms between deletions
        while self.deletes < self.max_deletes and not self._halt.is_set():
            self._halt.wait(self.rng.uniform(0.02, 0.08) if self.delete_one() else 0.001)

    def delete_one(self) -> bool:
        """Delete one object file now, if the store holds any (called by the thread, and by the
        consumer between batches); whether one was deleted."""
        with self._lock:
            if self.deletes >= self.max_deletes:
                return False
            try:
                names = sorted(n for n in os.listdir(self.shm_dir) if n != "free")
                if names:
                    os.unlink(os.path.join(self.shm_dir, self.rng.choice(names)))
                    self.deletes += 1
                    return True
            except FileNotFoundError:
                pass
            return False

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
                deleter.delete_one()
        finally:
            deletes += deleter.stop()
        got = np.sort(np.concatenate(ids))
        assert np.array_equal(got, np.arange(N)), f"{name}: rows lost or duplicated ({len(got)} rows)"
        rows += len(got)
    figures.record(f"lost objects: {name}", runs=ROUNDS, kills=0, rows_checked=rows,
                   notes=f"{deletes} object files deleted")
    assert deletes > 0, f"{name}: nothing was deleted; the pipeline ran too fast to test anything"


@sd.remote(max_retries=2)
def _rebuilt_slowly(started: str, gate: str):
    """An array in shared memory; a rerun (the lineage rebuild) waits for ``gate``."""
    import time

    if os.path.exists(started):  # a rebuild: say so, then hold until the test lets it go
        with open(started, "a") as f:
            f.write("rebuild\n")
        deadline = time.monotonic() + 120
        while not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.01)
    else:
        with open(started, "w") as f:
            f.write("first\n")
    return np.arange(200_000)


def test_get_with_timeout_honours_it_while_the_object_is_rebuilt(runtime, tmp_path):
    from streamdata.core.api import _runtime_for_tests
    from tests.reliability.conftest import wait_for

    rt = _runtime_for_tests()
    started, gate = str(tmp_path / "started"), str(tmp_path / "gate")
    ref = _rebuilt_slowly.remote(started, gate)
    sd.wait([ref], timeout=60)
    with rt.lock:
        location = rt.state.directory.location_of(ref.id)
    assert location[0] == "shm", location
    os.unlink(location[1])  # the stored copy is lost

    # the rebuild waits for the gate: only an honoured timeout can end these gets
    outcome: dict = {}

    def get_with_timeout() -> None:
        for timeout in (0.5, 0):
            try:
                outcome[timeout] = sd.get(ref, timeout=timeout)
            except sd.exceptions.GetTimeoutError as exc:
                outcome[timeout] = exc

    getter = threading.Thread(target=get_with_timeout, daemon=True)
    getter.start()
    getter.join(60)
    try:
        assert not getter.is_alive(), "get(timeout=...) blocked on the rebuild"
        assert isinstance(outcome[0.5], sd.exceptions.GetTimeoutError), outcome
        assert isinstance(outcome[0], sd.exceptions.GetTimeoutError), outcome
        # the timeouts left the rebuild running
        wait_for(lambda: "rebuild" in open(started).read(), 60, "the rebuild to start")
        assert not os.path.exists(gate)
    finally:
        open(gate, "w").close()
    assert np.array_equal(sd.get(ref, timeout=60), np.arange(200_000))
    assert open(started).read() == "first\nrebuild\n"  # one rebuild, not one per get
