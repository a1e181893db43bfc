"""The streaming executor: runs a DAG of physical operators and streams its outputs.

A driver thread loops: collect finished work (``rt.wait`` on every operator's
in-flight refs, then each finished task's ``on_ready``), move outputs to the
queues before downstream operators (or to the user), propagate completion and
limits, resize actor pools, and hand inputs to every operator the backpressure
policy (:mod:`streamdata.exec.backpressure`) lets run. The user iterates over
:class:`OutputIterator`; closing it (or dropping it) stops the thread, cancels
work in flight and releases actors.

Example:
    >>> import pyarrow as pa, streamdata.core.api as rt
    >>> from streamdata.exec.operators.input_data import InputDataOperator
    >>> _ = rt.init(num_cpus=1, ignore_reinit_error=True)
    >>> ref = rt.put(pa.table({"a": [1, 2]}))
    >>> from streamdata.block_metadata import BlockMetadata
    >>> src = InputDataOperator("in", bundles=[RefBundle(blocks=((ref, BlockMetadata(num_rows=2, size_bytes=16)),), owns_blocks=False)])
    >>> [b.num_rows() for b in StreamingExecutor().execute(src)]
    [2]
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any

from streamdata.context import DataContext
from streamdata.context_options import effective_limits
from streamdata.errors import ExecutionError, TaskError
from streamdata.exec import backpressure, live
from streamdata.exec.autoscaler import decide_scaling
from streamdata.exec.interfaces import (
    ErrorBudget,
    ExecutionOptions,
    ExecutionResources,
    OpTask,
    PhysicalOperator,
    RefBundle,
)
from streamdata.exec.progress import ProgressBars
from streamdata.exec.resources import (
    OpResourceState,
    PoolSpec,
    can_afford_actor,
    charge_downstream_usage,
    object_store_budget,
    plan_cpu_oversubscription,
    total_usage,
)
from streamdata.exec.stats import ExecutionStats, OperatorStats
from streamdata.exec.operators.actor_pool_map import ActorPoolMapOperator
from streamdata.exec.operators.input_data import InputDataOperator
from streamdata.exec.operators.task_pool_map import TaskPoolMapOperator
from streamdata.core import api as rt

_DONE = object()
_WAIT_S = 0.02


class _LoopThreads:
    """Long-lived threads that run executor loops, reused from one execution to the next.

    The runtime starts worker processes from whichever thread asks for them, and a
    worker asks the kernel to kill it when its parent *thread* exits
    (``PR_SET_PDEATHSIG``); a loop thread that ended with its execution would take the
    workers and actors it started with it. These threads never exit (they are daemons),
    so the processes they start live as long as the runtime.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: list[queue.SimpleQueue[Any]] = []
        self._count = 0

    def submit(self, fn: Any) -> None:
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
            if inbox is None:
                inbox = queue.SimpleQueue()
                self._count += 1
                threading.Thread(target=self._serve, args=(inbox,), daemon=True,
                                 name=f"streamdata-executor-{self._count}").start()
        inbox.put(fn)

    def _serve(self, inbox: queue.SimpleQueue[Any]) -> None:
        while True:
            fn = inbox.get()
            try:
                fn()
            except BaseException:  # noqa: BLE001 - the loop reports its own errors
                pass
            del fn  # an idle thread must not keep the finished execution (and its refs) alive
            with self._lock:
                self._idle.append(inbox)


_LOOP_THREADS = _LoopThreads()


def topological_order(dag: PhysicalOperator) -> list[PhysicalOperator]:
    """Every operator of ``dag`` once, inputs first."""
    return list(dag.post_order())


def apply_cpu_oversubscription(ops: list[PhysicalOperator], total_cpus: float) -> dict[str, int]:
    """Let task operators run with ``num_cpus=0`` when actor pools' minimum sizes hold every CPU.

    Returns ``{operator name: tasks at once}`` for the operators changed (also shown by
    ``explain()``).
    """

    specs, index = [], []
    for op in ops:
        if isinstance(op, ActorPoolMapOperator):
            specs.append(PoolSpec(name=op.name, is_actor_pool=True,
                                  cpu_per_unit=op.per_actor_resources().cpu, min_units=op.min_size))
            index.append(op)
        elif isinstance(op, TaskPoolMapOperator):
            specs.append(PoolSpec(name=op.name, is_actor_pool=False, cpu_per_unit=op.per_task_resources().cpu))
            index.append(op)
    plan = plan_cpu_oversubscription(specs, total_cpus)
    changed = {}
    for i, cap in plan.items():
        op = index[i]
        op.cpu_oversubscription_cap = cap  # type: ignore[attr-defined]
        changed[op.name] = cap
    return changed


class _BundleQueue:
    """A FIFO of bundles that knows its total size without summing it."""

    __slots__ = ("_items", "bytes")

    def __init__(self) -> None:
        self._items: deque[RefBundle] = deque()
        self.bytes = 0

    def append(self, bundle: RefBundle) -> None:
        self._items.append(bundle)
        self.bytes += bundle.size_bytes()

    def popleft(self) -> RefBundle:
        bundle = self._items.popleft()
        self.bytes -= bundle.size_bytes()
        return bundle

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)


class _OpState:
    """The executor's bookkeeping for one operator: the queues of bundles before it."""

    def __init__(self, op: PhysicalOperator, index: int) -> None:
        self.op = op
        self.index = index
        self.inqueues: list[_BundleQueue] = [_BundleQueue() for _ in op.input_dependencies]
        self.consumers: list[tuple[_OpState, int]] = []
        self.input_done_sent = [False] * len(op.input_dependencies)
        self.all_done_sent = False
        self.finished_marked = False
        self.start_time = 0.0
        self.end_time: float | None = None
        self.peak_bytes = 0.0
        self.outputs_taken = 0
        #: indices of the operators feeding this one (set once the DAG is ordered)
        self.upstream: tuple[int, ...] = ()

    def queued(self) -> int:
        return sum(len(q) for q in self.inqueues)

    def queued_bytes(self) -> int:
        return sum(q.bytes for q in self.inqueues)


class OutputIterator(Iterator[RefBundle]):
    """The stream of final output bundles. ``close()`` stops the execution."""

    def __init__(self, executor: StreamingExecutor) -> None:
        self._executor = executor
        self._closed = False

    def __iter__(self) -> OutputIterator:
        return self

    def __next__(self) -> RefBundle:
        if self._closed:
            raise StopIteration
        item = self._executor._next_output()
        if item is _DONE:
            self._closed = True
            self._executor._join()
            raise StopIteration
        return item

    def close(self) -> None:
        """Stop the execution now (cancel work, release actors)."""
        if not self._closed:
            self._closed = True
            self._executor.shutdown()

    def __enter__(self) -> OutputIterator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutting down
            pass

    @property
    def stats(self) -> ExecutionStats:
        return self._executor.stats()


class StreamingExecutor:
    """Runs physical DAGs on the runtime with bounded memory.

    Outputs keep the order of the inputs (``DataContext.preserve_order``,
    default True); set it to False to let fast tasks overtake slow ones.

    Args:
        ctx: the data context (budgets, progress bars, error tolerance); default the current one.
        name: shown in progress bars and thread names.
    """

    def __init__(self, ctx: DataContext | None = None, *, name: str = "dataset") -> None:
        self.ctx = ctx if ctx is not None else DataContext.get_current()
        self.name = name
        self._states: list[_OpState] = []
        self._output: queue.Queue[Any] = queue.Queue()
        self._output_bytes = 0
        self._lock = threading.Lock()
        self._wakeup = threading.Event()
        self._shutdown = threading.Event()
        self._started = False
        self._done = threading.Event()
        self._error: BaseException | None = None
        self._budget = 0.0
        self._limits = ExecutionResources()
        self._options = ExecutionOptions()
        self._start = 0.0
        self._end: float | None = None
        self._peak_store = 0.0
        self._last_sample = 0.0
        self._progress: ProgressBars | None = None
        self._finished = False
        self.oversubscribed: dict[str, int] = {}

    # ------------------------------------------------------------------ public
    def execute(self, dag: PhysicalOperator, *,
                oversubscribed: Mapping[str, int] | None = None) -> OutputIterator:
        """Start running ``dag`` in a driver thread; iterate the result for its outputs.

        Args:
            dag: the output operator of the physical plan.
            oversubscribed: the CPU oversubscription notes the compiler already applied to
                ``dag`` (``{operator name: tasks at once}``); None: apply them here.
        """

        if self._started:
            raise ExecutionError("a StreamingExecutor runs one DAG; make a new one")
        self._started = True
        ops = topological_order(dag)
        self._states = [_OpState(op, i) for i, op in enumerate(ops)]
        by_id = {st.op.id: st for st in self._states}
        for st in self._states:
            for idx, dep in enumerate(st.op.input_dependencies):
                by_id[dep.id].consumers.append((st, idx))
            st.upstream = tuple(by_id[dep.id].index for dep in st.op.input_dependencies)
        for st in self._states:  # a stage no resource here can ever run fails now, not hangs
            rt.check_feasible(f"operator {st.op.name}", getattr(st.op, "ray_remote_args", None) or {})
        resources = rt.cluster_resources()
        stats = rt.object_store_stats()
        self._budget = object_store_budget(stats["capacity_bytes"],
                                           share=self.ctx.execution_object_store_share,
                                           explicit_limit=self.ctx.execution_memory_limit)
        # execution_options.resource_limits / exclude_resources narrow the cluster's
        cpu, gpu, self._budget = effective_limits(
            getattr(self.ctx, "execution_options", None), cpu=float(resources.get("CPU", 0.0)),
            gpu=float(resources.get("GPU", 0.0)), object_store_memory=float(self._budget))
        self._limits = ExecutionResources(cpu=cpu, gpu=gpu, object_store_memory=float(self._budget))
        self.oversubscribed = (dict(oversubscribed) if oversubscribed is not None
                               else apply_cpu_oversubscription(ops, self._limits.cpu))
        options = ExecutionOptions(
            resource_limits=self._limits,
            preserve_order=self.ctx.effective_preserve_order(),
            target_max_block_size=self.ctx.target_max_block_size,
            error_budget=ErrorBudget(self.ctx.max_errored_blocks),
            data_context=self.ctx)
        self._options = options
        self._start = time.perf_counter()
        for st in self._states:
            st.start_time = self._start
        self._progress = ProgressBars([st.op.name for st in self._states],
                                      enabled=self.ctx.progress_bars_enabled())
        self._live_id = live.register(self)  # for monitoring: metadata only, read when asked
        _LOOP_THREADS.submit(self._run)
        return OutputIterator(self)

    def hold_output_bytes(self, delta: int) -> None:
        """Count ``delta`` more bytes as output not yet consumed (negative: consumed).

        For consumers that take bundles from the output and keep them a while before
        their user does (the ``streaming_split`` coordinator's per-split queues): their
        bytes keep holding back the execution until they are really consumed.
        """
        with self._lock:
            self._output_bytes += delta
        if delta < 0:
            self._wakeup.set()

    def shutdown(self) -> None:
        """Stop the loop, cancel work in flight and release actors (idempotent)."""
        self._shutdown.set()
        self._wakeup.set()
        self._join()

    def stats(self) -> ExecutionStats:
        """Statistics so far (complete once the output is exhausted)."""
        end = self._end if self._end is not None else time.perf_counter()
        ops = []
        for st in self._states:
            if isinstance(st.op, InputDataOperator):
                continue  # a buffer of inputs (read tasks, blocks): its consumer's row says what ran
            m = st.op.metrics
            op_end = st.end_time if st.end_time is not None else end
            ops.append(OperatorStats(
                name=st.op.name, wall_s=max(0.0, op_end - st.start_time), cpu_s=m.task_cpu_s,
                tasks=m.tasks_submitted, blocks_out=m.blocks_out, rows_out=m.rows_out,
                bytes_out=m.bytes_out, peak_bytes=st.peak_bytes, errored_blocks=list(m.errored_blocks)))
        return ExecutionStats(operators=ops, wall_s=max(0.0, end - self._start),
                              # sampled every 50 ms: a short run's peak is at least its largest
                              # operator's blocks in flight
                              peak_object_store_bytes=max(self._peak_store, *(st.peak_bytes for st in self._states)),
                              budget_bytes=self._budget,
                              finished=self._finished)

    @property
    def budget_bytes(self) -> float:
        """The object-store memory budget of this execution."""
        return self._budget

    # ------------------------------------------------------------------ consumer side
    def _next_output(self) -> Any:
        while True:
            try:
                item = self._output.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _DONE:
                if self._error is not None:
                    err, self._error = self._error, None
                    self._join()
                    if isinstance(err, TaskError) and not err.internal_frames:
                        # a task's error: its frames are in its message; the loop thread's are noise
                        raise err.with_traceback(None) from None
                    raise err
                return _DONE
            with self._lock:
                self._output_bytes -= item.size_bytes()
            self._wakeup.set()
            return item

    def _join(self) -> None:
        if self._started and not threading.current_thread().name.startswith("streamdata-executor"):
            self._done.wait(timeout=30)

    # ------------------------------------------------------------------ the loop
    def _run(self) -> None:
        try:
            # operators start here, in a loop thread: processes the runtime starts for them
            # (actors) live as long as the thread that asked for them
            for st in self._states:
                st.start_time = time.perf_counter()
                st.op.start(self._options)
            while not self._shutdown.is_set():
                self._step()
                if self._all_done():
                    self._finished = True
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._error = exc
        finally:
            self._end = time.perf_counter()
            for st in self._states:
                try:
                    st.op.shutdown()
                except Exception:  # noqa: BLE001 - best effort
                    pass
                if st.end_time is None:
                    st.end_time = self._end
            if self._progress is not None:
                self._progress.close(success=self._error is None)
            if self.ctx.verbose_stats_logs and self._finished:
                print(self.stats().summary())
            live.finished(self._live_id, self)
            self._output.put(_DONE)
            self._done.set()

    def _step(self) -> None:
        waited = self._collect_finished()
        self._move_outputs()
        self._propagate_completion()
        self._propagate_limits()
        self._autoscale()
        dispatched = self._dispatch()
        self._move_outputs()
        self._propagate_completion()
        self._sample()
        if not waited and not dispatched:
            self._wakeup.wait(_WAIT_S)
            self._wakeup.clear()

    def _collect_finished(self) -> bool:
        """Run ``on_ready`` of every finished task; True if it waited on the runtime."""

        tasks: dict[Any, OpTask] = {}
        for st in self._states:
            for task in st.op.get_active_tasks():
                tasks[task.waitable()] = task
        if not tasks:
            return False
        refs = list(tasks)
        ready, _ = rt.wait(refs, num_returns=len(refs), timeout=0)
        if not ready and not self._has_dispatchable():
            ready, _ = rt.wait(refs, num_returns=1, timeout=_WAIT_S)
        for ref in ready:
            tasks[ref].on_ready()
        return True

    def _has_dispatchable(self) -> bool:
        return any(st.queued() and st.op.throttling_disabled() for st in self._states)

    def _move_outputs(self) -> None:
        last = self._states[-1]
        for st in self._states:
            op = st.op
            while op.has_next():
                bundle = op.get_next()
                st.outputs_taken += 1
                if st is last:
                    with self._lock:
                        self._output_bytes += bundle.size_bytes()
                    self._output.put(bundle)
                    continue
                for consumer, idx in st.consumers:
                    if not consumer.finished_marked:
                        consumer.inqueues[idx].append(bundle)
            # operators that launch no work take their inputs at once
            if op.throttling_disabled() and not st.finished_marked:
                for idx, q in enumerate(st.inqueues):
                    while q and op.should_add_input():
                        op.add_input(q.popleft(), idx)

    def _propagate_completion(self) -> None:
        now = time.perf_counter()
        for st in self._states:
            op = st.op
            for idx, dep in enumerate(op.input_dependencies):
                if not st.input_done_sent[idx] and dep.completed() and not st.inqueues[idx]:
                    st.input_done_sent[idx] = True
                    op.input_done(idx)
            if not st.all_done_sent and all(st.input_done_sent):
                st.all_done_sent = True
                op.all_inputs_done()
            if st.end_time is None and op.completed() and all(st.input_done_sent):
                st.end_time = now

    def _propagate_limits(self) -> None:
        """Stop operators whose consumers all need nothing more (a satisfied limit)."""
        for st in reversed(self._states):
            if st.finished_marked or st is self._states[-1]:
                continue
            if st.consumers and all(c.finished_marked or not c.op.needs_more_input()
                                    for c, _ in st.consumers):
                st.finished_marked = True
                st.op.mark_execution_finished()
                for q in st.inqueues:
                    q.clear()
        for st in self._states:
            if st.finished_marked and st is not self._states[-1]:
                for consumer, idx in st.consumers:
                    if not consumer.op.needs_more_input():
                        consumer.inqueues[idx].clear()

    def _autoscale(self) -> None:
        pools = [st for st in self._states if isinstance(st.op, ActorPoolMapOperator)]
        if not pools:
            return
        used = ExecutionResources()
        for st in self._states:
            used = used + st.op.current_resource_usage()
        reserve = max((st.op.per_task_resources().cpu for st in self._states
                       if isinstance(st.op, TaskPoolMapOperator) and not st.op.completed()
                       and st.op.cpu_oversubscription_cap is None), default=0.0)
        for st in pools:
            op = st.op
            assert isinstance(op, ActorPoolMapOperator)
            if op.completed() or st.finished_marked:
                continue
            afford = can_afford_actor(op.per_actor_resources(), used, self._limits, reserve)
            delta = decide_scaling(op.autoscaling_state(st.queued(), afford))
            if delta:
                op.scale(delta)

    def _snapshot(self) -> list[OpResourceState]:
        with self._lock:
            final_out = float(self._output_bytes)
        unconsumed = []
        for st in self._states:
            if st is self._states[-1]:
                unconsumed.append(final_out)
            else:
                # what this operator produced that waits before its consumers
                unconsumed.append(float(sum(c.inqueues[i].bytes for c, i in st.consumers)))
        fields = []
        for st in self._states:
            op = st.op
            fields.append(dict(
                name=op.name, throttled=not op.throttling_disabled(),
                queued_inputs=0 if st.finished_marked else st.queued(),
                can_accept=op.should_add_input() and not st.finished_marked,
                # every awaited ref counts (an actor pool waiting for its actors to start
                # is making progress, so the liveness rule must not fire)
                active_tasks=len(op.get_active_tasks()), pending_output_bytes=op.pending_output_bytes(),
                internal_bytes=float(op.internal_queue_bytes()),
                incremental=op.incremental_resource_usage(), current=op.current_resource_usage(),
                completed=op.completed(), upstream=st.upstream))
        charged = charge_downstream_usage(
            [OpResourceState(name=f["name"], throttled=f["throttled"], internal_bytes=f["internal_bytes"])
             for f in fields], unconsumed, [[c.index for c, _ in st.consumers] for st in self._states])
        return [OpResourceState(output_bytes=b, **f) for f, b in zip(fields, charged)]

    def _dispatch(self) -> bool:
        dispatched = False
        if not any(q for st in self._states for q in st.inqueues):
            return False  # nothing waits to be dispatched: no snapshot to take
        for _ in range(10_000):
            states = self._snapshot()
            for st, s in zip(self._states, states):
                st.peak_bytes = max(st.peak_bytes, s.memory_usage())
            with self._lock:
                empty = self._output_bytes == 0 and self._output.empty()
            i = backpressure.pick_next(states, budget=self._budget, limits=self._limits,
                                       output_queue_empty=empty)
            if i is None:
                break
            st = self._states[i]
            idx = next(k for k, q in enumerate(st.inqueues) if q)
            st.op.add_input(st.inqueues[idx].popleft(), idx)
            dispatched = True
        live.note_queued(self._live_id, [st.queued() for st in self._states])
        return dispatched

    def _all_done(self) -> bool:
        last = self._states[-1]
        return last.op.completed() and not last.op.has_next()

    def _sample(self) -> None:
        now = time.perf_counter()
        if now - self._last_sample < 0.05:
            return
        self._last_sample = now
        try:
            used = rt.object_store_stats()["used_bytes"]
        except Exception:  # noqa: BLE001 - runtime shutting down
            return
        self._peak_store = max(self._peak_store, float(used))
        if self._progress is not None and self._progress.enabled:
            for st in self._states:
                self._progress.update(st.index, done=st.op.metrics.blocks_out,
                                      total=st.op.num_outputs_total(), status=st.op.progress_str())


__all__ = [
    "OutputIterator",
    "StreamingExecutor",
    "apply_cpu_oversubscription",
    "topological_order",
    "total_usage",
]
