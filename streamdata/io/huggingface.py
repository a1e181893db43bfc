"""Hugging Face ``datasets`` as sources: ``from_huggingface``.

A map-style ``datasets.Dataset`` is read from its Arrow table without converting rows:
the table is split into contiguous row ranges, one per read task. A table memory-mapped
from the Hugging Face cache (``load_from_disk``, ``load_dataset``, ``map`` results)
travels to the workers as its file paths and is mapped there, so no data is copied; an
in-memory table travels as the Arrow IPC bytes of each task's rows. An indices mapping
(from ``select``/``shuffle``/``filter``) is applied with a take. An ``IterableDataset`` is streamed in Arrow batches by the
read tasks, one per shard (``n_shards``) when it has several.

Example:
    >>> import datasets
    >>> src = HuggingFaceDatasource(datasets.Dataset.from_dict({"x": [1, 2, 3]}))
    >>> [b.to_pydict() for t in src.get_read_tasks(2) for b in t()]
    [{'x': [1, 2]}, {'x': [3]}]
"""

from __future__ import annotations

from typing import Any, Iterator

import pyarrow as pa

from streamdata.block_metadata import BlockMetadata
from streamdata.errors import PlanError
from streamdata.io.datasource import Datasource
from streamdata.io.sizing import split_evenly, split_table, target_block_sizes
from streamdata.read_task import ReadTask


def _import() -> Any:
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("from_huggingface needs datasets: pip install 'streamdata[formats]'") from exc
    return datasets


class _Compact:
    """A table that pickles as an Arrow IPC stream: only its rows travel (a pickled slice
    would carry its whole parent buffers); the receiver reads it without copying."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def __reduce__(self) -> tuple:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, self.table.schema) as writer:
            writer.write_table(self.table)
        return (_from_ipc, (sink.getvalue(),))


def _from_ipc(buf: pa.Buffer) -> _Compact:
    return _Compact(pa.ipc.open_stream(buf).read_all())


class _TableSlice:
    """Rows ``[lo, hi)`` of a dataset's table. A memory-mapped table (the Hugging Face cache)
    travels as its file paths and is mapped again in the worker: no copy on either side."""

    def __init__(self, source: Any, indices: pa.Array | None, lo: int, hi: int) -> None:
        self.source, self.indices, self.lo, self.hi = source, indices, lo, hi

    def __call__(self) -> Iterator[pa.Table]:
        _, max_bytes = target_block_sizes()
        table = self.source.table
        if isinstance(self.source, _Compact):
            piece = table
        elif self.indices is None:
            piece = table.slice(self.lo, self.hi - self.lo)
        else:
            piece = table.take(self.indices)
        yield from split_table(piece, max_bytes)


class _IterableShard:
    def __init__(self, dataset: Any, shard: int | None, num_shards: int) -> None:
        self.dataset, self.shard, self.num_shards = dataset, shard, num_shards

    def __call__(self) -> Iterator[pa.Table]:
        ds = self.dataset
        if self.shard is not None:
            ds = ds.shard(num_shards=self.num_shards, index=self.shard)
        produced = False
        for batch in ds.with_format("arrow").iter(batch_size=1024):
            produced = True
            yield batch if isinstance(batch, pa.Table) else pa.Table.from_pydict(batch)
        if not produced:
            yield pa.table({})


class HuggingFaceDatasource(Datasource):
    """A Hugging Face dataset (see the module docstring)."""

    name = "FromHuggingFace"

    def __init__(self, dataset: Any) -> None:
        datasets = _import()
        if isinstance(dataset, datasets.DatasetDict) or isinstance(dataset, datasets.IterableDatasetDict):
            raise PlanError(f"from_huggingface takes one split, got a {type(dataset).__name__} with splits "
                            f"{list(dataset.keys())}: pass e.g. dataset['train']")
        if not isinstance(dataset, (datasets.Dataset, datasets.IterableDataset)):
            raise PlanError(f"from_huggingface takes a datasets.Dataset or IterableDataset, got "
                            f"{type(dataset).__name__}")
        self._dataset = dataset
        self._iterable = isinstance(dataset, datasets.IterableDataset)

    def _table(self) -> tuple[pa.Table, pa.Array | None]:
        ds = self._dataset
        table = ds.data.table  # the Arrow table itself (memory-mapped or in memory): no copy
        indices = ds._indices.column(0).combine_chunks() if ds._indices is not None else None
        return table, indices

    def _piece(self, lo: int, hi: int) -> _TableSlice:
        datasets = _import()
        table, indices = self._table()
        if not isinstance(self._dataset.data, datasets.table.InMemoryTable):
            # pickles as paths (+ replayed schema changes): re-mapped in the worker
            part = None if indices is None else indices.slice(lo, hi - lo)
            return _TableSlice(self._dataset.data, part, lo, hi)
        piece = table.slice(lo, hi - lo) if indices is None else table.take(indices.slice(lo, hi - lo))
        return _TableSlice(_Compact(piece), None, lo, hi)

    def num_rows(self) -> int | None:
        return None if self._iterable else len(self._dataset)

    def schema(self) -> pa.Schema | None:
        if self._iterable:
            return None
        return self._table()[0].schema

    def estimate_inmemory_data_size(self) -> int | None:
        if self._iterable:
            return None
        table, indices = self._table()
        if indices is None or table.num_rows == 0:
            return table.nbytes
        return int(table.nbytes * len(indices) / table.num_rows)

    def get_read_tasks(self, parallelism: int) -> list[ReadTask]:
        if self._iterable:
            shards = int(getattr(self._dataset, "n_shards", getattr(self._dataset, "num_shards", 1)) or 1)
            if shards > 1:
                return [ReadTask(_IterableShard(self._dataset, i, shards), BlockMetadata()) for i in range(shards)]
            return [ReadTask(_IterableShard(self._dataset, None, 1), BlockMetadata())]
        table, indices = self._table()
        n = len(indices) if indices is not None else table.num_rows
        tasks = []
        for lo, hi in split_evenly(n, max(1, min(int(parallelism), max(1, n)))):
            size = None if not n else int(self.estimate_inmemory_data_size() * (hi - lo) / n)
            tasks.append(ReadTask(self._piece(lo, hi),
                                  BlockMetadata(num_rows=hi - lo, size_bytes=size, schema=table.schema)))
        return tasks
