"""How many Arrow bytes a Parquet file decodes to, told from its footer alone.

A file's size on disk says little about its decoded size: random floats barely compress
(about 1.0×), a dictionary-encoded string column of few distinct values decodes to 10–20×
its pages. The datasource's general estimate (:attr:`ParquetDatasource.encoding_ratio`,
5× the files' size) stays deliberately high, since memory planning of large reads relies
on it; this estimate is for decisions that need the actual size, such as whether a read
is small enough for one task per CPU (:mod:`streamdata.plan.rules.read_parallelism`).

Fixed-width columns are exact (values × width, plus a validity bitmap); a string or binary
column counts its offsets plus the mean of its statistics' min and max lengths per value,
and never less than its uncompressed pages. Anything else (nested, dictionary-typed,
a string column without statistics) cannot be told: the estimate is then None.

Example:
    >>> import io, pyarrow as pa, pyarrow.parquet as pq
    >>> buf = io.BytesIO()
    >>> pq.write_table(pa.table({"x": list(range(1000)), "s": ["ab"] * 1000}), buf)
    >>> md = pq.read_metadata(pa.BufferReader(buf.getvalue()))
    >>> decoded_bytes(md)  # x: 1000 × 8 (+125 validity); s: 1000 × (4 + 2) (+125)
    14250
    >>> decoded_bytes(md, ["x"])
    8125
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pyarrow as pa


def _fixed_width(typ: pa.DataType) -> float | None:
    """Bytes per value of a fixed-width type (None for any other type)."""
    if pa.types.is_boolean(typ):
        return 1 / 8
    if (pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_temporal(typ)
            or pa.types.is_decimal(typ) or pa.types.is_fixed_size_binary(typ)):
        return typ.bit_width / 8
    return None


def _mean_length(statistics: Any) -> float | None:
    """Mean of the lengths of a string column chunk's min and max (None without them)."""
    if statistics is None or not statistics.has_min_max:
        return None
    lengths = [len(v) for v in (statistics.min, statistics.max) if isinstance(v, (str, bytes))]
    return sum(lengths) / len(lengths) if len(lengths) == 2 else None


def decoded_bytes(metadata: Any, columns: Sequence[str] | None = None) -> int | None:
    """Arrow bytes of ``columns`` (all when None) of the file whose footer is ``metadata``
    (``pyarrow.parquet.FileMetaData``), or None when a column's size cannot be told (see
    the module docstring). Columns the file lacks count nothing."""
    schema = metadata.schema.to_arrow_schema()
    if metadata.num_columns != len(schema):  # nested columns: leaves are not fields
        return None
    wanted = None if columns is None else set(columns)
    total = 0.0
    for g in range(metadata.num_row_groups):
        group = metadata.row_group(g)
        for j, field in enumerate(schema):
            if wanted is not None and field.name not in wanted:
                continue
            chunk = group.column(j)
            values = chunk.num_values
            width = _fixed_width(field.type)
            if width is None:
                if not (pa.types.is_string(field.type) or pa.types.is_binary(field.type)
                        or pa.types.is_large_string(field.type) or pa.types.is_large_binary(field.type)):
                    return None
                mean = _mean_length(chunk.statistics)
                if mean is None:
                    return None
                offset = 8 if pa.types.is_large_string(field.type) or pa.types.is_large_binary(field.type) else 4
                width = offset + mean
                total = total + max(values * width, chunk.total_uncompressed_size) + values / 8
            else:
                total += values * width + values / 8
    return int(total)


__all__ = ["decoded_bytes"]
