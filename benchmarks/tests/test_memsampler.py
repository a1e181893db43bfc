"""Tests of the process-tree memory sampler (real child processes, no sleeps)."""

from __future__ import annotations

import os
import subprocess
import sys

import psutil
from memsampler import TreeMemorySampler, sample_tree

HOLDER = ("import sys; block = bytearray(120 * 2**20); block[::4096] = b'x' * len(block[::4096]);"
          " print('ready', flush=True); sys.stdin.read()")


def test_tree_sample_includes_children() -> None:
    child = subprocess.Popen([sys.executable, "-c", HOLDER], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        seen: dict[int, psutil.Process] = {}
        rss, pss, count = sample_tree(psutil.Process(os.getpid()), seen)
        alone = psutil.Process(os.getpid()).memory_info().rss
        assert count >= 2
        assert rss - alone > 100 * 2**20
        assert pss is None or pss > 100 * 2**20
        assert child.pid in seen
        with TreeMemorySampler(os.getpid(), interval_s=0.01) as sampler:
            pass
        assert sampler.peak.rss_bytes > 100 * 2**20
        assert sampler.peak.samples >= 2
        assert child.pid in sampler.seen
    finally:
        child.stdin.close()
        child.wait()


def test_vanished_root_gives_an_empty_sample() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    proc = psutil.Process(child.pid)
    child.wait()
    assert sample_tree(proc) == (0, 0, 0)
