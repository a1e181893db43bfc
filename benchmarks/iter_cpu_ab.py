"""CPU time of the process tree per ``iter_batches`` pass, two checkouts alternating.

On a shared machine the wall time of one pass moves 2-3x with the load; the CPU time the
driver and the workers spend per pass moves far less. Each round runs every checkout in a
fresh process (``--child``, with ``PYTHONPATH`` at that checkout): two warm-up passes, then
``--reps`` passes, each measured as wall seconds and the CPU seconds of the driver and of
the worker processes (psutil; the fork server's own start-up is left out).

Example::

    git archive <base-commit> streamdata | tar -x -C /tmp/base
    python benchmarks/iter_cpu_ab.py --before /tmp/base --after . --format pyarrow --rounds 3 --reps 12
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def child(fmt: str, reps: int, data: str) -> None:
    import psutil

    sys.path.insert(0, str(HERE))
    import streamdata as sd
    from engines.common import iter_check_any

    sd.init(num_cpus=2)
    parquet = os.path.join(data, "parquet")
    me = psutil.Process()

    def tree() -> tuple[float, float]:
        driver = workers = 0.0
        for proc in [me] + me.children(recursive=True):
            try:
                times = proc.cpu_times()
                if proc.pid == me.pid:
                    driver += times.user + times.system
                elif not (proc.ppid() == me.pid and "--forkserver" in " ".join(proc.cmdline())):
                    workers += times.user + times.system
            except psutil.Error:
                pass
        return driver, workers

    def one_pass() -> None:
        if fmt == "torch":
            ds = sd.data.read_parquet(parquet, columns=["id", "key", "a", "b"])
            iter_check_any(ds.iter_torch_batches(batch_size=4096))
        else:
            iter_check_any(sd.data.read_parquet(parquet).iter_batches(batch_size=4096, batch_format=fmt))

    one_pass()
    one_pass()
    out = []
    for _ in range(reps):
        d0, w0 = tree()
        began = time.perf_counter()
        one_pass()
        wall = time.perf_counter() - began
        d1, w1 = tree()
        out.append((wall, d1 - d0, w1 - w0))
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="checkout (folder holding streamdata/) measured first in each round")
    parser.add_argument("--after", help="checkout measured second in each round")
    parser.add_argument("--format", default="pyarrow", help="numpy, pyarrow, pandas or torch")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reps", type=int, default=12)
    parser.add_argument("--data", default=str(HERE / "data" / "scale-0.05"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.format, args.reps, args.data)
        return
    if not args.before or not args.after:
        parser.error("--before and --after are required")
    rows: dict[str, list] = {args.before: [], args.after: []}
    for _ in range(args.rounds):
        for checkout in (args.before, args.after):
            env = dict(os.environ, PYTHONPATH=os.path.abspath(checkout), STREAMDATA_PROGRESS_BARS="0")
            done = subprocess.run([sys.executable, __file__, "--child", "--format", args.format,
                                   "--reps", str(args.reps), "--data", args.data],
                                  env=env, capture_output=True, text=True, check=True)
            rows[checkout].extend(json.loads(done.stdout.strip().splitlines()[-1]))
    for checkout, values in rows.items():
        walls = [w for w, _, _ in values]
        print(f"{args.format:8s} {checkout:30s} n={len(values)} wall median {statistics.median(walls) * 1000:6.1f} ms "
              f"min {min(walls) * 1000:6.1f}  driver CPU {statistics.mean(d for _, d, _ in values) * 1000:5.1f} ms  "
              f"workers CPU {statistics.mean(w for _, _, w in values) * 1000:5.1f} ms")


if __name__ == "__main__":
    main()
