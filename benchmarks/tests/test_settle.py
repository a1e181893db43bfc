"""The wait for a quiet process tree before the steady-state repetitions (settle.py)."""

from __future__ import annotations

import subprocess
import sys

import psutil

from settle import is_quiet, tree_cpu_s, wait_until_quiet

BURN = "import time\nend = time.process_time() + {s}\nwhile time.process_time() < end: pass\n"


def test_quiet_is_a_fraction_of_one_cpu_over_the_window() -> None:
    assert is_quiet(cpu_s=0.0, window_s=0.1, busy_fraction=0.2)
    assert not is_quiet(cpu_s=0.021, window_s=0.1, busy_fraction=0.2)
    assert is_quiet(cpu_s=0.019, window_s=0.1, busy_fraction=0.2)


def test_waits_for_a_busy_child_to_finish() -> None:
    child = subprocess.Popen([sys.executable, "-c", BURN.format(s=0.6)])
    try:
        before = tree_cpu_s(psutil.Process())
        waited = wait_until_quiet(max_s=30)
        assert child.poll() is not None or tree_cpu_s(psutil.Process()) > before
        assert waited >= 0.2  # it did not return while the child burned CPU
        assert waited < 30
    finally:
        child.kill()
        child.wait()


def test_an_idle_tree_returns_within_a_few_windows() -> None:
    assert wait_until_quiet(max_s=30, window_s=0.05) < 5


def test_gives_up_after_max_s() -> None:
    child = subprocess.Popen([sys.executable, "-c", BURN.format(s=5)])
    try:
        assert 0.3 <= wait_until_quiet(max_s=0.3, window_s=0.05) < 2
    finally:
        child.kill()
        child.wait()
