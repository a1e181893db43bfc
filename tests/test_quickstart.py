"""examples/quickstart.py runs as a new user runs it and leaves nothing behind in the temp folder
(but the session's log directory)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from _session_logs import not_session_log

ROOT = Path(__file__).resolve().parents[1]


def test_quickstart_runs_and_cleans_up(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py"), "--rows", "20000"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "rows after filter: 9,980 (expected about 9,980)" in proc.stdout, proc.stdout
    assert "keys aggregated: 100" in proc.stdout
    leftovers = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if not_session_log(p.relative_to(tmp)))
    assert leftovers == [], f"the quickstart left files in the temp folder: {leftovers[:10]}"


def test_quickstart_out_keeps_the_results(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py"), "--rows", "10000",
                           "--out", str(out)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert list((out / "scores").glob("*.parquet")), "the --out folder has no result files"
