"""Zip: the columns of two or more inputs side by side, row i with row i.

Every input is collected (zip needs all row orders), then one small task per
left block appends the matching rows of each other input.
"""

from __future__ import annotations

from collections import deque

from streamdata.exec.interfaces import OpTask, PhysicalOperator, RefBundle
from streamdata.exec.operators.block_tasks import launch_block_task, zip_blocks
from streamdata.exec.shuffle.repartition import cut_runs


def align_blocks(left_rows: list[int], right_rows: list[int]) -> list[list[tuple[int, int, int]]]:
    """For each left block, the ``(right block, start, end)`` ranges holding its rows.

    Example:
        >>> align_blocks([3, 2], [2, 3])
        [[(0, 0, 2), (1, 0, 1)], [(1, 1, 3)]]

    Raises:
        ValueError: the inputs have different row counts (Ray's message).
    """
    if sum(left_rows) != sum(right_rows):
        raise ValueError(f"Cannot zip datasets of different number of rows: {sum(left_rows)}, "
                         f"{sum(right_rows)}")
    return cut_runs(right_rows, left_rows)


class ZipOperator(PhysicalOperator):
    """Zips input 0 (left) with inputs 1.. (in order); outputs follow the left blocks' order."""

    def __init__(self, left: PhysicalOperator, *others: PhysicalOperator) -> None:
        if not others:
            raise ValueError("ZipOperator needs at least two inputs")
        super().__init__("Zip", [left, *others])
        self._inputs: list[list[RefBundle]] = [[] for _ in range(1 + len(others))]
        self._tasks: dict[int, OpTask] = {}
        self._results: dict[int, RefBundle] = {}
        self._next = 0
        self._total = 0
        self._outputs: deque[RefBundle] = deque()

    def add_input(self, bundle: RefBundle, input_index: int) -> None:
        self.metrics.on_input(bundle)
        self._inputs[input_index].append(bundle)

    def all_inputs_done(self) -> None:
        super().all_inputs_done()
        blocks = [[(ref, meta) for b in bundles for ref, meta in b.blocks] for bundles in self._inputs]
        self._inputs = [[] for _ in self._inputs]
        left, others = blocks[0], blocks[1:]
        left_rows = [m.num_rows or 0 for _, m in left]
        plans = [align_blocks(left_rows, [m.num_rows or 0 for _, m in other]) for other in others]
        for i, (lref, _) in enumerate(left):
            if not left_rows[i]:  # an empty left block
                continue
            groups = [[(s, e) for _, s, e in plan[i]] for plan in plans]
            refs = [other[r][0] for other, plan in zip(others, plans) for r, _, _ in plan[i]]
            self._tasks[i] = launch_block_task(zip_blocks, lref, groups, *refs,
                                               on_result=lambda b, i=i: self._done(i, b))
            self.metrics.tasks_submitted += 1
        self._total = len(left)
        self._flush()

    def _done(self, i: int, bundle: RefBundle) -> None:
        self._tasks.pop(i, None)
        self.metrics.tasks_finished += 1
        self._results[i] = bundle
        self._flush()

    def _flush(self) -> None:
        while self._next < self._total:
            if self._next in self._results:
                bundle = self._results.pop(self._next)
                self.metrics.on_output(bundle)
                self._outputs.append(bundle)
            elif self._next in self._tasks:
                return
            self._next += 1

    def has_next(self) -> bool:
        return bool(self._outputs)

    def get_next(self) -> RefBundle:
        return self._outputs.popleft()

    def get_active_tasks(self) -> list[OpTask]:
        return list(self._tasks.values())

    def throttling_disabled(self) -> bool:
        return True

    def internal_queue_size(self) -> int:
        return sum(len(x) for x in self._inputs)

    def internal_queue_bytes(self) -> int:
        return sum(b.size_bytes() for x in self._inputs for b in x)


__all__ = ["ZipOperator", "align_blocks"]
