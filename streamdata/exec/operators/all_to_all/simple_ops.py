"""All-to-all operations that need no shuffle: block order and repartition without shuffle.

* :class:`RandomizeBlockOrderOperator` buffers the bundles (refs only) and emits their
  blocks in a random (seeded) order; it launches no work.
* :class:`SplitRepartitionOperator` (``repartition(n, shuffle=False)``) plans, from the
  row counts in the blocks' metadata, which row ranges of which blocks make each of the
  ``n`` outputs (:func:`streamdata.exec.shuffle.repartition.plan_slices`), then builds
  each output in a small task from zero-copy slices; an output that is exactly one
  input block reuses it. Rows keep their order.

Example:
    >>> op = RandomizeBlockOrderOperator("RandomizeBlockOrder", [], seed=1)
    >>> op.name
    'RandomizeBlockOrder'
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

from streamdata.exec.interfaces import (
    ExecutionOptions,
    ExecutionResources,
    OpTask,
    PhysicalOperator,
    RefBundle,
)
from streamdata.exec.resources import placement_options
from streamdata.exec.shuffle.random_ops import random_order
from streamdata.exec.shuffle.repartition import plan_slices
from streamdata.block_metadata import BlockMetadata
from streamdata.core import api as rt
from streamdata.exec.operators.all_to_all.tasks import assemble_task, count_rows_task
from streamdata.exec.operators.in_order import InOrder


class RandomizeBlockOrderOperator(PhysicalOperator):
    """Emits every input block, one bundle per block, in a random order once all arrived.

    Args:
        name: display name.
        input_ops: the one operator feeding it.
        seed: the seed of the order (None: random each run).
    """

    def __init__(self, name: str, input_ops: Sequence[PhysicalOperator], *, seed: int | None = None) -> None:
        super().__init__(name, input_ops)
        self.seed = seed
        self._blocks: list[tuple[Any, BlockMetadata, bool]] = []
        self._outputs: deque[RefBundle] = deque()

    def add_input(self, bundle: RefBundle, input_index: int) -> None:
        self.metrics.on_input(bundle)
        if self._execution_finished:
            return
        self._blocks.extend((ref, meta, bundle.owns_blocks) for ref, meta in bundle.blocks)

    def all_inputs_done(self) -> None:
        super().all_inputs_done()
        if self._execution_finished:
            return
        for i in random_order(len(self._blocks), seed=self.seed):
            ref, meta, owns = self._blocks[i]
            bundle = RefBundle(blocks=((ref, meta),), owns_blocks=owns)
            self.metrics.on_output(bundle)
            self._outputs.append(bundle)
        self._blocks = []

    def mark_execution_finished(self) -> None:
        super().mark_execution_finished()
        self._blocks = []
        self._outputs.clear()

    def has_next(self) -> bool:
        return bool(self._outputs)

    def get_next(self) -> RefBundle:
        return self._outputs.popleft()

    def completed(self) -> bool:
        return (self.inputs_complete() or self._execution_finished) and not self._outputs

    def throttling_disabled(self) -> bool:
        return True

    def internal_queue_bytes(self) -> int:
        return sum(m.size_bytes or 0 for _, m, _ in self._blocks) + sum(b.size_bytes() for b in self._outputs)


class SplitRepartitionOperator(PhysicalOperator):
    """``repartition(n)`` without shuffle: exactly ``n`` output blocks of near-equal row
    counts, rows in their input order.

    Args:
        name: display name.
        input_ops: the one operator feeding it.
        num_blocks: the number of output blocks.
        remote_args: options of the small tasks (default: one CPU).
        rows_per_block: instead of ``num_blocks``: blocks of exactly this many rows, but
            the last (``repartition(target_num_rows_per_block=n)``).
    """

    def __init__(self, name: str, input_ops: Sequence[PhysicalOperator], *, num_blocks: int | None,
                 remote_args: dict[str, Any] | None = None,
                 rows_per_block: int | None = None) -> None:
        super().__init__(name, input_ops)
        if rows_per_block is None and (num_blocks is None or num_blocks < 1):
            raise ValueError(f"repartition needs at least one block, got {num_blocks}")
        self.num_blocks = num_blocks
        self.rows_per_block = rows_per_block
        self.remote_args = {"num_cpus": 1, "max_retries": 3, **(remote_args or {})}
        self._blocks: list[tuple[Any, BlockMetadata]] = []
        self._owns: list[bool] = []
        self._counting: dict[int, OpTask] = {}
        self._tasks: dict[int, OpTask] = {}
        self._queue: deque[tuple[int, list[tuple[int, int, int]]]] = deque()
        self._finished: InOrder[RefBundle | None] = InOrder()
        self._outputs: deque[RefBundle] = deque()
        self._planned = False
        self._seq = 0
        self._schema: Any = None
        self._fns: dict[str, Any] = {}

    def _fn(self, name: str, fn: Any, num_returns: int) -> Any:
        if name not in self._fns:
            self._fns[name] = rt.remote(fn).options(num_returns=num_returns, **self.remote_args)
        return self._fns[name]

    def start(self, options: ExecutionOptions) -> None:
        super().start(options)
        self.remote_args.update(placement_options(options.data_context, self.remote_args))

    def add_input(self, bundle: RefBundle, input_index: int) -> None:
        self.metrics.on_input(bundle)
        if self._execution_finished:
            return
        for ref, meta in bundle.blocks:
            if self._schema is None and meta.schema is not None:
                self._schema = meta.schema
            self._blocks.append((ref, meta))
            self._owns.append(bundle.owns_blocks)
            if meta.num_rows is None:
                self._count(len(self._blocks) - 1)

    def _count(self, i: int) -> None:
        ref = self._fn("count", count_rows_task, 1).remote(self._blocks[i][0])

        def on_ready() -> None:
            self._counting.pop(i, None)
            rows = rt.get(ref)
            blk, meta = self._blocks[i]
            self._blocks[i] = (blk, BlockMetadata(num_rows=rows, size_bytes=meta.size_bytes,
                                                  schema=meta.schema, input_files=meta.input_files))
            self._advance()

        self._counting[i] = OpTask(ref, on_ready, task_index=i)

    def all_inputs_done(self) -> None:
        super().all_inputs_done()
        self._advance()

    def _advance(self) -> None:
        if self._execution_finished:
            return
        if not self._planned:
            if not self.inputs_complete() or self._counting:
                return
            counts = [int(meta.num_rows or 0) for _, meta in self._blocks]
            for j, slices in enumerate(plan_slices(counts, self.num_blocks, self.rows_per_block)):
                self._queue.append((j, slices))
            self._planned = True
        self._launch()

    def _launch(self) -> None:
        cap = max(1, int(self.options.resource_limits.cpu or 1)) + 1
        while self._queue and len(self._tasks) < cap:
            j, slices = self._queue.popleft()
            if len(slices) == 1:
                b, start, end = slices[0]
                ref, meta = self._blocks[b]
                if start == 0 and end == meta.num_rows:  # a whole block: reuse it
                    self._done(j, RefBundle(blocks=((ref, meta),), owns_blocks=self._owns[b]))
                    continue
            if not slices:
                self._done(j, self._empty_bundle())
                continue
            used: list[int] = []
            for b, _, _ in slices:
                if b not in used:
                    used.append(b)
            self._seq += 1
            idx = self._seq
            fn = self._fn("assemble", assemble_task, 2)
            block_ref, out_ref = fn.remote(tuple(slices), self.options.target_max_block_size,
                                           *[self._blocks[b][0] for b in used])

            def on_ready(idx: int = idx, j: int = j, block_ref: Any = block_ref, out_ref: Any = out_ref) -> None:
                self._tasks.pop(idx, None)
                out = rt.get(out_ref)
                self.metrics.tasks_finished += 1
                meta = out.metas[-1] if out.metas else BlockMetadata(num_rows=0, size_bytes=0, schema=out.schema)
                self._done(j, RefBundle(blocks=((block_ref, meta),), owns_blocks=True))
                self._launch()

            self._tasks[idx] = OpTask(out_ref, on_ready, task_index=idx)
            self.metrics.tasks_submitted += 1
        if not self._queue and not self._tasks:
            self._blocks, self._owns = [], []

    def _empty_bundle(self) -> RefBundle | None:
        """An empty block (with the input's schema) for an output that gets no rows."""
        if self._schema is None:
            return None
        table = self._schema.empty_table()
        return RefBundle(blocks=((rt.put(table), BlockMetadata.of(table)),), owns_blocks=True)

    def _done(self, j: int, bundle: RefBundle | None) -> None:
        for out in self._finished.add(j, bundle):
            if out is not None:
                self.metrics.on_output(out)
                self._outputs.append(out)

    def mark_execution_finished(self) -> None:
        super().mark_execution_finished()
        for task in self.get_active_tasks():
            task.cancel()
        self._blocks, self._queue, self._tasks, self._counting = [], deque(), {}, {}
        self._outputs.clear()

    def has_next(self) -> bool:
        return bool(self._outputs)

    def get_next(self) -> RefBundle:
        return self._outputs.popleft()

    def completed(self) -> bool:
        if self._execution_finished:
            return not self.get_active_tasks()
        return (self._planned and not self._queue and not self._tasks and not self._outputs
                and not self._finished)

    def get_active_tasks(self) -> list[OpTask]:
        return [*self._counting.values(), *self._tasks.values()]

    def num_active_tasks(self) -> int:
        return len(self._counting) + len(self._tasks)

    def internal_queue_size(self) -> int:
        return len(self._queue)

    def internal_queue_bytes(self) -> int:
        return sum(b.size_bytes() for b in self._outputs)

    def incremental_resource_usage(self) -> ExecutionResources:
        return ExecutionResources()

    def num_outputs_total(self) -> int | None:
        return self.num_blocks


__all__ = ["RandomizeBlockOrderOperator", "SplitRepartitionOperator"]
