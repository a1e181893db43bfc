"""Where ``larger_than_memory``'s workers wait: per run, from ``sd.timeline()``.

One session (``sd.init`` with the LTM budget), the suite's pipeline (read_parquet →
map_batches(add_c) → write_parquet) run ``--reps`` times after one untimed first run.
Per run: wall, CPU of the process tree, the read tasks, the *start gap* (how long after
the first worker's first task the other worker got its first), the *tail gap* (between
the workers' last task ends) and the idle worker-seconds in the run (2 × wall − the
tasks' time): figures that move with the plan, far less with the machine's load than
wall time does. Run it once per checkout, alternating, to compare two.

Example::

    PYTHONPATH=$PWD python benchmarks/profile_ltm_idle.py --data benchmarks/data/ltm-80MiB --reps 4
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engines.common import add_c  # noqa: E402  (before streamdata: the same sys.path as its workers')
from tree_cpu import tree_cpu_s  # noqa: E402

import streamdata as sd  # noqa: E402


def run_once(data: str, out: str, override: int | None) -> dict[str, float]:
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    kwargs = {} if override is None else {"override_num_blocks": override}
    cpu, t0, began = tree_cpu_s(), time.time(), time.perf_counter()
    sd.read_parquet(data, **kwargs).map_batches(add_c).write_parquet(out)
    wall, cpu, t1 = time.perf_counter() - began, tree_cpu_s() - cpu, time.time()
    by_worker: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
    tasks = 0
    for e in sd.timeline() or []:
        if e.get("ph") == "X" and t0 - 0.01 <= e["ts"] / 1e6 <= t1:
            by_worker[e["tid"]].append((e["ts"] / 1e6 - t0, (e["ts"] + e["dur"]) / 1e6 - t0))
            tasks += 1
    firsts = sorted(min(v)[0] for v in by_worker.values())
    lasts = sorted(max(end for _, end in v) for v in by_worker.values())
    busy = sum(end - start for v in by_worker.values() for start, end in v)
    return {"wall": wall, "cpu": cpu, "tasks": tasks,
            "start_gap": firsts[-1] - firsts[0] if len(firsts) > 1 else wall,
            "tail_gap": lasts[-1] - lasts[0] if len(lasts) > 1 else 0.0,
            "idle": 2 * wall - busy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parent / "data" / "ltm-80MiB"))
    parser.add_argument("--budget-mb", type=int, default=80)
    parser.add_argument("--reps", type=int, default=4)
    parser.add_argument("--override-num-blocks", type=int, default=None)
    args = parser.parse_args()
    sd.init(num_cpus=2, object_store_memory=args.budget_mb * 2**20)
    sd.DataContext.get_current().enable_progress_bars = False
    out = tempfile.mkdtemp(prefix="ltm-idle-")
    try:
        first = run_once(args.data, out, args.override_num_blocks)
        rows = [run_once(args.data, out, args.override_num_blocks) for _ in range(args.reps)]
    finally:
        sd.shutdown()
        shutil.rmtree(out, ignore_errors=True)
    print(f"first run: wall {first['wall']:.3f} s, start gap {first['start_gap']:.3f} s, "
          f"idle {first['idle']:.3f} worker-s, {first['tasks']} tasks")
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print(f"steady (median of {len(rows)}): wall {med['wall']:.3f} s, tree CPU {med['cpu']:.3f} s, "
          f"{med['tasks']:.0f} tasks, start gap {med['start_gap']:.3f} s, tail gap {med['tail_gap']:.3f} s, "
          f"idle {med['idle']:.3f} worker-s; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
