"""Results of a suite: cells from measurements, checks across engines, the targets of
BENCHMARKS.md, and the JSON + markdown files.

A *cell* is one (workload, engine) measurement as a JSON-ready dict with a ``status``:
``ok``, ``error`` (the message in ``error``), ``n/a`` (the engine has no such workload)
or ``skipped`` (the engine is not installed).

Example:
    >>> fmt_s(0.012345), fmt_s(1.2345), fmt_s(116.4), fmt_s(None)
    ('0.0123', '1.23', '116', '–')
    >>> fmt_ratio(0.5), fmt_ratio(12.34)
    ('0.50', '12.3')
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from harness import Measured

ARROW_NATIVE = ("count_parquet", "filter_groupby_expr", "groupby_sum_cols", "sort",
                "iter_batches", "with_column_write", "join_sum", "iter_batches_arrow")
"""Workloads BENCHMARKS.md calls Arrow-native (target: within 1.5× of the fastest engine)."""

ARROW_NATIVE_LIMIT = 1.5

PYTHON_UDF = ("map_batches_write", "map_batches_pandas_write", "map_batches_actor_write",
              "map_rows_sum", "flat_map_count")
"""Python-UDF workloads with a hand-written pyarrow loop running the same UDF (≤ 1.3×)."""

SMALL_SCALE = 0.1
"""A run at this scale or below is of small workloads: end to end (start-up counts) at least
10× Ray's (≤ 0.1), not 5×."""

E2E_LIMIT, E2E_LIMIT_SMALL = 0.2, 0.1

LTM_OVERHEAD_BYTES = 512 * 2**20
"""larger_than_memory target: peak memory within the budget plus this."""

CELL_ERROR_CHARS = 70


def fmt_s(x: float | None) -> str:
    """Seconds with three significant digits ('–' when absent)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if x >= 100:
        return f"{x:.0f}"
    return f"{x:.3g}" if x >= 0.001 else f"{x:.2g}"


def fmt_ratio(x: float | None) -> str:
    """A ratio: two decimals below 10, one above."""
    if x is None:
        return "–"
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


def cell_from(measured: Measured) -> dict[str, Any]:
    """A result cell from one worker process."""
    result = measured.result or {}
    error = measured.error or result.get("error")
    keys = ("median_s", "first_s", "runs", "import_s", "init_s", "startup_s", "e2e_s", "check",
            "metrics", "failed_stage", "process_s")
    cell: dict[str, Any] = {k: result[k] for k in keys if k in result}
    cell["status"] = "error" if error or not result.get("runs") else "ok"
    cell["error"] = error or (None if result.get("runs") else "no repetition completed")
    cell["memory"] = measured.memory
    cell["wall_s"] = measured.wall_s
    cell["leaked_processes"] = measured.leaked
    cell["log"] = measured.log_path
    return cell


def median_of(cell: dict[str, Any] | None) -> float | None:
    if not cell or cell.get("status") != "ok":
        return None
    return cell.get("median_s")


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b`` when both are there (and ``b`` > 0)."""
    if a is None or b is None or b <= 0:
        return None
    return a / b


def cell_text(cell: dict[str, Any] | None, value: str | None = None) -> str:
    """What a table cell shows: the value, ``error: <message>``, ``n/a`` or ``not installed``."""
    if cell is None:
        return "–"
    status = cell.get("status")
    if status == "ok":
        return value if value is not None else fmt_s(cell.get("median_s"))
    if status == "error":
        message = str(cell.get("error") or "")
        if len(message) > CELL_ERROR_CHARS:
            message = message[:CELL_ERROR_CHARS - 1] + "…"
        return "error: " + message.replace("|", "/")
    if status == "skipped":
        return "not installed"
    return "n/a"


def check_mismatches(results: dict[str, dict[str, Any]]) -> list[str]:
    """Engines whose check of a workload differs from the majority's.

    Args:
        results: ``{engine: cell}`` of one workload.

    Example:
        >>> ok = lambda c: {"status": "ok", "check": c}
        >>> check_mismatches({"a": ok({"rows": 3}), "b": ok({"rows": 3}), "c": ok({"rows": 4})})
        ["c: {'rows': 4} (others: {'rows': 3})"]
    """
    checks = {e: c.get("check") for e, c in results.items()
              if c.get("status") == "ok" and c.get("check") is not None}
    if len(checks) < 2:
        return []
    keys = [json.dumps(v, sort_keys=True) for v in checks.values()]
    majority = max(set(keys), key=keys.count)
    expected = json.loads(majority)
    return [f"{e}: {v} (others: {expected})" for e, v in checks.items()
            if json.dumps(v, sort_keys=True) != majority]


def targets(workloads: dict[str, Any], small: bool = False) -> list[dict[str, Any]]:
    """The BENCHMARKS.md targets that this run's figures can judge, one row per workload
    (``small``: the run's workloads are small, so end to end must be ≤ 0.1 × Ray)."""
    e2e_limit = E2E_LIMIT_SMALL if small else E2E_LIMIT
    rows = []
    for name, entry in workloads.items():
        res = entry["results"]
        sd = median_of(res.get("streamdata"))
        row: dict[str, Any] = {"workload": name}
        ray_cell = res.get("ray")
        row["vs_ray_steady"] = ratio(sd, median_of(ray_cell))
        sd_cell = res.get("streamdata") or {}
        if sd is not None and median_of(ray_cell) is not None:
            row["vs_ray_e2e"] = ratio(sd_cell.get("e2e_s"), ray_cell.get("e2e_s"))
            row["vs_ray_first"] = ratio(sd_cell.get("first_s"), ray_cell.get("first_s"))
        row["vs_daft"] = ratio(sd, median_of(res.get("daft")))
        peers = {e: median_of(c) for e, c in res.items() if e != "streamdata"}
        peers = {e: v for e, v in peers.items() if v is not None}
        if peers:
            fastest = min(peers, key=peers.__getitem__)
            row["fastest_peer"] = fastest
            row["vs_fastest"] = ratio(sd, peers[fastest])
        row["vs_pyarrow"] = ratio(sd, median_of(res.get("pyarrow")))
        goals = []
        if row["vs_ray_steady"] is not None:
            goals.append(row["vs_ray_steady"] <= 0.2)
        if row.get("vs_ray_e2e") is not None:  # cold: what a script pays (import + init + run)
            goals.append(row["vs_ray_e2e"] <= e2e_limit)
        if row["vs_daft"] is not None:
            goals.append(row["vs_daft"] < 1.0)
        if name in ARROW_NATIVE and row.get("vs_fastest") is not None:
            goals.append(row["vs_fastest"] <= ARROW_NATIVE_LIMIT)
        if name in PYTHON_UDF and row["vs_pyarrow"] is not None:
            goals.append(row["vs_pyarrow"] <= 1.3)
        row["met"] = None if sd is None or not goals else all(goals)
        rows.append(row)
    return rows


def _e2e_ratio(ours: dict[str, Any] | None, peer: dict[str, Any] | None) -> float | None:
    if not ours or not peer or ours.get("status") != "ok" or peer.get("status") != "ok":
        return None
    return ratio(ours.get("e2e_s"), peer.get("e2e_s"))


def _table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines + [""]


def _mem(cell: dict[str, Any] | None) -> str:
    if not cell or cell.get("status") in ("n/a", "skipped"):
        return cell_text(cell)
    memory = cell.get("memory") or {}
    value = memory.get("peak_pss_mb")
    if value is None:
        value = memory.get("peak_rss_mb")
    text = "–" if value is None else f"{value:,.0f}"
    return text if cell.get("status") == "ok" else f"{text} (failed)"


def render_markdown(suite: dict[str, Any]) -> str:
    """The report: machine, configuration, the tables, checks, targets and errors."""
    engines: list[str] = suite["engines"]
    workloads: dict[str, Any] = suite["workloads"]
    machine = suite["machine"]
    out = [f"# {suite['suite']} — {suite['date']}", "",
           f"Command: `{suite['command']}`", "",
           f"Machine: {machine['cpu_model']}, {machine['logical_cores']} logical / "
           f"{machine['physical_cores']} physical cores, {machine['ram_gib']} GiB RAM, "
           f"/dev/shm {machine.get('shm_gib')} GiB, {machine['os']}, Python {machine['python']}, "
           f"load average at start {machine.get('load_avg_at_start')}, "
           f"commit {machine.get('git_commit') or '?'}.", "",
           "Versions: " + ", ".join(f"{k} {v or 'not installed'}"
                                    for k, v in suite["versions"].items()) + ".", ""]
    config = suite["config"]
    out += ["Configuration: " + ", ".join(f"{k}={v}" for k, v in config.items()) + ".", ""]
    for note in suite.get("notes", []):
        out.append(f"- {note}")
    if suite.get("notes"):
        out.append("")

    out += ["## Median seconds, steady state (after start-up)", "",
            "The repetitions after the first, each engine's timed once its process tree is quiet "
            "(`settle.py`: at most 3 s); the first run and the end-to-end time below keep every "
            "start-up cost.", ""]
    out += _table(["workload", *engines],
                  ([name, *(cell_text(entry["results"].get(e)) for e in engines)]
                   for name, entry in workloads.items()))

    peers = [e for e in engines if e != "streamdata"]
    if "streamdata" in engines and peers:
        out += ["## streamdata ÷ peer (median seconds; below 1 means streamdata is faster)", ""]
        out += _table(["workload", *peers], (
            [name, *(fmt_ratio(ratio(median_of(entry["results"].get("streamdata")),
                                     median_of(entry["results"].get(p)))) for p in peers)]
            for name, entry in workloads.items()))

    rl = [e for e in ("streamdata", "ray") if e in engines]
    if rl:
        out += ["## Start-up and end-to-end seconds (import + init + first repetition)", ""]
        header = ["workload"]
        for e in rl:
            header += [f"{e} import", f"{e} init", f"{e} first run", f"{e} end-to-end"]
        if len(rl) == 2:
            header.append("end-to-end streamdata ÷ ray")
        rows = []
        for name, entry in workloads.items():
            row = [name]
            for e in rl:
                c = entry["results"].get(e) or {}
                row += [fmt_s(c.get("import_s")), fmt_s(c.get("init_s")),
                        fmt_s(c.get("first_s")), fmt_s(c.get("e2e_s"))]
            if len(rl) == 2:
                a, b = (entry["results"].get(e) or {} for e in rl)
                both_ok = a.get("status") == "ok" and b.get("status") == "ok"
                row.append(fmt_ratio(ratio(a.get("e2e_s"), b.get("e2e_s"))) if both_ok else "–")
            rows.append(row)
        out += _table(header, rows)

    if "streamdata" in engines and peers:
        out += ["## End to end (import + init + first run, what a script pays): streamdata ÷ peer", ""]
        out += _table(["workload", *peers], (
            [name, *(fmt_ratio(_e2e_ratio(entry["results"].get("streamdata"), entry["results"].get(p)))
                     for p in peers)]
            for name, entry in workloads.items()))

    out += ["## Peak memory of the process tree (MiB, PSS summed over the process and its "
            "descendants)", ""]
    out += _table(["workload", *engines],
                  ([name, *(_mem(entry["results"].get(e)) for e in engines)]
                   for name, entry in workloads.items()))

    out += _special_sections(suite)

    small = float(suite["config"].get("scale", 1.0)) <= SMALL_SCALE
    t = [r for r in targets(workloads, small) if r["met"] is not None]
    if t:
        e2e_limit = E2E_LIMIT_SMALL if small else E2E_LIMIT
        out += ["## Targets (BENCHMARKS.md) judged on this run", "",
                f"Steady state ≤ 0.2 × Ray and cold (end to end in a fresh process: import + init + "
                f"first run, what a script pays) ≤ {e2e_limit} × Ray"
                f"{' (small workloads: at least 10×)' if small else ''}; < 1 × Daft (steady); "
                "Arrow-native ≤ 1.5 × the fastest peer; Python-UDF forms ≤ 1.3 × pyarrow. "
                "'÷ ray first run' (after init) is shown, not judged.", ""]
        out += _table(["workload", "÷ ray", "÷ ray first run", "÷ ray end-to-end (cold)",
                       "÷ daft", "÷ fastest (who)", "÷ pyarrow", "met"], (
            [r["workload"], fmt_ratio(r["vs_ray_steady"]), fmt_ratio(r.get("vs_ray_first")),
             fmt_ratio(r.get("vs_ray_e2e")),
             fmt_ratio(r["vs_daft"]),
             f"{fmt_ratio(r.get('vs_fastest'))} ({r.get('fastest_peer', '–')})",
             fmt_ratio(r["vs_pyarrow"]), "yes" if r["met"] else "no"] for r in t))

    mismatches = [(name, m) for name, entry in workloads.items()
                  for m in check_mismatches(entry["results"])]
    out += ["## Result checks", ""]
    if mismatches:
        out += [f"- **{name}** differs: {m}" for name, m in mismatches]
    else:
        out.append("Every engine that completed a workload produced the same check values "
                   "(row counts, sums to 9 significant digits).")
    out.append("")

    forms = suite.get("forms", {})
    if forms:
        out += ["## How each engine expresses a workload (where it differs from Ray Data's form)",
                ""]
        for engine, notes in forms.items():
            for workload, note in notes.items():
                out.append(f"- {engine} / {workload}: {note}")
        out.append("")

    errors = [(name, e, c) for name, entry in workloads.items()
              for e, c in entry["results"].items() if c.get("status") == "error"]
    if errors:
        out += ["## Errors", ""]
        for name, engine, c in errors:
            stage = f" (stage: {c['failed_stage']})" if c.get("failed_stage") else ""
            out.append(f"- {name} / {engine}{stage}: {c.get('error')}")
        out.append("")
    return "\n".join(out)


def _special_sections(suite: dict[str, Any]) -> list[str]:
    out: list[str] = []
    workloads = suite["workloads"]
    config = suite["config"]
    gpu = workloads.get("cpu_to_gpu_pipeline")
    if gpu:
        out += ["## cpu_to_gpu_pipeline: how busy the slow (num_gpus=1) stage was", "",
                "busy % = time inside the slow stage's calls ÷ the window from its first call's "
                "start to its last call's end; end-to-end % divides by the whole execution.", ""]
        rows = []
        for engine, c in gpu["results"].items():
            if c.get("status") not in ("ok", "error"):
                continue
            m = c.get("metrics") or {}
            rows.append([engine, cell_text(c), str(m.get("busy_pct", "–")),
                         str(m.get("busy_pct_e2e", "–")), str(m.get("calls", "–")),
                         fmt_s(m.get("ideal_s")), _mem(c),
                         f"{config.get('gpu_budget_mb', '?')}"])
        out += _table(["engine", "median s", "busy %", "busy % end-to-end", "calls",
                       "ideal s", "peak MiB", "object-store budget MiB"], rows)
    ltm = workloads.get("larger_than_memory")
    if ltm:
        budget_mb = config.get("ltm_budget_mb")
        limit = None if budget_mb is None else budget_mb + LTM_OVERHEAD_BYTES / 2**20
        out += ["## larger_than_memory: peak memory against the budget", "",
                f"Budget {budget_mb} MiB (object store for Ray and streamdata, memory_limit for "
                f"DuckDB; the others have no such knob); data = 10× the budget; target for "
                f"streamdata: peak ≤ budget + 512 MiB = {'?' if limit is None else f'{limit:g}'} "
                "MiB.", ""]
        rows = []
        for engine, c in ltm["results"].items():
            if c.get("status") not in ("ok", "error"):
                continue
            mem = c.get("memory") or {}
            pss = mem.get("peak_pss_mb")
            within = ("–" if pss is None or limit is None or c.get("status") != "ok"
                      else ("yes" if pss <= limit else "no"))
            rows.append([engine, cell_text(c), _mem(c), f"{mem.get('peak_rss_mb', '–')}",
                         f"{mem.get('peak_shm_delta_mb', '–')}", within])
        out += _table(["engine", "median s", "peak PSS MiB", "peak RSS MiB",
                       "peak /dev/shm growth MiB", "PSS ≤ budget + 512 MiB"], rows)
    return out


def write_results(suite: dict[str, Any], results_dir: str | Path, name: str) -> tuple[Path, Path]:
    """Write ``<name>.json`` and ``<name>.md``; return their paths."""
    directory = Path(results_dir)
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{name}.json"
    md_path = directory / f"{name}.md"
    json_path.write_text(json.dumps(suite, indent=1, default=str))
    md_path.write_text(render_markdown(suite))
    return json_path, md_path


def stamp(now: datetime | None = None) -> str:
    """The date part of result file names.

    Example:
        >>> stamp(datetime(2025, 1, 2, 3, 4, 5))
        '2025-01-02-030405'
    """
    return (now or datetime.now()).strftime("%Y-%m-%d-%H%M%S")
