"""The ``join_sum`` workload's costs, counted in CPU time rather than wall clock.

Two measurements, each printed as one JSON line:

* ``reduce``: the join's reduce (``reduce_parts`` of a ``JoinSpec`` with the fused
  Count/Sum partial aggregation) run 30 times inside a worker on the workload's blocks:
  median and least CPU ms per call, and minor page faults per call.
* ``run``: the workload 30 times after 5 warm-ups: CPU ms per run of the workers and of
  the driver, median and least wall ms, and the reduce tasks per run with their median
  duration from ``timeline()``.

Run it from the checkout to measure, with the current directory outside it (workers
import ``streamdata`` from ``PYTHONPATH``), alternating checkouts for an A/B::

    cd /tmp && PYTHONPATH=/path/to/checkout python /path/to/benchmarks/profile_join.py \\
        --data /path/to/benchmarks/data/scale-0.05/parquet
"""

from __future__ import annotations

import argparse
import glob
import json
import statistics
import time

import psutil

import streamdata as sd
from streamdata.aggregate import Count, Sum


def query(data: str) -> dict:
    left = sd.read_parquet(data, columns=["id", "key", "a"])
    right = sd.read_parquet(sorted(glob.glob(f"{data}/*.parquet"))[:4], columns=["id", "b"])
    return left.join(right, join_type="inner", num_partitions=2, on=("id",)).aggregate(Count(), Sum("b"))


@sd.remote
def reduce_in_worker(num_left: int, *blocks: object) -> dict:
    import resource

    from streamdata.exec.operators.all_to_all.spec import JoinSpec
    from streamdata.exec.operators.all_to_all.tasks import reduce_parts

    left, right = list(blocks[:num_left]), list(blocks[num_left:])
    spec = JoinSpec(left_keys=("id",), right_keys=("id",), partial_aggregate=((), (Count(), Sum("b"))),
                    schemas=(left[0].schema, right[0].schema))
    cpu, faults = [], []
    for _ in range(30):
        f0, c0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.process_time()
        reduce_parts(spec, 0, (len(left), len(right)), 1 << 62, left + right)
        cpu.append(time.process_time() - c0)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    return {"reduce_cpu_ms_median": round(statistics.median(cpu) * 1e3, 2),
            "reduce_cpu_ms_min": round(min(cpu) * 1e3, 2), "minor_faults_per_call": statistics.median(faults)}


def measure_reduce(data: str) -> dict:
    left = sd.read_parquet(data, columns=["id"]).materialize()
    right = sd.read_parquet(sorted(glob.glob(f"{data}/*.parquet"))[:4], columns=["id", "b"]).materialize()
    lrefs = [r for b in left.iter_internal_ref_bundles() for r in b.block_refs()]
    rrefs = [r for b in right.iter_internal_ref_bundles() for r in b.block_refs()]
    return sd.get(reduce_in_worker.remote(len(lrefs), *lrefs, *rrefs))


def measure_runs(data: str, n: int = 30) -> dict:
    for _ in range(5):
        query(data)
    me = psutil.Process()

    def workers_cpu() -> float:
        total = 0.0
        for p in me.children(recursive=True):
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    w0, d0, start, walls = workers_cpu(), time.process_time(), time.time(), []
    for _ in range(n):
        t = time.perf_counter()
        query(data)
        walls.append(time.perf_counter() - t)
    w1, d1 = workers_cpu(), time.process_time()
    reduces = [e["dur"] / 1e3 for e in sd.timeline() if e.get("ts", 0) / 1e6 >= start and e["name"] == "reduce_task"]
    return {"workers_cpu_ms_per_run": round((w1 - w0) / n * 1e3, 1),
            "driver_cpu_ms_per_run": round((d1 - d0) / n * 1e3, 1),
            "wall_ms_median": round(statistics.median(walls) * 1e3, 1), "wall_ms_min": round(min(walls) * 1e3, 1),
            "reduce_tasks_per_run": len(reduces) / n,
            "reduce_task_ms_median": round(statistics.median(reduces), 1) if reduces else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the Parquet directory (scale-0.05/parquet)")
    args = parser.parse_args()
    sd.init(num_cpus=2)
    print(json.dumps({"reduce": measure_reduce(args.data)}))
    print(json.dumps({"run": measure_runs(args.data)}))
    sd.shutdown()


if __name__ == "__main__":
    main()
