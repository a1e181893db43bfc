"""A small join's single reduce, spread over the free CPUs (pure policy).

A join small enough to run without partitioning (see
:func:`~streamdata.exec.operators.all_to_all.policy.run_as_single_task`) used to run
as one reduce task on one CPU, the other CPUs idle behind the barrier. Its work splits
without a shuffle: every row of one side (the *split* side) meets the whole other side
in exactly one task, so ``k`` tasks, each joining a ``1/k`` share of the split side's
blocks with all of the other side, give the same rows as one task. That holds for the
side whose unmatched rows a join keeps or drops on its own (``left_*`` joins: the left
side; ``right_*``: the right side; an inner join: either), never for a full outer join.
The other side is read by every task (from the shared object store; a small side,
below :data:`~streamdata.exec.operators.all_to_all.policy.SINGLE_TASK_BYTES` in all).
Each task takes one CPU from the executor's budget, like any reduce task.

Example:
    >>> lone_join_tasks("inner", ([8 << 20] * 4, [1 << 20] * 2), cpus=2)
    (0, [[0, 1], [2, 3]])
    >>> lone_join_tasks("full_outer", ([8 << 20] * 4, [1 << 20]), cpus=2)
    (None, [])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: a task joins at least this many bytes of the split side: below it, a task round trip
#: and the other side's hash table, built again in every task, cost more than they save
MIN_SPLIT_BYTES = 1 << 20

_SPLITTABLE = {
    "inner": (0, 1), "left_outer": (0,), "left_semi": (0,), "left_anti": (0,),
    "right_outer": (1,), "right_semi": (1,), "right_anti": (1,), "full_outer": (),
}


def lone_join_tasks(join_type: str, sizes: tuple[Sequence[int], Sequence[int]], *, cpus: float,
                    min_split_bytes: int = MIN_SPLIT_BYTES) -> tuple[int | None, list[list[int]]]:
    """How to spread a single-partition join: ``(split side, its items per task)``, or
    ``(None, [])`` to run it as one task.

    Args:
        join_type: the join's type (``"inner"``, ``"left_outer"``...).
        sizes: bytes of each input item (a bundle of blocks), left side then right side.
        cpus: CPUs of the executor's budget.
        min_split_bytes: least split-side bytes per task.

    The split side is the larger side it may be; it must hold at least as much as the
    other side (which every task reads whole). Items are grouped in order into at most
    ``cpus`` groups of about equal bytes.

    Example:
        >>> lone_join_tasks("left_outer", ([1 << 20, 1 << 20, 4 << 20], [9 << 20]), cpus=4)
        (None, [])
        >>> lone_join_tasks("right_semi", ([1 << 20], [3 << 20, 3 << 20, 3 << 20]), cpus=4)
        (1, [[0], [1], [2]])
        >>> lone_join_tasks("inner", ([4 << 20] * 3, [1 << 10]), cpus=1)
        (None, [])
    """
    sides = _SPLITTABLE.get(join_type, ())
    if not sides:
        return None, []
    side = max(sides, key=lambda s: sum(sizes[s]))
    total, other = sum(sizes[side]), sum(sizes[1 - side])
    k = min(int(cpus), len(sizes[side]), total // max(1, min_split_bytes))
    if k < 2 or other > total:
        return None, []
    groups = balanced_groups(sizes[side], k)
    return (side, groups) if len(groups) > 1 else (None, [])


def balanced_groups(sizes: Sequence[int], k: int) -> list[list[int]]:
    """Consecutive indices cut into at most ``k`` non-empty groups of about equal total size
    (each group closes once it reaches its share of what is left).

    Example:
        >>> balanced_groups([5, 1, 1, 1, 1, 1], 2)
        [[0], [1, 2, 3, 4, 5]]
        >>> balanced_groups([1, 1, 1, 1, 1], 2)
        [[0, 1, 2], [3, 4]]
        >>> balanced_groups([3], 4)
        [[0]]
    """
    groups: list[list[int]] = []
    left = sum(sizes)
    current: list[int] = []
    acc = 0
    for i, size in enumerate(sizes):
        current.append(i)
        acc += size
        remaining_groups = k - len(groups)
        items_after = len(sizes) - i - 1
        if remaining_groups > 1 and items_after and (acc * remaining_groups >= left
                                                      or items_after < remaining_groups):
            groups.append(current)
            left -= acc
            current, acc = [], 0
    if current:
        groups.append(current)
    return groups


def lone_reduce_inputs(items: Sequence[Sequence[Sequence[Any]]], side: int | None,
                       groups: Sequence[Sequence[int]]) -> list[list[list[Any]]]:
    """The block refs of each task of a single-partition reduce, per input side.

    ``items[s][i]`` are the refs of item ``i`` of side ``s``; with ``side`` None one
    task gets everything, else task ``t`` gets items ``groups[t]`` of ``side`` and every
    item of the other sides.

    Example:
        >>> lone_reduce_inputs([[["a"], ["b", "c"]], [["x"]]], None, [])
        [[['a', 'b', 'c'], ['x']]]
        >>> lone_reduce_inputs([[["a"], ["b", "c"]], [["x"]]], 0, [[0], [1]])
        [[['a'], ['x']], [['b', 'c'], ['x']]]
    """
    whole = [[ref for item in refs for ref in item] for refs in items]
    if side is None:
        return [whole]
    return [[[ref for i in group for ref in items[s][i]] if s == side else whole[s] for s in range(len(items))]
            for group in groups]


__all__ = ["MIN_SPLIT_BYTES", "balanced_groups", "lone_join_tasks", "lone_reduce_inputs"]
