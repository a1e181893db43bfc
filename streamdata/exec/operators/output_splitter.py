"""Output splitter: deals the stream into ``n`` splits (for ``streaming_split``).

Each output bundle carries ``output_split_idx``. A bundle goes to the split that has
received the fewest rows so far. With ``equal=True`` the operator keeps a buffer of
at least ``n`` times the largest bundle seen (plus ``n`` rows) so that, at the end,
it can hand every split exactly ``total // n`` rows (slicing blocks remotely; the
``total % n`` rows left over are dropped, as Ray's ``equal=True`` does).
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace

from streamdata.exec.interfaces import OpTask, PhysicalOperator, RefBundle
from streamdata.exec.operators.block_tasks import launch_block_task, slice_block
from streamdata.exec.shuffle.repartition import cut_runs


def plan_equal_tail(delivered: list[int], buffered_rows: list[int]) -> list[list[tuple[int, int, int]]]:
    """How to share the buffered blocks so every split ends with the same row count.

    Args:
        delivered: rows each split received so far.
        buffered_rows: row counts of the buffered blocks, in order.

    Returns:
        For each split, ``(block index, start, end)`` row ranges to give it.

    Example:
        >>> plan_equal_tail([4, 2], [2, 1])
        [[], [(0, 0, 2)]]
        >>> plan_equal_tail([0, 0], [3, 2])
        [[(0, 0, 2)], [(0, 2, 3), (1, 0, 1)]]
    """
    n = len(delivered)
    total = sum(delivered) + sum(buffered_rows)
    target = total // n
    if max(delivered) > target:
        raise ValueError(f"cannot equalize splits: a split already has {max(delivered)} rows, "
                         f"more than the {target} each can get")
    return cut_runs(buffered_rows, [target - d for d in delivered])


class OutputSplitterOperator(PhysicalOperator):
    """Splits its input into ``n`` streams, balanced by rows; exactly equal with ``equal``."""

    def __init__(self, input_op: PhysicalOperator, n: int, *, equal: bool = False) -> None:
        if n < 1:
            raise ValueError(f"streaming_split needs n >= 1, got {n}")
        super().__init__(f"OutputSplitter(n={n}{', equal' if equal else ''})", [input_op])
        self.n = n
        self.equal = equal
        self.delivered = [0] * n
        self._buffer: deque[RefBundle] = deque()
        self._buffer_rows = 0
        self._max_bundle_rows = 0
        self._outputs: deque[RefBundle] = deque()
        self._tasks: dict[int, OpTask] = {}
        self._task_ids = 0

    def add_input(self, bundle: RefBundle, input_index: int) -> None:
        self.metrics.on_input(bundle)
        rows = bundle.num_rows() or 0
        if not self.equal:
            self._send(bundle, rows)
            return
        self._buffer.append(bundle)
        self._buffer_rows += rows
        self._max_bundle_rows = max(self._max_bundle_rows, rows)
        keep = self.n * self._max_bundle_rows + self.n
        while self._buffer and self._buffer_rows - (self._buffer[0].num_rows() or 0) >= keep:
            head = self._buffer.popleft()
            head_rows = head.num_rows() or 0
            self._buffer_rows -= head_rows
            self._send(head, head_rows)

    def _send(self, bundle: RefBundle, rows: int, split: int | None = None) -> None:
        if split is None:
            split = min(range(self.n), key=lambda i: (self.delivered[i], i))
        self.delivered[split] += rows
        out = replace(bundle, output_split_idx=split)
        self.metrics.on_output(out)
        self._outputs.append(out)

    def all_inputs_done(self) -> None:
        super().all_inputs_done()
        if not self.equal:
            return
        blocks = [(ref, meta) for b in self._buffer for ref, meta in b.blocks]
        owns = all(b.owns_blocks for b in self._buffer)
        self._buffer.clear()
        self._buffer_rows = 0
        plan = plan_equal_tail(self.delivered, [m.num_rows or 0 for _, m in blocks])
        for split, ranges in enumerate(plan):
            for b, start, end in ranges:
                ref, meta = blocks[b]
                if start == 0 and end == (meta.num_rows or 0):
                    self._send(RefBundle(blocks=((ref, meta),), owns_blocks=owns), end - start, split)
                    continue
                tid = self._task_ids
                self._task_ids += 1
                self.delivered[split] += end - start  # counted now, sent when sliced

                def done(sliced: RefBundle, tid: int = tid, split: int = split) -> None:
                    self._tasks.pop(tid, None)
                    out = replace(sliced, output_split_idx=split)
                    self.metrics.on_output(out)
                    self._outputs.append(out)

                self._tasks[tid] = launch_block_task(slice_block, ref, start, end, on_result=done)

    def has_next(self) -> bool:
        return bool(self._outputs)

    def get_next(self) -> RefBundle:
        return self._outputs.popleft()

    def get_active_tasks(self) -> list[OpTask]:
        return list(self._tasks.values())

    def throttling_disabled(self) -> bool:
        return True

    def internal_queue_size(self) -> int:
        return len(self._buffer)

    def internal_queue_bytes(self) -> int:
        return sum(b.size_bytes() for b in self._buffer) + sum(b.size_bytes() for b in self._outputs)
