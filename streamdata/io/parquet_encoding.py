"""Which columns of a Parquet file are worth dictionary-encoding, and worth compressing.

pyarrow dictionary-encodes every column unless told otherwise. For a column of mostly
distinct values (ids, measurements, floats) that is wasted work: the writer hashes every
value into a dictionary until the dictionary page outgrows its limit, then falls back to
plain encoding, and the file is no smaller. On the benchmark tables that attempt is about
two thirds of ``write_table``'s time. Engines that write Parquet fast (DuckDB, Polars) only
dictionary-encode columns with few distinct values; streamdata's Parquet sink does the same,
deciding from a sample of the first rows it writes, unless the user passed
``use_dictionary`` (then theirs is used as given).

Compression is the same kind of waste for numbers that do not compress (measurements,
random floats, hashes): Snappy, pyarrow's default codec, makes such pages no smaller (often
a few bytes larger) and costs about 7% of ``write_table``'s time on the benchmark tables
(benchmarks/PROFILES.md, "Issue 14, wave 6"). :func:`column_compression` tries the codec on
a sample of each plain-encoded fixed-width column and writes uncompressed the ones it
would not shrink by :data:`MIN_COMPRESSION_SAVING`, unless the user passed
``compression`` (then theirs is used as given).

Integers and the temporal types stored as integers (dates, times, timestamps, durations)
that are not dictionary-encoded are written ``DELTA_BINARY_PACKED`` (:func:`delta_columns`):
each page stores the differences between consecutive values, bit-packed at the width the
page needs. For the ids, counters and timestamps such columns usually hold, that is both the
cheapest encoding to write (about a third of plain + Snappy's time for an id column, and no
compression pass) and by far the smallest (an id column of 200k rows: 1.5 KB instead of
800 KB); for random integers it is about as small as plain. Every Parquet reader of the
format's version 2 encodings reads it (pyarrow, DuckDB, Polars, Spark, Ray). Unless the user
chose ``column_encoding``, ``use_byte_stream_split``, int96 timestamps or every column's
dictionary (then pyarrow's choice applies).

Example:
    >>> import pyarrow as pa
    >>> table = pa.table({"id": list(range(4096)), "kind": ["a", "b"] * 2048})
    >>> dictionary_columns(table)
    ['kind']
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

#: rows of the first block looked at
SAMPLE_ROWS = 4096
#: below this many rows the sample says too little: pyarrow's default (every column)
MIN_SAMPLE_ROWS = 256
#: a column is dictionary-encoded when at most this share of its sampled values are distinct
MAX_DISTINCT_SHARE = 0.5
#: a plain-encoded column is compressed when the codec shrinks its sample by at least this share
MIN_COMPRESSION_SAVING = 0.05
#: pyarrow's default codec (``compression=`` of ``pyarrow.parquet.ParquetWriter``)
DEFAULT_CODEC = "snappy"
#: the encoding of the integer-valued columns that are not dictionary-encoded
DELTA = "DELTA_BINARY_PACKED"
#: writer options that rule out choosing ``column_encoding`` (the user's, or incompatible)
_ENCODING_CHOSEN = ("column_encoding", "use_byte_stream_split", "use_deprecated_int96_timestamps")


def _flat(t: pa.DataType) -> bool:
    return not (pa.types.is_nested(t) or isinstance(t, pa.BaseExtensionType))


def dictionary_columns(table: pa.Table) -> list[str] | bool:
    """The columns of ``table`` to dictionary-encode (``use_dictionary=`` of
    ``pyarrow.parquet.ParquetWriter``), judged from its first :data:`SAMPLE_ROWS` rows.

    Returns True (pyarrow's default: every column) when the sample is too small to judge
    or a column is nested or of an extension type (its Parquet leaves have other names);
    False when no column is worth it.

    Example:
        >>> dictionary_columns(pa.table({"x": [1.5, 2.5]}))
        True
    """
    if table.num_rows < MIN_SAMPLE_ROWS or not all(_flat(f.type) for f in table.schema):
        return True
    sample = table.slice(0, SAMPLE_ROWS)
    rows = sample.num_rows
    out = []
    for field, column in zip(sample.schema, sample.columns):
        if pa.types.is_dictionary(field.type):
            out.append(field.name)
            continue
        distinct = _distinct(column)
        if distinct <= rows * MAX_DISTINCT_SHARE:
            out.append(field.name)
    return out or False


def _distinct(column: pa.ChunkedArray) -> int:
    """How many distinct values ``column`` (a sample) holds, a null counted once.

    Integers and floats without nulls or NaNs are counted by sorting a copy (about a
    fifth of hashing's time when most values are distinct, as in id and measurement
    columns); other columns by the length of ``unique`` (the figure of
    ``count_distinct(mode="all")`` in half its time).

    Example:
        >>> _distinct(pa.chunked_array([[3, 1, 3], [1, 2]])), _distinct(pa.chunked_array([["a", None, "a"]]))
        (3, 2)
    """
    import numpy as np
    import pyarrow.compute as pc

    t = column.type
    if (pa.types.is_integer(t) or pa.types.is_floating(t)) and column.null_count == 0 and len(column):
        values = np.sort(column.to_numpy())
        if not (values.dtype.kind == "f" and np.isnan(values[-1])):  # NaNs sort last
            return int(np.count_nonzero(values[1:] != values[:-1])) + 1
    return len(pc.unique(column))


def _sample_bytes(column: pa.ChunkedArray) -> Any:
    """The value bytes of the first :data:`SAMPLE_ROWS` rows of a fixed-width column
    (its first chunk), or None when there is no such buffer to try."""
    if column.num_chunks == 0:
        return None
    chunk = column.chunk(0)
    width = chunk.type.bit_width // 8 if chunk.type.bit_width % 8 == 0 else 0
    buffers = chunk.buffers()
    if width == 0 or len(buffers) != 2 or buffers[1] is None:
        return None
    rows = min(len(chunk), SAMPLE_ROWS)
    return buffers[1].slice(chunk.offset * width, rows * width) if rows else None


def column_compression(table: pa.Table, dictionary: list[str] | bool,
                       codec: str = DEFAULT_CODEC) -> dict[str, str] | None:
    """Per column, ``codec`` or ``"none"`` (``compression=`` of ``ParquetWriter``): the
    plain-encoded fixed-width columns whose first :data:`SAMPLE_ROWS` values ``codec`` does
    not shrink by :data:`MIN_COMPRESSION_SAVING` are written uncompressed.

    ``dictionary`` is the ``use_dictionary`` the file is written with: dictionary-encoded
    columns, strings, booleans and nested types keep ``codec``. Returns None (write every
    column with ``codec``) when no column is left uncompressed or the sample is too small
    to judge.

    Example:
        >>> import numpy as np
        >>> t = pa.table({"x": np.random.default_rng(0).random(4096), "n": np.zeros(4096)})
        >>> column_compression(t, False)
        {'x': 'none', 'n': 'snappy'}
    """
    if table.num_rows < MIN_SAMPLE_ROWS or not all(_flat(f.type) for f in table.schema):
        return None
    encoded = set(table.column_names) if dictionary is True else set(dictionary or ())
    out: dict[str, str] = {}
    for field, column in zip(table.schema, table.columns):
        out[field.name] = codec
        if field.name in encoded or not (pa.types.is_integer(field.type) or pa.types.is_floating(field.type)
                                         or pa.types.is_temporal(field.type)
                                         or pa.types.is_decimal(field.type)):
            continue
        sample = _sample_bytes(column)
        if sample is None or sample.size < 1024:
            continue
        if pa.compress(sample, codec=codec, asbytes=False).size > sample.size * (1 - MIN_COMPRESSION_SAVING):
            out[field.name] = "none"
    return out if "none" in out.values() else None


def _integer_valued(t: pa.DataType) -> bool:
    """Types Parquet stores as INT32/INT64 (what ``DELTA_BINARY_PACKED`` encodes)."""
    return (pa.types.is_integer(t) or pa.types.is_date(t) or pa.types.is_timestamp(t)
            or pa.types.is_time(t) or pa.types.is_duration(t))


def delta_columns(schema: pa.Schema, dictionary: list[str] | bool) -> list[str]:
    """The columns to write ``DELTA_BINARY_PACKED``: the integer-valued ones (integers,
    dates, times, timestamps, durations) not in ``dictionary`` (the ``use_dictionary`` the
    file is written with; True, every column, leaves none).

    Example:
        >>> schema = pa.schema([("id", pa.int64()), ("key", pa.int64()), ("x", pa.float64()),
        ...                     ("t", pa.timestamp("us"))])
        >>> delta_columns(schema, ["key"])
        ['id', 't']
    """
    if dictionary is True:
        return []
    encoded = set(dictionary or ())
    return [f.name for f in schema if f.name not in encoded and _integer_valued(f.type)]


def encoding_options(options: dict[str, Any], first: pa.Table | None) -> dict[str, Any]:
    """``options`` with the encodings judged from the file's first rows
    (:mod:`streamdata.io.parquet_encoding`) where the user did not choose: which columns to
    dictionary-encode (``use_dictionary``), which to delta-encode (``column_encoding``) and
    which to leave uncompressed (``compression``, only while pyarrow's default codec applies;
    delta-encoded columns are left uncompressed: their pages are bit-packed already).

    Example:
        >>> t = pa.table({"id": list(range(4096)), "kind": ["a", "b"] * 2048})
        >>> encoding_options({"compression": "zstd"}, t)
        {'compression': 'zstd', 'use_dictionary': ['kind'], 'column_encoding': {'id': 'DELTA_BINARY_PACKED'}}
        >>> encoding_options({}, t)["compression"]
        {'id': 'none', 'kind': 'snappy'}
    """
    if first is None:
        return options
    out = dict(options)
    if "use_dictionary" not in out:
        out["use_dictionary"] = dictionary_columns(first)
    delta: list[str] = []
    if not any(key in out for key in _ENCODING_CHOSEN):
        delta = delta_columns(first.schema, out["use_dictionary"])
        if delta:
            out["column_encoding"] = dict.fromkeys(delta, DELTA)
    if "compression" not in out and "compression_level" not in out:
        codecs = column_compression(first, out["use_dictionary"])
        if delta:
            codecs = {**(codecs or dict.fromkeys(first.column_names, DEFAULT_CODEC)),
                      **dict.fromkeys(delta, "none")}
        if codecs is not None:
            out["compression"] = codecs
    return out


__all__ = ["DEFAULT_CODEC", "DELTA", "MAX_DISTINCT_SHARE", "MIN_COMPRESSION_SAVING", "MIN_SAMPLE_ROWS",
           "SAMPLE_ROWS", "column_compression", "delta_columns", "dictionary_columns",
           "encoding_options"]
