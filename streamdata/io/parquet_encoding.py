"""Which columns of a Parquet file are worth dictionary-encoding.

pyarrow dictionary-encodes every column unless told otherwise. For a column of mostly
distinct values (ids, measurements, floats) that is wasted work: the writer hashes every
value into a dictionary until the dictionary page outgrows its limit, then falls back to
plain encoding, and the file is no smaller. On the benchmark tables that attempt is about
two thirds of ``write_table``'s time. Engines that write Parquet fast (DuckDB, Polars) only
dictionary-encode columns with few distinct values; streamdata's Parquet sink does the same,
deciding from a sample of the first rows it writes, unless the user passed
``use_dictionary`` (then theirs is used as given).

Example:
    >>> import pyarrow as pa
    >>> table = pa.table({"id": list(range(4096)), "kind": ["a", "b"] * 2048})
    >>> dictionary_columns(table)
    ['kind']
"""

from __future__ import annotations

import pyarrow as pa

#: rows of the first block looked at
SAMPLE_ROWS = 4096
#: below this many rows the sample says too little: pyarrow's default (every column)
MIN_SAMPLE_ROWS = 256
#: a column is dictionary-encoded when at most this share of its sampled values are distinct
MAX_DISTINCT_SHARE = 0.5


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
    import pyarrow.compute as pc

    if table.num_rows < MIN_SAMPLE_ROWS or not all(_flat(f.type) for f in table.schema):
        return True
    sample = table.slice(0, SAMPLE_ROWS)
    rows = sample.num_rows
    out = []
    for field, column in zip(sample.schema, sample.columns):
        if pa.types.is_dictionary(field.type):
            out.append(field.name)
            continue
        # the length of ``unique`` (a null counts once, as in count_distinct(mode="all")):
        # the same figure in half the time
        distinct = len(pc.unique(column))
        if distinct <= rows * MAX_DISTINCT_SHARE:
            out.append(field.name)
    return out or False


__all__ = ["MAX_DISTINCT_SHARE", "MIN_SAMPLE_ROWS", "SAMPLE_ROWS", "dictionary_columns"]
