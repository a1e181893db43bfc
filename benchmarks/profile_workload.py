"""Run one benchmark workload on streamdata repeatedly, for a profiler to watch.

Examples:
    # whole process tree (driver and workers), raw stacks for a flame graph
    py-spy record -r 200 --subprocesses --format raw -o /tmp/iter.raw -- \
        python benchmarks/profile_workload.py iter_batches --reps 3
    # the driver only
    python -m cProfile -s tottime benchmarks/profile_workload.py groupby_sum_cols

The workload code is the benchmark suite's own (``engines/raylike.py``), so what is
profiled is what is measured.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from engines.raylike import WORKLOADS, import_engine, start, stop  # noqa: E402
from workloads import Params  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--data", default=str(HERE / "data" / "scale-1"),
                        help="a folder made by datagen.py (holding parquet/ and csv/)")
    args = parser.parse_args()
    data = Path(args.data)
    params = Params(parquet_dir=str(data / "parquet"), csv_dir=str(data / "csv"),
                    out_dir=str(HERE / "data" / "scratch" / f"profile-{args.workload}"), reps=args.reps)
    api = start(import_engine("streamdata"), params, args.workload)
    try:
        for rep in range(args.reps):
            began = time.perf_counter()
            WORKLOADS[args.workload](api, params)
            print(f"{args.workload} rep {rep}: {time.perf_counter() - began:.3f} s", flush=True)
    finally:
        stop(api)


if __name__ == "__main__":
    main()
