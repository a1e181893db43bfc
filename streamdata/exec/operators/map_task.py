"""The code that runs in workers for map operators: one task, or one actor call.

A map task returns two values (``num_returns=2``): the last output block, and a
small :class:`TaskOutput` (the metadata of every output block, the refs of the
blocks before the last, which the worker ``put`` as soon as they reached
``target_max_block_size``, and timings). The executor waits on the small one.

Example:
    >>> import pyarrow as pa
    >>> from streamdata.exec.operators.map_transformer import MapTransformer, ProjectStage, TaskContext
    >>> chain = MapTransformer([ProjectStage(name="p", select=("a",))])
    >>> last, out = run_map_task(chain, TaskContext(task_index=0), pa.table({"a": [1], "b": [2]}))
    >>> last.column_names, out.metas[0].num_rows
    (['a'], 1)
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from streamdata import block as B
from streamdata.block_concat import empty_table
from streamdata.context import DataContext
from streamdata.exec import memory_trim
from streamdata.exec.interfaces import OpMetrics, RefBundle
from streamdata.exec.operators.map_transformer import MapTransformer, TaskContext
from streamdata.block_metadata import BlockMetadata
from streamdata.read_task import ReadTask
from streamdata.core import api as rt


@dataclass(frozen=True, slots=True)
class TaskOutput:
    """What the driver learns about a finished map task.

    Attributes:
        metas: metadata of every output block, in order (the returned block last).
        extra_refs: refs of the output blocks before the last one (put by the worker).
        schema: the output schema even when no rows came out (None if nothing came out).
        wall_s: the task's wall time in the worker.
        cpu_s: the task's CPU time (thread time) in the worker.
    """

    metas: tuple[BlockMetadata, ...]
    extra_refs: tuple[Any, ...]
    schema: pa.Schema | None
    wall_s: float
    cpu_s: float

    def bundle(self, block_ref: Any) -> RefBundle | None:
        """The task's output blocks as one bundle (``block_ref`` is the returned,
        last block), or None when no block came out."""
        if not self.metas:
            return None
        refs = list(self.extra_refs)
        if len(self.metas) == len(refs) + 1:
            refs.append(block_ref)
        return RefBundle(blocks=tuple(zip(refs, self.metas)), owns_blocks=True)

    def schema_bundle(self, block_ref: Any) -> RefBundle | None:
        """An empty block carrying the output schema (kept by operators in case
        nothing else comes out), or None when the schema is unknown or empty."""
        if self.schema is None or not len(self.schema):
            return None
        meta = BlockMetadata(num_rows=0, size_bytes=0, schema=self.schema)
        return RefBundle(blocks=((block_ref, meta),), owns_blocks=True)

    def outputs(self, block_ref: Any, metrics: OpMetrics,
                empty_output: RefBundle | None) -> tuple[list[RefBundle], RefBundle | None]:
        """What the task adds to its operator's output: its bundle (counted in ``metrics``)
        if any block came out, and the operator's kept empty output (``empty_output``, or
        when that is None and no block came out, :meth:`schema_bundle`: if nothing else
        comes out, it carries the schema)."""
        bundle = self.bundle(block_ref)
        if bundle is not None:
            metrics.on_output(bundle)
            return [bundle], empty_output
        if empty_output is None:
            empty_output = self.schema_bundle(block_ref)
        return [], empty_output


def _input_files(inputs: tuple[Any, ...]) -> tuple[str, ...]:
    files: list[str] = []
    for item in inputs:
        if isinstance(item, ReadTask):
            files.extend(item.metadata.input_files)
    return tuple(files)


def _put(table: pa.Table) -> Any:
    return rt.put(table)


def run_map_task(transformer: MapTransformer, ctx: TaskContext, *inputs: Any,
                 data_context: DataContext | None = None) -> tuple[pa.Table, TaskOutput]:
    """Run ``transformer`` over ``inputs`` (blocks or read tasks) and shape its output.

    Output blocks are concatenated up to ``ctx.target_max_block_size`` and split above
    it; every full block but the last is ``put`` right away, so a task never holds more
    than about one block of output. ``put`` is only called when a task produces more
    than one block, so a small task makes no extra round trip.
    """
    if data_context is not None:
        DataContext._set_current(data_context)
    start_wall = time.perf_counter()
    start_cpu = time.thread_time()
    files = _input_files(inputs)
    target = max(1, ctx.target_max_block_size)
    pending: list[pa.Table] = []
    pending_bytes = 0
    metas: list[BlockMetadata] = []
    extra: list[Any] = []
    schema: pa.Schema | None = None

    def emit_full() -> None:
        nonlocal pending, pending_bytes
        merged = B.concat(pending)
        pieces = B.split_by_size(merged, target)
        # keep the last piece pending when it is small: it may grow with the next output
        tail = pieces.pop() if pieces[-1].nbytes < target else None
        for piece in pieces:
            extra.append(_put(piece))
            metas.append(BlockMetadata.of(piece, files))
        pending = [tail] if tail is not None else []
        pending_bytes = tail.nbytes if tail is not None else 0

    trim_at = ctx.memory_trim_bytes
    memory_trim.after_block(trim_at)  # what the last task left behind, before this one reads
    for table in transformer.apply(inputs, ctx):
        memory_trim.after_block(trim_at)  # what the block's reading and mapping freed
        schema = table.schema
        if table.num_rows == 0:
            continue
        pending.append(table)
        pending_bytes += table.nbytes
        if pending_bytes >= target:
            emit_full()
    last = B.concat(pending) if pending else (empty_table(schema) if schema is not None else pa.table({}))
    if last.num_rows:
        metas.append(BlockMetadata.of(last, files))
    out = TaskOutput(metas=tuple(metas), extra_refs=tuple(extra), schema=schema,
                     wall_s=time.perf_counter() - start_wall, cpu_s=time.thread_time() - start_cpu)
    return last, out


def map_task_entry(transformer: MapTransformer, ctx: TaskContext, data_context: DataContext | None,
                   *inputs: Any) -> tuple[pa.Table, TaskOutput]:
    """The remote function of a task-pool map (positional arguments only: refs resolve)."""
    return run_map_task(transformer, ctx, *inputs, data_context=data_context)


class MapWorker:
    """The actor class of an actor-pool map: builds the chain (and the user's callable
    class) once, then runs many calls.

    As Ray: an actor started with ``max_concurrency > 1`` takes that many calls at once,
    but a synchronous UDF runs one call at a time unless ``true_multi_threading``
    (``ActorPoolStrategy(enable_true_multi_threading=True)``) lets calls run together in
    the actor's threads; an async UDF always overlaps its calls on the event loop.
    """

    def __init__(self, transformer: MapTransformer, data_context: DataContext | None, *,
                 true_multi_threading: bool = False) -> None:
        if data_context is not None:
            DataContext._set_current(data_context)
        self._data_context = data_context
        self._transformer = transformer
        self._init_error: BaseException | None = None
        self._one_at_a_time: threading.Lock | None = None
        try:
            self._transformer.init()
        except Exception as exc:  # noqa: BLE001 - raised by ready(), as the user's own error
            self._init_error = exc
        else:
            if not true_multi_threading and not self._transformer.uses_async():
                self._one_at_a_time = threading.Lock()

    def ready(self) -> bool:
        """Returns once the constructor ran (the pool waits on it); raises what the user's
        constructor raised, so the error keeps its type and traceback."""
        if self._init_error is not None:
            raise self._init_error
        return True

    def submit(self, ctx: TaskContext, *inputs: Any) -> tuple[pa.Table, TaskOutput]:
        """One call: run the chain over ``inputs``."""
        if self._init_error is not None:
            raise self._init_error
        if self._one_at_a_time is None:
            return run_map_task(self._transformer, ctx, *inputs)
        with self._one_at_a_time:
            return run_map_task(self._transformer, ctx, *inputs)
