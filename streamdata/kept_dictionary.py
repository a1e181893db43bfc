"""String and binary columns kept as their Parquet dictionary from a read to a Parquet write.

A Parquet read of a dictionary-encoded string column expands it to one value per row, and
the Parquet sink hashes those values back into a dictionary. When the plan proves the column
goes untouched from the read to a Parquet sink in the same task
(:func:`streamdata.plan.lowering.kept_dictionaries.kept_dictionary_exclusions`), the read
keeps it as its dictionary instead, wrapped in :class:`KeptDictionaryType`: an extension
type over the dictionary that nothing but this module's helpers produce, so no user-made
column is ever mistaken for one. The type says what the column is (its ``value_type``, the
type every user-visible schema shows) and every way a user could look at the rows decodes
it first: the numpy batch format on reading the column, the pandas and pyarrow formats
when the batch is made (:func:`decode_kept`), a sink that is not Parquet before it writes.
The Parquet sink writes the dictionary as it is and records the value type in the file's
stored Arrow schema, so the file reads back exactly as if the column had been expanded.

The read learns which columns it may keep from :func:`reading_kept_dictionaries`, set by the
read stage around each step of its read task (a thread-local: nothing else sees it).

Example:
    >>> import pyarrow as pa
    >>> s = pa.array(["x", "y", "x"]).dictionary_encode()
    >>> t = pa.table({"s": keep(s)})
    >>> has_kept(t.schema), dense_schema(t.schema).field("s").type
    (True, DataType(string))
    >>> decode_kept(t).column("s").to_pylist(), decode_kept(t).schema.field("s").type
    (['x', 'y', 'x'], DataType(string))
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyarrow as pa

#: the extension name of :class:`KeptDictionaryType`
EXTENSION_NAME = "streamdata.kept_dictionary"


class KeptDictionaryType(pa.ExtensionType):
    """A column read as its Parquet dictionary and meant to be seen as its ``value_type``.

    Args:
        storage_type: the dictionary type (``pa.dictionary(index, value)``).
    """

    def __init__(self, storage_type: pa.DictionaryType) -> None:
        super().__init__(storage_type, EXTENSION_NAME)

    @property
    def value_type(self) -> pa.DataType:
        """The type the column is everywhere but between the read and the Parquet sink."""
        return self.storage_type.value_type

    def __arrow_ext_serialize__(self) -> bytes:
        return b""

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> KeptDictionaryType:
        return kept_type(storage_type)

    def __reduce__(self) -> tuple[Any, ...]:
        return (KeptDictionaryType, (self.storage_type,))


#: one instance per dictionary type, kept alive: pyarrow refers to a Python extension type
#: weakly and rebuilds it (``__arrow_ext_deserialize__``) each time a dropped one is asked for
_TYPES: dict[pa.DataType, KeptDictionaryType] = {}


def kept_type(storage_type: pa.DictionaryType) -> KeptDictionaryType:
    """The :class:`KeptDictionaryType` over ``storage_type`` (one shared instance)."""
    t = _TYPES.get(storage_type)
    if t is None:
        t = _TYPES[storage_type] = KeptDictionaryType(storage_type)
    return t


def keep(array: pa.DictionaryArray | pa.ChunkedArray) -> pa.ExtensionArray | pa.ChunkedArray:
    """``array`` (a dictionary array) as a kept column (zero-copy)."""
    t = kept_type(array.type)
    if isinstance(array, pa.ChunkedArray):
        return pa.chunked_array([pa.ExtensionArray.from_storage(t, c) for c in array.chunks], t)
    return pa.ExtensionArray.from_storage(t, array)


def is_kept(t: pa.DataType) -> bool:
    """Whether ``t`` is a :class:`KeptDictionaryType`."""
    return isinstance(t, KeptDictionaryType)


def has_kept(schema: pa.Schema) -> bool:
    """Whether any field of ``schema`` is a kept dictionary (a cheap check per block)."""
    return any(isinstance(t, KeptDictionaryType) for t in schema.types)


def dense_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with each kept column as its value type (names, nullability, field and
    schema metadata as they are): the schema the rows have for every reader."""
    if not has_kept(schema):
        return schema
    fields = [f.with_type(f.type.value_type) if isinstance(f.type, KeptDictionaryType) else f for f in schema]
    return pa.schema(fields, metadata=schema.metadata)


def decode_column(column: Any) -> Any:
    """A kept column (array or chunked array) expanded to its value type; any other as is."""
    if not isinstance(column.type, KeptDictionaryType):
        return column
    if isinstance(column, pa.ChunkedArray):
        return pa.chunked_array([c.storage.dictionary_decode() for c in column.chunks], column.type.value_type)
    return column.storage.dictionary_decode()


def storage_column(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A kept column as its dictionary (zero-copy)."""
    return pa.chunked_array([c.storage for c in column.chunks], column.type.storage_type)


def decode_kept(table: pa.Table) -> pa.Table:
    """``table`` with every kept column expanded to its value type (the table itself when it
    has none)."""
    schema = table.schema
    if not has_kept(schema):
        return table
    for i, field in enumerate(schema):
        if isinstance(field.type, KeptDictionaryType):
            table = table.set_column(i, field.with_type(field.type.value_type), decode_column(table.column(i)))
    return table


# ---------------------------------------------------------------------------- the read's side

_local = threading.local()


@contextmanager
def reading_kept_dictionaries(exclude: frozenset[str] | None) -> Iterator[None]:
    """While active (this thread), a Parquet read may keep its dictionary-encoded string and
    binary columns as dictionaries, all but those named in ``exclude``; None: none.

    Example:
        >>> with reading_kept_dictionaries(frozenset({"a"})):
        ...     kept_dictionary_exclusions()
        frozenset({'a'})
        >>> kept_dictionary_exclusions() is None
        True
    """
    saved = getattr(_local, "exclude", None)
    _local.exclude = exclude
    try:
        yield
    finally:
        _local.exclude = saved


def kept_dictionary_exclusions() -> frozenset[str] | None:
    """The columns a read may not keep as dictionaries, or None when it keeps none."""
    return getattr(_local, "exclude", None)


__all__ = ["EXTENSION_NAME", "KeptDictionaryType", "decode_column", "decode_kept", "dense_schema",
           "has_kept", "is_kept", "keep", "kept_dictionary_exclusions", "kept_type", "reading_kept_dictionaries",
           "storage_column"]
