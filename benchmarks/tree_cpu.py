"""Wall and CPU seconds of the whole process tree per repetition of suite workloads.

CPU is summed over the driver and every descendant (live processes, plus what their
reaped children used: actors forked by the fork server count when they exit), so a
change that moves work between processes still shows; the driver's own CPU is shown
apart. Workloads run in one streamdata session, alternated, as the suite runs them
(``engines/raylike.py``); the first two rounds are warm-up.

Example::

    PYTHONPATH=<checkout> python benchmarks/tree_cpu.py map_batches_actor_write,map_batches_write \\
        --reps 8 --data benchmarks/data/scale-0.05
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from engines.raylike import WORKLOADS, import_engine, start, stop  # noqa: E402
from workloads import Params  # noqa: E402


def tree_cpu_s() -> float:
    """CPU seconds used so far by this process and its descendants (and their reaped children)."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            t = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", help="comma-separated workloads of engines/raylike.py")
    parser.add_argument("--reps", type=int, default=8)
    parser.add_argument("--data", default=str(HERE / "data" / "scale-0.05"))
    parser.add_argument("--ltm-dir", default=str(HERE / "data" / "ltm-80MiB"),
                        help="the larger_than_memory dataset (run.py --quick generates it)")
    parser.add_argument("--ltm-budget-mb", type=int, default=80, help="its object-store budget")
    parser.add_argument("--json", action="store_true",
                        help="also print one JSON line: per workload, medians and means over the reps")
    args = parser.parse_args()
    names = args.workloads.split(",")
    out = tempfile.mkdtemp(prefix="tree-cpu-")
    params = Params(parquet_dir=str(Path(args.data) / "parquet"), csv_dir=str(Path(args.data) / "csv"),
                    ltm_dir=args.ltm_dir, ltm_budget_bytes=args.ltm_budget_mb * 2**20,
                    out_dir=os.path.join(out, "out"), reps=args.reps)
    api = start(import_engine("streamdata"), params, names[0])
    rows: dict[str, list[tuple[float, float, float]]] = {w: [] for w in names}
    try:
        for rnd in range(args.reps + 2):
            for name in names:
                shutil.rmtree(params.out_dir, ignore_errors=True)
                os.makedirs(params.out_dir)
                cpu, driver, began = tree_cpu_s(), time.process_time(), time.perf_counter()
                WORKLOADS[name](api, params)
                wall, driver = time.perf_counter() - began, time.process_time() - driver
                time.sleep(0.05)  # let exiting actors be reaped
                if rnd >= 2:
                    rows[name].append((wall, tree_cpu_s() - cpu, driver))
    finally:
        stop(api)
        shutil.rmtree(out, ignore_errors=True)
    summary = {name: {"wall_median": statistics.median(x[0] for x in r),
                      "cpu_median": statistics.median(x[1] for x in r),
                      "cpu_mean": sum(x[1] for x in r) / len(r),
                      "driver_mean": sum(x[2] for x in r) / len(r)} for name, r in rows.items()}
    for name, r in rows.items():
        print(f"{name}: wall median {statistics.median(x[0] for x in r):.3f} min {min(x[0] for x in r):.3f} s; "
              f"tree CPU median {statistics.median(x[1] for x in r):.3f} s; "
              f"driver CPU median {statistics.median(x[2] for x in r):.3f} s")
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
