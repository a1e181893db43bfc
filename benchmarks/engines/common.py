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

import glob
import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np


def add_c(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The ``map_batches`` UDF of the benchmarks: ``c = a * 2 + b``."""
    batch["c"] = batch["a"] * 2 + batch["b"]
    return batch


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


def rebatch_to_numpy(batches: Iterable[Any], batch_size: int) -> Iterator[dict[str, np.ndarray]]:
    """Exactly ``batch_size``-row numpy batches (the last may be shorter) from Arrow batches.

    Args:
        batches: ``pyarrow.RecordBatch`` or ``pyarrow.Table`` objects, in order.
        batch_size: rows per yielded batch.

    Example:
        >>> import pyarrow as pa
        >>> parts = [pa.record_batch({"x": list(range(5))}), pa.record_batch({"x": [5, 6]})]
        >>> [len(b["x"]) for b in rebatch_to_numpy(parts, 3)]
        [3, 3, 1]
    """
    import pyarrow as pa

    pending: list[Any] = []
    pending_rows = 0

    def emit(table: Any) -> dict[str, np.ndarray]:
        return {name: table.column(name).to_numpy() for name in table.column_names}

    for part in batches:
        if part.num_rows == 0:
            continue
        pending.append(part)
        pending_rows += part.num_rows
        if pending_rows < batch_size:
            continue
        table = pa.Table.from_batches(
            [b for p in pending for b in (p.to_batches() if isinstance(p, pa.Table) else [p])])
        offset = 0
        while table.num_rows - offset >= batch_size:
            yield emit(table.slice(offset, batch_size))
            offset += batch_size
        rest = table.slice(offset)
        pending = [rest] if rest.num_rows else []
        pending_rows = rest.num_rows
    if pending_rows:
        yield emit(pa.Table.from_batches(
            [b for p in pending for b in (p.to_batches() if isinstance(p, pa.Table) else [p])]))


def iter_check(batches: Iterable[dict[str, np.ndarray]]) -> dict[str, Any]:
    """Consume numpy batches; the check is the row count and the sum of ``id``."""
    rows = 0
    id_sum = 0
    for batch in batches:
        ids = batch["id"]
        rows += len(ids)
        id_sum += int(ids.sum())
    return {"rows": rows, "id_sum": id_sum}
