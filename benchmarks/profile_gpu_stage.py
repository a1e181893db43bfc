"""Where the slow (``num_gpus=1``) stage of ``cpu_to_gpu_pipeline`` waits, run by run.

Runs the suite's pipeline (``engines/raylike.py``: range → decode → SlowModel actor) a
few times in one session and prints, per run: when the slow stage's first call started,
the idle gaps between its calls (and after which call), the tail after its last call,
and the busy share of its window; then the task timeline of the last run
(``sd.timeline()``: decode tasks, the actor's ``ready`` and its calls).

Example::

    PYTHONPATH=$PWD python benchmarks/profile_gpu_stage.py --reps 5
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import streamdata as sd  # noqa: E402
from engines.raylike import SlowModel, busy_stats, decode  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--sleep-s", type=float, default=0.05)
    args = parser.parse_args()
    sd.init(num_cpus=2, num_gpus=1, object_store_memory=512 * 2**20)
    sd.DataContext.get_current().enable_progress_bars = False
    for rep in range(args.reps):
        ds = (sd.range(args.batches * 1024)
              .map_batches(decode, batch_size=1024, fn_kwargs={"feature_dim": 256})
              .map_batches(SlowModel, fn_constructor_kwargs={"sleep_s": args.sleep_s},
                           batch_size=1024, num_gpus=1, concurrency=1))
        started = time.time()
        t0s, t1s = [], []
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            t0s.append(batch["t0"])
            t1s.append(batch["t1"])
        ended = time.time()
        t0, t1 = np.concatenate(t0s), np.concatenate(t1s)
        stats = busy_stats(t0, t1, started, ended)
        starts, ends = np.unique(t0) - started, np.unique(t1) - started
        gaps = starts[1:] - ends[:-1]
        big = np.nonzero(gaps > 0.003)[0]
        print(f"run {rep}: {ended - started:.3f} s; first call at {starts[0]:.3f} s; tail after the last "
              f"call {ended - started - ends[-1]:.3f} s; busy {stats['busy_pct']}% of its window; "
              f"gaps > 3 ms (s, after call #): {[(round(float(gaps[i]), 3), int(i)) for i in big]}")
    events = sorted(sd.timeline(), key=lambda e: e["ts"])
    last_start = (started - 0.2) * 1e6
    for e in events:
        if e["ts"] >= last_start:
            print(f"  {(e['ts'] - started * 1e6) / 1e6:7.3f} s  {e['dur'] / 1e6:6.3f} s  {e['tid']:>22s}  {e['name']}")
    sd.shutdown()


if __name__ == "__main__":
    main()
