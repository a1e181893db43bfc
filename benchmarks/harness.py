"""Running benchmark processes: one fresh subprocess per measurement, its tree's
memory sampled, a deadline enforced, its JSON result read back; plus machine details.

Example:
    >>> import sys, tempfile
    >>> d = tempfile.mkdtemp()
    >>> code = "import json,sys; json.dump({'ok': 1}, open(sys.argv[1], 'w'))"
    >>> out = run_measured([sys.executable, "-c", code, d + "/r.json"], result_path=d + "/r.json",
    ...                    log_path=d + "/log.txt", timeout_s=60)
    >>> out.result, out.error
    ({'ok': 1}, None)
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from memsampler import TreeMemorySampler

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent


@dataclass
class Measured:
    """What came back from one subprocess.

    Attributes:
        result: the JSON it wrote (None when it wrote none).
        error: why there is no usable result (timeout, crash), else None. A result can
            carry its own ``error`` too (the workload failed but the process exited cleanly).
        memory: peak memory of the process tree (see :class:`memsampler.MemoryPeak`).
        wall_s: seconds from spawn to exit.
        returncode: the exit status (None after a timeout kill).
        leaked: descendants still alive after the process exited (killed by pid).
        log_path: stdout and stderr of the process.
    """

    result: dict[str, Any] | None
    error: str | None
    memory: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    returncode: int | None = None
    leaked: int = 0
    log_path: str = ""


def bench_env(num_cpus: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a benchmark process.

    ``PYTHONPATH`` gets ``benchmarks/`` (so the workers of Ray and streamdata can import
    the UDF modules by name) and the repository root; thread pools are sized to
    ``num_cpus``; progress bars are off.
    """
    env = dict(os.environ)
    paths = [str(BENCH_DIR), str(REPO_ROOT)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["POLARS_MAX_THREADS"] = str(num_cpus)
    env["STREAMDATA_PROGRESS_BARS"] = "0"
    env["RAY_DATA_DISABLE_PROGRESS_BARS"] = "1"
    env.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    env["PYTHONUNBUFFERED"] = "1"
    if extra:
        env.update(extra)
    return env


def _tail(path: str, lines: int = 3) -> str:
    try:
        text = Path(path).read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text[-lines:])[-400:]


def _kill_tree(proc: subprocess.Popen[bytes], known: dict[int, psutil.Process]) -> None:
    """Kill our subprocess and every descendant of it we know of, one by one, by pid."""
    for child in _descendants(proc.pid):
        known.setdefault(child.pid, child)
    try:
        proc.kill()
    except ProcessLookupError:
        pass
    children = list(known.values())
    for child in children:
        try:
            child.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(children, timeout=5)


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _wait(proc: subprocess.Popen[bytes], deadline: float, timeout_s: float,
          seen: dict[int, psutil.Process]) -> tuple[int | None, str | None]:
    """Wait for exit or the deadline (then kill the process and its descendants)."""
    try:
        return proc.wait(timeout=max(0.0, deadline - time.perf_counter())), None
    except subprocess.TimeoutExpired:
        _kill_tree(proc, seen)
        proc.wait()
        return None, f"timeout after {timeout_s:.0f} s"


#: a measurement starts once the machine's CPU use fell below this (percent of all cores)
QUIET_CPU_PERCENT = 25.0


def wait_for_quiet(*, limit_s: float = 10.0, interval_s: float = 0.25) -> float:
    """Wait until the machine's CPU use over ``interval_s`` is below :data:`QUIET_CPU_PERCENT`
    (what an engine's exit leaves behind: a runtime's daemons shutting down, the kernel
    freeing gigabytes), at most ``limit_s``; returns the seconds waited."""
    start = time.perf_counter()
    psutil.cpu_percent(interval=None)  # starts the measuring window
    while time.perf_counter() - start < limit_s:
        if psutil.cpu_percent(interval=interval_s) < QUIET_CPU_PERCENT:
            break
    return time.perf_counter() - start


def warm_page_cache(dirs: list[str], *, chunk_bytes: int = 1 << 20) -> int:
    """Read every file under ``dirs`` once, so the next engine starts with its input in the
    page cache; returns the bytes read.

    The machine reclaims cold page cache (DAMON pageout here): without this, whichever
    engine runs a dataset's first cell after a while reads it from disk and the ones after
    it do not. Its first repetition, and its end to end, would carry the disk.

    Example:
        >>> import tempfile, pathlib
        >>> d = tempfile.mkdtemp(); _ = (pathlib.Path(d) / "f").write_bytes(b"x" * 10)
        >>> warm_page_cache([d])
        10
    """
    total = 0
    for top in dirs:
        for root, _, files in os.walk(top):
            for name in files:
                with open(os.path.join(root, name), "rb", buffering=0) as f:
                    while chunk := f.read(chunk_bytes):
                        total += len(chunk)
    return total


def run_measured(cmd: list[str], *, result_path: str, log_path: str, timeout_s: float,
                 env: dict[str, str] | None = None, cwd: str | None = None,
                 sample_interval_s: float = 0.1, leak_grace_s: float = 5.0) -> Measured:
    """Run ``cmd`` to completion (or its deadline) with its tree's memory sampled.

    The process gets its own session (a Ctrl-C in the terminal reaches only the driver,
    which then kills the process and its descendants, by pid, as a timeout does).
    Descendants that outlive it (a runtime's daemons) get ``leak_grace_s`` to finish their
    own shutdown, then are killed by pid and counted in ``leaked``.
    """
    Path(result_path).unlink(missing_ok=True)
    start = time.perf_counter()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)
        sampler = TreeMemorySampler(proc.pid, interval_s=sample_interval_s).start()
        seen = sampler.seen
        deadline = start + timeout_s
        try:
            returncode, error = _wait(proc, deadline, timeout_s, seen)
        except BaseException:  # Ctrl-C in the driver: leave nothing running behind
            _kill_tree(proc, seen)
            proc.wait()
            sampler.stop()
            raise
        memory = sampler.stop().as_dict()
    wall = time.perf_counter() - start
    # Descendants that outlive the process: give them a grace period to finish their own
    # shutdown, then kill the survivors (by pid) so they cannot disturb the next run.
    _, alive = psutil.wait_procs(list(seen.values()), timeout=leak_grace_s)
    leaked = 0
    for child in alive:
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                leaked += 1
                child.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=5)
    result = None
    try:
        result = json.loads(Path(result_path).read_text())
    except (OSError, ValueError):
        if error is None:
            error = f"exit code {returncode}, no result: {_tail(log_path)}"
    return Measured(result=result, error=error, memory=memory, wall_s=round(wall, 3),
                    returncode=None if error and error.startswith("timeout") else returncode,
                    leaked=leaked, log_path=log_path)


def machine_info() -> dict[str, Any]:
    """CPU model, cores, RAM, OS, Python, and the repository's commit."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT,
                                capture_output=True, text=True, timeout=10,
                                check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    shm = None
    try:
        import shutil
        shm = round(shutil.disk_usage("/dev/shm").total / 2**30, 1)
    except OSError:
        pass
    return {
        "cpu_model": cpu,
        "logical_cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "shm_gib": shm,
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "git_commit": commit,
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def package_versions(names: list[str]) -> dict[str, str | None]:
    """Installed versions of distributions (None when absent)."""
    from importlib.metadata import PackageNotFoundError, version
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out
