"""CPU time of one row-UDF map task, in-process, beside the hand-written pyarrow loop's work
on the same file (issue 14: row ``map`` and ``flat_map``).

Each case reads one Parquet file of the suite's data and runs what a worker runs for it: the
map task's chain of stages (as the lowering builds it for ``map_rows_sum`` and
``flat_map_count``: the row stage, then the fused partial aggregation, the row stage building
only the columns the aggregation reads), or the pyarrow loop's per-file function. Thread CPU
time, so the machine's load moves it less than wall time; cases interleave, repetition after
repetition.

Example::

    PYTHONPATH=$PWD python benchmarks/micro_row_udfs.py --reps 15
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pyarrow.parquet as pq  # noqa: E402

from engines.common import add_c_row, two_rows  # noqa: E402
from streamdata.aggregate import Count, Sum  # noqa: E402
from streamdata.exec.operators.map_transformer import (  # noqa: E402
    FlatMapStage,
    MapTransformer,
    RowStage,
    TaskContext,
)
from streamdata.exec.operators.partial_aggregate import PartialAggregateStage  # noqa: E402


def _chain(path: str, columns: list[str], stage, aggs: tuple) -> list:  # noqa: ANN001
    table = pq.read_table(path, columns=columns)
    stages = [stage] + ([PartialAggregateStage(name="agg", keys=(), aggs=aggs)] if aggs else [])
    return list(MapTransformer(stages).apply([table], TaskContext(task_index=0)))


def _pruned(stage, columns: tuple[str, ...]):  # noqa: ANN001, ANN202
    stage.columns = columns  # what plan/lowering/all_to_all.py: prune_row_stage_output sets
    return stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--data", default=str(HERE / "data" / "scale-0.05"))
    args = parser.parse_args()
    path = sorted(str(p) for p in (Path(args.data) / "parquet").glob("*.parquet"))[0]

    def map_task() -> object:
        return _chain(path, ["id", "a", "b"], _pruned(RowStage(name="m", fn=add_c_row), ("c",)),
                      (Count(), Sum("c")))

    def flat_map_task() -> object:
        return _chain(path, ["id", "a"], _pruned(FlatMapStage(name="f", fn=two_rows), ()), (Count(),))

    def flat_map_whole_block() -> object:  # what count() ran before: the whole block built
        return _chain(path, ["id", "a"], FlatMapStage(name="f", fn=two_rows), ())

    def pyarrow_map() -> object:
        rows = [add_c_row(row) for row in pq.read_table(path, columns=["id", "a", "b"]).to_pylist()]
        return len(rows), sum(r["c"] for r in rows)

    def pyarrow_flat_map() -> object:
        table = pq.read_table(path, columns=["id", "a"])
        return len([r for row in table.to_pylist() for r in two_rows(row)])

    cases = [map_task, pyarrow_map, flat_map_task, flat_map_whole_block, pyarrow_flat_map]
    times: dict[str, list[float]] = {c.__name__: [] for c in cases}
    for _ in range(args.reps):
        for case in cases:
            began = time.thread_time()
            case()
            times[case.__name__].append(time.thread_time() - began)
    for name, values in times.items():
        print(f"{name:22s} min {min(values) * 1e3:6.1f} ms   median {statistics.median(values) * 1e3:6.1f} ms")


if __name__ == "__main__":
    main()
