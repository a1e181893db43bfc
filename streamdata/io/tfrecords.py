"""TFRecord files of ``tf.train.Example`` records (no TensorFlow needed): ``read_tfrecords`` /
``write_tfrecords``.

Reading follows Ray's conversion: one column per feature (in name order), ``bytes_list`` → binary,
``float_list`` → float32, ``int64_list`` → int64; a feature holding exactly one value in
every record of a block becomes a scalar column, otherwise a list column (a record
without the feature gets null). ``tf_schema`` (a ``tensorflow_metadata`` Schema, or a
dict ``{feature: "bytes" | "float" | "int"}``) fixes the types, keeps every feature a
list, and refuses features it does not name. :class:`TFXReadOptions` sets the records
per block and whether single values are unwrapped. A truncated or corrupt record raises
an error naming the file and byte offset.

Example:
    >>> import fsspec
    >>> from streamdata.io.tfexample import encode_example, write_record
    >>> with fsspec.open("memory://doc/tfr/a.tfrecords", "wb") as f:
    ...     write_record(f, encode_example({"x": [1], "v": [0.5, 1.5]}))
    >>> src = TFRecordDatasource("memory://doc/tfr")
    >>> [b.to_pylist() for t in src.get_read_tasks(1) for b in t()]
    [[{'v': [0.5, 1.5], 'x': 1}]]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
import pyarrow as pa

from streamdata.errors import DataSourceError, SchemaError
from streamdata.io.file_datasink import FileDatasink, FileWriter
from streamdata.io.file_datasource import FileBasedDatasource, FileSplit
from streamdata.io.filesystem import unstrip
from streamdata.io.tfexample import decode_columns, encode_example, read_records, write_record

_ARROW = {"bytes": pa.binary(), "float": pa.float32(), "int": pa.int64()}
_TFMD_TYPES = {1: "bytes", 2: "int", 3: "float"}  # tensorflow_metadata FeatureType values


@dataclass(frozen=True)
class TFXReadOptions:
    """Options of the TFRecord reader (named after Ray's TFX-based option set).

    Attributes:
        batch_size: records decoded into one block.
        auto_infer_schema: unwrap features holding one value per record into scalars.
    """

    batch_size: int = 2048
    auto_infer_schema: bool = True


def _schema_kinds(tf_schema: Any) -> dict[str, str] | None:
    if tf_schema is None:
        return None
    if isinstance(tf_schema, dict):
        bad = {k: v for k, v in tf_schema.items() if v not in _ARROW}
        if bad:
            raise SchemaError(f"tf_schema types must be 'bytes', 'float' or 'int', got {bad}")
        return dict(tf_schema)
    try:
        return {f.name: _TFMD_TYPES[int(f.type)] for f in tf_schema.feature}
    except (AttributeError, KeyError, TypeError) as exc:
        raise SchemaError(f"tf_schema must be a tensorflow_metadata Schema or a dict of feature types, "
                          f"got {type(tf_schema).__name__}") from exc


def records_to_table(records: list[bytes], kinds: dict[str, str] | None, unwrap: bool, path: str) -> pa.Table:
    """One block from serialized Examples (see the module docstring for the typing rules)."""
    try:
        decoded = decode_columns(records)
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise DataSourceError(f"{path}: {exc}", path=path) from exc
    columns: dict[str, pa.Array] = {}
    for name in sorted(decoded):  # protobuf maps have no order: sort
        seen, values = decoded[name]
        seen = seen - {"none"}
        if kinds is not None:
            if name not in kinds:
                raise SchemaError(f"{path}: feature {name!r} is not in tf_schema ({sorted(kinds)})")
            kind = kinds[name]
            if seen - {kind}:
                raise SchemaError(f"{path}: feature {name!r} holds {sorted(seen)} values, tf_schema says {kind!r}")
        elif len(seen) > 1:
            raise SchemaError(f"{path}: feature {name!r} holds values of several kinds {sorted(seen)}")
        else:
            kind = next(iter(seen), "none")
        type_ = _ARROW.get(kind, pa.null())
        scalar = unwrap and kinds is None and all(v is None or len(v) == 1 for v in values) \
            and any(v is not None for v in values)
        if scalar:
            columns[name] = pa.array([None if v is None else v[0] for v in values], type_)
        else:
            columns[name] = pa.array(values, pa.list_(type_))
    return pa.table(columns) if columns else pa.table({})


class TFRecordDatasource(FileBasedDatasource):
    """TFRecord files (see the module docstring)."""

    name = "ReadTFRecord"
    encoding_ratio = 1.5

    def __init__(self, paths: Any, *, tf_schema: Any = None, tfx_read_options: TFXReadOptions | None = None,
                 **kwargs: Any) -> None:
        super().__init__(paths, **kwargs)
        self._kinds = _schema_kinds(tf_schema)
        self._options = tfx_read_options or TFXReadOptions()
        if not isinstance(self._options, TFXReadOptions) or self._options.batch_size < 1:
            raise SchemaError(f"tfx_read_options must be a TFXReadOptions with batch_size >= 1, "
                              f"got {tfx_read_options!r}")

    def read_split(self, fs: Any, split: FileSplit) -> Iterator[pa.Table]:
        path = unstrip(fs, split.path)
        batch: list[bytes] = []
        with self.open_input(fs, split) as f:
            for record in read_records(f, path):
                batch.append(record)
                if len(batch) >= self._options.batch_size:
                    yield records_to_table(batch, self._kinds, self._options.auto_infer_schema, path)
                    batch = []
        if batch:
            yield records_to_table(batch, self._kinds, self._options.auto_infer_schema, path)


def _kind_of(type_: pa.DataType, column: str) -> tuple[str, bool]:
    """``(feature kind, is_list)`` for an Arrow column type."""
    is_list = False
    if pa.types.is_list(type_) or pa.types.is_large_list(type_) or pa.types.is_fixed_size_list(type_):
        type_, is_list = type_.value_type, True
    elif isinstance(type_, pa.BaseExtensionType):  # tensors: written flattened
        storage = type_.storage_type
        inner = getattr(storage, "value_type", None)
        if inner is None:
            raise SchemaError(f"write_tfrecords: column {column!r} of type {type_} cannot be a TFRecord feature")
        while pa.types.is_list(inner) or pa.types.is_large_list(inner) or pa.types.is_fixed_size_list(inner):
            inner = inner.value_type
        if pa.types.is_struct(inner):  # variable-shape tensors keep their data in a struct
            inner = inner.field("data").type.value_type
        type_, is_list = inner, True
    if pa.types.is_integer(type_) or pa.types.is_boolean(type_):
        return "int", is_list
    if pa.types.is_floating(type_):
        return "float", is_list
    if pa.types.is_binary(type_) or pa.types.is_string(type_) or pa.types.is_large_binary(type_) \
            or pa.types.is_large_string(type_):
        return "bytes", is_list
    if pa.types.is_null(type_):
        return "bytes", is_list
    raise SchemaError(f"write_tfrecords: column {column!r} of type {type_} cannot be a TFRecord feature "
                      f"(ints, floats, bytes, strings and lists or tensors of them can)")


def _as_list(value: Any, kind: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, np.ndarray):
        value = value.ravel().tolist()
    if not isinstance(value, (list, tuple)):
        value = [value]
    if kind == "bytes":
        return [v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in value]
    if kind == "int":
        return [int(v) for v in value]
    return [float(v) for v in value]


class _TFRecordWriter(FileWriter):
    def __init__(self, f: Any, schema: pa.Schema) -> None:
        super().__init__(f, schema)
        self.kinds = {name: _kind_of(schema.field(name).type, name)[0] for name in schema.names}

    def write(self, table: pa.Table) -> None:
        from streamdata import block as B

        for row in B.iter_rows(table):
            features = {name: _as_list(row[name], self.kinds[name]) for name in self.schema.names}
            write_record(self.f, encode_example(features, self.kinds))


class TFRecordDatasink(FileDatasink):
    """TFRecord files of Examples, one feature per column (see the module docstring)."""

    name = "WriteTFRecord"
    extension = "tfrecords"

    def __init__(self, path: str, *, tf_schema: Any = None, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self._kinds = _schema_kinds(tf_schema)

    def prepare_block(self, table: pa.Table) -> pa.Table:
        for field in table.schema:
            kind, _ = _kind_of(field.type, field.name)
            if self._kinds is not None and self._kinds.get(field.name, kind) != kind:
                raise SchemaError(f"write_tfrecords: column {field.name!r} holds {kind} values, tf_schema says "
                                  f"{self._kinds[field.name]!r}")
        return table

    def open_writer(self, f: Any, schema: pa.Schema) -> FileWriter:
        return _TFRecordWriter(f, schema)
