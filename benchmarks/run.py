"""The benchmark suite of BENCHMARKS.md: streamdata and its peers, side by side, in one run.

For every workload, each engine runs in a FRESH subprocess (``worker.py``), one engine
at a time (each starting once the machine's CPU use fell below 25%, at most 10 s after the
last one: a runtime shutting down must not slow the next), ``--reps`` repetitions inside it; the driver samples the memory of that
process's whole tree. The report gives median seconds (steady state: the repetitions after
the first, timed once the process tree is quiet, ``settle.py``),
streamdata ÷ peer ratios, start-up and end-to-end seconds for Ray and streamdata, peak
memory, the extra figures of ``cpu_to_gpu_pipeline`` and ``larger_than_memory``, result
checks across engines, and the targets this run can judge. It is written to
``benchmarks/results/<suite>-<date>.json`` and ``.md`` and printed.

A peer that is not installed is skipped with a note; a failure (streamdata's included,
while the engine is being built) is recorded as ``error: <message>`` in its cell.

Examples::

    python benchmarks/run.py --quick                       # small data, 1 repetition
    python benchmarks/run.py                               # full size, 3 repetitions
    python benchmarks/run.py --quick --only sort,filter_groupby --engines streamdata,ray
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import datagen
import harness
import report
from engines import is_installed, module_for, version_of
from workloads import ENGINES, WORKLOADS, Params, resolve_engines, resolve_workloads, supports

BENCH_DIR = Path(__file__).resolve().parent
MIB = 2**20

PRESETS: dict[str, dict[str, Any]] = {
    "full": {"scale": 1.0, "reps": 3, "ltm_budget_mb": 256, "gpu_batches": 200,
             "timeout_s": 1800},
    "quick": {"scale": 0.05, "reps": 1, "ltm_budget_mb": 80, "gpu_batches": 40,
              "timeout_s": 180},
}
"""``--quick`` and the full run; each value can be overridden by its flag.

The quick budget of larger_than_memory is 80 MiB because Ray refuses an object store
under 75 MiB; the data is 10× the budget in both modes.
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Run the BENCHMARKS.md workloads on streamdata and the installed peers.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="workloads: " + ", ".join(WORKLOADS) + " (filter_groupby = both forms)\n"
               "engines: " + ", ".join(ENGINES))
    parser.add_argument("--quick", action="store_true",
                        help="small data (scale 0.05), 1 repetition: a few minutes")
    parser.add_argument("--only", help="comma-separated workloads (default: all)")
    parser.add_argument("--engines", help="comma-separated engines (default: all)")
    parser.add_argument("--scale", type=float, help="data size as a fraction of 16 × 1M rows")
    parser.add_argument("--reps", type=int, help="repetitions per (workload, engine)")
    parser.add_argument("--num-cpus", type=int, default=2, help="CPUs given to every engine")
    parser.add_argument("--ltm-budget-mb", type=int,
                        help="object-store budget of larger_than_memory (data = 10×)")
    parser.add_argument("--gpu-batches", type=int, help="batches through cpu_to_gpu_pipeline")
    parser.add_argument("--gpu-sleep-s", type=float, default=0.05,
                        help="seconds the slow stage sleeps per batch")
    parser.add_argument("--timeout-s", type=float, help="deadline of one worker process")
    parser.add_argument("--data-dir", default=str(datagen.DEFAULT_OUT),
                        help="generated data, scratch output and logs (git-ignored)")
    parser.add_argument("--results-dir", default=str(BENCH_DIR / "results"))
    args = parser.parse_args(argv)
    preset = PRESETS["quick" if args.quick else "full"]
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def prepare_data(args: argparse.Namespace, workloads: list[str]) -> dict[str, dict[str, Any]]:
    needed = sorted({d for w in workloads for d in WORKLOADS[w].datasets})
    if not needed:
        return {}
    started = time.perf_counter()
    info = datagen.generate_all(args.data_dir, scale=args.scale,
                                ltm_budget_bytes=args.ltm_budget_mb * MIB,
                                which=tuple(needed))
    made = [k for k, v in info.items() if v["generated"]]
    shapes = ", ".join(f"{k} {v['num_files']}×{v['rows_per_file']:,}" for k, v in info.items())
    state = "generated " + ", ".join(made) if made else "already present"
    print(f"data: {shapes} ({state}, {time.perf_counter() - started:.1f} s)", flush=True)
    return info


def run_suite(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    workloads = resolve_workloads(args.only)
    engines = resolve_engines(args.engines)
    missing = {e: "not installed" for e in engines if not is_installed(e)}
    notes = [f"{e}: not installed, skipped (pip install -e '.[bench]')" for e in missing]
    for note in notes:
        print("note:", note, flush=True)
    data = prepare_data(args, workloads)
    date = datetime.now()
    suite_name = "data-quick" if args.quick else "data"
    run_dir = Path(args.data_dir) / "runs" / report.stamp(date)
    run_dir.mkdir(parents=True, exist_ok=True)
    params = Params(
        parquet_dir=str(data["parquet"]["path"]) if "parquet" in data else "",
        csv_dir=str(data["csv"]["path"]) if "csv" in data else "",
        ltm_dir=str(data["ltm"]["path"]) if "ltm" in data else "",
        reps=args.reps, num_cpus=args.num_cpus, ltm_budget_bytes=args.ltm_budget_mb * MIB,
        gpu_batches=args.gpu_batches, gpu_sleep_s=args.gpu_sleep_s)
    env = harness.bench_env(args.num_cpus)
    results: dict[str, Any] = {}
    for workload in workloads:
        entry: dict[str, Any] = {"what": WORKLOADS[workload].what, "results": {}}
        results[workload] = entry
        for engine in engines:
            if engine in missing:
                entry["results"][engine] = {"status": "skipped", "error": missing[engine]}
                continue
            if not supports(workload, engine):
                entry["results"][engine] = {"status": "n/a", "error": None}
                continue
            tag = f"{workload}-{engine}"
            params.out_dir = str(Path(args.data_dir) / "scratch" / tag)
            params_path = run_dir / f"{tag}.params.json"
            params_path.write_text(params.to_json())
            cmd = [sys.executable, str(BENCH_DIR / "worker.py"), "--engine", engine,
                   "--workload", workload, "--params", str(params_path),
                   "--result", str(run_dir / f"{tag}.result.json")]
            harness.wait_for_quiet()  # the engine before may still be shutting down
            harness.warm_page_cache([str(data[d]["path"]) for d in WORKLOADS[workload].datasets if d in data])
            measured = harness.run_measured(cmd, result_path=str(run_dir / f"{tag}.result.json"),
                                            log_path=str(run_dir / f"{tag}.log"),
                                            timeout_s=args.timeout_s, env=env,
                                            cwd=str(BENCH_DIR.parent))
            cell = report.cell_from(measured)
            entry["results"][engine] = cell
            mem = cell["memory"].get("peak_pss_mb") or cell["memory"].get("peak_rss_mb")
            print(f"{workload:22s} {engine:11s} {report.cell_text(cell):>12s}  "
                  f"(process {measured.wall_s:.1f} s, peak {mem} MiB)", flush=True)
    config = {
        "scale": args.scale, "reps": args.reps, "num_cpus": args.num_cpus,
        "parquet": _shape(data.get("parquet")), "csv": _shape(data.get("csv")),
        "ltm": _shape(data.get("ltm")), "ltm_budget_mb": args.ltm_budget_mb,
        "gpu_batches": args.gpu_batches, "gpu_batch_size": params.gpu_batch_size,
        "gpu_sleep_s": args.gpu_sleep_s, "gpu_budget_mb": params.gpu_budget_bytes // MIB,
        "timeout_s": args.timeout_s,
    }
    forms = {e: {w: note for w, note in getattr(module_for(e), "FORMS", {}).items()
                 if w in workloads}
             for e in engines if e not in ("streamdata", "ray") and e not in missing}
    return {
        "suite": suite_name,
        "date": date.isoformat(timespec="seconds"),
        "command": "python benchmarks/run.py " + shlex.join(argv),
        "machine": harness.machine_info(),
        "versions": ({e: version_of(e) for e in ENGINES}
                     | harness.package_versions(["numpy", "pandas"])),
        "config": config,
        "engines": engines,
        "notes": notes,
        "forms": forms,
        "logs": str(run_dir),
        "workloads": results,
        "_stamp": report.stamp(date),
    }


def _shape(info: dict[str, Any] | None) -> str | None:
    if not info:
        return None
    return f"{info['num_files']} files × {info['rows_per_file']:,} rows"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    try:
        suite = run_suite(args, argv)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    name = f"{suite['suite']}-{suite.pop('_stamp')}"
    json_path, md_path = report.write_results(suite, args.results_dir, name)
    print()
    print(md_path.read_text())
    print(f"results: {json_path} and {md_path}; logs: {suite['logs']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
