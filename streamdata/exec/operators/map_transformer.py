"""What one map task (or actor call) does to its blocks: a chain of stages.

A :class:`MapTransformer` is an ordered list of :class:`MapStage` s, each turning
an iterator of blocks into an iterator of blocks (the first stage of a read
turns :class:`~streamdata.io.datasource.ReadTask` s into blocks). Fused maps run
as one chain inside one task. The chain is pure and runs anywhere: tests call
it directly; :mod:`streamdata.exec.operators.map_task` runs it in workers.

Example:
    >>> import pyarrow as pa
    >>> chain = MapTransformer([
    ...     BatchStage(name="double", fn=lambda b: {"x": b["x"] * 2}, batch_size=2),
    ...     FilterStage(name="big", fn=lambda r: r["x"] > 2),
    ... ])
    >>> out = list(chain.apply([pa.table({"x": [1, 2, 3]})], TaskContext(task_index=0)))
    >>> [t.column("x").to_pylist() for t in out]
    [[4], [6]]
"""

from __future__ import annotations

import types
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from streamdata import block as B
from streamdata.batcher import Batcher, resolve_auto_batch_size
from streamdata.block_rows import columns_of_rows
from streamdata.errors import ColumnNotFoundError, UDFReturnError, describe
from streamdata.expressions.evaluation import EvalContext
from streamdata.kept_dictionary import decode_kept, reading_kept_dictionaries
from streamdata.exec.operators.async_udf import (ASYNC_BATCH_CONCURRENCY, ASYNC_ROW_CONCURRENCY,
                                                 is_async, run_ordered)
from streamdata.write_context import WriteContext


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskContext:
    """What a stage may know about the task running it.

    ``memory_trim_bytes``: the growth of the worker's resident memory after which it hands
    back what Arrow freed (:func:`streamdata.exec.memory_trim.threshold_for_budget`); None:
    the trim's default.
    """

    task_index: int
    op_name: str = ""
    target_max_block_size: int = 128 * 1024 * 1024
    memory_trim_bytes: int | None = None


class MapStage(ABC):
    """One step of a map chain: blocks in, blocks out."""

    name: str = "Map"

    def init(self) -> None:
        """Prepare once per process (an actor constructs its callable class here)."""

    @abstractmethod
    def apply(self, blocks: Iterator[Any], ctx: TaskContext) -> Iterator[pa.Table]:
        """Transform ``blocks`` lazily."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


def gathered(blocks: Iterable[pa.Table], limit_bytes: int) -> Iterator[pa.Table]:
    """``blocks`` concatenated in order into groups of at least ``limit_bytes`` (the last
    group may be smaller); empty blocks are left out of a group that has rows.

    Example:
        >>> tables = [pa.table({"x": [1, 2]}), pa.table({"x": [3]}), pa.table({"x": [4]})]
        >>> [t.num_rows for t in gathered(tables, 9)], [t.num_rows for t in gathered(tables, 1)]
        ([2, 2], [2, 1, 1])
        >>> [t.num_rows for t in gathered(tables, 1 << 20)]
        [4]
    """
    pending: list[pa.Table] = []
    size = 0

    def concat(tables: list[pa.Table]) -> pa.Table:
        nonempty = [t for t in tables if t.num_rows] or tables[:1]
        return nonempty[0] if len(nonempty) == 1 else B.concat(nonempty)

    for block in blocks:
        pending.append(block)
        size += block.nbytes
        if size >= limit_bytes:
            yield concat(pending)
            pending, size = [], 0
    if pending:
        yield concat(pending)


class _UDFStage(MapStage):
    """A stage calling a user function or an instance of a user's callable class."""

    def __init__(self, *, name: str, fn: Callable[..., Any] | type, fn_args: tuple = (),
                 fn_kwargs: Mapping[str, Any] | None = None, fn_constructor_args: tuple = (),
                 fn_constructor_kwargs: Mapping[str, Any] | None = None) -> None:
        self.name = name
        self.fn = fn
        self.fn_args = tuple(fn_args)
        self.fn_kwargs = dict(fn_kwargs or {})
        self.fn_constructor_args = tuple(fn_constructor_args)
        self.fn_constructor_kwargs = dict(fn_constructor_kwargs or {})
        self._callable: Callable[..., Any] | None = None

    @property
    def is_class(self) -> bool:
        return isinstance(self.fn, type)

    def init(self) -> None:
        if self._callable is None:
            if self.is_class:
                self._callable = self.fn(*self.fn_constructor_args, **self.fn_constructor_kwargs)
            else:
                self._callable = self.fn

    def call(self, value: Any) -> Any:
        if self._callable is None:
            self.init()
        return self._callable(value, *self.fn_args, **self.fn_kwargs)  # type: ignore[misc]

    def row_callable(self) -> Callable[[Any], Any]:
        """``call`` for a per-row loop: the bare callable when there are no extra arguments
        (one Python call per row instead of two)."""
        self.init()
        fn = self._callable
        if not self.fn_args and not self.fn_kwargs:
            return fn  # type: ignore[return-value]
        args, kwargs = self.fn_args, self.fn_kwargs
        return lambda value: fn(value, *args, **kwargs)  # type: ignore[misc]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_callable"] = None  # an instance is built where the stage runs
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


def _is_batch_iterator(value: Any) -> bool:
    if isinstance(value, (types.GeneratorType, map, filter)):
        return True
    if isinstance(value, (dict, list, tuple, str, bytes, pa.Table, pa.RecordBatch)):
        return False
    if type(value).__module__.startswith("pandas"):
        return False
    return isinstance(value, Iterator)


class BatchStage(_UDFStage):
    """``map_batches``: the UDF receives batches of ``batch_size`` rows in ``batch_format``.

    ``batch_size="auto"`` is resolved in each task, as Ray does, from the bytes per row of
    its first non-empty block (:func:`~streamdata.batcher.resolve_auto_batch_size`).

    The UDF may return a batch (dict of arrays, DataFrame, Arrow table, list of rows)
    or yield several; an ``async def`` UDF (coroutine or async generator) runs on the
    process's event loop with a few batches in flight, outputs in input order
    (:mod:`~streamdata.exec.operators.async_udf`).
    """

    def __init__(self, *, name: str, fn: Callable[..., Any] | type,
                 batch_size: int | str | None = None,
                 batch_format: str | None = "default", zero_copy_batch: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(name=name, fn=fn, **kwargs)
        self.batch_size = batch_size
        self.batch_format = B.normalize_batch_format(batch_format)
        self.zero_copy_batch = zero_copy_batch

    def apply(self, blocks: Iterator[pa.Table], ctx: TaskContext) -> Iterator[pa.Table]:
        self.init()
        if is_async(self._callable):  # as Ray: a few batches in flight on the event loop
            batches = (B.to_batch(t, self.batch_format, zero_copy=self.zero_copy_batch)
                       for t in self._batches(blocks) if t.num_rows)
            for outs in run_ordered(self.call, batches, max_concurrency=ASYNC_BATCH_CONCURRENCY):
                for out in outs:
                    yield self._table(out)
            return
        for batch in self._batches(blocks):
            yield from self._run(batch)

    def _batches(self, blocks: Iterator[pa.Table]) -> Iterator[pa.Table]:
        size = self.batch_size
        if size == "auto":  # as Ray: from the bytes per row of this task's first block
            size, blocks = resolve_auto_batch_size(blocks)
        batcher = Batcher(size)
        for table in blocks:
            batcher.add(table)
            yield from batcher.drain()
        yield from batcher.finish()

    def _table(self, out: Any) -> pa.Table:
        if out is None:
            raise UDFReturnError(f"map_batches UDF {self.name} returned None; expected a dict of "
                                 "arrays, pandas.DataFrame or pyarrow.Table")
        return B.batch_to_table(out, what="map_batches UDF")

    def _run(self, table: pa.Table) -> Iterator[pa.Table]:
        if table.num_rows == 0:
            return
        out = self.call(B.to_batch(table, self.batch_format, zero_copy=self.zero_copy_batch))
        if _is_batch_iterator(out):
            for item in out:
                yield B.batch_to_table(item, what="map_batches UDF")
        else:
            yield self._table(out)


#: the placeholder column of a row stage's blocks when nothing downstream reads a column
ROW_COUNT_COLUMN = "__rows"


class _RowsStage(_UDFStage):
    """A stage that calls its UDF on rows and builds its blocks from the rows it returns.

    ``columns``: when not None, the only output columns the rest of the chain reads (set by
    the lowering when a fused partial aggregation of built-in aggregations follows): the
    blocks hold just those (a placeholder ``ROW_COUNT_COLUMN`` of nulls when none), so
    columns nobody reads are never converted back to Arrow.
    """

    columns: tuple[str, ...] | None = None

    def _table(self, rows: list[Any], what: str) -> pa.Table:
        if self.columns is None:
            return B.rows_to_table(rows, what=what)
        fast = columns_of_rows(rows, self.columns)
        if fast is None:  # rows of other shapes: the general path, then the columns read
            table = B.rows_to_table(rows, what=what)
            if not set(self.columns) <= set(table.column_names):
                return table  # whole, so that the error about the missing column lists all
            return table.select(list(self.columns))
        if not fast:
            if not any(rows):  # only empty rows: what the general path makes of them
                return B.rows_to_table(rows, what=what)
            return pa.table({ROW_COUNT_COLUMN: pa.nulls(len(rows))})
        return pa.table({k: B.values_to_arrow(k, v, what) for k, v in fast.items()})


class RowStage(_RowsStage):
    """``map``: one dict in, one dict out."""

    def apply(self, blocks: Iterator[pa.Table], ctx: TaskContext) -> Iterator[pa.Table]:
        self.init()
        if is_async(self._callable):
            yield from self._apply_async(blocks)
            return
        fn = self.row_callable()
        for table in blocks:
            rows: list[Any] = []
            for chunk in B.row_chunks(table):
                rows += map(fn, chunk)
            if not rows:
                continue
            if set(map(type, rows)) != {dict}:  # anything but plain dicts: check each
                for out in rows:
                    if not isinstance(out, Mapping):
                        raise UDFReturnError(f"map UDF {self.name} returned {describe(out)}; "
                                             "expected a dict (one row)")
            yield self._table(rows, "map UDF")

    def _apply_async(self, blocks: Iterator[pa.Table]) -> Iterator[pa.Table]:
        for table in blocks:
            rows = []
            for outs in run_ordered(self.call, B.iter_rows(table), max_concurrency=ASYNC_ROW_CONCURRENCY):
                for out in outs:  # an async generator may yield several rows
                    if not isinstance(out, Mapping):
                        raise UDFReturnError(f"map UDF {self.name} returned {describe(out)}; "
                                             "expected a dict (one row)")
                    rows.append(out)
            if rows:
                yield self._table(rows, "map UDF")


class FlatMapStage(_RowsStage):
    """``flat_map``: one dict in, a list (any iterable) of dicts out."""

    def apply(self, blocks: Iterator[pa.Table], ctx: TaskContext) -> Iterator[pa.Table]:
        fn = self.row_callable()
        for table in blocks:
            rows: list[Any] = []
            extend = rows.extend
            for chunk in B.row_chunks(table):
                for row in chunk:
                    out = fn(row)
                    if type(out) is not list and (isinstance(out, (Mapping, str, bytes))
                                                  or not isinstance(out, Iterable)):
                        raise UDFReturnError(f"flat_map UDF {self.name} returned {describe(out)}; "
                                             "expected a list of dicts")
                    extend(out)
            if rows:
                yield self._table(rows, "flat_map UDF")


class FilterStage(_UDFStage):
    """``filter``: keep rows where ``fn(row)`` is true, or where the expression ``expr`` is."""

    def __init__(self, *, name: str, fn: Callable[..., Any] | type | None = None, expr: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(name=name, fn=fn, **kwargs)  # type: ignore[arg-type]
        self.expr = expr

    def init(self) -> None:
        if self.fn is not None:
            super().init()

    def apply(self, blocks: Iterator[pa.Table], ctx: TaskContext) -> Iterator[pa.Table]:
        ectx = EvalContext(task_index=ctx.task_index)
        for table in blocks:
            if self.expr is not None:
                mask = self.expr.evaluate(table, ectx)
                out = table.filter(mask, null_selection_behavior="drop")
            else:
                fn = self.row_callable()
                verdicts: list[Any] = []
                for chunk in B.row_chunks(table):
                    verdicts += map(fn, chunk)
                if set(map(type, verdicts)) <= {bool}:
                    keep = np.array(verdicts, dtype=bool)
                else:
                    keep = np.fromiter((self._verdict(v) for v in verdicts), dtype=bool,
                                       count=table.num_rows)
                out = table.filter(pa.array(keep))
            yield out

    def _verdict(self, value: Any) -> bool:
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise UDFReturnError(f"filter: the function {getattr(self.fn, '__name__', self.fn)!r} must "
                             f"return a bool for each row, got {type(value).__name__} {value!r}")


class ProjectStage(MapStage):
    """Select, then drop, then rename columns."""

    def __init__(self, *, name: str, select: tuple[str, ...] | None = None,
                 drop: tuple[str, ...] = (), rename: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.select = tuple(select) if select is not None else None
        self.drop = tuple(drop)
        self.rename = dict(rename or {})

    def apply(self, blocks: Iterator[pa.Table], ctx: TaskContext) -> Iterator[pa.Table]:
        for table in blocks:
            yield self.project(table)

    def project(self, table: pa.Table) -> pa.Table:
        cols = table.column_names
        if self.select is not None:
            for c in self.select:
                if c not in cols:
                    raise ColumnNotFoundError(c, cols)
            table = table.select(list(self.select))
            cols = table.column_names
        for c in self.drop:
            if c not in cols:
                raise ColumnNotFoundError(c, cols)
        if self.drop:
            table = table.drop_columns(list(self.drop))
            cols = table.column_names
        for c in self.rename:
            if c not in cols:
                raise ColumnNotFoundError(c, cols)
        if self.rename:
            table = table.rename_columns([self.rename.get(c, c) for c in cols])
        return table


class WithColumnStage(MapStage):
    """Add or replace ``column`` with the values of the expression ``expr``."""

    def __init__(self, *, name: str, column: str, expr: Any) -> None:
        self.name = name
        self.column = column
        self.expr = expr

    def apply(self, blocks: Iterator[pa.Table], ctx: TaskContext) -> Iterator[pa.Table]:
        ectx = EvalContext(task_index=ctx.task_index)  # numbers rows per task, as Ray's ids do
        for table in blocks:
            values = self.expr.evaluate(table, ectx)
            if self.column in table.column_names:
                table = table.set_column(table.column_names.index(self.column), self.column, values)
            else:
                table = table.append_column(self.column, values)
            yield table


class RandomSampleStage(MapStage):
    """Keep each row with probability ``fraction`` (seeded per task when ``seed`` is set)."""

    def __init__(self, *, name: str, fraction: float, seed: int | None = None) -> None:
        self.name = name
        self.fraction = fraction
        self.seed = seed

    def apply(self, blocks: Iterator[pa.Table], ctx: TaskContext) -> Iterator[pa.Table]:
        rng = np.random.default_rng(None if self.seed is None else (self.seed, ctx.task_index))
        for table in blocks:
            yield table.filter(pa.array(rng.random(table.num_rows) < self.fraction))


class ReadStage(MapStage):
    """The first stage of a read: each input is a ReadTask; yields the blocks it reads.

    ``kept_dictionaries``: None, or the columns the read may not keep as dictionaries
    (:mod:`streamdata.kept_dictionary`; the lowering sets it when the chain ends in a
    Parquet sink that every other such column reaches untouched).
    """

    def __init__(self, *, name: str = "Read", kept_dictionaries: frozenset[str] | None = None) -> None:
        self.name = name
        self.kept_dictionaries = kept_dictionaries

    def apply(self, blocks: Iterator[Any], ctx: TaskContext) -> Iterator[pa.Table]:
        for read_task in blocks:
            tables = read_task()
            if self.kept_dictionaries is not None:
                tables = _reading_kept(tables, self.kept_dictionaries)
            for table in tables:
                if isinstance(table, pa.RecordBatch):
                    table = pa.Table.from_batches([table])
                elif not isinstance(table, pa.Table):
                    table = B.batch_to_table(table, what=f"read task of {self.name}")
                yield table


def _reading_kept(tables: Iterator[pa.Table], exclude: frozenset[str]) -> Iterator[pa.Table]:
    """``tables``, each produced while the read may keep dictionaries (only the read's own
    steps run with it: the stages after it run between them)."""
    it = iter(tables)
    while True:
        with reading_kept_dictionaries(exclude):
            table = next(it, None)
        if table is None:
            return
        yield table


class WriteStage(MapStage):
    """The last stage of a write: hands every block to ``datasink.write`` and yields one
    one-row table whose ``write_result`` column holds what ``write`` returned."""

    RESULT_COLUMN = "write_result"

    def __init__(self, *, name: str, datasink: Any, write_uuid: str) -> None:
        self.name = name
        self.datasink = datasink
        self.write_uuid = write_uuid

    def apply(self, blocks: Iterator[pa.Table], ctx: TaskContext) -> Iterator[pa.Table]:
        if not getattr(self.datasink, "writes_kept_dictionaries", False):
            blocks = (decode_kept(t) for t in blocks)  # only the Parquet sink takes them
        result = self.datasink.write(blocks, WriteContext(write_uuid=self.write_uuid,
                                                          task_index=ctx.task_index))
        for _ in blocks:  # a sink that stopped early still consumes its input
            pass
        yield B.numpy_to_table({self.RESULT_COLUMN: B._pickled([result])})


@dataclass(slots=True)
class MapTransformer:
    """A chain of stages run in order on the blocks of one task.

    Attributes:
        stages: the stages, first applied first.
        init_fn: optional hook run once per process before the first call.
    """

    stages: list[MapStage]
    init_fn: Callable[[], None] | None = None
    _initialized: bool = field(default=False, repr=False)

    def init(self) -> None:
        """Run each stage's one-time setup (constructs callable classes)."""
        if self._initialized:
            return
        if self.init_fn is not None:
            self.init_fn()
        for stage in self.stages:
            stage.init()
        self._initialized = True

    def apply(self, inputs: Iterable[Any], ctx: TaskContext) -> Iterator[pa.Table]:
        """The output blocks of the chain over ``inputs`` (lazily)."""
        self.init()
        stream: Iterator[Any] = iter(inputs)
        for stage in self.stages:
            stream = stage.apply(stream, ctx)
        return stream

    @property
    def name(self) -> str:
        return "->".join(s.name for s in self.stages)

    def uses_class(self) -> bool:
        """Whether a stage calls a callable class (the chain must run in actors)."""
        return any(isinstance(s, _UDFStage) and s.is_class for s in self.stages)

    def ends_in_write(self) -> bool:
        """Whether the chain's last stage is a write: its outputs are then one small
        result row per task, whatever the stages before it read or made.

        Example:
            >>> MapTransformer([WriteStage(name="Write", datasink=None, write_uuid="u")]).ends_in_write()
            True
            >>> MapTransformer([]).ends_in_write()
            False
        """
        return bool(self.stages) and isinstance(self.stages[-1], WriteStage)

    def uses_async(self) -> bool:
        """Whether a stage calls an async UDF (after :meth:`init`, which builds classes)."""
        return any(isinstance(s, _UDFStage) and is_async(s._callable if s._callable is not None
                                                         else s.fn) for s in self.stages)

    def __getstate__(self) -> dict[str, Any]:
        return {"stages": self.stages, "init_fn": self.init_fn}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.stages = state["stages"]
        self.init_fn = state["init_fn"]
        self._initialized = False
