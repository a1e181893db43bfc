"""How an all-to-all operation is cut up: partitions and map tasks (pure policy).

Example:
    >>> choose_num_partitions(total_bytes=0, total_rows=0, cpus=4, max_partition_bytes=1 << 27)
    1
    >>> choose_num_partitions(total_bytes=1 << 30, total_rows=10**7, cpus=2, max_partition_bytes=1 << 27)
    8
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MIN_PARTITION_BYTES = 1 << 20
#: a map task reads enough input that its parts average at least this much: parts under
#: the runtime's inline threshold (100 KiB) would live in the driver's memory
MIN_PART_BYTES = 160 << 10
#: ... but never more than this per map task (beyond it, small parts are accepted)
MAX_MAP_INPUT_BYTES = 256 << 20
#: arriving bundles are prepared (partially aggregated) together until they hold this much
MIN_PREPARE_BYTES = 4 << 20
#: an Arrow-native all-to-all (sort, join, aggregation) over at most this many bytes in
#: all runs as one task on the whole input: below it, sampling, cutting and merging
#: many small partitions costs more task round trips and copies than the one task's work
SINGLE_TASK_BYTES = 32 << 20
#: a small sort whose blocks are sorted runs splits its one merge into a partition per CPU
#: (each task gets every run and merges its own key range) when each holds this much
SPLIT_MERGE_BYTES = 4 << 20
#: a merge of built-in partial aggregates over at most this many bytes runs on the driver's
#: executor thread: the parts already came back inline, and a task round trip (send them,
#: wake a worker, send the result back) costs more than the merge of a few thousand rows
DRIVER_REDUCE_BYTES = 256 << 10


def run_as_single_task(*, total_bytes: int, max_partition_bytes: float,
                       single_task_bytes: int = SINGLE_TASK_BYTES) -> bool:
    """Whether an all-to-all over ``total_bytes`` (from the blocks' metadata) runs as one
    task: the input is small, and one task may hold it within the memory budget
    (``max_partition_bytes``, what any one partition may hold).

    Example:
        >>> run_as_single_task(total_bytes=12 << 20, max_partition_bytes=1 << 27)
        True
        >>> run_as_single_task(total_bytes=12 << 20, max_partition_bytes=8 << 20)
        False
        >>> run_as_single_task(total_bytes=1 << 30, max_partition_bytes=1 << 27)
        False
    """
    return total_bytes <= min(single_task_bytes, max_partition_bytes)


def split_merge_ways(*, total_bytes: int, total_rows: int | None, cpus: float,
                     split_merge_bytes: int = SPLIT_MERGE_BYTES) -> int:
    """Into how many partitions the one merge of a small all-to-all is split, when every
    reduce task may take its own range of every input block (no sample or map round
    trip, see :meth:`~streamdata.exec.operators.all_to_all.spec.ShuffleSpec.can_split_runs`):
    one per CPU, as long as each gets ``split_merge_bytes``; never more than the rows.

    Example:
        >>> split_merge_ways(total_bytes=12 << 20, total_rows=800_000, cpus=2)
        2
        >>> split_merge_ways(total_bytes=3 << 20, total_rows=800_000, cpus=2)
        1
        >>> split_merge_ways(total_bytes=1 << 30, total_rows=None, cpus=4)
        4
    """
    ways = min(max(1, int(cpus)), total_bytes // max(1, split_merge_bytes))
    if total_rows is not None:
        ways = min(ways, total_rows)
    return max(1, ways)


def reduce_on_driver(*, num_partitions: int, total_bytes: int, spec_allows: bool,
                     driver_reduce_bytes: int = DRIVER_REDUCE_BYTES) -> bool:
    """Whether the one reduce of an all-to-all runs on the driver instead of in a task:
    a single partition, a spec whose reduce runs no user code, and small parts.

    Example:
        >>> reduce_on_driver(num_partitions=1, total_bytes=100 << 10, spec_allows=True)
        True
        >>> reduce_on_driver(num_partitions=2, total_bytes=100 << 10, spec_allows=True)
        False
        >>> reduce_on_driver(num_partitions=1, total_bytes=1 << 20, spec_allows=True)
        False
        >>> reduce_on_driver(num_partitions=1, total_bytes=1 << 10, spec_allows=False)
        False
    """
    return spec_allows and num_partitions == 1 and total_bytes <= driver_reduce_bytes


def choose_num_partitions(*, total_bytes: int, total_rows: int | None, cpus: float,
                          max_partition_bytes: float, min_partition_bytes: int = MIN_PARTITION_BYTES) -> int:
    """Partitions for ``total_bytes`` of data: enough that none exceeds
    ``max_partition_bytes``, one per CPU once there is at least ``min_partition_bytes``
    per partition, a multiple of the CPUs when there are more partitions than CPUs (so
    the last round of reduce tasks keeps every CPU busy), never more than there are rows.

    Example:
        >>> choose_num_partitions(total_bytes=10 << 20, total_rows=1000, cpus=4, max_partition_bytes=1 << 30)
        4
        >>> choose_num_partitions(total_bytes=5 << 20, total_rows=10**6, cpus=2, max_partition_bytes=1 << 20)
        6
    """
    if total_rows == 0 or total_bytes <= 0:
        return 1
    by_size = math.ceil(total_bytes / max(1.0, max_partition_bytes))
    by_cpu = min(max(1, int(cpus)), math.ceil(total_bytes / max(1, min_partition_bytes)))
    n = max(1, by_size, by_cpu)
    step = max(1, int(cpus))
    if n > step:
        n = math.ceil(n / step) * step
    if total_rows is not None:
        n = min(n, max(1, total_rows))
    return n


def group_by_size(sizes: Sequence[int], max_bytes: float) -> list[list[int]]:
    """Consecutive indices grouped so each group holds at most ``max_bytes`` (a bigger item
    is a group of its own).

    Example:
        >>> group_by_size([5, 5, 5, 20, 1], 10)
        [[0, 1], [2], [3], [4]]
    """
    groups: list[list[int]] = []
    current: list[int] = []
    acc = 0
    for i, size in enumerate(sizes):
        if current and acc + size > max_bytes:
            groups.append(current)
            current, acc = [], 0
        current.append(i)
        acc += size
    if current:
        groups.append(current)
    return groups


__all__ = [
    "MAX_MAP_INPUT_BYTES",
    "MIN_PARTITION_BYTES",
    "MIN_PART_BYTES",
    "MIN_PREPARE_BYTES",
    "SINGLE_TASK_BYTES",
    "SPLIT_MERGE_BYTES",
    "choose_num_partitions",
    "group_by_size",
    "run_as_single_task",
    "split_merge_ways",
]
