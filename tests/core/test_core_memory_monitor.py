"""The memory monitor with real processes (2 CPUs): a task that balloons is killed.

Each test's runtime gets a threshold 1 GiB above the machine's use when it starts
(far from the machine's limit; the other test runs on the machine move its use by
a few hundred MB), and a task grows its memory in steps until the monitor kills it
(capped at 2.5 GiB): retried, it then succeeds;
without retries it fails with OutOfMemoryError. The machine is shared with other
test runs whose memory comes and goes: a retry may be killed too while they hold a
lot, so the retried task may retry until their use drops (``max_retries=-1``).
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from _core_util import append_line, count_lines

import streamdata as sd
from streamdata.core.memory_monitor import read_memory
from streamdata.exceptions import OutOfMemoryError

pytestmark = [pytest.mark.timeout(180)]

MB = 1 << 20
HEADROOM = 1024 * MB  # the threshold sits this far above the use at start
CAP = 2560 * MB  # a task never holds more than this
STEP = 100 * MB


@pytest.fixture
def low_threshold_runtime():
    if sd.is_initialized():
        sd.shutdown()
    used, total = read_memory()
    threshold = (used + HEADROOM) / total
    sd.init(num_cpus=2, _system_config={"memory_usage_threshold": threshold, "memory_monitor_refresh_ms": 50})
    yield threshold
    sd.shutdown()


@sd.remote
def balloon(log: str) -> str:
    """The first attempt grows by 100 MB steps until it is killed; a retry answers."""
    if append_line(log, str(os.getpid())) > 1:
        return "ok"
    held = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(held) * STEP < CAP:
            held.append(np.ones(STEP // 8))  # written: resident, not just reserved
        else:
            time.sleep(0.05)  # at the cap: wait to be killed (the deadline bounds it)
    return "not killed"


def test_a_ballooning_task_is_killed_and_its_retry_succeeds(low_threshold_runtime, tmp_path) -> None:
    log = str(tmp_path / "attempts")
    assert sd.get(balloon.options(max_retries=-1).remote(log), timeout=120) == "ok"
    assert count_lines(log) >= 2  # the first attempt (which never returns by itself) was killed


def test_without_retries_it_fails_with_out_of_memory_error(low_threshold_runtime, tmp_path) -> None:
    log = str(tmp_path / "attempts")
    with pytest.raises(OutOfMemoryError) as info:
        sd.get(balloon.options(max_retries=0).remote(log), timeout=120)
    text = str(info.value)
    assert "balloon" in text and "GiB" in text
    assert f"memory_usage_threshold={low_threshold_runtime:g}" in text
    assert count_lines(log) == 1

