"""End-to-end tests of run.py and worker.py on tiny data with the installed peers.

Every engine's checks are compared with values computed here with pandas, so a
workload that silently does the wrong thing fails.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import run
import worker
from engines.common import sig, subset_files
from workloads import WORKLOADS, Params, supports

FAST_PEERS = [e for e in ("polars", "duckdb", "pyarrow") if importlib.util.find_spec(e)]


def expected_checks(tiny_data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    df = pq.read_table(tiny_data["parquet"]).to_pandas()
    ltm = pq.read_table(tiny_data["ltm"]).to_pandas()
    large = df[df["a"] > 0.5].groupby("key")["b"].mean()
    sums = df.groupby("key")["b"].sum()
    first = pq.read_table(subset_files(str(tiny_data["parquet"]), Params().row_udf_files)).to_pandas()
    written = {"rows": len(df), "sum_c": sig((df["a"] * 2 + df["b"]).sum())}
    iterated = {"rows": len(df), "id_sum": int(df["id"].sum())}
    return {
        "map_batches_pandas_write": written, "map_batches_actor_write": written,
        "map_batches_arrow_write": written, "with_column_write": written,
        "read_csv_pandas_count": {"rows": 4 * len(df) // 16},
        "map_rows_sum": {"rows": len(first), "sum_c": sig((first["a"] * 2 + first["b"]).sum())},
        "flat_map_count": {"rows": 2 * len(first)},
        "join_sum": {"rows": len(first), "sum_b": sig(first["b"].sum())},
        "iter_batches_pandas": iterated, "iter_batches_arrow": iterated,
        "iter_torch_batches": iterated,
        "count_parquet": {"rows": len(df)},
        "map_batches_write": {"rows": len(df), "sum_c": sig((df["a"] * 2 + df["b"]).sum())},
        "filter_groupby_expr": {"groups": len(large), "sum": sig(large.sum())},
        "filter_groupby_udf": {"groups": len(large), "sum": sig(large.sum())},
        "groupby_sum_cols": {"groups": len(sums), "sum": sig(sums.sum())},
        "sort": {"rows": len(df), "first_id": int(df.loc[df["a"].idxmin(), "id"])},
        "iter_batches": {"rows": len(df), "id_sum": int(df["id"].sum())},
        "read_csv_count": {"rows": 4 * len(df) // 16},
        "larger_than_memory": {"rows": len(ltm),
                               "sum_c": sig((ltm["a"] * 2 + ltm["b"]).sum())},
    }


def _close(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Same keys; floats equal to 8 significant digits (summation order differs)."""
    if a.keys() != b.keys():
        return False
    return all(abs(a[k] - b[k]) <= 1e-8 * max(1.0, abs(b[k])) if isinstance(b[k], float)
               else a[k] == b[k] for k in b)


def test_run_py_with_the_fast_peers(tiny_data: dict[str, Any], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    if not FAST_PEERS:
        pytest.skip("no peer installed")
    results_dir = tmp_path / "results"
    rc = run.main(["--quick", "--scale", "0.0005", "--ltm-budget-mb", "1",
                   "--engines", ",".join(FAST_PEERS), "--data-dir", str(tiny_data["root"]),
                   "--results-dir", str(results_dir), "--timeout-s", "120"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "## Median seconds" in printed
    (json_file,) = results_dir.glob("data-quick-*.json")
    (md_file,) = results_dir.glob("data-quick-*.md")
    suite = json.loads(json_file.read_text())
    assert suite["engines"] == FAST_PEERS
    assert md_file.read_text() in printed
    expected = expected_checks(tiny_data)
    for name, entry in suite["workloads"].items():
        for engine, cell in entry["results"].items():
            if not supports(name, engine):  # cpu_to_gpu_pipeline, the row-UDF forms
                assert cell["status"] == "n/a"
                continue
            if (name, engine) == ("larger_than_memory", "duckdb") and cell["status"] == "error":
                # DuckDB honours memory_limit = the budget, and 1 MiB is below what it needs.
                assert "Out of Memory" in cell["error"]
                continue
            assert cell["status"] == "ok", (name, engine, cell.get("error"))
            assert _close(cell["check"], expected[name]), (name, engine, cell["check"])
            assert cell["memory"]["peak_rss_mb"] > 0
            assert cell["leaked_processes"] == 0
    assert "Every engine that completed a workload produced the same check" in md_file.read_text()


def test_worker_records_a_failure_as_an_error(tiny_data: dict[str, Any], tmp_path: Path) -> None:
    params = Params(parquet_dir=str(tmp_path / "missing"), reps=1)
    result = worker.run("pyarrow", "sort", params)
    assert result["runs"] == [] and result["failed_stage"] == "run"
    assert result["error"].startswith("FileNotFoundError")
    assert "median_s" not in result


@pytest.mark.skipif(importlib.util.find_spec("daft") is None, reason="daft not installed")
def test_daft_agrees(tiny_data: dict[str, Any], tmp_path: Path) -> None:
    params = Params(parquet_dir=str(tiny_data["parquet"]), csv_dir=str(tiny_data["csv"]),
                    out_dir=str(tmp_path / "out"), reps=1)
    expected = expected_checks(tiny_data)
    for name in ("count_parquet", "map_batches_write", "filter_groupby_udf", "sort"):
        result = worker.run("daft", name, params)
        assert result["error"] is None, result["error"]
        assert _close(result["check"], expected[name]), (name, result["check"])


def test_unknown_workload_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run.main(["--only", "nope", "--engines", "pyarrow"]) == 2
    assert "unknown workload 'nope'" in capsys.readouterr().err


def test_every_workload_has_an_expected_check(tiny_data: dict[str, Any]) -> None:
    assert set(expected_checks(tiny_data)) == set(WORKLOADS) - {"cpu_to_gpu_pipeline"}


def test_steady_median_leaves_out_the_first_run(tiny_data: dict[str, Any], tmp_path: Path) -> None:
    params = Params(parquet_dir=str(tiny_data["parquet"]), csv_dir=str(tiny_data["csv"]),
                    out_dir=str(tmp_path / "out"), reps=3)
    result = worker.run("pyarrow", "count_parquet", params)
    runs = result["runs"]
    assert len(runs) == 3 and result["first_s"] == runs[0]
    assert result["median_s"] == round(statistics.median(runs[1:]), 4)
