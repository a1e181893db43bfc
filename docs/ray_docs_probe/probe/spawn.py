"""Start the runs in their own processes, with timeouts, and turn what they report into rows.

A row is ``(group, unit, result)``; result is ``pass``, ``fail: ...``, ``skip: ...`` or, for
units after one that a timeout or a crash ended, ``notrun: ...``.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

CHILD = Path(__file__).resolve().parent / "child.py"
Row = tuple[str, str, str]
_ERROR_LINE = re.compile(r"^[A-Za-z_.]*(Error|Exception|Exit)[A-Za-z]*:")


def _kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _beside(log: Path, ext: str) -> Path:
    return log.with_name(log.name + ext)


def _read_results(path: Path) -> list[tuple[str, list[tuple[str, str]]]]:
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    for line in path.read_text().splitlines():
        parts = line.split("\t", 2)
        if parts[0] == "GROUP":
            groups.append((parts[1], []))
        elif parts[0] == "RESULT" and len(parts) == 3 and groups:
            groups[-1][1].append((parts[1], parts[2]))
    return groups


def _watch(proc: subprocess.Popen, results: Path, timeout_s: int) -> str | None:
    """Wait for ``proc``; the clock restarts at each new group. None if it ended with exit 0."""
    started, groups = time.monotonic(), 0
    while proc.poll() is None:
        time.sleep(0.5)
        now_groups = results.read_text().count("GROUP\t") if results.exists() else 0
        if now_groups != groups:
            started, groups = time.monotonic(), now_groups
        if time.monotonic() - started > timeout_s:
            os.kill(proc.pid, signal.SIGUSR1)  # child.py dumps its threads' stacks to its log
            time.sleep(2)
            _kill_group(proc.pid)
            proc.wait()
            return f"timeout: over {timeout_s} s"
    _kill_group(proc.pid)  # what the run left in its session
    return None if proc.returncode == 0 else f"exit {proc.returncode}"


def run_units(groups: list[dict], *, engine: str, alarm_s: int, timeout_s: int, env: dict[str, str],
              cwd: Path, log: Path) -> list[Row]:
    """Run ``groups`` (``{"name", "units"}``) in child processes; a new one after a crash."""
    rows: list[Row] = []
    pending = list(groups)
    log.parent.mkdir(parents=True, exist_ok=True)
    job_file, results = _beside(log, ".job.json"), _beside(log, ".results")
    with open(_beside(log, ".out"), "w") as out, open(_beside(log, ".err"), "w") as err:
        while pending:
            results.write_text("")
            job_file.write_text(json.dumps({"engine": engine, "alarm_s": alarm_s, "results": str(results),
                                            "groups": pending}))
            proc = subprocess.Popen([sys.executable, str(CHILD), str(job_file)], cwd=cwd, env=env,
                                    stdout=out, stderr=err, start_new_session=True)
            ended = _watch(proc, results, timeout_s)
            reported = dict(_read_results(results))
            for i, group in enumerate(pending):
                got = reported.get(group["name"], [])
                rows += [(group["name"], unit, result) for unit, result in got]
                missing = group["units"][len(got):]
                if not missing:
                    continue
                why = ended or "exit 0 before the end"
                rows.append((group["name"], missing[0]["name"], f"fail: {why} (the process ended in this unit)"))
                rows += [(group["name"], u["name"], f"notrun: the process ended ({why}) earlier") for u in missing[1:]]
                pending = pending[i + 1:]
                break
            else:
                pending = []
    return rows


def run_script(script: Path, *, timeout_s: int, env: dict[str, str], cwd: Path, log: Path) -> str:
    """Run ``script`` whole with ``python``; ``pass`` if it exits 0, else its last error line."""
    log.parent.mkdir(parents=True, exist_ok=True)
    err_path = _beside(log, ".err")
    with open(_beside(log, ".out"), "w") as out, open(err_path, "w") as err:
        proc = subprocess.Popen([sys.executable, str(script)], cwd=cwd, env={**env, "PYTHONFAULTHANDLER": "1"},
                                stdout=out, stderr=err, start_new_session=True)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)  # faulthandler writes the stacks to the log
            time.sleep(10)
            _kill_group(proc.pid)
            proc.wait()
            return f"fail: timeout: over {timeout_s} s"
    _kill_group(proc.pid)
    if proc.returncode == 0:
        return "pass"
    errors = [l for l in err_path.read_text(errors="replace").splitlines() if _ERROR_LINE.match(l)]
    return "fail: " + (errors[-1][:200] if errors else f"exit {proc.returncode}")
