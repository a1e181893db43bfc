"""Limit: pass the first ``limit`` rows, then tell upstream to stop.

Whole bundles pass as they are; the one block that straddles the limit is sliced here
(the local runtime maps the block without copying; only the rows kept are copied) or, on
a Ray cluster, by a small remote task next to the block. Once satisfied,
:meth:`LimitOperator.needs_more_input` is False and the executor stops the operators
upstream (no more reads are launched).
"""

from __future__ import annotations

from collections import deque

from streamdata.exec.interfaces import OpTask, PhysicalOperator, RefBundle
from streamdata.exec.operators.block_tasks import launch_block_task, slice_block
from streamdata.core import api as rt


def _count_rows(ref: object) -> int:
    """Rows of a block whose metadata does not say (a zero-copy read of the block)."""
    return rt.get(ref).num_rows  # type: ignore[arg-type]


class LimitOperator(PhysicalOperator):
    """The first ``limit`` rows of its input, in input order.

    Example:
        >>> from streamdata.exec.operators.input_data import InputDataOperator
        >>> LimitOperator(5, InputDataOperator("in", bundles=[])).name
        'Limit(5)'
    """

    def __init__(self, limit: int, input_op: PhysicalOperator) -> None:
        super().__init__(f"Limit({limit})", [input_op])
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        self.limit = limit
        self._remaining = limit
        self._outputs: deque[RefBundle | None] = deque()  # None: a slice still running
        self._pending: OpTask | None = None
        self._sliced: RefBundle | None = None

    def add_input(self, bundle: RefBundle, input_index: int) -> None:
        self.metrics.on_input(bundle)
        if self._remaining <= 0:
            return
        kept: list = []
        for ref, meta in bundle.blocks:
            if self._remaining <= 0:
                break
            rows = meta.num_rows if meta.num_rows is not None else _count_rows(ref)
            if rows <= self._remaining:
                kept.append((ref, meta))
                self._remaining -= rows
                continue
            # the straddling block: slice it remotely
            if kept:
                self._emit(RefBundle(blocks=tuple(kept), owns_blocks=bundle.owns_blocks))
                kept = []
            self._outputs.append(None)
            self._start_slice(ref, self._remaining)
            self._remaining = 0
        if kept:
            self._emit(RefBundle(blocks=tuple(kept), owns_blocks=bundle.owns_blocks))

    def _start_slice(self, ref: object, take: int) -> None:
        if rt.objects_are_local():
            table, meta = slice_block(rt.get(ref), 0, take)
            self._sliced = RefBundle(blocks=((rt.put(table), meta),), owns_blocks=True)
            return

        def done(sliced: RefBundle) -> None:
            self._pending = None
            self.metrics.tasks_finished += 1
            self._sliced = sliced

        self.metrics.tasks_submitted += 1
        self._pending = launch_block_task(slice_block, ref, 0, take, on_result=done)

    def _emit(self, bundle: RefBundle) -> None:
        self.metrics.on_output(bundle)
        self._outputs.append(bundle)

    def has_next(self) -> bool:
        if self._outputs and self._outputs[0] is None and self._sliced is not None:
            self._outputs[0] = self._sliced
            self.metrics.on_output(self._sliced)
            self._sliced = None
        return bool(self._outputs) and self._outputs[0] is not None

    def get_next(self) -> RefBundle:
        bundle = self._outputs.popleft()
        assert bundle is not None
        return bundle

    def get_active_tasks(self) -> list[OpTask]:
        return [self._pending] if self._pending is not None else []

    def needs_more_input(self) -> bool:
        return self._remaining > 0 and not self._execution_finished

    def completed(self) -> bool:
        done_in = self.inputs_complete() or self._remaining <= 0 or self._execution_finished
        return done_in and self._pending is None and not self.has_next() and not self._outputs

    def throttling_disabled(self) -> bool:
        return True

    def internal_queue_bytes(self) -> int:
        return sum(b.size_bytes() for b in self._outputs if b is not None)
