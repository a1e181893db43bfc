"""The all-to-all operator: map side and reduce side through the object store.

:class:`AllToAllOperator` runs one :class:`~streamdata.exec.operators.all_to_all.spec.ShuffleSpec`
(sort, random shuffle, shuffled repartition, aggregate, map_groups, join) in phases:

1. **input** — bundles are buffered as ObjectRefs (never fetched). A spec that
   prepares blocks (partial aggregation) runs a prepare task per bundle as it
   arrives; range-partitioned specs sample keys in those tasks (for a sort, sample
   tasks start once the buffered data needs more than one partition).
2. **plan** — once every input is done: the number of partitions ``n`` (from the
   data size, the CPUs and the memory budget; ``DataContext.shuffle_num_partitions``
   or the operation's own argument override it) and, for key ranges, the boundaries
   (from the small samples, the only data the driver reads).
3. **map** — tasks with ``num_returns=n + 1`` cut groups of input blocks into ``n``
   parts each; the parts stay in the object store (which spills when full) and the
   input refs are dropped as soon as their map task finished.
4. **reduce** — task ``i`` merges part ``i`` of every map output; outputs are
   emitted in partition order (so a sort's output is globally ordered). The parts
   of a reduce task are dropped when it finished.

With ``n == 1`` the map phase is skipped: one reduce task gets every (prepared)
block. The lowering (:mod:`streamdata.plan.lowering.all_to_all`) builds this operator
from a logical node; exec never sees the node.

How many partitions and map tasks: :mod:`streamdata.exec.operators.all_to_all.policy`.

Example:
    >>> from streamdata.exec.operators.input_data import InputDataOperator
    >>> from streamdata.exec.operators.all_to_all.spec import SortSpec
    >>> op = AllToAllOperator("Sort(x)", [InputDataOperator("in", bundles=[])], SortSpec(keys=(("x", "ascending"),)))
    >>> op.progress_str()
    'input: 0 prepare, 0+0 map, 0+0 reduce'
"""

from __future__ import annotations

import math
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from streamdata.errors import PlanError, TaskError
from streamdata.exec.interfaces import (
    ExecutionOptions,
    ExecutionResources,
    OpTask,
    PhysicalOperator,
    RefBundle,
)
from streamdata.exec.operators.all_to_all.policy import (
    MAX_MAP_INPUT_BYTES,
    MIN_PART_BYTES,
    MIN_PARTITION_BYTES,
    MIN_PREPARE_BYTES,
    SINGLE_TASK_BYTES,
    SPLIT_MERGE_BYTES,
    choose_num_partitions,
    group_by_size,
    reduce_on_driver,
    run_as_single_task,
    split_merge_ways,
)
from streamdata.exec.operators.all_to_all.spec import JoinSpec, ShuffleSpec
from streamdata.exec.operators.in_order import InOrder
from streamdata.exec.resources import placement_options
from streamdata.core import api as rt
from streamdata.exec.operators.all_to_all.tasks import map_task, prepare_task, reduce_parts, reduce_task


@dataclass(slots=True)
class _Item:
    """One unit of map-side input: blocks of one input (original or prepared)."""

    refs: list[Any]
    size: int
    rows: int | None
    sample: Any = None  # ref of its key sample, once taken
    fingerprint: int | None = None  # its content fingerprint, once taken (canonical order)


class AllToAllOperator(PhysicalOperator):
    """Runs a shuffle spec as prepare, map and reduce tasks (see the module docstring).

    Args:
        name: display name (the logical node's).
        input_ops: the operators feeding it (two for a join: left, right).
        spec: what the tasks do.
        num_partitions: a fixed number of output partitions (None: chosen from size).
        data_context: the DataContext (``shuffle_num_partitions``, block sizes).
        remote_args: options of every task (default one CPU each, 3 retries).
        single_task_bytes: a spec with ``small_as_one_task`` runs as one task when its
            whole input holds at most this much (see
            :func:`~streamdata.exec.operators.all_to_all.policy.run_as_single_task`;
            0 turns it off).
        split_merge_bytes: ... unless its spec may split that task's merge over shared
            inputs (``can_split_runs``): then one reduce per CPU, each over every block,
            as long as each gets this much
            (:func:`~streamdata.exec.operators.all_to_all.policy.split_merge_ways`).
    """

    def __init__(self, name: str, input_ops: Sequence[PhysicalOperator], spec: ShuffleSpec, *,
                 num_partitions: int | None = None, data_context: Any = None,
                 remote_args: dict[str, Any] | None = None,
                 single_task_bytes: int = SINGLE_TASK_BYTES,
                 split_merge_bytes: int = SPLIT_MERGE_BYTES) -> None:
        super().__init__(name, input_ops)
        if len(input_ops) != spec.num_inputs:
            raise PlanError(f"{name} needs {spec.num_inputs} input(s), got {len(input_ops)}")
        if num_partitions is not None and num_partitions < 1:
            raise PlanError(f"{name}: num_partitions must be >= 1, got {num_partitions}")
        self.spec = spec
        self.fixed_partitions = num_partitions
        self.single_task_bytes = single_task_bytes
        self.split_merge_bytes = split_merge_bytes
        self.data_context = data_context
        self.remote_args = {"num_cpus": 1, "max_retries": 3, **(remote_args or {})}
        k = spec.num_inputs
        self._items: list[list[_Item]] = [[] for _ in range(k)]
        self._unprepared: list[list[_Item]] = [[] for _ in range(k)]
        self._schemas: list[Any] = [None] * k
        self._validated = [False] * k
        self._buffered_bytes = 0
        self._phase = "input"
        self._num_partitions: int | None = None
        self._shared_inputs = False  # every reduce task gets every block (a split merge)
        self._reduces_left = 0
        self._total_bytes = 0  # of every input block, known once all inputs are done
        self._seq = 0
        self._prepare: dict[int, OpTask] = {}
        self._maps: dict[int, OpTask] = {}
        self._map_queue: deque[tuple[int, int, list[Any]]] = deque()
        self._map_parts: list[dict[int, list[Any]]] = [{} for _ in range(k)]
        self._num_maps = [0] * k
        self._reduces: dict[int, OpTask] = {}
        self._reduce_queue: deque[int] = deque()
        self._finished: InOrder[list[RefBundle]] = InOrder()
        self._outputs: deque[RefBundle] = deque()
        self._empty_output: RefBundle | None = None
        self._emitted_any = False
        self._boundaries: Any = None
        self._context_ref: Any = None
        self._remote_fns: dict[tuple[Callable[..., Any], int], Any] = {}
        self._part_rows: list[dict[int, list[int]]] = [{} for _ in range(k)]

    def _remote(self, fn: Callable[..., Any], num_returns: int) -> Any:
        remote_fn = self._remote_fns.get((fn, num_returns))
        if remote_fn is None:
            remote_fn = rt.remote(fn).options(num_returns=num_returns, **self.remote_args)
            self._remote_fns[(fn, num_returns)] = remote_fn
        return remote_fn

    # ------------------------------------------------------------------ lifecycle
    def start(self, options: ExecutionOptions) -> None:
        super().start(options)
        if self.data_context is None:
            self.data_context = options.data_context
        self.remote_args.update(placement_options(self.data_context, self.remote_args))

    def shutdown(self) -> None:
        super().shutdown()
        self._drop_everything()

    def _drop_everything(self) -> None:
        self._prepare.clear()
        self._maps.clear()
        self._reduces.clear()
        self._map_queue.clear()
        self._reduce_queue.clear()
        self._items = [[] for _ in self._items]
        self._unprepared = [[] for _ in self._unprepared]
        self._map_parts = [{} for _ in self._map_parts]
        self._part_rows = [{} for _ in self._part_rows]

    def mark_execution_finished(self) -> None:
        super().mark_execution_finished()
        for task in self.get_active_tasks():
            task.cancel()
        self._drop_everything()
        self._phase = "done"

    # ------------------------------------------------------------------ knobs
    def _cpus(self) -> float:
        cpu = self.options.resource_limits.cpu
        if cpu is None or not math.isfinite(cpu) or cpu <= 0:
            try:
                cpu = rt.cluster_resources().get("CPU", 1.0)
            except Exception:  # noqa: BLE001 - no runtime: be conservative
                cpu = 1.0
        return max(1.0, float(cpu))

    def _max_in_flight(self) -> int:
        return int(self._cpus()) + 1

    def _target_block_bytes(self) -> int:
        ctx = self.data_context
        target = getattr(ctx, "target_max_block_size", None) if ctx is not None else None
        return int(target or self.options.target_max_block_size)

    def _max_partition_bytes(self) -> float:
        budget = self.options.resource_limits.object_store_memory
        cap = float(self._target_block_bytes())
        if budget is not None and math.isfinite(budget) and budget > 0:
            cap = min(cap, budget / (2 * self._cpus()))
        return max(float(MIN_PARTITION_BYTES), cap)

    def _map_input_bytes(self, n: int) -> float:
        """Input bytes per map task: one partition's worth, or more so its ``n`` parts are
        not tiny (see :data:`MIN_PART_BYTES`)."""
        limit = self._max_partition_bytes()
        return max(limit, min(n * MIN_PART_BYTES, MAX_MAP_INPUT_BYTES))

    def _output_budget(self) -> float:
        budget = self.options.resource_limits.object_store_memory
        if budget is None or not math.isfinite(budget) or budget <= 0:
            return float("inf")
        return budget / 4

    # ------------------------------------------------------------------ input phase
    def add_input(self, bundle: RefBundle, input_index: int) -> None:
        self.metrics.on_input(bundle)
        if self._execution_finished:
            return
        for _, meta in bundle.blocks:
            if meta.schema is not None and self._schemas[input_index] is None:
                self._schemas[input_index] = meta.schema
        self._validate(input_index)
        if not bundle.blocks:
            return
        item = _Item(refs=bundle.block_refs(), size=bundle.size_bytes(), rows=bundle.num_rows())
        self._buffered_bytes += item.size
        if self.spec.has_prepare:  # small bundles are prepared together (fewer tiny tasks)
            pending = self._unprepared[input_index]
            pending.append(item)
            if sum(it.size for it in pending) >= MIN_PREPARE_BYTES:
                self._flush_unprepared(input_index)
        else:
            self._items[input_index].append(item)
            if self.spec.needs_sample and self._buffered_bytes > self._max_partition_bytes():
                self._sample_pending(input_index)

    def _flush_unprepared(self, side: int) -> None:
        pending = self._unprepared[side]
        if pending:
            rows = [it.rows for it in pending]
            merged = _Item(refs=[ref for it in pending for ref in it.refs], size=sum(it.size for it in pending),
                           rows=None if None in rows else sum(rows))  # type: ignore[arg-type]
            self._unprepared[side] = []
            self._launch_prepare(side, merged, transform=True)

    def _validate(self, side: int) -> None:
        schema = self._schemas[side]
        if schema is None or self._validated[side] or not len(schema):
            return
        self.spec.validate(schema, side)
        self._validated[side] = True
        if isinstance(self.spec, JoinSpec) and all(self._validated):
            self.spec.validate_both(self._schemas[0], self._schemas[1])

    def _sample_pending(self, side: int) -> None:
        for item in self._items[side]:
            if item.sample is None:
                self._launch_prepare(side, item, transform=False)

    def _launch_prepare(self, side: int, item: _Item, *, transform: bool) -> None:
        idx = self._next_index()
        fn = self._remote(prepare_task, 3)
        table_ref, sample_ref, info_ref = fn.remote(self.spec, idx, transform, self.data_context, *item.refs)
        item.sample = sample_ref  # also marks it as being sampled

        def on_ready() -> None:
            self._prepare.pop(idx, None)
            info = self._get(info_ref)
            self.metrics.tasks_finished += 1
            self.metrics.task_wall_s += info.wall_s
            if transform:
                self._items[side].append(_Item(refs=[table_ref], size=info.meta.size_bytes or 0,
                                               rows=info.meta.num_rows, sample=sample_ref,
                                               fingerprint=info.fingerprint))
            else:
                item.fingerprint = info.fingerprint
            self._advance()

        self._prepare[idx] = OpTask(info_ref, on_ready, task_index=idx)
        self.metrics.tasks_submitted += 1

    def all_inputs_done(self) -> None:
        super().all_inputs_done()
        if not self._execution_finished:
            for side in range(len(self._unprepared)):
                self._flush_unprepared(side)
        self._advance()

    # ------------------------------------------------------------------ phases
    def _advance(self) -> None:
        if self._execution_finished or self._phase == "done":
            return
        if self._phase == "input":
            if not self.inputs_complete() or self._prepare:
                return
            self._plan()
        if self._phase == "sample":
            if self._prepare:
                return
            self._start_map()
        if self._phase == "map":
            self._launch_maps()
            if not self._maps and not self._map_queue:
                self._start_reduce()
        if self._phase == "reduce":
            self._launch_reduces()
            if not self._reduces and not self._reduce_queue:
                self._phase = "done"

    def _plan(self) -> None:
        total_bytes = sum(it.size for side in self._items for it in side)
        rows = [it.rows for side in self._items for it in side]
        total_rows = None if any(r is None for r in rows) else sum(rows)  # type: ignore[arg-type]
        if self.spec.single_partition:
            n = 1
        elif self.spec.small_as_one_task and run_as_single_task(
                total_bytes=total_bytes, max_partition_bytes=self._max_partition_bytes(),
                single_task_bytes=self.single_task_bytes):
            n = 1
            if self._schemas[0] is not None and self.spec.can_split_runs(self._schemas[0]):
                n = split_merge_ways(total_bytes=total_bytes, total_rows=total_rows, cpus=self._cpus(),
                                     split_merge_bytes=self.split_merge_bytes)
                self._shared_inputs = n > 1
        elif self.fixed_partitions is not None:
            n = self.fixed_partitions
        elif getattr(self.data_context, "shuffle_num_partitions", None):
            n = int(self.data_context.shuffle_num_partitions)
        else:
            n = choose_num_partitions(total_bytes=total_bytes, total_rows=total_rows, cpus=self._cpus(),
                                      max_partition_bytes=self._max_partition_bytes())
        self._num_partitions = n
        self._total_bytes = total_bytes
        if (n > 1 and self.spec.needs_sample and not self._shared_inputs) or self.spec.canonical_order:
            for side in range(len(self._items)):
                self._sample_pending(side)
        self._phase = "sample"

    def _start_map(self) -> None:
        n = self._num_partitions or 1
        if self.spec.canonical_order:
            for items in self._items:
                items.sort(key=lambda it: (it.fingerprint or 0, it.rows or 0))
        if n == 1 or self._shared_inputs:  # one reduce task (or each) gets every block
            for side, items in enumerate(self._items):
                self._map_parts[side] = {0: [ref for it in items for ref in it.refs]}
            self._items = [[] for _ in self._items]
            if self._shared_inputs:
                self.spec = self.spec.with_split_runs(n)
            self._start_reduce()
            return
        if self.spec.needs_sample:
            refs = [it.sample for side in self._items for it in side if it.sample is not None]
            samples = [s for s in rt.get(refs) if s is not None] if refs else []
            self._boundaries = self.spec.boundaries(samples, n)
        limit = self._map_input_bytes(n)
        for side, items in enumerate(self._items):
            groups = group_by_size([it.size for it in items], limit)
            self._num_maps[side] = len(groups)
            for m, group in enumerate(groups):
                refs = [ref for i in group for ref in items[i].refs]
                self._map_queue.append((side, m, refs))
        self._items = [[] for _ in self._items]
        self._phase = "map"

    def _launch_maps(self) -> None:
        n = self._num_partitions or 1
        while self._map_queue and len(self._maps) < self._max_in_flight():
            side, m, refs = self._map_queue.popleft()
            idx = self._next_index()
            fn = self._remote(map_task, n + 1)
            out = fn.remote(self.spec, side, n, m, self._boundaries, *refs)
            parts, sizes_ref = list(out[:-1]), out[-1]

            def on_ready(idx: int = idx, side: int = side, m: int = m, parts: list = parts,
                         sizes_ref: Any = sizes_ref) -> None:
                self._maps.pop(idx, None)
                sizes = self._get(sizes_ref)
                self.metrics.tasks_finished += 1
                self._map_parts[side][m] = parts
                self._part_rows[side][m] = [rows for rows, _ in sizes]
                self._advance()

            self._maps[idx] = OpTask(sizes_ref, on_ready, task_index=idx)
            self.metrics.tasks_submitted += 1

    def _start_reduce(self) -> None:
        n = self._num_partitions or 1
        self._reduce_queue = deque(range(n))
        self._reduces_left = n
        if isinstance(self.spec, JoinSpec):
            self.spec = replace(self.spec, schemas=(self._schemas[0], self._schemas[1]))
        self._phase = "reduce"

    def _unconsumed_bytes(self) -> int:
        return sum(b.size_bytes() for b in self._outputs) + sum(
            b.size_bytes() for bs in self._finished.waiting() for b in bs)

    def _launch_reduces(self) -> None:
        n = self._num_partitions or 1
        if self._context_ref is None and self.data_context is not None:
            self._context_ref = rt.put(self.data_context)
        while self._reduce_queue and len(self._reduces) < self._max_in_flight():
            if (self._reduces or self._outputs or self._finished) and \
                    self._unconsumed_bytes() > self._output_budget():
                break  # downstream is slow: wait for it to take outputs
            j = self._reduce_queue.popleft()
            counts, args = [], []
            for side in range(len(self._map_parts)):
                if n == 1 or self._shared_inputs:
                    refs = self._map_parts[side].get(0, [])
                else:
                    refs = self._parts_for(side, j)
                counts.append(len(refs))
                args.extend(refs)
            target = self._target_block_bytes() if self.spec.split_output else 1 << 62
            if reduce_on_driver(num_partitions=n, total_bytes=self._total_bytes,
                                spec_allows=self.spec.reduce_runs_no_user_code):
                self._reduce_here(j, tuple(counts), target, args)
                continue
            idx = self._next_index()
            fn = self._remote(reduce_task, 2)
            block_ref, out_ref = fn.remote(self.spec, j, tuple(counts), target, self._context_ref, *args)

            def on_ready(idx: int = idx, j: int = j, block_ref: Any = block_ref, out_ref: Any = out_ref) -> None:
                self._reduces.pop(idx, None)
                out = self._get(out_ref)
                self.metrics.tasks_finished += 1
                self.metrics.task_wall_s += out.wall_s
                self._release_parts(j)
                self._on_reduce_output(j, block_ref, out)
                self._advance()

            self._reduces[idx] = OpTask(out_ref, on_ready, task_index=idx)
            self.metrics.tasks_submitted += 1

    def _reduce_here(self, j: int, counts: tuple[int, ...], target: int, args: list[Any]) -> None:
        """Reduce ``j`` on this (the executor's) thread: its parts are small and came back inline."""
        self.metrics.tasks_submitted += 1
        parts = self._get(args) if args else []
        try:
            block, out = reduce_parts(self.spec, j, counts, target, parts)
        except Exception as exc:  # noqa: BLE001 - raised as the operator's task error
            self.metrics.tasks_failed += 1
            raise TaskError.wrap(exc, traceback.format_exc(), self.name) from None
        self.metrics.tasks_finished += 1
        self.metrics.task_wall_s += out.wall_s
        self._release_parts(j)
        self._on_reduce_output(j, rt.put(block), out)

    def _parts_for(self, side: int, j: int) -> list[Any]:
        """Part ``j`` of every map output of ``side``: the non-empty ones, or the first
        (empty) one alone so the reduce still sees the schema."""
        maps = range(self._num_maps[side])
        refs = [self._map_parts[side][m][j] for m in maps if self._part_rows[side][m][j] > 0]
        if not refs and self._num_maps[side]:
            refs = [self._map_parts[side][0][j]]
        return refs

    def _release_parts(self, j: int) -> None:
        n = self._num_partitions or 1
        self._reduces_left -= 1
        for parts in self._map_parts:
            if n == 1 or self._shared_inputs:  # every reduce reads them: kept until the last ended
                if self._reduces_left <= 0:
                    parts.clear()
                continue
            for refs in parts.values():
                if j < len(refs):
                    refs[j] = None

    def _on_reduce_output(self, j: int, block_ref: Any, out: Any) -> None:
        bundles, self._empty_output = out.outputs(block_ref, self.metrics, self._empty_output)
        for ready in self._finished.add(j, bundles):
            self._outputs.extend(ready)
            self._emitted_any |= bool(ready)

    def _get(self, ref: Any) -> Any:
        """Fetch a small result; a task's error is raised as the user's error type, named
        after this operator."""
        try:
            return rt.get(ref)
        except TaskError as exc:
            self.metrics.tasks_failed += 1
            if exc.cause is not None and not isinstance(exc.cause, TaskError):
                raise TaskError.wrap(exc.cause, exc.remote_traceback, self.name) from None
            raise

    def _next_index(self) -> int:
        self._seq += 1
        return self._seq

    # ------------------------------------------------------------------ output side
    def has_next(self) -> bool:
        if self._outputs:
            return True
        return self._empty_output is not None and not self._emitted_any and self._phase == "done"

    def get_next(self) -> RefBundle:
        if self._outputs:
            bundle = self._outputs.popleft()
        else:
            bundle, self._empty_output = self._empty_output, None  # type: ignore[assignment]
            self._emitted_any = True
        self._advance()  # room for more reduce output
        assert bundle is not None
        return bundle

    def completed(self) -> bool:
        if self._execution_finished:
            return not self.get_active_tasks()
        return self._phase == "done" and not self.has_next()

    # ------------------------------------------------------------------ executor state
    def get_active_tasks(self) -> list[OpTask]:
        return [*self._prepare.values(), *self._maps.values(), *self._reduces.values()]

    def num_active_tasks(self) -> int:
        return len(self._prepare) + len(self._maps) + len(self._reduces)

    def internal_queue_size(self) -> int:
        return len(self._map_queue) + len(self._reduce_queue) + len(self._finished)

    def internal_queue_bytes(self) -> int:
        # Buffered input is not counted: a barrier must hold all of it (the object store
        # spills it); counting it would only make the executor starve the upstream.
        return self._unconsumed_bytes()

    def incremental_resource_usage(self) -> ExecutionResources:
        if self.spec.has_prepare:
            return ExecutionResources(cpu=float(self.remote_args.get("num_cpus", 1)))
        return ExecutionResources()

    def current_resource_usage(self) -> ExecutionResources:
        cpus = float(self.remote_args.get("num_cpus", 1)) * self.num_active_tasks()
        return ExecutionResources(cpu=cpus, object_store_memory=self.internal_queue_bytes())

    def should_add_input(self) -> bool:
        return not self.spec.has_prepare or len(self._prepare) < self._max_in_flight()

    def buffered_input_bytes(self) -> int:
        """Bytes of input held for the barrier (in the object store, spilled when full)."""
        return self._buffered_bytes

    def num_outputs_total(self) -> int | None:
        return self._num_partitions

    def progress_str(self) -> str:
        n = self._num_partitions
        return (f"{self._phase}: {len(self._prepare)} prepare, {len(self._maps)}+{len(self._map_queue)} map, "
                f"{len(self._reduces)}+{len(self._reduce_queue)} reduce" + (f", {n} partitions" if n else ""))

    def explain_lines(self) -> list[str]:
        n = self.fixed_partitions or getattr(self.data_context, "shuffle_num_partitions", None)
        what = f"{n} partitions" if n else "partitions chosen from data size and CPUs"
        return [(f"all-to-all: map tasks split blocks, reduce tasks merge ({what}); "
                 "intermediate blocks in the object store")]


__all__ = ["AllToAllOperator"]
