"""What task-pool and actor-pool maps share: input coalescing, result collection, errors.

Subclasses decide *where* a bundle runs (:meth:`MapOperator._try_launch`); this base
turns a finished call (a block ref plus a :class:`~streamdata.exec.operators.map_task.TaskOutput`
ref) into an output :class:`RefBundle`, keeps outputs in order when asked to, and
applies ``DataContext.max_errored_blocks``.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Sequence
from typing import Any

from streamdata.errors import TaskError
from streamdata.exec.interfaces import (
    ExecutionOptions,
    ExecutionResources,
    OpTask,
    PhysicalOperator,
    RefBundle,
)
from streamdata.exec.operators.in_order import InOrder
from streamdata.exec import memory_trim
from streamdata.exec.resources import remote_args_resources
from streamdata.exec.operators.map_transformer import MapTransformer, TaskContext
from streamdata.core import api as rt

#: with ``preserve_order``, at least this many calls may have unreleased outputs (running,
#: or finished and waiting for an earlier call); see :meth:`MapOperator.order_window_full`
MIN_ORDER_WINDOW = 16

#: the output of a task whose chain ends in a write, before one finished: its one-row
#: result table (what the datasink's ``write`` returned, pickled)
WRITE_RESULT_BYTES = 1024


class BlockBundler:
    """Coalesces small input bundles until they hold at least ``min_rows`` rows.

    Args:
        min_rows: rows a bundle should reach before it runs; None passes bundles through.

    Example:
        >>> from streamdata.block_metadata import BlockMetadata
        >>> small = RefBundle(blocks=(("r", BlockMetadata(num_rows=3, size_bytes=24)),), owns_blocks=True)
        >>> b = BlockBundler(5)
        >>> b.add(small); b.has_bundle()
        False
        >>> b.add(small); b.has_bundle(), b.get_bundle().num_rows()
        (True, 6)
    """

    def __init__(self, min_rows: int | None) -> None:
        self.min_rows = min_rows
        self._parts: list[RefBundle] = []
        self._rows = 0
        self._ready: deque[RefBundle] = deque()

    def add(self, bundle: RefBundle) -> None:
        if self.min_rows is None:
            self._ready.append(bundle)
            return
        self._parts.append(bundle)
        rows = bundle.num_rows()
        self._rows += rows if rows is not None else self.min_rows  # unknown: run it
        if self._rows >= self.min_rows:
            self._ready.append(RefBundle.merge(self._parts))
            self._parts, self._rows = [], 0

    def flush(self) -> None:
        """Release whatever is buffered as one (short) bundle."""
        if self._parts:
            self._ready.append(RefBundle.merge(self._parts))
            self._parts, self._rows = [], 0

    def has_bundle(self) -> bool:
        return bool(self._ready)

    def get_bundle(self) -> RefBundle:
        return self._ready.popleft()

    def clear(self) -> None:
        self._parts, self._rows = [], 0
        self._ready.clear()

    def num_bundles(self) -> int:
        return len(self._ready) + (1 if self._parts else 0)

    def size_bytes(self) -> int:
        return sum(b.size_bytes() for b in self._parts) + sum(b.size_bytes() for b in self._ready)


def block_description(bundle: RefBundle | None, task_index: int) -> str:
    """How a warning names a failed block: its input files, else the task number."""
    files: list[str] = []
    if bundle is not None:
        for _, meta in bundle.blocks:
            files.extend(meta.input_files)
    return input_description(files, task_index)


def input_description(files: Sequence[str], task_index: int) -> str:
    """How an error names a failed task's input: its files, else the task number.

    Example:
        >>> input_description(["a.parquet"], 3), input_description([], 3)
        ('a.parquet', 'block of task 3')
    """
    if files:
        return ", ".join(files[:3]) + (f" (+{len(files) - 3} more)" if len(files) > 3 else "")
    return f"block of task {task_index}"


class MapOperator(PhysicalOperator):
    """Base of map operators running a :class:`MapTransformer` on bundles of blocks.

    Args:
        name: display name.
        input_op: the operator feeding this one.
        transformer: the chain of stages each call runs.
        ray_remote_args: resources and options of each task or actor.
        min_rows_per_bundle: coalesce inputs up to this many rows per call (batch_size).
        estimated_output_bytes_per_task: the guess used before the first task finished.
    """

    def __init__(self, name: str, input_op: PhysicalOperator, transformer: MapTransformer, *,
                 ray_remote_args: dict[str, Any] | None = None, min_rows_per_bundle: int | None = None,
                 estimated_output_bytes_per_task: int | None = None) -> None:
        super().__init__(name, [input_op])
        self.transformer = transformer
        self.ray_remote_args = dict(ray_remote_args or {})
        self._bundler = BlockBundler(min_rows_per_bundle)
        self._queued: deque[RefBundle] = deque()  # bundles ready to run, waiting for a slot
        self._outputs: deque[RefBundle] = deque()
        self._active: dict[int, OpTask] = {}
        self._task_inputs: dict[int, RefBundle] = {}
        self._next_task_index = 0
        self._ordered: InOrder[list[RefBundle]] = InOrder()
        self._estimated_output = estimated_output_bytes_per_task
        self._empty_output: RefBundle | None = None
        self._emitted_any = False
        self.output_schema: Any = None
        self._transformer_ref: Any = None
        self._context_ref: Any = None

    # ---- lifecycle
    def start(self, options: ExecutionOptions) -> None:
        super().start(options)
        self._transformer_ref = rt.put(self.transformer)
        self._context_ref = rt.put(options.data_context) if options.data_context is not None else None

    def shutdown(self) -> None:
        super().shutdown()
        self._active.clear()
        self._task_inputs.clear()
        self._queued.clear()
        self._bundler.clear()

    # ---- input
    def add_input(self, bundle: RefBundle, input_index: int) -> None:
        self.metrics.on_input(bundle)
        if self._execution_finished:
            return
        self._bundler.add(bundle)
        while self._bundler.has_bundle():
            self._queued.append(self._bundler.get_bundle())
        self._try_launch()

    def all_inputs_done(self) -> None:
        super().all_inputs_done()
        self._bundler.flush()
        while self._bundler.has_bundle():
            self._queued.append(self._bundler.get_bundle())
        self._try_launch()

    def mark_execution_finished(self) -> None:
        super().mark_execution_finished()
        self._queued.clear()
        self._bundler.clear()

    def _try_launch(self) -> None:
        """Launch queued bundles where there is room (subclasses)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _try_launch()")

    def _next_context(self) -> TaskContext:
        idx = self._next_task_index
        self._next_task_index += 1
        limits = self.options.resource_limits
        return TaskContext(task_index=idx, op_name=self.name,
                           target_max_block_size=self.options.target_max_block_size,
                           memory_trim_bytes=memory_trim.threshold_for_budget(
                               limits.object_store_memory, limits.cpu))

    def _register(self, ctx: TaskContext, bundle: RefBundle, block_ref: Any, out_ref: Any,
                  *, on_done: Any = None) -> None:
        """Track one launched call; ``on_done(task_index)`` runs after its result is collected."""
        idx = ctx.task_index

        def on_ready() -> None:
            self._active.pop(idx, None)
            inp = self._task_inputs.pop(idx, None)
            try:
                self._collect(idx, inp, block_ref, out_ref)
            finally:
                if on_done is not None:
                    on_done(idx)

        self._active[idx] = OpTask(out_ref, on_ready, task_index=idx)
        self._task_inputs[idx] = bundle
        self.metrics.tasks_submitted += 1

    # ---- ordered outputs
    def _parallelism(self) -> int:
        """How many calls this operator can run at once (subclasses know better)."""
        cpu = self.per_task_resources().cpu
        limit = self.options.resource_limits.cpu
        return int(limit // cpu) if cpu > 0 and limit > 0 else MIN_ORDER_WINDOW

    def order_window_full(self) -> bool:
        """With ``preserve_order``: whether as many calls as the window allows have outputs
        that are not released yet (running, or done and waiting for an earlier call).

        A slow call at the head of the order holds every later output back; without this
        bound the operator would keep launching calls behind it (a downstream ``limit``
        would never see rows, and the whole input would run). The window is
        ``max(MIN_ORDER_WINDOW, 4 x parallelism)``, so stragglers shorter than a few
        rounds of work cost nothing.

        Example:
            >>> from streamdata.exec.operators.input_data import InputDataOperator
            >>> op = MapOperator("m", InputDataOperator("in", bundles=[]), MapTransformer([]))
            >>> op.order_window_full()
            False
        """
        if not self.options.preserve_order:
            return False
        window = max(MIN_ORDER_WINDOW, 4 * self._parallelism())
        return len(self._active) + len(self._ordered) >= window

    # ---- results
    def _collect(self, idx: int, inp: RefBundle | None, block_ref: Any, out_ref: Any) -> None:
        try:
            out = rt.get(out_ref)
        except Exception as exc:  # noqa: BLE001 - user errors and system errors alike
            self.metrics.tasks_failed += 1
            self._on_error(exc, inp, idx)
            self._finish_task(idx, [])
            return
        self.metrics.tasks_finished += 1
        self.metrics.task_cpu_s += out.cpu_s
        self.metrics.task_wall_s += out.wall_s
        if out.schema is not None and self.output_schema is None:
            self.output_schema = out.schema
        bundles, self._empty_output = out.outputs(block_ref, self.metrics, self._empty_output)
        self._finish_task(idx, bundles)

    def _finish_task(self, idx: int, bundles: list[RefBundle]) -> None:
        if not self.options.preserve_order:
            self._outputs.extend(bundles)
            self._emitted_any |= bool(bundles)
            return
        for ready in self._ordered.add(idx, bundles):
            self._outputs.extend(ready)
            self._emitted_any |= bool(ready)

    def _on_error(self, exc: BaseException, inp: RefBundle | None, idx: int) -> None:
        """Skip the failed block when the error budget allows, else raise the user's error
        (its type, its remote traceback) naming this operator."""
        err: BaseException = exc
        what = block_description(inp, idx)
        internal = bool(getattr(self.options.data_context, "log_internal_stack_trace", False))
        if isinstance(exc, TaskError) and exc.cause is not None and not isinstance(exc.cause, TaskError):
            err = TaskError.wrap(exc.cause, exc.remote_traceback, self.name)
            # one traceback: the user's frames (in the message), the operator and input first
            err.failed_input, err.internal_frames = what, internal
        budget = self.options.error_budget
        if isinstance(exc, TaskError) and budget.allow(f"{self.name}: {what}"):
            self.metrics.errored_blocks.append(what)
            reason = exc.cause if exc.cause is not None else exc
            warnings.warn(f"{self.name}: skipped {what} after {type(reason).__name__}: {reason} "
                          f"({len(budget.skipped)} of max_errored_blocks="
                          f"{'unlimited' if budget.limit < 0 else budget.limit} skipped)",
                          RuntimeWarning, stacklevel=2)
            return
        if isinstance(err, TaskError) and not internal:
            raise err.with_traceback(None) from None  # the engine's frames stay hidden
        raise err

    # ---- output
    def has_next(self) -> bool:
        if self._outputs:
            return True
        return (self._empty_output is not None and not self._emitted_any
                and self._all_work_done())

    def get_next(self) -> RefBundle:
        if self._outputs:
            return self._outputs.popleft()
        bundle, self._empty_output = self._empty_output, None
        self._emitted_any = True
        assert bundle is not None
        return bundle

    def _all_work_done(self) -> bool:
        return ((self.inputs_complete() or self._execution_finished) and not self._active
                and not self._queued and self._bundler.num_bundles() == 0)

    def completed(self) -> bool:
        return self._all_work_done() and not self.has_next()

    # ---- state for the executor
    def get_active_tasks(self) -> list[OpTask]:
        return list(self._active.values())

    def num_active_tasks(self) -> int:
        return len(self._active)

    def internal_queue_size(self) -> int:
        return len(self._queued) + self._bundler.num_bundles()

    def internal_queue_bytes(self) -> int:
        """Bytes held for this operator: queued inputs, outputs not taken, and the inputs
        of calls in flight that it owns (they stay in the store until the call ends)."""
        return (sum(b.size_bytes() for b in self._queued) + self._bundler.size_bytes()
                + sum(b.size_bytes() for b in self._outputs)
                + sum(b.size_bytes() for done in self._ordered.waiting() for b in done)
                + sum(b.size_bytes() for b in self._task_inputs.values() if b.owns_blocks))

    def estimated_output_bytes_per_task(self) -> float:
        """Observed average output of a task, else (a chain ending in a write) one result
        row, else the lowering's estimate, else the input size."""
        avg = self.metrics.average_output_bytes_per_task()
        if avg is not None:
            return avg
        if self.transformer.ends_in_write():
            # the read's size would be the estimate of a read fused with its write: over a
            # small budget only one task would run until the first one finished
            return float(WRITE_RESULT_BYTES)
        if self._estimated_output is not None:
            return float(self._estimated_output)
        if self.metrics.blocks_in and self.metrics.tasks_submitted:
            return self.metrics.bytes_in / max(1, self.metrics.tasks_submitted)
        return 0.0

    def set_estimated_output_bytes_per_task(self, nbytes: int | None) -> None:
        """The guess used before the first task finished (the lowering sets it from the
        read tasks' metadata when the execution starts)."""
        self._estimated_output = nbytes

    def pending_output_bytes(self) -> float:
        return self.estimated_output_bytes_per_task() * len(self._active)

    def per_task_resources(self) -> ExecutionResources:
        return remote_args_resources(self.ray_remote_args)

    def progress_str(self) -> str:
        return f"{len(self._active)} active, {self.internal_queue_size()} queued"
