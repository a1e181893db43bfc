"""Per-process memory of ``larger_than_memory`` at its peak: which process holds what.

Samples every process of the tree (driver, reaper, fork-server template, workers) each
20 ms from ``/proc/<pid>/smaps_rollup`` while the suite's map → write pipeline runs over
the 10×-budget data, and prints the sample with the largest PSS sum, per process (PSS,
anonymous, file-backed and shared-memory PSS, private dirty, RSS; MiB), then what Arrow's
memory pool holds in each worker after the run.

Example::

    PYTHONPATH=$PWD python benchmarks/profile_ltm_memory.py --data benchmarks/data/ltm-80MiB
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import streamdata as sd  # noqa: E402
from engines.common import add_c  # noqa: E402


def rollup(pid: int) -> dict[str, int]:
    """``/proc/<pid>/smaps_rollup`` in MiB."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[-1] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1]) >> 10
    return out


def role(proc: psutil.Process, root: int, template: int | None) -> str:
    if proc.pid == root:
        return "driver"
    if proc.pid == template:
        return "fork-server template"
    try:
        cmd = " ".join(proc.cmdline())
    except psutil.Error:
        return "?"
    return "worker" if "streamdata.core.worker" in cmd else "reaper" if " -S -c" in cmd else cmd[:30]


def pool_stats() -> tuple[int, int, int, int]:
    import pyarrow as pa

    pool = pa.default_memory_pool()
    return os.getpid(), pool.bytes_allocated() >> 20, pool.max_memory() >> 20, rollup(os.getpid())["Private_Dirty"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parent / "data" / "ltm-80MiB"))
    parser.add_argument("--budget-mb", type=int, default=80)
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    root = psutil.Process()
    best: dict = {"total": 0, "rows": []}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            rows, total = [], 0
            for proc in [root, *root.children(recursive=True)]:
                try:
                    r = rollup(proc.pid)
                except OSError:
                    continue
                rows.append((proc, r))
                total += r["Pss"]
            if total > best["total"]:
                best.update(total=total, rows=rows)

    threading.Thread(target=sample, daemon=True).start()
    sd.init(num_cpus=2, object_store_memory=args.budget_mb * 2**20)
    sd.DataContext.get_current().enable_progress_bars = False
    runtime = sd.core.api._runtime_for_tests()
    template = runtime.forkserver.proc.pid if runtime.forkserver is not None else None
    stats_fn = sd.remote(pool_stats)
    out = tempfile.mkdtemp(prefix="ltm-profile-")
    for rep in range(args.reps):
        shutil.rmtree(out, ignore_errors=True)
        best.update(total=0, rows=[])
        t = time.time()
        sd.read_parquet(args.data).map_batches(add_c).write_parquet(out)
        print(f"run {rep}: {time.time() - t:.2f} s; peak PSS of the tree {best['total']} MiB")
        print("    process               pid     PSS  anon  file  shmem  priv.dirty   RSS")
        for proc, r in sorted(best["rows"], key=lambda x: -x[1]["Pss"]):
            print(f"    {role(proc, root.pid, template):20s} {proc.pid:7d} {r['Pss']:6d} {r.get('Pss_Anon', 0):5d} "
                  f"{r.get('Pss_File', 0):5d} {r.get('Pss_Shmem', 0):6d} {r['Private_Dirty']:11d} {r['Rss']:5d}")
        print("    workers after the run (pid, Arrow bytes allocated, Arrow max, private dirty; MiB):",
              sorted(set(sd.get([stats_fn.remote() for _ in range(4)]))))
    stop.set()
    shutil.rmtree(out, ignore_errors=True)
    sd.shutdown()


if __name__ == "__main__":
    main()
