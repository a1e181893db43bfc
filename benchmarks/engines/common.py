"""Pieces every engine's workloads share: the UDFs, batching, and result checks.

The UDFs live here so that every engine runs literally the same Python function.

Example:
    >>> import numpy as np
    >>> add_c({"a": np.array([1.0]), "b": np.array([0.5])})["c"].tolist()
    [2.5]
    >>> a_is_large({"a": 0.7}), a_is_large({"a": 0.2})
    (True, False)
"""

from __future__ import annotations

import functools
import glob
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

Workload = Callable[[Any, Any], dict[str, Any]]
"""A workload of an engine module: ``fn(ctx, params) -> check dict``."""


def add_c(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The ``map_batches`` UDF of the benchmarks: ``c = a * 2 + b``."""
    batch["c"] = batch["a"] * 2 + batch["b"]
    return batch


def add_c_pandas(df: Any) -> Any:
    """The same UDF for ``batch_format="pandas"``: ``c = a * 2 + b`` on a DataFrame."""
    df["c"] = df["a"] * 2 + df["b"]
    return df


def add_c_arrow(table: Any) -> Any:
    """The same UDF for ``batch_format="pyarrow"``, with Arrow compute."""
    import pyarrow.compute as pc

    return table.append_column("c", pc.add(pc.multiply(table["a"], 2), table["b"]))


class AddCPandas:
    """The pandas UDF as a callable class (runs on an actor pool)."""

    def __init__(self, factor: float = 2.0) -> None:
        self.factor = factor

    def __call__(self, df: Any) -> Any:
        df["c"] = df["a"] * self.factor + df["b"]
        return df


def add_c_row(row: dict[str, Any]) -> dict[str, Any]:
    """The row UDF of ``map``: ``c = a * 2 + b`` on one row."""
    row["c"] = row["a"] * 2 + row["b"]
    return row


def two_rows(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``flat_map`` UDF: each row becomes two (``a`` and ``-a``)."""
    return [{"id": row["id"], "a": row["a"]}, {"id": row["id"], "a": -row["a"]}]


def a_is_large(row: dict[str, Any]) -> bool:
    """The row predicate of the UDF-form filter: ``a > 0.5``."""
    return row["a"] > 0.5


def sig(x: float, digits: int = 9) -> float:
    """``x`` rounded to ``digits`` significant digits (sums from engines agree this far).

    Example:
        >>> sig(1234.56789012345)
        1234.56789
    """
    return float(f"{float(x):.{digits}g}")


def files(directory: str, ext: str) -> list[str]:
    """The data files of a generated dataset, sorted.

    Raises:
        FileNotFoundError: none found.
    """
    found = sorted(glob.glob(os.path.join(directory, f"*.{ext}")))
    if not found:
        raise FileNotFoundError(f"no *.{ext} files in {directory}")
    return found


def file_glob(directory: str, ext: str) -> str:
    """A glob matching the data files of a dataset (for engines that take one)."""
    return os.path.join(directory, f"*.{ext}")


def groups_check(num_groups: int, values: Iterable[float]) -> dict[str, Any]:
    """A check of a group-by result: group count and the sum of the aggregates."""
    return {"groups": int(num_groups), "sum": sig(float(np.sum(np.asarray(list(values)))))}


def rebatch(batches: Iterable[Any], batch_size: int) -> Iterator[Any]:
    """Exactly ``batch_size``-row Arrow tables (the last may be shorter) from Arrow batches.

    Args:
        batches: ``pyarrow.RecordBatch`` or ``pyarrow.Table`` objects, in order.
        batch_size: rows per yielded table.

    Example:
        >>> import pyarrow as pa
        >>> parts = [pa.record_batch({"x": list(range(5))}), pa.record_batch({"x": [5, 6]})]
        >>> [t.num_rows for t in rebatch(parts, 3)]
        [3, 3, 1]
    """
    import pyarrow as pa

    pending: list[Any] = []
    pending_rows = 0

    def table_of(parts: list[Any]) -> Any:
        return pa.Table.from_batches(
            [b for p in parts for b in (p.to_batches() if isinstance(p, pa.Table) else [p])])

    for part in batches:
        if part.num_rows == 0:
            continue
        pending.append(part)
        pending_rows += part.num_rows
        if pending_rows < batch_size:
            continue
        table = table_of(pending)
        offset = 0
        while table.num_rows - offset >= batch_size:
            yield table.slice(offset, batch_size)
            offset += batch_size
        rest = table.slice(offset)
        pending = [rest] if rest.num_rows else []
        pending_rows = rest.num_rows
    if pending_rows:
        yield table_of(pending)


def rebatch_to_numpy(batches: Iterable[Any], batch_size: int) -> Iterator[dict[str, np.ndarray]]:
    """Exactly ``batch_size``-row numpy batches (the last may be shorter) from Arrow batches.

    Example:
        >>> import pyarrow as pa
        >>> parts = [pa.record_batch({"x": list(range(5))}), pa.record_batch({"x": [5, 6]})]
        >>> [len(b["x"]) for b in rebatch_to_numpy(parts, 3)]
        [3, 3, 1]
    """
    for table in rebatch(batches, batch_size):
        yield {name: table.column(name).to_numpy() for name in table.column_names}


def rebatch_as(batches: Iterable[Any], batch_size: int, batch_format: str) -> Iterator[Any]:
    """Re-batched Arrow batches in ``batch_format``: ``numpy``, ``pandas`` or ``pyarrow``.

    Example:
        >>> import pyarrow as pa
        >>> [len(b) for b in rebatch_as([pa.record_batch({"x": [1, 2, 3]})], 2, "pandas")]
        [2, 1]
    """
    if batch_format == "numpy":
        yield from rebatch_to_numpy(batches, batch_size)
    elif batch_format == "pandas":
        for table in rebatch(batches, batch_size):
            yield table.to_pandas()
    else:
        yield from rebatch(batches, batch_size)


def subset_files(directory: str, count: int) -> list[str]:
    """The first ``count`` Parquet files of a dataset (row-UDF workloads run on a subset)."""
    return files(directory, "parquet")[:count]


def iter_check(batches: Iterable[dict[str, np.ndarray]]) -> dict[str, Any]:
    """Consume numpy batches; the check is the row count and the sum of ``id``."""
    rows = 0
    id_sum = 0
    for batch in batches:
        ids = batch["id"]
        rows += len(ids)
        id_sum += int(ids.sum())
    return {"rows": rows, "id_sum": id_sum}


def iter_check_any(batches: Iterable[Any]) -> dict[str, Any]:
    """The same check over batches of any format (numpy dict, pandas, Arrow, torch dict).

    Example:
        >>> import pandas as pd, pyarrow as pa
        >>> iter_check_any([pd.DataFrame({"id": [1, 2]}), pa.table({"id": [3]})])
        {'rows': 3, 'id_sum': 6}
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = 0
    id_sum = 0
    for batch in batches:
        ids = batch["id"] if not isinstance(batch, pa.RecordBatch) else batch.column("id")
        rows += len(ids)
        if isinstance(ids, (pa.Array, pa.ChunkedArray)):
            id_sum += int(pc.sum(ids).as_py() or 0)
        else:
            id_sum += int(ids.sum())
    return {"rows": rows, "id_sum": id_sum}


def workload_table(*fns: Workload) -> dict[str, Workload]:
    """An engine's ``WORKLOADS`` entries for functions named as their workloads.

    Example:
        >>> def sort(ctx, p): return {}
        >>> list(workload_table(sort))
        ['sort']
    """
    return {fn.__name__: fn for fn in fns}


def native_forms(write: Workload, csv_count: Workload, join_sum: Workload,
                 iter_form: Callable[[Any, Any, str], dict[str, Any]]) -> dict[str, Workload]:
    """The form workloads of an engine that runs every UDF form as its own native expression.

    Every ``map_batches_*_write`` form and ``with_column_write`` run ``write``,
    ``read_csv_pandas_count`` runs ``csv_count``, and ``iter_batches_pandas`` /
    ``iter_batches_arrow`` run ``iter_form(ctx, params, batch_format)``.

    Example:
        >>> def iter_form(ctx, p, batch_format): return {"format": batch_format}
        >>> forms = native_forms(len, len, len, iter_form)
        >>> forms["iter_batches_arrow"](None, None), forms["with_column_write"] is len
        ({'format': 'pyarrow'}, True)
    """
    return {
        "map_batches_pandas_write": write,
        "map_batches_actor_write": write,
        "map_batches_arrow_write": write,
        "with_column_write": write,
        "read_csv_pandas_count": csv_count,
        "join_sum": join_sum,
        "iter_batches_pandas": functools.partial(iter_form, batch_format="pandas"),
        "iter_batches_arrow": functools.partial(iter_form, batch_format="pyarrow"),
    }
