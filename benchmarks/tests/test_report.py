"""Tests of the results report: cells, ratios, checks, targets, markdown and files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import harness
import report


def ok(median: float, check: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"status": "ok", "error": None, "median_s": median, "first_s": median,
            "runs": [median], "check": check or {"rows": 10},
            "memory": {"peak_pss_mb": 100.0, "peak_rss_mb": 150.0}, **extra}


def failed(message: str) -> dict[str, Any]:
    return {"status": "error", "error": message, "memory": {"peak_pss_mb": 50.0}}


def suite() -> dict[str, Any]:
    return {
        "suite": "data-quick", "date": "2025-01-01T00:00:00", "command": "python run.py --quick",
        "machine": {"cpu_model": "Test CPU", "logical_cores": 2, "physical_cores": 2,
                    "ram_gib": 24, "os": "Linux", "python": "3.11"},
        "versions": {"streamdata": "0.1.0", "ray": "2.60.0", "daft": None},
        "config": {"scale": 0.05, "reps": 1, "ltm_budget_mb": 80, "gpu_budget_mb": 512},
        "engines": ["streamdata", "ray", "daft", "pyarrow"],
        "notes": ["daft: not installed, skipped"],
        "forms": {"pyarrow": {"sort": "sort_by"}},
        "workloads": {
            "sort": {"what": "sort", "results": {
                "streamdata": ok(1.0, e2e_s=1.5, init_s=0.2, import_s=0.1),
                "ray": ok(10.0, e2e_s=20.0, init_s=5.0, import_s=0.6),
                "daft": {"status": "skipped", "error": "not installed"},
                "pyarrow": ok(0.4, {"rows": 11})}},
            "count_parquet": {"what": "count", "results": {
                "streamdata": failed("AttributeError: module 'streamdata' has no attribute "
                                     "'read_parquet' and a long tail that will be cut off here"),
                "ray": ok(3.0), "daft": {"status": "skipped", "error": "not installed"},
                "pyarrow": ok(0.01)}},
            "cpu_to_gpu_pipeline": {"what": "gpu", "results": {
                "streamdata": ok(2.2, metrics={"busy_pct": 97.0, "busy_pct_e2e": 90.0,
                                               "calls": 40, "ideal_s": 2.0}),
                "ray": ok(4.0, metrics={"busy_pct": 95.7, "busy_pct_e2e": 49.4, "calls": 40,
                                        "ideal_s": 2.0}),
                "daft": {"status": "skipped", "error": "not installed"},
                "pyarrow": {"status": "n/a", "error": None}}},
            "larger_than_memory": {"what": "ltm", "results": {
                "streamdata": ok(5.0, memory={"peak_pss_mb": 400.0, "peak_rss_mb": 500.0}),
                "ray": ok(18.0, memory={"peak_pss_mb": 2668.0, "peak_rss_mb": 3219.0}),
                "daft": {"status": "skipped", "error": "not installed"},
                "pyarrow": ok(3.0)}},
        },
    }


def test_cell_from_a_measurement() -> None:
    good = harness.Measured(result={"runs": [1.0, 2.0], "median_s": 1.5, "check": {"rows": 1},
                                    "error": None}, error=None, memory={"peak_pss_mb": 1.0})
    cell = report.cell_from(good)
    assert cell["status"] == "ok" and cell["median_s"] == 1.5 and cell["error"] is None
    crashed = report.cell_from(harness.Measured(result=None, error="timeout after 5 s"))
    assert crashed["status"] == "error" and crashed["error"] == "timeout after 5 s"
    workload_failed = report.cell_from(harness.Measured(
        result={"runs": [], "error": "ValueError: no"}, error=None))
    assert workload_failed["status"] == "error" and workload_failed["error"] == "ValueError: no"


def test_cell_text() -> None:
    assert report.cell_text(ok(1.234)) == "1.23"
    text = report.cell_text(failed("x" * 200))
    assert text.startswith("error: x") and text.endswith("…") and len(text) < 90
    assert report.cell_text({"status": "n/a"}) == "n/a"
    assert report.cell_text({"status": "skipped"}) == "not installed"
    assert "|" not in report.cell_text(failed("a | b"))


def test_targets_judge_only_what_was_measured() -> None:
    rows = {r["workload"]: r for r in report.targets(suite()["workloads"])}
    assert rows["sort"]["vs_ray_steady"] == 0.1
    assert rows["sort"]["vs_ray_e2e"] == 1.5 / 20.0
    assert rows["sort"]["fastest_peer"] == "pyarrow"
    assert rows["sort"]["vs_fastest"] == 2.5
    assert rows["sort"]["met"] is False  # Arrow-native and 2.5× the fastest
    assert rows["count_parquet"]["met"] is None  # streamdata failed: nothing to judge


def test_small_workloads_must_be_ten_times_faster_than_ray_end_to_end() -> None:
    workloads = {"w": {"results": {"streamdata": ok(1.0, e2e_s=1.5), "ray": ok(10.0, e2e_s=10.0)}}}
    assert report.targets(workloads)[0]["met"] is True  # 0.15 ≤ 0.2
    assert report.targets(workloads, small=True)[0]["met"] is False  # 0.15 > 0.1


def test_markdown_has_every_section() -> None:
    text = report.render_markdown(suite())
    for heading in ("Median seconds", "streamdata ÷ peer", "Start-up and end-to-end",
                    "End to end (import + init + first run, what a script pays)",
                    "Peak memory", "cpu_to_gpu_pipeline", "larger_than_memory", "Targets",
                    "Result checks", "How each engine", "Errors"):
        assert heading in text, heading
    assert "| sort | 1 | 10 | not installed | 0.4 |" in text
    assert "error: AttributeError: module 'streamdata' has no attribute" in text
    assert "| sort | 0.10 | – | 2.50 |" in text
    assert "| sort | 0.07 | – | – |" in text  # end to end: only Ray's e2e is known
    assert "≤ 0.1 × Ray (small workloads: at least 10×)" in text  # scale 0.05
    assert "Test CPU, 2 logical / 2 physical cores, 24 GiB RAM" in text
    assert "daft: not installed, skipped" in text
    # sort's checks differ (pyarrow 11 rows): reported.
    assert "**sort** differs: pyarrow" in text
    # larger_than_memory: streamdata within 80 + 512 MiB, Ray not.
    assert "| streamdata | 5 | 400 | 500.0 |" in text
    assert "| ray | 18 | 2,668 | 3219.0 |" in text


def test_write_results(tmp_path: Path) -> None:
    json_path, md_path = report.write_results(suite(), tmp_path / "results", "data-quick-x")
    assert json.loads(json_path.read_text())["suite"] == "data-quick"
    assert md_path.read_text().startswith("# data-quick")
