"""In-process micro-benchmarks of the data path's conversions (no runtime, no processes).

What one worker does per block, isolated: a ``map_batches`` numpy round trip
(Arrow → numpy batch → UDF → Arrow), and the row stages (``map``, ``flat_map``,
``filter`` with a Python function). Run it with two checkouts on ``PYTHONPATH`` in turn
for a before/after (the machine's load moves absolute numbers; compare back to back)::

    PYTHONPATH=/tmp/base python benchmarks/micro_conversions.py
    PYTHONPATH=.         python benchmarks/micro_conversions.py
"""

from __future__ import annotations

import argparse
import glob
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def timed(fn, reps: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from engines.common import a_is_large, add_c, add_c_row, two_rows
    from streamdata import block as B
    from streamdata.exec.operators.map_transformer import (
        FilterStage,
        FlatMapStage,
        RowStage,
        TaskContext,
    )

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(HERE / "data" / "scale-0.05" / "parquet"))
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    first = pq.read_table(sorted(glob.glob(f"{args.data}/*.parquet"))[0])
    big = pa.concat_tables([first] * max(1, 1_000_000 // first.num_rows)).combine_chunks()
    ctx = TaskContext(task_index=0)
    print(f"numpy round trip, {big.num_rows:,} rows: "
          f"{timed(lambda: B.batch_to_table(add_c(B.to_batch(big, 'numpy'))), args.reps):.4f} s")
    for name, stage, table in (
            ("map", RowStage(name="m", fn=add_c_row), first.select(["id", "a", "b"])),
            ("flat_map", FlatMapStage(name="f", fn=two_rows), first.select(["id", "a"])),
            ("filter(fn)", FilterStage(name="p", fn=a_is_large), first)):
        seconds = timed(lambda: list(stage.apply(iter([table]), ctx)), args.reps)
        print(f"{name}, {table.num_rows:,} rows: {seconds:.4f} s")


if __name__ == "__main__":
    main()
