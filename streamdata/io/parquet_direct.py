"""Reading a Parquet file's row groups with ``pyarrow.parquet`` instead of the dataset scanner.

The dataset scanner (``Fragment.to_batches``) casts to a schema, fills missing columns
and evaluates a filter through an Acero plan; for a file that needs none of the casting
its fixed cost shows: a filter evaluated as a ``pyarrow.compute.Expression`` costs about
2.5× the same predicate evaluated to a mask with compute kernels (16 files × 50k rows:
17–19 ms of CPU against 6–7 ms; benchmarks/PROFILES.md, "Issue 14, wave 5").

:func:`direct_read_plan` says whether a file can be read directly (a pure decision on
schemas), and :func:`read_row_groups` reads it: the needed columns of the chosen row
groups, decoded a batch at a time, the predicates evaluated to one mask per batch.

Example:
    >>> import pyarrow as pa
    >>> from streamdata.expressions import col
    >>> physical = pa.schema([("x", pa.int64()), ("y", pa.string())])
    >>> direct_read_plan(physical, physical, ["y"], [col("x") > 1])
    ['y', 'x']
    >>> direct_read_plan(physical, pa.schema([("x", pa.float64())]), ["x"], []) is None  # a cast
    True
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from streamdata.kept_dictionary import decode_kept, dense_schema, keep, kept_dictionary_exclusions, kept_type


def direct_read_plan(physical: pa.Schema, read_schema: pa.Schema, columns: Sequence[str],
                     predicates: Sequence[Any]) -> list[str] | None:
    """The columns to decode to read ``columns`` filtered by ``predicates`` directly.

    None when the dataset scanner must read the file instead: a column or a predicate's
    column the file lacks (it would be read as nulls), a type that differs from the
    dataset's (it would be cast), or a predicate whose columns cannot be told.

    Args:
        physical: the file's own Arrow schema.
        read_schema: the schema the dataset reads every file into.
        columns: the columns the read returns, in order.
        predicates: streamdata expressions every returned row satisfies.
    """
    needed = list(columns)
    for predicate in predicates:
        names = predicate.columns() if hasattr(predicate, "columns") else None
        if names is None:
            return None
        needed += [c for c in names if c not in needed]
    for name in needed:
        at = physical.get_field_index(name)
        if at < 0 or read_schema.get_field_index(name) < 0:
            return None
        if not physical.field(at).type.equals(read_schema.field(name).type):
            return None
    return needed


#: a string column whose pages average under this many bytes per value is dictionary encoded
#: throughout (plain-encoded strings take at least 4: the length of each)
DICTIONARY_BYTES_PER_VALUE = 2


def dictionary_columns(metadata: Any, row_groups: Sequence[int], decode: Sequence[str]) -> list[str]:
    """The string and binary columns of ``decode`` that are dictionary encoded in every row
    group read: decoded as Arrow dictionaries, then expanded with one take of the dictionary.

    Parquet's decoder appends a dictionary-encoded string value by value into a builder;
    reading the indices and taking from the dictionary once per batch is about half the CPU
    (the suite's column of 100 distinct strings: 34 → 16 ms for 16 files × 50k rows). A
    column with any plain-encoded share is left to the decoder (the reader would have to hash
    those values into a dictionary).

    Example:
        >>> import io, pyarrow as pa, pyarrow.parquet as pq
        >>> buf = io.BytesIO()
        >>> pq.write_table(pa.table({"s": ["ab", "cd"] * 500, "u": [str(i) for i in range(1000)],
        ...                          "x": list(range(1000))}), buf)
        >>> dictionary_columns(pq.read_metadata(pa.BufferReader(buf.getvalue())), [0], ["s", "u", "x"])
        ['s']
    """
    schema = metadata.schema.to_arrow_schema()
    if metadata.num_columns != len(schema):  # nested columns: leaves are not fields
        return []
    out = []
    for name in decode:
        at = schema.get_field_index(name)
        if at < 0 or not (pa.types.is_string(schema.field(at).type) or pa.types.is_binary(schema.field(at).type)):
            continue
        chunks = [metadata.row_group(g).column(at) for g in row_groups]
        if chunks and all(c.has_dictionary_page and c.num_values
                          and c.total_uncompressed_size < DICTIONARY_BYTES_PER_VALUE * c.num_values
                          for c in chunks):
            out.append(name)
    return out


def read_row_groups(source: Any, metadata: Any, row_groups: Sequence[int], decode: Sequence[str],
                    out_schema: pa.Schema, predicates: Sequence[Any], batch_size: int, *,
                    may_keep: bool = True) -> Iterator[pa.Table]:
    """Decode ``row_groups`` of an open Parquet file, keep the rows every predicate holds for.

    Args:
        source: the open file (``pyarrow.NativeFile``).
        metadata: its footer, already read (``pyarrow.parquet.FileMetaData``).
        row_groups: the indices of the row groups to read.
        decode: the columns to decode (:func:`direct_read_plan`).
        out_schema: the schema of each table yielded (a subset of ``decode``).
        predicates: expressions evaluated on each decoded batch; a null counts as false.
        batch_size: rows decoded at a time.
        may_keep: whether dictionary columns may be handed on as dictionaries where the read
            stage allows (:mod:`streamdata.kept_dictionary`).

    Yields:
        Non-empty tables of ``out_schema``.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    as_dictionary = dictionary_columns(metadata, row_groups, decode)
    reader = pq.ParquetFile(source, metadata=metadata, read_dictionary=as_dictionary or None)
    names = out_schema.names
    kept = _kept(as_dictionary, out_schema, predicates) if may_keep else []
    expand = [name for name in as_dictionary if name not in kept]
    for batch in reader.iter_batches(batch_size=batch_size, row_groups=list(row_groups),
                                     columns=list(decode), use_threads=False):
        for name in expand:  # the column's own type again: a take of the dictionary
            at = batch.schema.get_field_index(name)
            batch = batch.set_column(at, batch.schema.field(at).with_type(batch.column(at).type.value_type),
                                     batch.column(at).dictionary_decode())
        table = pa.Table.from_batches([batch])
        for name in kept:  # left as the dictionary, marked (streamdata.kept_dictionary)
            at = table.schema.get_field_index(name)
            field = table.schema.field(at)
            table = table.set_column(at, field.with_type(kept_type(field.type)), keep(table.column(at)))
        if predicates:
            mask = None
            for predicate in predicates:
                one = predicate.evaluate(table)
                if isinstance(one, pa.Scalar):
                    one = pa.array([one.as_py()] * table.num_rows, pa.bool_())
                mask = one if mask is None else pc.and_kleene(mask, one)
            # only the columns kept are filtered (not those only the predicates read)
            table = table.select(names).filter(mask, null_selection_behavior="drop")
        else:
            table = table.select(names)
        if table.num_rows:
            if kept:
                if not dense_schema(table.schema).equals(out_schema):
                    table = decode_kept(table).cast(out_schema)
                yield table
            else:
                yield table if table.schema.equals(out_schema) else table.cast(out_schema)


def _kept(as_dictionary: Sequence[str], out_schema: pa.Schema, predicates: Sequence[Any]) -> list[str]:
    """The columns of ``as_dictionary`` to hand on as dictionaries: those the read returns,
    no predicate reads and the read stage allows
    (:func:`streamdata.kept_dictionary.reading_kept_dictionaries`)."""
    exclude = kept_dictionary_exclusions()
    if exclude is None or not as_dictionary:
        return []
    read_by_predicates: set[str] = set()
    for predicate in predicates:
        read_by_predicates |= set(predicate.columns())
    return [name for name in as_dictionary if name not in exclude and name not in read_by_predicates
            and out_schema.get_field_index(name) >= 0]
