"""Before/after of streamdata changes: two checkouts, the same workloads, interleaved.

Each (checkout, workload) runs in a fresh process (``worker.py``, as the suite does) with
``PYTHONPATH`` pointing at that checkout; the checkouts alternate round by round so that
the machine's load falls on both alike. Prints, per workload, the median end to end
(import + init + first run: what a script pays), the first run after init, and the
median of the rest (steady) of each checkout, and after ÷ before of each.

Example::

    git archive <base-commit> streamdata | tar -x -C /tmp/base
    python benchmarks/ab_compare.py --before /tmp/base --after . --rounds 2 \\
        --only map_batches_write,iter_batches --data benchmarks/data/scale-0.05
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from workloads import Params, resolve_workloads  # noqa: E402


def run_one(checkout: str, workload: str, params: Params, tmp: str) -> dict:
    params_path = os.path.join(tmp, f"{workload}.params.json")
    result_path = os.path.join(tmp, f"{workload}.result.json")
    Path(params_path).write_text(params.to_json())
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(HERE), os.path.abspath(checkout)]),
               STREAMDATA_PROGRESS_BARS="0")
    subprocess.run([sys.executable, str(HERE / "worker.py"), "--engine", "streamdata",
                    "--workload", workload, "--params", params_path, "--result", result_path],
                   env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=900, check=False)
    try:
        return json.loads(Path(result_path).read_text())
    except (OSError, ValueError):
        return {"error": "no result"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="checkout holding the old streamdata/")
    parser.add_argument("--after", default=str(HERE.parent), help="checkout with the change")
    parser.add_argument("--only", required=True, help="comma-separated workloads")
    parser.add_argument("--data", default=str(HERE / "data" / "scale-0.05"))
    parser.add_argument("--ltm-dir", default=str(HERE / "data" / "ltm-80MiB"),
                        help="the larger_than_memory dataset (run.py --quick generates it)")
    parser.add_argument("--ltm-budget-mb", type=int, default=80, help="its object-store budget")
    parser.add_argument("--reps", type=int, default=4, help="repetitions per process")
    parser.add_argument("--rounds", type=int, default=2, help="processes per checkout")
    args = parser.parse_args()
    data = Path(args.data)
    runs: dict[tuple[str, str], list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        params = Params(parquet_dir=str(data / "parquet"), csv_dir=str(data / "csv"),
                        ltm_dir=os.path.abspath(args.ltm_dir), ltm_budget_bytes=args.ltm_budget_mb * 2**20,
                        reps=args.reps, out_dir=os.path.join(tmp, "out"))
        for workload in resolve_workloads(args.only):
            for _ in range(args.rounds):
                for label, checkout in (("before", args.before), ("after", args.after)):
                    runs.setdefault((workload, label), []).append(
                        run_one(checkout, workload, params, tmp))
    print(f"load average at end: {os.getloadavg()}")
    print("| workload | figure | before | after | after ÷ before |")
    print("| --- | --- | --- | --- | --- |")
    fmt = lambda x: "–" if x is None else f"{x:.3f}"  # noqa: E731
    for workload in resolve_workloads(args.only):
        figures: dict[str, dict[str, float | None]] = {"end to end": {}, "first run": {}, "steady": {}}
        for label in ("before", "after"):
            results = [r for r in runs[(workload, label)] if r.get("runs")]
            figures["end to end"][label] = _median([r["e2e_s"] for r in results if r.get("e2e_s")])
            figures["first run"][label] = _median([r["runs"][0] for r in results])
            figures["steady"][label] = _median([x for r in results for x in r["runs"][1:]])
        for name, cell in figures.items():
            before, after = cell["before"], cell["after"]
            ratio = after / before if before and after else None
            print(f"| {workload} | {name} | {fmt(before)} | {fmt(after)} | {fmt(ratio)} |")


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


if __name__ == "__main__":
    main()
