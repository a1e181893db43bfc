"""Tests of the subprocess harness: results, crashes, deadlines, leaked descendants."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import harness
import psutil


def _run(tmp_path: Path, code: str, timeout_s: float = 60) -> harness.Measured:
    return harness.run_measured([sys.executable, "-c", code, str(tmp_path / "r.json")],
                                result_path=str(tmp_path / "r.json"),
                                log_path=str(tmp_path / "log.txt"), timeout_s=timeout_s,
                                sample_interval_s=0.02, leak_grace_s=0.5)


def test_result_is_read_back_with_memory(tmp_path: Path) -> None:
    out = _run(tmp_path, "import json, sys; x = bytearray(30 * 2**20); x[::4096] = b'1' * "
                         "len(x[::4096]); json.dump({'n': 3}, open(sys.argv[1], 'w'))")
    assert out.error is None and out.result == {"n": 3} and out.returncode == 0
    assert out.memory["peak_rss_mb"] > 0 and out.memory["memory_samples"] >= 2
    assert out.leaked == 0


def test_crash_without_result_reports_the_log_tail(tmp_path: Path) -> None:
    out = _run(tmp_path, "raise SystemExit('engine exploded')")
    assert out.result is None
    assert out.error is not None and "exit code 1" in out.error and "engine exploded" in out.error


def test_deadline_kills_the_process_and_its_children(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    code = ("import subprocess, sys, time; c = subprocess.Popen([sys.executable, '-c', "
            f"'import time; time.sleep(600)']); open({str(pid_file)!r}, 'w').write(str(c.pid)); "
            "time.sleep(600)")
    out = _run(tmp_path, code, timeout_s=3)
    assert out.error == "timeout after 3 s"
    assert out.returncode is None
    child = int(pid_file.read_text())
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


def test_descendants_outliving_the_process_are_killed_and_counted(tmp_path: Path) -> None:
    # The "workload" starts a daemon, runs for a second and exits without stopping it.
    pid_file = tmp_path / "daemon.pid"
    code = ("import json, subprocess, sys, time; c = subprocess.Popen([sys.executable, '-c', "
            "'import time; time.sleep(600)'], start_new_session=True); "
            f"open({str(pid_file)!r}, 'w').write(str(c.pid)); time.sleep(1); "
            "json.dump({}, open(sys.argv[1], 'w'))")
    out = _run(tmp_path, code)
    assert out.error is None and out.result == {}
    assert out.leaked == 1
    daemon = int(pid_file.read_text())
    assert not psutil.pid_exists(daemon) or psutil.Process(daemon).status() == psutil.STATUS_ZOMBIE


def test_bench_env_puts_benchmarks_on_the_path() -> None:
    env = harness.bench_env(3, {"X": "1"})
    assert env["PYTHONPATH"].split(":")[0] == str(harness.BENCH_DIR)
    assert env["POLARS_MAX_THREADS"] == "3" and env["X"] == "1"


def test_machine_info_has_the_details_the_report_needs() -> None:
    info = harness.machine_info()
    for key in ("cpu_model", "logical_cores", "physical_cores", "ram_gib", "os", "python"):
        assert info[key], key
    assert json.dumps(info)
