"""streamdata against the hand-written pyarrow loop, in ONE process, repetitions interleaved.

On a shared machine the load moves between two suite cells run a minute apart; here each
repetition of streamdata is followed by one of pyarrow, so both see the same load, and the
ratio of the medians is what to compare. The workload code is the suite's own
(``engines/raylike.py`` and ``engines/pyarrow_engine.py``); the first repetition of each
(cold) is left out of the medians.

Example::

    PYTHONPATH=$PWD python benchmarks/pair_bench.py iter_batches,with_column_write --reps 9
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from engines import pyarrow_engine, raylike  # noqa: E402
from workloads import WORKLOADS, Params  # noqa: E402


def _timed(fn, ctx, params: Params, writes: bool) -> float:  # noqa: ANN001
    if writes:
        if os.path.isdir(params.out_dir):
            shutil.rmtree(params.out_dir)
        os.makedirs(params.out_dir, exist_ok=True)
    began = time.perf_counter()
    fn(ctx, params)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", help="comma-separated workload names")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--data", default=str(HERE / "data" / "scale-0.05"))
    parser.add_argument("--num-cpus", type=int, default=2)
    args = parser.parse_args()
    data = Path(args.data)
    names = args.workloads.split(",")
    scratch = HERE / "data" / "scratch"
    base = Params(parquet_dir=str(data / "parquet"), csv_dir=str(data / "csv"),
                  num_cpus=args.num_cpus, reps=args.reps)
    sd = raylike.start(raylike.import_engine("streamdata"), base, names[0])
    pa_ctx = pyarrow_engine.start(pyarrow_engine.import_engine("pyarrow"), base, names[0])
    try:
        for name in names:
            writes = WORKLOADS[name].writes
            p_sd = dataclasses.replace(base, out_dir=str(scratch / f"pair-sd-{name}"))
            p_pa = dataclasses.replace(base, out_dir=str(scratch / f"pair-pa-{name}"))
            times: dict[str, list[float]] = {"streamdata": [], "pyarrow": []}
            for _ in range(args.reps + 1):
                times["streamdata"].append(_timed(raylike.WORKLOADS[name], sd, p_sd, writes))
                times["pyarrow"].append(_timed(pyarrow_engine.WORKLOADS[name], pa_ctx, p_pa, writes))
            med = {k: statistics.median(v[1:]) for k, v in times.items()}
            print(f"{name}: streamdata {med['streamdata']:.4f} s, pyarrow {med['pyarrow']:.4f} s, "
                  f"ratio {med['streamdata'] / med['pyarrow']:.2f}  "
                  f"(cold {times['streamdata'][0]:.3f} / {times['pyarrow'][0]:.3f}; "
                  f"load {os.getloadavg()[0]:.1f})", flush=True)
            for d in (p_sd.out_dir, p_pa.out_dir):
                shutil.rmtree(d, ignore_errors=True)
    finally:
        raylike.stop(sd)
        pyarrow_engine.stop(pa_ctx)


if __name__ == "__main__":
    main()
