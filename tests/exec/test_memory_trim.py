"""The worker-side trim of Arrow's kept memory (issue 14, larger_than_memory): the policy
with given sizes, and the real allocator in this process. No runtime process is started."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from streamdata.exec import memory_trim
from streamdata.exec.memory_trim import ArrowMemoryTrim, resident_bytes, should_release

MIB = 2**20


@pytest.mark.parametrize(("resident", "baseline", "expected"), [
    (100 * MIB, 100 * MIB, False),
    (131 * MIB, 100 * MIB, False),
    (132 * MIB, 100 * MIB, True),
    (400 * MIB, 100 * MIB, True),
    (50 * MIB, 100 * MIB, False),  # smaller than after the last release
])
def test_release_only_once_the_process_grew_by_the_threshold(resident, baseline, expected) -> None:
    assert should_release(resident, baseline, 32 * MIB) is expected


def _trim(sizes: list[int], threshold: int = 32 * MIB) -> tuple[ArrowMemoryTrim, list[int]]:
    feed = iter(sizes)
    released: list[int] = []
    return ArrowMemoryTrim(threshold, resident=lambda: next(feed),
                           release=lambda: released.append(1)), released


def test_the_baseline_is_the_size_after_the_last_release() -> None:
    # created at 100; a block at 150 releases (back to 110); 130 is within 32 of 110;
    # 150 is not
    trim, released = _trim([100 * MIB, 150 * MIB, 110 * MIB, 130 * MIB, 150 * MIB, 105 * MIB])
    assert [trim.after_block() for _ in range(3)] == [True, False, True]
    assert len(released) == 2


def test_memory_that_stays_in_use_does_not_make_it_release_again_and_again() -> None:
    # a release that frees nothing (the memory is in use) moves the baseline up
    trim, released = _trim([100 * MIB, 200 * MIB, 200 * MIB, 210 * MIB, 220 * MIB])
    assert [trim.after_block() for _ in range(3)] == [True, False, False]
    assert len(released) == 1


def test_the_baseline_follows_the_process_down() -> None:
    trim, released = _trim([200 * MIB, 120 * MIB, 160 * MIB, 130 * MIB])
    assert [trim.after_block() for _ in range(2)] == [False, True]  # 160 - 120 >= 32
    assert len(released) == 1


def test_it_hands_back_what_arrow_freed_in_this_process() -> None:
    """Real allocator: Arrow buffers written and freed stay resident until the release."""
    trim = ArrowMemoryTrim(32 * MIB)
    before = resident_bytes()
    buffers = []
    for _ in range(12):  # many 8 MiB buffers, every page written
        arr = pa.array(np.ones(MIB, dtype=np.float64))
        buffers.append(pa.compute.add(arr, 1))
    del buffers, arr
    assert pa.default_memory_pool().bytes_allocated() < 16 * MIB
    grown = resident_bytes() - before
    if grown < 32 * MIB:
        pytest.skip(f"the allocator returned the pages by itself ({grown / MIB:.0f} MiB kept)")
    assert trim.after_block()
    assert resident_bytes() - before < grown - 32 * MIB


def test_the_process_trim_is_made_once_and_kept_across_calls() -> None:
    memory_trim.after_block()
    first = memory_trim._process_trim
    memory_trim.after_block()
    assert memory_trim._process_trim is first is not None


@pytest.mark.parametrize(("budget_mib", "cpus", "expected_mib"), [
    (80, 2, 32),          # larger_than_memory's budget: the least, a release after about every task
    (1024, 2, 64),
    (3584, 2, 224),       # the default budget of a 2-CPU machine
    (3584, 1, 256),       # never more than the most
    (3584, 0, 256),       # no CPU figure: counted as one
    (0, 2, 32), (float("inf"), 2, 32), (float("nan"), 2, 32),
])
def test_the_threshold_follows_the_budget_per_cpu(budget_mib, cpus, expected_mib) -> None:
    assert memory_trim.threshold_for_budget(budget_mib * MIB, cpus) == expected_mib * MIB


def test_a_tasks_threshold_replaces_the_process_trims() -> None:
    memory_trim.after_block(200 * MIB)
    assert memory_trim._process_trim.threshold == 200 * MIB
    memory_trim.after_block()  # None: left as it is
    assert memory_trim._process_trim.threshold == 200 * MIB
    memory_trim.after_block(memory_trim.DEFAULT_THRESHOLD_BYTES)
    assert memory_trim._process_trim.threshold == memory_trim.DEFAULT_THRESHOLD_BYTES


def test_map_operators_hand_their_tasks_the_budgets_threshold() -> None:
    """Plan-level: the context of each task carries the threshold of the execution's budget
    (no process is started: the operator is only given its options)."""
    from streamdata.exec.interfaces import ExecutionOptions, ExecutionResources
    from streamdata.exec.operators.map_transformer import MapTransformer, ProjectStage
    from streamdata.exec.operators.input_data import InputDataOperator
    from streamdata.exec.operators.task_pool_map import TaskPoolMapOperator

    op = TaskPoolMapOperator("m", InputDataOperator("in", []), MapTransformer([ProjectStage(name="p", select=("a",))]))
    op.options = ExecutionOptions(resource_limits=ExecutionResources(cpu=2, object_store_memory=80 * MIB))
    assert op._next_context().memory_trim_bytes == 32 * MIB
    op.options = ExecutionOptions(resource_limits=ExecutionResources(cpu=2, object_store_memory=1024 * MIB))
    assert op._next_context().memory_trim_bytes == 64 * MIB


_FAULTS_SCRIPT = r"""
import resource, sys
import numpy as np
from streamdata.exec import memory_trim

def churn():  # what a sort task does: a few short-lived arrays of a few MiB, again and again
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        a = np.random.default_rng(0).random(400_000)
        b = np.argsort(a)
        c = a[b] + 1.0
        del a, b, c
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

churn()
default = churn()
tuned_ok = memory_trim.tune_libc_malloc(64 * 2**20)
churn()
tuned = churn()
kept = memory_trim.resident_bytes()
big = [np.ones(2**20) for _ in range(40)]  # 320 MiB on the heap, then freed: beyond the threshold
del big
grown = memory_trim.resident_bytes() - kept
memory_trim.release_arrow_memory()
after_release = memory_trim.resident_bytes() - kept
print(tuned_ok, default, tuned, grown >> 20, after_release >> 20)
"""


@pytest.mark.skipif(memory_trim._libc() is None, reason="glibc's malloc only")
def test_tuned_malloc_reuses_freed_arrays_and_a_release_trims_its_heap() -> None:
    """In a fresh process (the tuning is process-wide): repeated arrays of a few MiB stop
    faulting their pages in once tuned; what the heap keeps stays under the threshold, and
    a release hands it back."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", _FAULTS_SCRIPT], env=env, capture_output=True, text=True,
                         timeout=120, check=True).stdout.split()
    tuned_ok, default, tuned, grown_mib, after_release_mib = out[0] == "True", *map(int, out[1:])
    assert tuned_ok
    assert tuned * 4 < default, (default, tuned)
    assert grown_mib <= 64 + 8  # a free top beyond the threshold is handed back
    assert after_release_mib <= 8
