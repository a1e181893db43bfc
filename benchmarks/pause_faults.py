"""A small driver-side query after pauses: its time and the page faults it takes.

What wave 14 measured of Arrow's allocator (``benchmarks/PROFILES.md``): after a pause,
mimalloc has given freed pages back and the query faults its buffers in again.

Example::

    python benchmarks/pause_faults.py --data benchmarks/data/scale-0.05/scale-0.05
    MIMALLOC_PURGE_DELAY=10000 python benchmarks/pause_faults.py --data benchmarks/data/scale-0.05/scale-0.05
"""

from __future__ import annotations

import argparse
import os
import resource
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a folder made by datagen.py (holding parquet/)")
    parser.add_argument("--pauses", default="0,0,0,2,2,2,0,0", help="seconds before each measured query")
    args = parser.parse_args()
    import pyarrow as pa

    import streamdata as sd

    sd.init(num_cpus=2)
    path = os.path.join(args.data, "parquet")

    def query() -> None:
        sd.read_parquet(path, columns=["key", "b"]).groupby("key").sum("b").to_pandas()

    for _ in range(5):  # warm
        query()
    print(f"pool {pa.default_memory_pool().backend_name}, MIMALLOC_PURGE_DELAY="
          f"{os.environ.get('MIMALLOC_PURGE_DELAY', '(unset)')}")
    for pause in (float(p) for p in args.pauses.split(",")):
        time.sleep(pause)  # the pause is what is measured
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        started = time.perf_counter()
        query()
        ms = (time.perf_counter() - started) * 1e3
        print(f"pause {pause:g} s: {ms:.1f} ms, {resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults} "
              "minor page faults")


if __name__ == "__main__":
    main()
