"""``DataIterator``: batches, rows and torch tensors from a stream of blocks.

A :class:`DataIterator` runs one execution per iteration (of a Dataset, or of one
split of ``streaming_split``) and turns its RefBundles into what the user asked
for: batches of exactly ``batch_size`` rows (the last may be short), optionally
shuffled locally, in a batch format, prefetched by a background thread.

``streaming_split(n)`` gives ``n`` iterators over ONE execution of a plan ending in a
``StreamingSplit`` node. The execution runs in a coordinator actor
(:mod:`streamdata.execution.splitter`, so the iterators can be pickled to training workers
in other processes); each iterator asks the coordinator for the next bundle of its
split. An epoch starts when a split starts iterating and the previous epoch is over
for every split (each split must finish an epoch before any starts the next).

Part of the facade. May import: base modules, :mod:`streamdata.plan` (node types) and
:mod:`streamdata.execution`; never :mod:`streamdata.exec` or the runtime directly.

Example:
    >>> import streamdata as sd
    >>> from streamdata.io.memory import RangeDatasource
    >>> from streamdata.dataset import Dataset
    >>> from streamdata.plan.logical import LogicalPlan, Read
    >>> it = DataIterator(Dataset(LogicalPlan(Read(datasource=RangeDatasource(10)))))
    >>> [len(b["id"]) for b in it.iter_batches(batch_size=4)]
    [4, 4, 2]
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from streamdata import block as B
from streamdata.batcher import Batcher
from streamdata import execution
from streamdata.batch_stream import ArrowFormatter, TorchFormatter, format_batch_groups, formatter_for
from streamdata.errors import PlanError
from streamdata.iterator_extras import IteratorExtrasMixin, MaterializedT
from streamdata.plan.logical import LogicalPlan, StreamingSplit

if TYPE_CHECKING:  # pragma: no cover
    from streamdata.execution import RefBundle

_END = object()


# =========================================================================== batching


class ShufflingBatcher:
    """Batches of ``batch_size`` rows drawn at random from a buffer of at least
    ``buffer_size`` rows (Ray's local shuffle), exact sizes except the last.

    Example:
        >>> b = ShufflingBatcher(2, buffer_size=4, seed=0)
        >>> b.add(pa.table({"a": range(6)}))
        >>> out = list(b.drain()) + list(b.finish())
        >>> [t.num_rows for t in out], sorted(v for t in out for v in t.column("a").to_pylist())
        ([2, 2, 2], [0, 1, 2, 3, 4, 5])
    """

    def __init__(self, batch_size: int | None, *, buffer_size: int, seed: int | None = None) -> None:
        if buffer_size <= 0:
            raise ValueError(f"local_shuffle_buffer_size must be positive, got {buffer_size}")
        self.batch_size = batch_size
        self.buffer_size = buffer_size
        self._rng = np.random.default_rng(seed)
        self._parts: list[pa.Table] = []
        self._rows = 0
        self._ready: pa.Table | None = None  # shuffled rows being handed out
        self._offset = 0

    def add(self, table: pa.Table) -> None:
        if table.num_rows:
            self._parts.append(table)
            self._rows += table.num_rows

    def _step(self) -> int:
        return self.batch_size or max(1, self.buffer_size)

    def _reshuffle(self) -> None:
        parts = list(self._parts)
        if self._ready is not None and self._offset < self._ready.num_rows:
            parts.insert(0, self._ready.slice(self._offset))
        merged = B.concat(parts)
        self._ready = merged.take(pa.array(self._rng.permutation(merged.num_rows)))
        self._offset = 0
        self._parts = []

    def _remaining(self) -> int:
        return self._rows

    def drain(self) -> Iterator[pa.Table]:
        """Batches while the buffer keeps at least ``buffer_size`` rows."""
        step = self._step()
        while self._rows >= self.buffer_size + step:
            if self._parts:
                self._reshuffle()
            assert self._ready is not None
            out = self._ready.slice(self._offset, step)
            self._offset += step
            self._rows -= step
            yield out

    def finish(self) -> Iterator[pa.Table]:
        """The remaining rows, shuffled, in batches."""
        if self._rows == 0:
            return
        self._reshuffle()
        assert self._ready is not None
        step = self._step()
        while self._offset < self._ready.num_rows:
            out = self._ready.slice(self._offset, step)
            self._offset += out.num_rows
            self._rows -= out.num_rows
            yield out


def batch_tables(tables: Iterator[pa.Table], *, batch_size: int | None, drop_last: bool = False,
                 local_shuffle_buffer_size: int | None = None,
                 local_shuffle_seed: int | None = None) -> Iterator[pa.Table]:
    """Re-cut a stream of tables into batches (exact sizes except the last).

    Example:
        >>> tables = iter([pa.table({"a": range(3)}), pa.table({"a": range(4)})])
        >>> [t.num_rows for t in batch_tables(tables, batch_size=3, drop_last=True)]
        [3, 3]
    """
    if batch_size is not None and (isinstance(batch_size, bool) or batch_size <= 0):
        raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")
    batcher: Any
    if local_shuffle_buffer_size is not None:
        batcher = ShufflingBatcher(batch_size, buffer_size=local_shuffle_buffer_size, seed=local_shuffle_seed)
    else:
        batcher = Batcher(batch_size)
    for table in tables:
        batcher.add(table)
        yield from batcher.drain()
    for out in batcher.finish():
        if drop_last and batch_size is not None and out.num_rows < batch_size:
            continue
        yield out


class Passes(Iterable[Any]):
    """What ``iter_batches``, ``iter_torch_batches`` and ``iter_rows`` return: an iterable
    whose every ``iter()`` is a new pass over the data, as Ray's are (a framework that
    iterates its training data once per epoch can be handed one).

    Example:
        >>> import streamdata as sd
        >>> batches = sd.range(4).iter_batches(batch_size=2)
        >>> [len(list(batches)), len(list(batches))]
        [2, 2]
    """

    __slots__ = ("_make", "_name")

    def __init__(self, make: Callable[[], Iterator[Any]], name: str) -> None:
        self._make = make
        self._name = name

    def __iter__(self) -> Iterator[Any]:
        return self._make()

    def __repr__(self) -> str:
        return f"<{self._name}: iterate it for a pass over the data>"


def _prefetched(make: Callable[[], Iterator[Any]], depth: int) -> Iterator[Any]:
    """Items of ``make()`` produced by a background thread, up to ``depth`` ahead.

    Leaving early stops the thread, which closes the source (stopping its execution).
    """
    if depth <= 0:
        yield from make()
        return
    execution.ensure_runtime()  # here, not in the short-lived thread below (it would own the workers)
    q: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        source = None
        try:
            source = make()
            for item in source:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put(_Failure(exc))
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="streamdata-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get(timeout=0.05)
            except queue.Empty:
                pass


def _flattened(groups: Iterator[list[Any]]) -> Iterator[Any]:
    """The items of a stream of lists; closing this closes ``groups`` (and its thread)."""
    try:
        for group in groups:
            yield from group
    finally:
        close = getattr(groups, "close", None)
        if close is not None:
            close()


def _check_batching(batch_size: Any, prefetch_batches: Any, buffer_size: Any) -> None:
    """Up-front checks of the batching arguments (each names the argument)."""
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                   or batch_size <= 0):
        raise PlanError(f"batch_size must be a positive int or None, got {batch_size!r}")
    if isinstance(prefetch_batches, bool) or not isinstance(prefetch_batches, int) \
            or prefetch_batches < 0:
        raise PlanError(f"prefetch_batches must be an int >= 0, got {prefetch_batches!r}")
    if buffer_size is not None and (isinstance(buffer_size, bool) or not isinstance(buffer_size, int)
                                    or buffer_size <= 0):
        raise PlanError(f"local_shuffle_buffer_size must be a positive int or None, "
                        f"got {buffer_size!r}")


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


# =========================================================================== the iterator


class DataIterator(IteratorExtrasMixin[MaterializedT]):
    """Iterates over the output of a Dataset (or of one split of ``streaming_split``).

    Each call of an ``iter_*`` method runs one execution (one epoch). Picklable: a
    split's iterator can be sent to another process (e.g. a training worker).
    """

    def __init__(self, source: Any, *, dataset_type: type | None = None) -> None:
        self._source = source
        #: the Dataset class whose ``_materialized`` builds what ``materialize()`` returns
        self._dataset_type = dataset_type or (None if isinstance(source, execution.SplitSource)
                                              else type(source))

    def __repr__(self) -> str:
        return f"DataIterator({self._source!r})"

    # ---- the stream of blocks
    def _iter_bundles(self) -> Iterator[RefBundle]:
        if isinstance(self._source, execution.SplitSource):
            return self._source.bundles()
        return self._source._iter_bundles()

    def _iter_tables(self) -> Iterator[pa.Table]:
        if isinstance(self._source, execution.SplitSource):
            return execution.iter_tables(self._source.bundles())
        return self._source._iter_tables()

    # ---- public
    def iter_batches(self, *, batch_size: int | None = 256, batch_format: str | None = "default",
                     prefetch_batches: int = 1, drop_last: bool = False,
                     local_shuffle_buffer_size: int | None = None,
                     local_shuffle_seed: int | None = None) -> Iterable[Any]:
        """Batches of exactly ``batch_size`` rows (the last may be shorter unless
        ``drop_last``), in ``batch_format``: ``"default"``/``"numpy"`` (a dict of ndarrays,
        read-only where they share Arrow's memory), ``"pandas"`` or ``"pyarrow"``.

        Args:
            batch_size: rows per batch; None: one batch per block.
            batch_format: the format of each batch.
            prefetch_batches: batches a background thread prepares ahead (0: none).
            drop_last: drop a final batch shorter than ``batch_size``.
            local_shuffle_buffer_size: shuffle rows within a buffer of at least this many.
            local_shuffle_seed: seed of that shuffle.

        Example:
            >>> from streamdata.dataset import Dataset
            >>> from streamdata.plan.logical import LogicalPlan, Read
            >>> from streamdata.io.memory import RangeDatasource
            >>> ds = Dataset(LogicalPlan(Read(datasource=RangeDatasource(5))))
            >>> [b["id"].tolist() for b in DataIterator(ds).iter_batches(batch_size=2, drop_last=True)]
            [[0, 1], [2, 3]]
        """
        formatter = formatter_for(batch_format, zero_copy=True)
        _check_batching(batch_size, prefetch_batches, local_shuffle_buffer_size)
        return self._passes(formatter, "iter_batches", batch_size=batch_size,
                            prefetch_batches=prefetch_batches, drop_last=drop_last,
                            local_shuffle_buffer_size=local_shuffle_buffer_size,
                            local_shuffle_seed=local_shuffle_seed)

    def _passes(self, formatter: ArrowFormatter, name: str, *, batch_size: int | None,
                prefetch_batches: int, drop_last: bool, local_shuffle_buffer_size: int | None,
                local_shuffle_seed: int | None, post: Callable[[Any], Any] | None = None) -> Passes:
        """Passes over the batches ``formatter`` makes (then ``post`` of each, when given),
        all made by the prefetch thread: the consumer's thread only takes them. The thread
        hands them over a converted segment at a time (:func:`format_batch_groups`): one
        queue step per segment rather than per batch."""

        def make() -> Iterator[list[Any]]:
            tables = self._iter_tables()
            try:
                groups: Iterator[list[Any]]
                if local_shuffle_buffer_size is None:
                    groups = format_batch_groups(tables, formatter, batch_size=batch_size, drop_last=drop_last)
                else:
                    groups = ([formatter.one(t)] for t in batch_tables(
                        tables, batch_size=batch_size, drop_last=drop_last,
                        local_shuffle_buffer_size=local_shuffle_buffer_size,
                        local_shuffle_seed=local_shuffle_seed))
                if post is None:
                    yield from groups
                else:
                    for group in groups:
                        yield [post(batch) for batch in group]
            finally:
                tables.close()

        return Passes(lambda: _flattened(_prefetched(make, prefetch_batches)), name)

    def iter_bucket_batches(self, *, max_tokens: int, length_fn: Callable[[dict[str, Any]], Any],
                            buffer_size: int = 1000, batch_format: str | None = "default",
                            prefetch_batches: int = 1) -> Iterable[Any]:
        """Batches of rows of similar length, each batch's lengths adding up to at most
        ``max_tokens`` (for padded sequence batches): windows of ``buffer_size`` rows, each
        ordered by ``length_fn(row)`` and cut greedily (:mod:`streamdata.bucket_batching`).

        Example:
            >>> import streamdata as sd
            >>> ds = sd.from_items([{"text": t} for t in ["1", "11", "1", "1111", "111"]])
            >>> [b["text"].tolist() for b in ds.iterator().iter_bucket_batches(
            ...     max_tokens=5, length_fn=lambda row: len(row["text"]))]
            [['1', '1', '11'], ['111'], ['1111']]
        """
        # imported here: its packing rule comes with the all-to-all operators, which
        # ``import streamdata`` does not load
        from streamdata.bucket_batching import bucket_batches, validate_bucket_batching
        validate_bucket_batching(max_tokens, buffer_size, length_fn)
        formatter_for(batch_format)  # an unknown format fails here, not at the first batch

        def make() -> Iterator[Any]:
            windows = iter(self.iter_batches(batch_size=buffer_size, batch_format="pyarrow",
                                             prefetch_batches=prefetch_batches))
            try:
                for window in windows:
                    yield from bucket_batches(window, max_tokens, length_fn, batch_format)
            finally:
                windows.close()

        return Passes(make, "iter_bucket_batches")

    def iter_rows(self) -> Iterable[dict[str, Any]]:
        """Every row as a dict.

        Example:
            >>> from streamdata.dataset import Dataset
            >>> from streamdata.plan.logical import LogicalPlan, Read
            >>> from streamdata.io.memory import RangeDatasource
            >>> ds = Dataset(LogicalPlan(Read(datasource=RangeDatasource(3))))
            >>> [r["id"] for r in DataIterator(ds).iter_rows()]
            [0, 1, 2]
        """
        return Passes(self._rows_once, "iter_rows")

    def _rows_once(self) -> Iterator[dict[str, Any]]:
        tables = self._iter_tables()
        try:
            for table in tables:
                yield from B.iter_rows(table)
        finally:
            tables.close()

    def iter_torch_batches(self, *, batch_size: int | None = 256, dtypes: Any = None,
                           device: str = "auto", collate_fn: Callable[[dict[str, np.ndarray]], Any] | None = None,
                           prefetch_batches: int = 1, drop_last: bool = False,
                           local_shuffle_buffer_size: int | None = None,
                           local_shuffle_seed: int | None = None,
                           pin_memory: bool = False) -> Iterable[Any]:
        """Batches as dicts of ``torch.Tensor`` on ``device`` (``"auto"``: the GPU when there
        is one, else the CPU), or whatever ``collate_fn`` makes of the numpy batch.
        ``pin_memory=True`` stages tensors in page-locked memory before they go to the GPU
        (only when CUDA is available; without it there is nothing to pin for).

        Args:
            dtypes: a torch dtype for every column, or a dict of column → dtype.
            device: where tensors go (ignored with ``collate_fn``, which decides).
            collate_fn: makes the batch instead of tensors: a function or a
                ``NumpyBatchCollateFn`` gets a dict of ndarrays, an ``ArrowBatchCollateFn`` a
                ``pyarrow.Table``, a ``PandasBatchCollateFn`` a DataFrame (``streamdata.collate_fn``).

        Example:
            >>> from streamdata.dataset import Dataset
            >>> from streamdata.plan.logical import LogicalPlan, Read
            >>> from streamdata.io.memory import RangeDatasource
            >>> ds = Dataset(LogicalPlan(Read(datasource=RangeDatasource(4))))
            >>> [b["id"].tolist() for b in DataIterator(ds).iter_torch_batches(batch_size=2)]
            [[0, 1], [2, 3]]
        """
        if collate_fn is not None and dtypes is not None:
            raise ValueError("iter_torch_batches takes either collate_fn or dtypes, not both")
        if not isinstance(pin_memory, bool):
            raise ValueError(f"iter_torch_batches pin_memory must be a bool, got {pin_memory!r}")
        import torch

        _check_batching(batch_size, prefetch_batches, local_shuffle_buffer_size)
        from streamdata.collate_fn import batch_format_of

        formatter: ArrowFormatter
        if collate_fn is not None:  # the format its class names
            formatter = formatter_for(batch_format_of(collate_fn), zero_copy=True)
        else:
            formatter = TorchFormatter(torch, dtypes, _torch_device(device, torch),
                                       pin=pin_memory and torch.cuda.is_available())
        return self._passes(formatter, "iter_torch_batches", batch_size=batch_size,
                            prefetch_batches=prefetch_batches, drop_last=drop_last,
                            local_shuffle_buffer_size=local_shuffle_buffer_size,
                            local_shuffle_seed=local_shuffle_seed, post=collate_fn)

    def stats(self) -> str:
        """What this iterator knows about its executions (the dataset's stats when it has one)."""
        stats = getattr(self._source, "stats", None)
        return stats() if callable(stats) else ""


def _torch_device(device: str | None, torch: Any) -> Any:
    if device in (None, "auto"):
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    return torch.device(device)


# =========================================================================== streaming_split


def shutdown_split(iterators: list[DataIterator], *, timeout: float = 30.0) -> None:
    """Stop the execution behind ``streaming_split`` iterators and their coordinator actor.

    The coordinator lives until then (the iterators may be in other processes, so it
    cannot tell when they are gone). Iterators of other datasets are ignored.
    """
    execution.shutdown_split([getattr(it, "_source", None) for it in iterators], timeout=timeout)


def streaming_split_iterators(dataset: Any, n: int, *, equal: bool = False,
                              locality_hints: Any = None) -> list[DataIterator]:
    """``n`` iterators over one execution of ``dataset`` (see the module docstring).

    Example:
        >>> import threading
        >>> from streamdata.dataset import Dataset
        >>> from streamdata.plan.logical import LogicalPlan, Read
        >>> from streamdata.io.memory import RangeDatasource
        >>> its = streaming_split_iterators(Dataset(LogicalPlan(Read(datasource=RangeDatasource(9)))),
        ...                                 2, equal=True)
        >>> counts = [0, 0]
        >>> def run(i):
        ...     counts[i] = sum(len(b["id"]) for b in its[i].iter_batches(batch_size=None))
        >>> threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        >>> _ = [t.start() for t in threads]; _ = [t.join() for t in threads]
        >>> counts
        [4, 4]
    """
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise PlanError(f"streaming_split needs a positive number of splits, got {n!r}")
    node = StreamingSplit(inputs=(dataset._plan.root,), n=n, equal=equal,
                          locality_hints=locality_hints)
    return [DataIterator(source, dataset_type=type(dataset))
            for source in execution.start_streaming_split(LogicalPlan(node))]


__all__ = ["DataIterator", "ShufflingBatcher", "batch_tables", "shutdown_split",
           "streaming_split_iterators"]
