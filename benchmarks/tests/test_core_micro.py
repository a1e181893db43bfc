"""Tests of the runtime micro-benchmark driver (the process-pool column runs for real)."""

from __future__ import annotations

import json
from pathlib import Path

import core_micro
import pytest


def test_procpool_column_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = core_micro.main(["--smoke", "--engines", "procpool", "--results-dir",
                          str(tmp_path / "r"), "--logs-dir", str(tmp_path / "logs"),
                          "--timeout-s", "120"])
    assert rc == 0
    (json_file,) = (tmp_path / "r").glob("core_micro-smoke-*.json")
    suite = json.loads(json_file.read_text())
    figures = suite["results"]["procpool"]["figures"]
    assert set(figures) == {"import_s", "tasks_sync_per_s", "tasks_async_per_s",
                            "task_100mb_arg_per_s"}
    assert all(v > 0 for v in figures.values())
    assert suite["results"]["procpool"]["leaked_processes"] == 0
    assert "| tasks_sync_per_s | tasks/s |" in capsys.readouterr().out


def test_markdown_judges_the_targets() -> None:
    suite = {
        "suite": "core_micro", "date": "d", "command": "c", "mode": "quick", "counts": {},
        "num_cpus": 2, "notes": [], "versions": {"ray": "2.60.0"},
        "machine": {"cpu_model": "CPU", "logical_cores": 2, "physical_cores": 2, "ram_gib": 24,
                    "os": "Linux", "python": "3.11"},
        "engines": ["streamdata", "ray"],
        "results": {
            "streamdata": {"figures": {"init_s": 0.2, "tasks_sync_per_s": 1000.0,
                                       "put_gb_s": 0.5},
                           "errors": {"get_gb_s": "GetTimeoutError: slow"}},
            "ray": {"figures": {"init_s": 5.0, "tasks_sync_per_s": 400.0, "put_gb_s": 0.5,
                                "get_gb_s": 70.0}, "errors": {}},
        },
    }
    text = core_micro.render_markdown(suite)
    assert "| init_s | s | 0.2 | 5 | 25.00 | yes |" in text
    assert "| tasks_sync_per_s | tasks/s | 1,000 | 400 | 2.50 | yes |" in text
    assert "| put_gb_s | GB/s | 0.5 | 0.5 | 1.00 | no |" in text
    assert "| get_gb_s | GB/s | error: GetTimeoutError: slow | 70 | – | – |" in text


def test_unknown_engine_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert core_micro.main(["--engines", "dask"]) == 2
    assert "dask" in capsys.readouterr().err
