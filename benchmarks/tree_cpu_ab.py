"""CPU of the whole process tree per run of suite workloads, two checkouts alternating.

Wall-clock A/B on a shared 2-core machine moves with the neighbours' load; the CPU seconds
the driver and its workers spend per run move far less. Each round runs ``tree_cpu.py`` once
per checkout (a fresh process, ``PYTHONPATH`` at that checkout, two warm-up rounds, then
``--reps`` measured runs of each workload); the checkouts alternate round by round. Prints,
per workload and checkout, the mean tree CPU per run of each round (total over the reps
divided by them: psutil counts in clock ticks, a median of single runs is coarse), the
median wall, and after ÷ before of the means.

Example::

    git archive main streamdata | tar -x -C /tmp/base
    python benchmarks/tree_cpu_ab.py --before /tmp/base --after . --rounds 3 --reps 8 \\
        --only with_column_write,map_batches_write --data benchmarks/data/scale-0.05
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


def run_child(checkout: str, workloads: str, reps: int, data: str,
              extra: tuple[str, ...] = ()) -> dict[str, dict[str, float]]:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(checkout), STREAMDATA_PROGRESS_BARS="0")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # run outside both checkouts: workers start with ``python -m`` and would find the
    # streamdata of the current directory before PYTHONPATH's
    with tempfile.TemporaryDirectory(prefix="tree-cpu-ab-") as cwd:
        out = subprocess.run([sys.executable, str(HERE / "tree_cpu.py"), workloads, "--reps", str(reps),
                              "--data", os.path.abspath(data), "--json", *extra], env=env, cwd=cwd,
                             capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"tree_cpu.py failed under {checkout}:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="a checkout holding streamdata/ (the baseline)")
    parser.add_argument("--after", required=True, help="a checkout holding streamdata/ (the change)")
    parser.add_argument("--only", required=True, help="comma-separated workloads of engines/raylike.py")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reps", type=int, default=8)
    parser.add_argument("--data", default=str(HERE / "data" / "scale-0.05"))
    parser.add_argument("--ltm-dir", default=None, help="the larger_than_memory dataset (tree_cpu.py's default)")
    parser.add_argument("--ltm-budget-mb", type=int, default=None, help="its object-store budget")
    args = parser.parse_args()
    extra: tuple[str, ...] = ()
    if args.ltm_dir:
        extra += ("--ltm-dir", os.path.abspath(args.ltm_dir))
    if args.ltm_budget_mb:
        extra += ("--ltm-budget-mb", str(args.ltm_budget_mb))
    sides = {"before": args.before, "after": args.after}
    got: dict[str, dict[str, list[dict[str, float]]]] = {s: {} for s in sides}
    for rnd in range(args.rounds):
        order = list(sides) if rnd % 2 == 0 else list(reversed(sides))
        for side in order:
            for name, row in run_child(sides[side], args.only, args.reps, args.data, extra).items():
                got[side].setdefault(name, []).append(row)
                print(f"round {rnd} {side:6s} {name}: tree CPU {row['cpu_mean']:.3f} s/run, "
                      f"driver {row['driver_mean']:.3f}, wall median {row['wall_median']:.3f}", flush=True)
    print("\n| workload | tree CPU s/run before (rounds) | after (rounds) | after ÷ before | wall before | wall after |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in args.only.split(","):
        b, a = got["before"][name], got["after"][name]
        mb = statistics.median(r["cpu_mean"] for r in b)
        ma = statistics.median(r["cpu_mean"] for r in a)
        rb = " / ".join(f"{r['cpu_mean']:.3f}" for r in b)
        ra = " / ".join(f"{r['cpu_mean']:.3f}" for r in a)
        print(f"| {name} | {rb} | {ra} "
              f"| {ma / mb:.2f} | {statistics.median(r['wall_median'] for r in b):.3f} "
              f"| {statistics.median(r['wall_median'] for r in a):.3f} |")


if __name__ == "__main__":
    main()
