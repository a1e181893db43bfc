"""Fixtures of the reliability suite: a seeded worker killer, the figures every
test records, and the soak switch (``STREAMDATA_SOAK=1`` raises the rounds)."""

from __future__ import annotations

import gc
import os
import random
import threading
import time
from typing import Callable, Iterator

import psutil
import pytest

import streamdata as sd
from tests.reliability import report

SOAK = os.environ.get("STREAMDATA_SOAK", "") not in ("", "0")
SEED = int(os.environ.get("STREAMDATA_RELIABILITY_SEED", "1616"))


def rounds(ci: int, soak: int) -> int:
    """How many rounds a test runs: ``ci`` in CI, ``soak`` under STREAMDATA_SOAK=1."""
    return soak if SOAK else ci


def pytest_collection_modifyitems(items: list) -> None:
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.reliability)


@pytest.fixture(scope="session")
def figures() -> Iterator[report.Figures]:
    figs = report.Figures()
    yield figs
    if figs.rows:
        figs.write()


def wait_for(cond: Callable[[], bool], deadline_s: float, what: str) -> None:
    """Poll ``cond`` until it holds or ``deadline_s`` passes (then fail naming ``what``)."""
    end = time.monotonic() + deadline_s
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {deadline_s}s waiting for {what}")
        time.sleep(0.05)


def worker_pids(root: int | None = None) -> list[int]:
    """The runtime's worker processes: psutil children of the driver running streamdata.core.worker."""
    out = []
    for child in psutil.Process(root or os.getpid()).children(recursive=True):
        try:
            if "streamdata.core.worker" in " ".join(child.cmdline()):
                out.append(child.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return out


class Killer(threading.Thread):
    """SIGKILLs a random worker every ``interval`` seconds (seeded), at most ``max_kills`` times."""

    def __init__(self, seed: int, interval: tuple[float, float] = (0.1, 0.4), max_kills: int = 3,
                 spare: Callable[[], set[int]] | None = None) -> None:
        super().__init__(daemon=True, name="reliability-killer")
        self.rng = random.Random(seed)
        self.interval = interval
        self.max_kills = max_kills
        self.kills = 0
        self.spare = spare
        self._halt = threading.Event()

    def run(self) -> None:
        while self.kills < self.max_kills and not self._halt.wait(self.rng.uniform(*self.interval)):
            pids = sorted(set(worker_pids()) - (self.spare() if self.spare else set()))
            if not pids:
                continue
            try:
                os.kill(self.rng.choice(pids), 9)
                self.kills += 1
            except ProcessLookupError:
                pass

    def stop(self) -> int:
        self._halt.set()
        self.join(timeout=10)
        return self.kills


def actor_pids(class_name: str) -> set[int]:
    """The pids of the live actors of ``class_name`` in this driver's runtime."""
    from streamdata.core import api
    rt = api._runtime
    if rt is None:
        return set()
    with rt.lock:
        return {rt.workers[a.worker.worker_id].pid for a in list(rt.state.actors.actors.values())
                if a.spec.get("name") == class_name and a.worker is not None and a.worker.worker_id in rt.workers}


@pytest.fixture(scope="module")
def runtime() -> Iterator[None]:
    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=2)
    yield
    gc.collect()
    sd.shutdown()
