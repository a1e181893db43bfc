"""Runtime micro-benchmarks of BENCHMARKS.md: streamdata's runtime and Ray Core, side by
side in one run, each in its own fresh subprocess.

Figures (all "higher is better" except the two start-up times):

    import_s, init_s            ``import``; ``init(num_cpus=...)``
    tasks_sync_per_s            ``get(f.remote())`` one at a time (no-op task)
    tasks_async_per_s           ``get([f.remote() for _ in range(n)])``
    actor_calls_sync_per_s      ``get(a.noop.remote())`` one at a time
    actor_calls_async_per_s     ``get([a.noop.remote() for _ in range(n)])``
    small_puts_per_s            ``put(<int>)``
    small_gets_per_s            ``get(ref)`` of a small put object
    put_gb_s                    ``put`` of a 100 MB numpy array
    get_gb_s                    ``get`` of a 100 MB put array (zero-copy where supported)
    task_100mb_arg_per_s        ``get(f.remote(<100 MB array>))`` (the argument is put each call)

The streamdata side is written exactly as the Ray side: ``rt`` is ``ray`` or
``streamdata`` (``import streamdata as sd``: ``sd.init``, ``sd.remote``, ``sd.get``,
``sd.put``, ``sd.wait``) and the code below never names either. A third column,
``procpool`` (``concurrent.futures.ProcessPoolExecutor``), shows what the machine allows a
Python process pool for the task figures.

Each figure is the median of ``--trials`` timed trials after a warm-up; the worker
writes its result file after every figure, so a hang (killed at ``--timeout-s``) keeps
the figures measured before it.

Usage::

    python benchmarks/core_micro.py            # full
    python benchmarks/core_micro.py --quick    # about a minute
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

BENCH_DIR = Path(__file__).resolve().parent
ENGINES = ("streamdata", "ray", "procpool")
BIG_BYTES = 100 * 10**6

METRICS: dict[str, tuple[str, bool]] = {
    "import_s": ("s", False),
    "init_s": ("s", False),
    "tasks_sync_per_s": ("tasks/s", True),
    "tasks_async_per_s": ("tasks/s", True),
    "actor_calls_sync_per_s": ("calls/s", True),
    "actor_calls_async_per_s": ("calls/s", True),
    "small_puts_per_s": ("puts/s", True),
    "small_gets_per_s": ("gets/s", True),
    "put_gb_s": ("GB/s", True),
    "get_gb_s": ("GB/s", True),
    "task_100mb_arg_per_s": ("tasks/s", True),
}
"""Figure → (unit, higher is better)."""

COUNTS: dict[str, dict[str, int]] = {
    "quick": {"tasks": 200, "actor": 200, "small": 1000, "big_put": 5, "big_get": 50,
              "big_arg": 5, "trials": 3},
    "full": {"tasks": 1000, "actor": 1000, "small": 5000, "big_put": 20, "big_get": 200,
             "big_arg": 20, "trials": 5},
    "smoke": {"tasks": 10, "actor": 10, "small": 10, "big_put": 1, "big_get": 1, "big_arg": 1,
              "trials": 1},
}
"""Operations per trial, per mode (``smoke``: the tests' check that everything runs)."""


# ------------------------------------------------------------------ the measured code


def noop() -> int:
    return 0


def nbytes_of(array: Any) -> int:
    return int(array.nbytes)


class Actor:
    def noop(self) -> int:
        return 0


def rate(count: int, fn: Callable[[], None], trials: int) -> float:
    """Median over ``trials`` of ``count`` ÷ the seconds ``fn()`` takes."""
    rates = []
    for _ in range(trials):
        t = time.perf_counter()
        fn()
        rates.append(count / (time.perf_counter() - t))
    return statistics.median(rates)


def ray_like_figures(rt: Any, counts: dict[str, int]) -> dict[str, Callable[[], float]]:
    """The figures for a Ray-Core-like runtime ``rt`` (``ray`` or ``streamdata``)."""
    import numpy as np

    trials = counts["trials"]
    f = rt.remote(noop)
    g = rt.remote(nbytes_of)
    actor = rt.remote(Actor).remote()
    rt.get([f.remote() for _ in range(20)])
    rt.get([actor.noop.remote() for _ in range(20)])
    big = np.ones(BIG_BYTES // 8)

    def tasks_sync() -> None:
        for _ in range(counts["tasks"]):
            rt.get(f.remote())

    def tasks_async() -> None:
        rt.get([f.remote() for _ in range(counts["tasks"])])

    def actor_sync() -> None:
        for _ in range(counts["actor"]):
            rt.get(actor.noop.remote())

    def actor_async() -> None:
        rt.get([actor.noop.remote() for _ in range(counts["actor"])])

    def small_puts() -> None:
        for i in range(counts["small"]):
            rt.put(i)

    small_ref = rt.put(12345)

    def small_gets() -> None:
        for _ in range(counts["small"]):
            rt.get(small_ref)

    def big_puts() -> None:
        for _ in range(counts["big_put"]):
            ref = rt.put(big)
            del ref

    big_ref = rt.put(big)

    def big_gets() -> None:
        for _ in range(counts["big_get"]):
            value = rt.get(big_ref)
            del value

    def big_args() -> None:
        for _ in range(counts["big_arg"]):
            assert rt.get(g.remote(big)) == big.nbytes

    return {
        "tasks_sync_per_s": lambda: rate(counts["tasks"], tasks_sync, trials),
        "tasks_async_per_s": lambda: rate(counts["tasks"], tasks_async, trials),
        "actor_calls_sync_per_s": lambda: rate(counts["actor"], actor_sync, trials),
        "actor_calls_async_per_s": lambda: rate(counts["actor"], actor_async, trials),
        "small_puts_per_s": lambda: rate(counts["small"], small_puts, trials),
        "small_gets_per_s": lambda: rate(counts["small"], small_gets, trials),
        "put_gb_s": lambda: rate(counts["big_put"], big_puts, trials) * big.nbytes / 1e9,
        "get_gb_s": lambda: rate(counts["big_get"], big_gets, trials) * big.nbytes / 1e9,
        "task_100mb_arg_per_s": lambda: rate(counts["big_arg"], big_args, trials),
    }


def procpool_figures(pool: Any, counts: dict[str, int]) -> dict[str, Callable[[], float]]:
    """Task figures of a plain ``ProcessPoolExecutor`` (the machine's floor)."""
    import numpy as np

    trials = counts["trials"]
    list(pool.map(noop_arg, range(20)))
    big = np.ones(BIG_BYTES // 8)

    def tasks_sync() -> None:
        for _ in range(counts["tasks"]):
            pool.submit(noop).result()

    def tasks_async() -> None:
        for future in [pool.submit(noop) for _ in range(counts["tasks"])]:
            future.result()

    def big_args() -> None:
        for _ in range(counts["big_arg"]):
            assert pool.submit(nbytes_of, big).result() == big.nbytes

    return {
        "tasks_sync_per_s": lambda: rate(counts["tasks"], tasks_sync, trials),
        "tasks_async_per_s": lambda: rate(counts["tasks"], tasks_async, trials),
        "task_100mb_arg_per_s": lambda: rate(counts["big_arg"], big_args, trials),
    }


def noop_arg(i: int) -> int:
    return i


# ------------------------------------------------------------------------- the worker


def _write(result: dict[str, Any], path: str) -> None:
    tmp = path + ".tmp"
    Path(tmp).write_text(json.dumps(result))
    os.replace(tmp, path)


def worker_main(engine: str, mode: str, num_cpus: int, result_path: str) -> int:
    """Measure every figure of ``engine`` in this process, writing after each one."""
    from worker import describe_error

    counts = COUNTS[mode]
    result: dict[str, Any] = {"engine": engine, "figures": {}, "errors": {}}
    ctx: Any = None
    stop: Callable[[], None] = lambda: None
    try:
        t = time.perf_counter()
        if engine == "ray":
            import ray as rt
        elif engine == "streamdata":
            import streamdata as rt
        else:
            import concurrent.futures as rt
        result["figures"]["import_s"] = time.perf_counter() - t
        t = time.perf_counter()
        if engine == "procpool":
            ctx = rt.ProcessPoolExecutor(max_workers=num_cpus)
            figures = procpool_figures(ctx, counts)
            stop = ctx.shutdown
        else:
            if engine == "ray":
                rt.init(num_cpus=num_cpus, include_dashboard=False)
            else:
                rt.init(num_cpus=num_cpus)
            result["figures"]["init_s"] = time.perf_counter() - t
            stop = rt.shutdown
            figures = ray_like_figures(rt, counts)
        _write(result, result_path)
        for name, measure in figures.items():
            try:
                result["figures"][name] = measure()
            except Exception as exc:  # noqa: BLE001 - one figure failing keeps the others
                import traceback
                traceback.print_exc()
                result["errors"][name] = describe_error(exc)
            _write(result, result_path)
    except BaseException as exc:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        result["error"] = describe_error(exc)
    finally:
        try:
            stop()
        except Exception as exc:  # noqa: BLE001
            result["errors"]["shutdown"] = describe_error(exc)
    _write(result, result_path)
    return 0 if not result.get("error") else 1


# ------------------------------------------------------------------------- the driver


def fmt(value: float | None) -> str:
    """A figure with three significant digits and thousands separators.

    Example:
        >>> fmt(1234.5), fmt(0.5432), fmt(None)
        ('1,234', '0.543', '–')
    """
    if value is None:
        return "–"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def advantage(metric: str, sd: float | None, ray: float | None) -> float | None:
    """How many times better streamdata is than Ray on ``metric`` (>1: better).

    Example:
        >>> advantage("tasks_sync_per_s", 800.0, 400.0), advantage("init_s", 0.5, 5.0)
        (2.0, 10.0)
    """
    if sd is None or ray is None or sd <= 0 or ray <= 0:
        return None
    higher_better = METRICS[metric][1]
    return sd / ray if higher_better else ray / sd


def render_markdown(suite: dict[str, Any]) -> str:
    """The report: machine, one row per figure, streamdata's advantage and the targets."""
    engines = suite["engines"]
    machine = suite["machine"]
    lines = [f"# {suite['suite']} — {suite['date']}", "", f"Command: `{suite['command']}`", "",
             f"Machine: {machine['cpu_model']}, {machine['logical_cores']} logical / "
             f"{machine['physical_cores']} physical cores, {machine['ram_gib']} GiB RAM, "
             f"{machine['os']}, Python {machine['python']}, load average at start "
             f"{machine.get('load_avg_at_start')}, commit {machine.get('git_commit') or '?'}.", "",
             "Versions: " + ", ".join(f"{k} {v or 'not installed'}"
                                      for k, v in suite["versions"].items()) + ".", "",
             f"Mode {suite['mode']}: operations per trial {suite['counts']}; median of the "
             f"trials; num_cpus={suite['num_cpus']}.", ""]
    for note in suite.get("notes", []):
        lines.append(f"- {note}")
    if suite.get("notes"):
        lines.append("")
    header = ["figure", "unit", *engines]
    both = "streamdata" in engines and "ray" in engines
    if both:
        header += ["streamdata vs ray (× better)", "target met"]
    lines += ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    for metric, (unit, _) in METRICS.items():
        row = [metric, unit]
        for engine in engines:
            res = suite["results"].get(engine, {})
            value = res.get("figures", {}).get(metric)
            if value is not None:
                row.append(fmt(value))
            elif metric in res.get("errors", {}):
                row.append("error: " + res["errors"][metric][:60].replace("|", "/"))
            elif res.get("error"):
                row.append("error: " + res["error"][:60].replace("|", "/"))
            else:
                row.append("–")
        if both:
            sd = suite["results"]["streamdata"].get("figures", {}).get(metric)
            ray = suite["results"]["ray"].get("figures", {}).get(metric)
            adv = advantage(metric, sd, ray)
            row.append("–" if adv is None else f"{adv:.2f}")
            if metric == "import_s":
                met = "–"
            elif metric == "init_s":
                met = "–" if sd is None else ("yes" if sd < 0.5 else "no")
            else:
                met = "–" if adv is None else ("yes" if adv >= 2.0 else "no")
            row.append(met)
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Targets (BENCHMARKS.md): `sd.init()` under 0.5 s; every other figure at least "
              "2× Ray's on the same machine.", ""]
    errors = [(e, res["error"]) for e, res in suite["results"].items() if res.get("error")]
    if errors:
        lines += ["## Errors", ""] + [f"- {e}: {msg}" for e, msg in errors] + [""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description="Runtime micro-benchmarks: streamdata vs Ray Core.")
    parser.add_argument("--quick", action="store_true", help="fewer operations per trial")
    parser.add_argument("--engines", default=",".join(ENGINES),
                        help=f"comma-separated, from {', '.join(ENGINES)}")
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--timeout-s", type=float, default=600)
    parser.add_argument("--results-dir", default=str(BENCH_DIR / "results"))
    parser.add_argument("--logs-dir", default=str(BENCH_DIR / "data" / "core_micro_logs"))
    parser.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    if args.worker:
        return worker_main(args.worker, mode, args.num_cpus, args.result)

    import harness
    import report
    from engines import is_installed

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        print(f"error: unknown engine(s) {unknown}; valid: {list(ENGINES)}", file=sys.stderr)
        return 2
    date = datetime.now()
    logs = Path(args.logs_dir) / report.stamp(date)
    logs.mkdir(parents=True, exist_ok=True)
    notes = []
    results: dict[str, Any] = {}
    env = harness.bench_env(args.num_cpus)
    for engine in engines:
        if engine != "procpool" and not is_installed(engine):
            notes.append(f"{engine}: not installed, skipped")
            results[engine] = {"error": "not installed", "figures": {}, "errors": {}}
            continue
        result_path = str(logs / f"{engine}.result.json")
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", engine,
               "--num-cpus", str(args.num_cpus), "--result", result_path]
        if args.quick:
            cmd.append("--quick")
        if args.smoke:
            cmd.append("--smoke")
        measured = harness.run_measured(cmd, result_path=result_path,
                                        log_path=str(logs / f"{engine}.log"),
                                        timeout_s=args.timeout_s, env=env,
                                        cwd=str(BENCH_DIR.parent))
        res = measured.result or {"figures": {}, "errors": {}}
        if measured.error:
            res["error"] = measured.error
        res["memory"] = measured.memory
        res["wall_s"] = measured.wall_s
        res["leaked_processes"] = measured.leaked
        results[engine] = res
        shown = ", ".join(f"{k}={fmt(v)}" for k, v in res.get("figures", {}).items())
        print(f"{engine:11s} {shown or 'no figures'}"
              f"{'  error: ' + res['error'] if res.get('error') else ''}", flush=True)
    suite = {
        "suite": {"full": "core_micro", "quick": "core_micro-quick",
                  "smoke": "core_micro-smoke"}[mode],
        "date": date.isoformat(timespec="seconds"),
        "command": "python benchmarks/core_micro.py " + " ".join(argv),
        "machine": harness.machine_info(),
        "versions": harness.package_versions(["streamdata", "ray", "numpy"]),
        "mode": mode, "counts": COUNTS[mode], "num_cpus": args.num_cpus,
        "engines": engines, "notes": notes, "results": results, "logs": str(logs),
    }
    directory = Path(args.results_dir)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{suite['suite']}-{report.stamp(date)}"
    (directory / f"{name}.json").write_text(json.dumps(suite, indent=1))
    markdown = render_markdown(suite)
    (directory / f"{name}.md").write_text(markdown)
    print()
    print(markdown)
    print(f"results: {directory / (name + '.json')} and .md; logs: {logs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
