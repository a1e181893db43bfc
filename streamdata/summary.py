"""``Dataset.summary()``: per-column statistics by data type (Ray Data's ``DatasetSummary``).

:class:`SummaryBuilder` folds a stream of Arrow tables into the statistics (pure, no
processes); :class:`DatasetSummary` holds them.

- numeric (int, float, decimal, bool): count, mean, min, max, std, approx_quantile[0]
  (the median, from a bounded sample), missing_pct, zero_pct;
- string / binary: count, missing_pct, approx_topk[0..9] (``{column: value, "count": n}``);
- temporal: count, min, max, missing_pct;
- anything else: count, missing_pct.

A base module (pyarrow, numpy; pandas lazily).

Example:
    >>> import pyarrow as pa
    >>> b = SummaryBuilder(pa.schema([("x", pa.int64()), ("s", pa.string())]))
    >>> b.add(pa.table({"x": [0, 2, None], "s": ["a", "a", None]}))
    >>> s = b.build()
    >>> s.get_column_stats("x")["mean"], s.get_column_stats("s")["approx_topk[0]"]
    (1.0, {'s': 'a', 'count': 2})
"""

from __future__ import annotations

import collections
import math
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: values kept per numeric column for the median
_SAMPLE = 100_000
_TOPK = 10


def _kind(t: pa.DataType) -> str:
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) \
            or pa.types.is_boolean(t):
        return "numeric"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) \
            or pa.types.is_large_binary(t):
        return "string"
    if pa.types.is_temporal(t):
        return "temporal"
    return "other"


class _Column:
    def __init__(self, name: str, kind: str) -> None:
        self.name, self.kind = name, kind
        self.count = self.nulls = self.zeros = 0
        self.total = self.total_sq = 0.0
        self.low: Any = None
        self.high: Any = None
        self.sample: list[np.ndarray] = []
        self.sampled = 0
        self.top: collections.Counter[Any] = collections.Counter()

    def add(self, col: pa.ChunkedArray) -> None:
        self.count += len(col)
        self.nulls += col.null_count
        valid = pc.drop_null(col)
        if len(valid) == 0:
            return
        if self.kind in ("numeric", "temporal"):
            lo, hi = pc.min_max(valid).values()
            lo, hi = lo.as_py(), hi.as_py()
            self.low = lo if self.low is None else min(self.low, lo)
            self.high = hi if self.high is None else max(self.high, hi)
        if self.kind == "numeric":
            values = np.asarray(valid.to_numpy(), dtype=np.float64)
            self.total += float(values.sum())
            self.total_sq += float((values * values).sum())
            self.zeros += int((values == 0).sum())
            if self.sampled < _SAMPLE:
                take = values[: _SAMPLE - self.sampled]
                self.sample.append(take)
                self.sampled += len(take)
        elif self.kind == "string":
            self.top.update(valid.to_pylist())

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {"count": self.count}
        valid = self.count - self.nulls
        if self.kind in ("numeric", "temporal"):
            out["min"], out["max"] = self.low, self.high
        if self.kind == "numeric":
            mean = self.total / valid if valid else None
            out["mean"] = mean
            if valid > 1 and mean is not None:
                var = max(0.0, (self.total_sq - valid * mean * mean) / (valid - 1))
                out["std"] = math.sqrt(var)
            else:
                out["std"] = None
            out["approx_quantile[0]"] = (float(np.median(np.concatenate(self.sample)))
                                         if self.sample else None)
            out["zero_pct"] = 100.0 * self.zeros / self.count if self.count else None
        out["missing_pct"] = 100.0 * self.nulls / self.count if self.count else None
        if self.kind == "string":
            for i, (value, n) in enumerate(self.top.most_common(_TOPK)):
                out[f"approx_topk[{i}]"] = {self.name: value, "count": n}
        return out


class SummaryBuilder:
    """Folds tables of one schema into per-column statistics."""

    def __init__(self, schema: pa.Schema, columns: Sequence[str] | None = None) -> None:
        names = list(columns) if columns is not None else list(schema.names)
        self.schema = schema
        self._cols = [_Column(n, _kind(schema.field(n).type)) for n in names]

    def add(self, table: pa.Table) -> None:
        for c in self._cols:
            c.add(table.column(c.name))

    def build(self) -> "DatasetSummary":
        return DatasetSummary({c.name: c.stats() for c in self._cols}, self.schema,
                              [c.name for c in self._cols])


class DatasetSummary:
    """Per-column statistics of a dataset (``Dataset.summary()``).

    Attributes:
        dataset_schema: the dataset's ``pyarrow.Schema``.
        columns: the summarized columns.
    """

    #: the name of the statistic column of :meth:`to_pandas`
    STATISTIC_COLUMN = "statistic"

    def __init__(self, stats: dict[str, dict[str, Any]], dataset_schema: pa.Schema,
                 columns: list[str]) -> None:
        self._stats = stats
        self.dataset_schema = dataset_schema
        self.columns = columns

    def get_column_stats(self, column: str) -> dict[str, Any]:
        """The statistics of one column (``{statistic: value}``)."""
        if column not in self._stats:
            from streamdata.errors import ColumnNotFoundError
            raise ColumnNotFoundError(column, list(self._stats))
        return dict(self._stats[column])

    def to_pandas(self) -> Any:
        """One row per statistic, one column per dataset column (sorted by statistic)."""
        import pandas as pd
        names = sorted({k for s in self._stats.values() for k in s})
        data: dict[str, list[Any]] = {self.STATISTIC_COLUMN: names}
        for col in self.columns:
            data[col] = [self._stats[col].get(k) for k in names]
        return pd.DataFrame(data)

    def __repr__(self) -> str:
        return f"DatasetSummary(columns={self.columns})\n{self.to_pandas().to_string(index=False)}"


__all__ = ["DatasetSummary", "SummaryBuilder"]
