"""Consuming a Dataset: iterating, taking rows, counting, converting, materializing,
aggregating to values, explaining.

:class:`ConsumeMixin` is part of :class:`~streamdata.dataset.Dataset`; every method
here reaches the executor only through :mod:`streamdata.execution`.

May import: base modules, :mod:`streamdata.plan` (node types) and
:mod:`streamdata.execution`; the iterator lazily (it imports the Dataset's module).

Example:
    >>> import streamdata as sd
    >>> ds = sd.range(5)
    >>> ds.count(), ds.take(2), ds.sum("id")
    (5, [{'id': 0}, {'id': 1}], 10)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

import pyarrow as pa

from streamdata import block as B
from streamdata import execution
from streamdata.context import DataContext
from streamdata.dataset_args import column_list, normalize_batch_format
from streamdata.dataset_observed import observed, observing
from streamdata.errors import PlanError
from streamdata.plan.logical import Aggregate, FlatMap, InputData, LogicalPlan, MapRows, Read
from streamdata.plan.map_nodes import arrow_expressions_only
from streamdata.schema import Schema, as_schema

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from streamdata.aggregate import AggregateFn
    from streamdata.execution import RefBundle
    from streamdata.iterator import DataIterator


def _count_in_tasks(root: Any) -> bool:
    """Whether ``count()`` runs as a fused partial ``Count`` (each task returns its row count
    instead of its blocks): after a read whose count the metadata does not give (a pushed
    filter), after column expressions (``with_column``, ``filter(expr=...)``), and after a
    row UDF (``map``, ``flat_map``) on a CPU task pool, whose rows would otherwise be built
    back into blocks only to be counted (the lowering prunes the row stage's output to no
    column: ``prune_row_stage_output``). A small read counted this way runs on the
    driver's threads (:mod:`streamdata.execution.driver_read`)."""
    if isinstance(root, Read) or arrow_expressions_only(root):
        return True
    return (isinstance(root, (MapRows, FlatMap)) and not root.uses_actors
            and not root.ray_remote_args.get("num_gpus"))


class ConsumeMixin:
    """The consumption methods of a Dataset (each runs the plan, or reads metadata)."""

    _plan: LogicalPlan
    _stats: execution.StatsRecord

    if TYPE_CHECKING:  # pragma: no cover
        def _with(self, node: Any) -> "Dataset": ...
        def limit(self, limit: int) -> "Dataset": ...
        def _materialized(self, bundles: Sequence["RefBundle"],
                          schema: pa.Schema | None) -> "MaterializedDataset": ...
        def _check_columns(self, cols: Any) -> None: ...
        def _aggregate_node(self, keys: Sequence[str], aggs: Sequence[Any]) -> "Dataset": ...

    # ------------------------------------------------------------------ streams
    def _iter_bundles(self, *, stats_owner: Any = None, observe: bool = True) -> Iterator["RefBundle"]:
        """Run the plan; the RefBundles of its output, as they are produced.

        Closing the generator (or leaving a ``for`` loop early) stops the execution. The
        execution's stats land on ``stats_owner`` (default: this dataset). ``observe``: a
        stream that runs out records its rows and schema on this dataset, as Ray's
        consumers do (:mod:`streamdata.dataset_observed`); those that Ray's don't pass False.
        """
        owner = self if stats_owner is None else stats_owner
        bundles = execution.iterate(self._plan, record=owner._stats)
        return observing(self, bundles) if observe else bundles

    def _iter_tables(self, *, stats_owner: Any = None, observe: bool = True) -> Iterator[pa.Table]:
        """Run the plan; its output blocks, fetched here as they are produced (a small read
        is read on this process's threads: :mod:`streamdata.execution.driver_read`);
        ``observe`` as in :meth:`_iter_bundles`."""
        owner = self if stats_owner is None else stats_owner
        tables = execution.iterate_tables(self._plan, record=owner._stats)
        return observing(self, tables) if observe else tables

    def _head_tables(self, limit: int) -> Iterator[pa.Table]:
        """Blocks holding the first ``limit`` rows, in order (the caller stops reading at
        ``limit`` rows). A materialized dataset's first blocks are read from the object
        store as they are, with no execution; any other plan runs under a ``limit``."""
        if isinstance(self._plan.root, InputData):
            return self._iter_tables(stats_owner=self, observe=False)
        return self.limit(limit)._iter_tables(stats_owner=self)

    def iterator(self) -> "DataIterator[MaterializedDataset]":
        """A :class:`~streamdata.iterator.DataIterator` over this dataset (each iteration
        runs the plan).

        Example:
            >>> import streamdata as sd
            >>> it = sd.range(3).iterator()
            >>> sum(len(b["id"]) for b in it.iter_batches(batch_size=2))
            3
        """
        from streamdata.iterator import DataIterator
        return DataIterator(self)

    def iter_rows(self) -> Iterable[dict[str, Any]]:
        """Every row, as a dict.

        Example:
            >>> import streamdata as sd
            >>> [r["id"] for r in sd.range(3).iter_rows()]
            [0, 1, 2]
        """
        return self.iterator().iter_rows()

    def iter_batches(self, *, batch_size: int | None = 256, batch_format: str | None = "default",
                     prefetch_batches: int = 1, drop_last: bool = False,
                     local_shuffle_buffer_size: int | None = None,
                     local_shuffle_seed: int | None = None) -> Iterable[Any]:
        """Batches of ``batch_size`` rows in ``batch_format``, streaming.

        Example:
            >>> import streamdata as sd
            >>> [len(b["id"]) for b in sd.range(5).iter_batches(batch_size=2)]
            [2, 2, 1]
        """
        return self.iterator().iter_batches(
            batch_size=batch_size, batch_format=batch_format, prefetch_batches=prefetch_batches,
            drop_last=drop_last, local_shuffle_buffer_size=local_shuffle_buffer_size,
            local_shuffle_seed=local_shuffle_seed)

    def iter_bucket_batches(self, *, max_tokens: int, length_fn: Callable[[dict[str, Any]], Any],
                            buffer_size: int = 1000, batch_format: str | None = "default",
                            prefetch_batches: int = 1) -> Iterable[Any]:
        """Batches of rows of similar length whose lengths add up to at most ``max_tokens``
        (see :meth:`DataIterator.iter_bucket_batches <streamdata.iterator.DataIterator.iter_bucket_batches>`).

        Example:
            >>> import streamdata as sd
            >>> ds = sd.from_items([{"n": n} for n in [3, 1, 2, 2]])
            >>> [b["n"].tolist() for b in ds.iter_bucket_batches(max_tokens=4, length_fn=lambda r: r["n"])]
            [[1, 2], [2], [3]]
        """
        return self.iterator().iter_bucket_batches(
            max_tokens=max_tokens, length_fn=length_fn, buffer_size=buffer_size,
            batch_format=batch_format, prefetch_batches=prefetch_batches)

    def iter_torch_batches(self, *, batch_size: int | None = 256, dtypes: Any = None,
                           device: str = "auto", collate_fn: Callable[..., Any] | None = None,
                           prefetch_batches: int = 1, drop_last: bool = False,
                           local_shuffle_buffer_size: int | None = None,
                           local_shuffle_seed: int | None = None,
                           pin_memory: bool = False) -> Iterable[Any]:
        """Batches as dicts of ``torch.Tensor`` (or what ``collate_fn`` makes);
        ``pin_memory`` puts CPU tensors in pinned memory (faster copies to a GPU).

        Example:
            >>> import streamdata as sd
            >>> [b["id"].tolist() for b in sd.range(3).iter_torch_batches(batch_size=3)]
            [[0, 1, 2]]
        """
        return self.iterator().iter_torch_batches(
            batch_size=batch_size, dtypes=dtypes, device=device, collate_fn=collate_fn,
            prefetch_batches=prefetch_batches, drop_last=drop_last,
            local_shuffle_buffer_size=local_shuffle_buffer_size,
            local_shuffle_seed=local_shuffle_seed, pin_memory=pin_memory)

    # ------------------------------------------------------------------ rows
    def take(self, limit: int = 20) -> list[dict[str, Any]]:
        """Up to ``limit`` rows, as dicts.

        Example:
            >>> import streamdata as sd
            >>> sd.range(10).take(2)
            [{'id': 0}, {'id': 1}]
        """
        _check_count("take limit", limit)
        rows: list[dict[str, Any]] = []
        if limit <= 0:
            return rows
        gen = self._head_tables(limit)
        try:
            for table in gen:
                for row in B.iter_rows(table.slice(0, limit - len(rows))):
                    rows.append(row)
                    if len(rows) >= limit:
                        return rows
        finally:
            gen.close()
        return rows

    def take_all(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Every row, as dicts (``limit``: raise if there are more than that).

        Example:
            >>> import streamdata as sd
            >>> len(sd.range(7).take_all())
            7
        """
        return self._take_all_for(self, limit)

    def _take_all_for(self, owner: Any, limit: int | None = None) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        gen = self._iter_tables(stats_owner=owner)
        try:
            for table in gen:
                rows.extend(B.iter_rows(table))
                if limit is not None and len(rows) > limit:
                    raise ValueError(f"the dataset has more than the given limit of {limit} rows")
        finally:
            gen.close()
        return rows

    def take_batch(self, batch_size: int = 20, *, batch_format: str | None = "default") -> Any:
        """The first ``batch_size`` rows as one batch (ValueError when there are none).

        Example:
            >>> import streamdata as sd
            >>> sd.range(10).take_batch(3)["id"].tolist()
            [0, 1, 2]
        """
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise PlanError(f"take_batch batch_size must be a positive int, got {batch_size!r}")
        fmt = normalize_batch_format(batch_format)
        tables: list[pa.Table] = []
        rows = 0
        gen = self._head_tables(batch_size)
        try:
            for table in gen:
                if table.num_rows:
                    tables.append(table.slice(0, batch_size - rows))
                    rows += tables[-1].num_rows
                if rows >= batch_size:
                    break
        finally:
            gen.close()
        if not tables:
            raise ValueError("The dataset is empty (take_batch).")
        return B.to_batch(B.concat(tables), fmt)

    def show(self, limit: int = 20) -> None:
        """Print up to ``limit`` rows.

        Example:
            >>> import streamdata as sd
            >>> sd.range(2).show()
            {'id': 0}
            {'id': 1}
        """
        _check_count("show limit", limit)
        for row in self.take(limit):
            print(row)

    # ------------------------------------------------------------------ metadata
    def _meta_count(self) -> int | None:
        """The number of rows known without running anything: what a whole run of this
        dataset saw, else what the plan tells (Ray's ``_meta_count``)."""
        seen = observed(self)
        if seen is not None and seen.num_rows is not None:
            return seen.num_rows
        return self._plan.num_rows()

    def count(self) -> int:
        """The number of rows (from metadata when the source knows it, or from a whole run
        of this dataset that already happened, without reading).

        Example:
            >>> import streamdata as sd
            >>> sd.range(42).count()
            42
        """
        known = self._meta_count()
        if known is not None:
            return known
        if _count_in_tasks(self._plan.root):
            from streamdata.aggregate import Count
            result = self.aggregate(Count())
            return int(result["count()"]) if result else 0
        return sum(bundle.num_rows() or 0 for bundle in self._iter_bundles(observe=False))

    def schema(self, fetch_if_missing: bool = True) -> Schema | None:
        """The :class:`~streamdata.schema.Schema` (``names``, ``types``, ``base_schema``:
        the ``pyarrow.Schema``): the one a whole run of this dataset saw, else known from
        the source, else found by running the plan on its first rows (and then remembered,
        as Ray does: ``repr(ds)`` shows it too).

        Example:
            >>> import streamdata as sd
            >>> sd.range(3).schema().names
            ['id']
        """
        seen = observed(self)
        schema = seen.schema if seen is not None else None
        schema = self._plan.schema() if schema is None else schema
        if schema is None:
            schema = getattr(self, "_schema_cache", None)
        if schema is None and fetch_if_missing:
            head = self if isinstance(self._plan.root, InputData) else self.limit(1)  # materialized: no run
            schema = _first_schema(head._iter_bundles(stats_owner=self))
            self._schema_cache = schema
        return as_schema(schema)

    def columns(self, fetch_if_missing: bool = True) -> list[str] | None:
        """The column names.

        Example:
            >>> import streamdata as sd
            >>> sd.from_items([{"a": 1, "b": 2}]).columns()
            ['a', 'b']
        """
        schema = self.schema(fetch_if_missing=fetch_if_missing)
        return None if schema is None else list(schema.names)

    def num_blocks(self) -> int:
        """The number of blocks the dataset has once run.

        Example:
            >>> import streamdata as sd
            >>> sd.range(10, override_num_blocks=2).num_blocks()
            2
        """
        return sum(len(bundle) for bundle in self._iter_bundles(observe=False))

    def size_bytes(self) -> int:
        """Bytes of the dataset's blocks in memory.

        Example:
            >>> import streamdata as sd
            >>> sd.range(10).size_bytes()
            80
        """
        return sum(bundle.size_bytes() for bundle in self._iter_bundles())

    def input_files(self) -> list[str]:
        """The files the dataset reads (none for in-memory data).

        Example:
            >>> import streamdata as sd
            >>> sd.range(3).input_files()
            []
        """
        files: list[str] = []
        for node in self._plan.sources():
            if isinstance(node, Read):
                found = node.datasource.input_files()
            elif isinstance(node, InputData):
                found = [f for b in node.bundles for m in b.metadata() for f in m.input_files]
            else:
                found = []
            files.extend(f for f in found if f not in files)
        return files

    def stats(self) -> str:
        """Statistics of the last execution of this dataset (time and rows per operator);
        ``""`` before it ran, as Ray.

        Example:
            >>> import streamdata as sd
            >>> sd.range(3).stats()
            ''
            >>> ds = sd.range(3).materialize()
            >>> "InputData" in ds.stats() or "Read" in ds.stats()
            True
        """
        return "" if self._stats.last is None else str(self._stats)

    def explain(self) -> None:
        """Print the logical, optimized and physical plans (returns None, as Ray's does).

        Example:
            >>> import streamdata as sd
            >>> sd.range(3).map_batches(lambda b: b).explain()  # doctest: +ELLIPSIS
            -------- Logical plan --------
            ...
        """
        physical = execution.compile(self._plan, DataContext.get_current())
        print("\n".join([
            "-------- Logical plan --------", self._plan.explain(),
            "-------- Optimized logical plan --------", physical.logical.explain(),
            "-------- Physical plan --------", physical.explain()]))

    # ------------------------------------------------------------------ conversions
    def to_arrow(self) -> pa.Table:
        """All rows as one ``pyarrow.Table``.

        Example:
            >>> import streamdata as sd
            >>> sd.range(3).to_arrow().num_rows
            3
        """
        tables = list(self._iter_tables())
        if not tables:
            schema = self.schema(fetch_if_missing=False)
            return schema.base_schema.empty_table() if schema is not None else pa.table({})
        return B.concat(tables)

    def to_pandas(self, limit: int | None = None) -> "pd.DataFrame":
        """All rows as one pandas DataFrame (``limit``: raise if there are more rows).

        Example:
            >>> import streamdata as sd
            >>> sd.range(3).to_pandas()["id"].tolist()
            [0, 1, 2]
        """
        table = self.to_arrow()
        if limit is not None and table.num_rows > limit:
            raise ValueError(f"the dataset has {table.num_rows} rows, more than the given "
                             f"limit of {limit}")
        return B.to_pandas(table, use_threads=True)

    def materialize(self) -> "MaterializedDataset":
        """Run the plan and keep its blocks in the object store.

        Example:
            >>> import streamdata as sd
            >>> m = sd.range(4).map(lambda r: {"id": r["id"] + 1}).materialize()
            >>> m.count(), m.num_blocks() >= 1
            (4, True)
        """
        result = execution.run(self._plan, record=self._stats)
        schema = _bundles_schema(result.bundles) or self._plan.schema()
        out = self._materialized(result.bundles, schema)
        out._stats.last = self._stats.last
        return out

    # ------------------------------------------------------------------ aggregations to values
    def aggregate(self, *aggs: "AggregateFn") -> dict[str, Any] | None:
        """Run aggregations over the whole dataset; a dict of their results.

        Example:
            >>> import streamdata as sd
            >>> from streamdata.aggregate import Count, Max
            >>> sd.range(5).aggregate(Count(), Max("id"))
            {'count()': 5, 'max(id)': 4}
        """
        if not aggs:
            raise PlanError("aggregate needs at least one aggregation")
        rows = self._aggregate_node([], aggs)._take_all_for(self)
        return rows[0] if rows else None

    def _simple_agg(self, cls_name: str, on: str | Sequence[str] | None, **kwargs: Any) -> Any:
        import streamdata.aggregate as A
        cls = getattr(A, cls_name)
        cols = self.columns() if on is None else column_list(on, cls_name.lower())
        result = self.aggregate(*(cls(c, **kwargs) for c in cols))
        if result is None:
            return None
        if len(result) == 1:  # one column (a name, or a list of one, as Ray): its value
            return next(iter(result.values()))
        return result

    def sum(self, on: str | Sequence[str] | None = None, ignore_nulls: bool = True) -> Any:
        """Sum of column ``on`` (a dict when several columns).

        Example:
            >>> import streamdata as sd
            >>> sd.range(5).sum("id")
            10
        """
        return self._simple_agg("Sum", on, ignore_nulls=ignore_nulls)

    def min(self, on: str | Sequence[str] | None = None, ignore_nulls: bool = True) -> Any:
        """Minimum of column ``on``.

        Example:
            >>> import streamdata as sd
            >>> sd.range(5).min("id")
            0
        """
        return self._simple_agg("Min", on, ignore_nulls=ignore_nulls)

    def max(self, on: str | Sequence[str] | None = None, ignore_nulls: bool = True) -> Any:
        """Maximum of column ``on``.

        Example:
            >>> import streamdata as sd
            >>> sd.range(5).max("id")
            4
        """
        return self._simple_agg("Max", on, ignore_nulls=ignore_nulls)

    def mean(self, on: str | Sequence[str] | None = None, ignore_nulls: bool = True) -> Any:
        """Mean of column ``on``.

        Example:
            >>> import streamdata as sd
            >>> sd.range(5).mean("id")
            2.0
        """
        return self._simple_agg("Mean", on, ignore_nulls=ignore_nulls)

    def std(self, on: str | Sequence[str] | None = None, ddof: int = 1,
            ignore_nulls: bool = True) -> Any:
        """Standard deviation of column ``on`` (``ddof=1``: the sample's).

        Example:
            >>> import streamdata as sd
            >>> round(sd.range(5).std("id"), 4)
            1.5811
        """
        return self._simple_agg("Std", on, ddof=ddof, ignore_nulls=ignore_nulls)

    def unique(self, column: str, ignore_nulls: bool = False) -> list[Any]:
        """The distinct values of ``column`` (``ignore_nulls``: without None).

        Example:
            >>> import streamdata as sd
            >>> sorted(sd.from_items([{"a": 1}, {"a": 2}, {"a": 1}]).unique("a"))
            [1, 2]
        """
        if not isinstance(column, str):
            raise PlanError(f"unique takes one column name, got {column!r}")
        self._check_columns([column])
        distinct = self._with(Aggregate(inputs=(self._plan.root,), keys=(column,)))
        values = [row[column] for row in distinct._take_all_for(self)]
        return [v for v in values if v is not None] if ignore_nulls else values


def _check_count(what: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PlanError(f"{what} must be an int >= 0, got {value!r}")


def _bundles_schema(bundles: Sequence["RefBundle"]) -> pa.Schema | None:
    for b in bundles:
        for meta in b.metadata():
            if meta.schema is not None:
                return meta.schema
    return None


def _first_schema(bundles: Iterator["RefBundle"]) -> pa.Schema | None:
    try:
        for b in bundles:
            schema = _bundles_schema([b])
            if schema is not None:
                return schema
            tables = execution.get_tables([b])
            if tables:
                return tables[0].schema
        return None
    finally:
        close = getattr(bundles, "close", None)
        if close is not None:
            close()


__all__ = ["ConsumeMixin"]
