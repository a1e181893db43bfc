"""What monitoring costs: a pipeline with the dashboard on (its page polled every second, as an
open browser tab does) against off, and ``import streamdata`` + ``sd.init()`` with it off, this
checkout against a baseline checkout (``--baseline``, required), side by side.

Every measurement runs in a fresh subprocess; configurations alternate (off, on, off, on...) so
load on the machine falls on both alike; each figure is the median of ``--trials``.

Usage::

    git worktree add ../streamdata-baseline <commit>          # the checkout to compare start-up against
    python benchmarks/observability_bench.py --baseline ../streamdata-baseline   # writes benchmarks/results/observability-<time>.{json,md}
    python benchmarks/observability_bench.py --trials 3 --rows 4000000 --baseline ../streamdata-baseline
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

_PIPELINE = r"""
import json, sys, threading, time, urllib.request
import streamdata as sd
dashboard = sys.argv[1] == "on"
rows, blocks = int(sys.argv[2]), int(sys.argv[3])
info = sd.init(num_cpus=2, include_dashboard=dashboard or None, dashboard_port=0 if dashboard else None)
stop = threading.Event()
polls = [0]
def poll():
    while not stop.wait(1.0):  # an open dashboard tab: one fragment a second
        urllib.request.urlopen(info["dashboard_url"] + "/fragment", timeout=30).read()
        polls[0] += 1
if dashboard:
    threading.Thread(target=poll, daemon=True).start()
def run():
    ds = sd.range(rows, override_num_blocks=blocks).map_batches(lambda b: {"x": b["id"] * 2})
    ds = ds.filter(expr=sd.col("x") % 3 == 0).map_batches(lambda b: {"y": b["x"] + 1})
    return ds.materialize().count()
run()  # warm-up: workers started, functions shipped
t0 = time.perf_counter()
n = run()
elapsed = time.perf_counter() - t0
stop.set()
sd.shutdown()
print(json.dumps({"seconds": elapsed, "rows": n, "polls": polls[0]}))
"""

_STARTUP = r"""
import json, time
t0 = time.perf_counter()
import streamdata as sd
t1 = time.perf_counter()
sd.init(num_cpus=2)
t2 = time.perf_counter()
sd.shutdown()
print(json.dumps({"import_s": t1 - t0, "init_s": t2 - t1}))
"""


#: compiled bytecode for both checkouts lives here (so neither pays compiling, and no checkout is written)
PYCACHE = os.path.join(os.environ.get("TMPDIR", "/tmp"), "streamdata-observability-bench-pycache")


def _run(code: str, args: list[str], pythonpath: str) -> dict:
    env = dict(os.environ, PYTHONPATH=pythonpath, PYTHONPYCACHEPREFIX=PYCACHE)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                         timeout=600, cwd=pythonpath)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--blocks", type=int, default=200)
    parser.add_argument("--baseline", required=True, help="checkout to compare start-up against "
                        "(e.g. `git worktree add ../streamdata-baseline <commit>`)")
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    args = parser.parse_args()

    pipeline: dict[str, list[float]] = {"off": [], "on": []}
    polls = []
    _run(_PIPELINE, ["on", "1000", "2"], ROOT)  # warm-up: bytecode compiled and cached
    for _ in range(args.trials):
        for mode in ("off", "on"):
            result = _run(_PIPELINE, [mode, str(args.rows), str(args.blocks)], ROOT)
            pipeline[mode].append(result["seconds"])
            if mode == "on":
                polls.append(result["polls"])
    startup: dict[str, dict[str, list[float]]] = {"this": {"import_s": [], "init_s": []},
                                                  "baseline": {"import_s": [], "init_s": []}}
    for path in (args.baseline, ROOT):  # warm-up: bytecode compiled and cached for both
        _run(_STARTUP, [], path)
    for _ in range(args.trials):
        for name, path in (("baseline", args.baseline), ("this", ROOT)):
            result = _run(_STARTUP, [], path)
            for key in ("import_s", "init_s"):
                startup[name][key].append(result[key])

    med = {k: statistics.median(v) for k, v in pipeline.items()}
    figures = {
        "pipeline_off_s": med["off"], "pipeline_on_s": med["on"], "dashboard_on_over_off": med["on"] / med["off"],
        "dashboard_polls_per_run": statistics.median(polls) if polls else 0,
        **{f"{name}_{key}": statistics.median(vals) for name, d in startup.items() for key, vals in d.items()},
    }
    figures["import_this_over_baseline"] = figures["this_import_s"] / figures["baseline_import_s"]
    figures["init_this_over_baseline"] = figures["this_init_s"] / figures["baseline_init_s"]
    stamp = time.strftime("%Y-%m-%d-%H%M%S")
    command = "python benchmarks/observability_bench.py " + " ".join(sys.argv[1:])
    record = {"command": command.strip(), "args": vars(args), "figures": figures,
              "raw": {"pipeline": pipeline, "startup": startup}, "machine": {"cpus": os.cpu_count()}}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"observability-{stamp}.json"), "w") as f:
        json.dump(record, f, indent=2)
    lines = [f"# Observability overhead ({stamp})", "", f"Command: `{record['command']}`", "",
             f"{args.trials} trials each, medians; pipeline: range({args.rows}) in {args.blocks} blocks "
             "→ map_batches → filter(expr) → map_batches → materialize, 2 CPUs; dashboard on = its page's "
             "fragment fetched every second during the run.", "", "| figure | value |", "| --- | --- |"]
    lines += [f"| {k} | {v:.4f} |" for k, v in figures.items()]
    with open(os.path.join(args.out, f"observability-{stamp}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
