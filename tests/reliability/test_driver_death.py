"""A driver killed by SIGKILL or interrupted by Ctrl-C (SIGINT) mid-pipeline leaves no worker process,
/dev/shm segment or spill file behind once a bounded wait passes (the reaper's job)."""

from __future__ import annotations

import glob
import os
import signal
import subprocess
import sys
import tempfile

import psutil
import pytest

from tests.reliability.conftest import rounds, wait_for

pytestmark = pytest.mark.reliability

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = r"""
import sys, time
import streamdata as sd
info = sd.init(num_cpus=2, object_store_memory=64 << 20, spill_dir=sys.argv[1])
print("SESSION", info["session"], flush=True)
def slow(b):
    time.sleep(0.05)
    return {"id": b["id"], "pad": [b"x" * 200_000] * len(b["id"])}
# a pipeline with spilled objects (64 MiB store, ~600 MB of blocks) that runs for minutes
for _ in sd.range(3000, override_num_blocks=300).map_batches(slow).iter_batches(batch_size=None):
    print("BATCH", flush=True)
"""


def _run_and_stop(sig: int, spill_root: str) -> tuple[str, list[int]]:
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, spill_root], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env, text=True, cwd=ROOT)
    session = ""
    try:
        for line in proc.stdout:
            if line.startswith("SESSION"):
                session = line.split()[1]
            if line.startswith("BATCH"):
                break
        assert session, "the driver script never started its runtime"
        workers = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        assert workers, "the driver has no worker processes to leave behind"
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return session, workers


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_driver_death_leaves_nothing(sig, figures):
    runs = rounds(1, 5)
    left = 0
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as spill_root:
            session, workers = _run_and_stop(sig, spill_root)
            leftovers = lambda: ([p for p in workers if psutil.pid_exists(p)
                                  and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
                                 + glob.glob(f"/dev/shm/{session}*") + glob.glob(f"{spill_root}/{session}*"))
            wait_for(lambda: not leftovers(), 30, f"cleanup after {signal.Signals(sig).name}")
            left += len(leftovers())
    figures.record(f"driver {signal.Signals(sig).name} mid-pipeline", runs=runs,
                   notes="no workers, shm segments or spill files left within 30 s")
    assert left == 0
