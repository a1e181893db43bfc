"""Avro object container files (fastavro, an optional extra): ``read_avro``.

One row per record; the Arrow schema follows the file's Avro schema (records → structs,
arrays → lists, maps → maps, enums → strings, ``["null", T]`` unions → nullable ``T``,
dates and timestamps → Arrow dates and timestamps). Records are decoded in batches sized
to the DataContext's target block size. A corrupt or truncated file raises an error
naming it.

Example:
    >>> import fastavro, fsspec
    >>> schema = {"type": "record", "name": "R", "fields": [{"name": "x", "type": "long"}]}
    >>> with fsspec.open("memory://doc/avro/a.avro", "wb") as f:
    ...     fastavro.writer(f, schema, [{"x": 1}, {"x": 2}])
    >>> src = AvroDatasource("memory://doc/avro")
    >>> [b.to_pydict() for t in src.get_read_tasks(1) for b in t()]
    [{'x': [1, 2]}]
"""

from __future__ import annotations

from typing import Any, Iterator

import pyarrow as pa

from streamdata.errors import DataSourceError
from streamdata.io.file_datasource import FileBasedDatasource, FileSplit
from streamdata.io.filesystem import unstrip
from streamdata.io.sizing import target_block_sizes

_PRIMITIVE = {"null": pa.null(), "boolean": pa.bool_(), "int": pa.int32(), "long": pa.int64(),
              "float": pa.float32(), "double": pa.float64(), "bytes": pa.binary(), "string": pa.string()}
_LOGICAL = {"date": pa.date32(), "time-millis": pa.time32("ms"), "time-micros": pa.time64("us"),
            "timestamp-millis": pa.timestamp("ms", tz="UTC"), "timestamp-micros": pa.timestamp("us", tz="UTC"),
            "local-timestamp-millis": pa.timestamp("ms"), "local-timestamp-micros": pa.timestamp("us"),
            "uuid": pa.string()}


def avro_to_arrow(schema: Any, named: dict[str, pa.DataType] | None = None) -> pa.DataType:
    """The Arrow type of an (already parsed) Avro schema.

    Example:
        >>> avro_to_arrow({"type": "array", "items": ["null", "string"]})
        ListType(list<item: string>)
    """
    named = {} if named is None else named
    if isinstance(schema, str):
        if schema in _PRIMITIVE:
            return _PRIMITIVE[schema]
        if schema in named:
            return named[schema]
        raise DataSourceError(f"unknown Avro type {schema!r}")
    if isinstance(schema, list):  # a union
        branches = [s for s in schema if s != "null"]
        if len(branches) == 1:
            return avro_to_arrow(branches[0], named)
        types = [avro_to_arrow(s, named) for s in branches]
        if all(t == types[0] for t in types):
            return types[0]
        if all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in types):
            return pa.float64()
        return pa.string()  # mixed unions are kept as their text
    kind = schema.get("type")
    logical = schema.get("logicalType")
    if logical == "decimal":
        return pa.decimal128(int(schema.get("precision", 38)), int(schema.get("scale", 0)))
    if logical in _LOGICAL:
        return _LOGICAL[logical]
    if kind == "record":
        fields = []
        out = pa.struct([])
        named[schema["name"]] = out  # recursive references are not supported by Arrow: placeholder
        for f in schema["fields"]:
            fields.append(pa.field(f["name"], avro_to_arrow(f["type"], named)))
        out = pa.struct(fields)
        named[schema["name"]] = out
        if "namespace" in schema:
            named[f"{schema['namespace']}.{schema['name']}"] = out
        return out
    if kind == "array":
        return pa.list_(avro_to_arrow(schema["items"], named))
    if kind == "map":
        return pa.map_(pa.string(), avro_to_arrow(schema["values"], named))
    if kind == "enum":
        named[schema["name"]] = pa.string()
        return pa.string()
    if kind == "fixed":
        named[schema["name"]] = pa.binary(int(schema["size"]))
        return named[schema["name"]]
    return avro_to_arrow(kind, named)


def _convert(value: Any, type_: pa.DataType) -> Any:
    """Values fastavro returns that Arrow does not take as they are (unions as text, map items)."""
    if value is None:
        return None
    if pa.types.is_string(type_) and not isinstance(value, str):
        return str(value)
    if pa.types.is_map(type_) and isinstance(value, dict):
        return [(k, _convert(v, type_.item_type)) for k, v in value.items()]
    if pa.types.is_struct(type_) and isinstance(value, dict):
        return {type_.field(i).name: _convert(value.get(type_.field(i).name), type_.field(i).type)
                for i in range(type_.num_fields)}
    if pa.types.is_list(type_) and isinstance(value, list):
        return [_convert(v, type_.value_type) for v in value]
    return value


class AvroDatasource(FileBasedDatasource):
    """Avro files (see the module docstring)."""

    name = "ReadAvro"
    encoding_ratio = 2.0

    def __init__(self, paths: Any, **kwargs: Any) -> None:
        try:
            import fastavro  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("read_avro needs fastavro: pip install 'streamdata[formats]'") from exc
        super().__init__(paths, **kwargs)

    def read_split(self, fs: Any, split: FileSplit) -> Iterator[pa.Table]:
        import fastavro

        path = unstrip(fs, split.path)
        _, max_bytes = target_block_sizes()
        with self.open_input(fs, split, decompress=False) as f:
            try:
                reader = fastavro.reader(f)
            except Exception as exc:  # noqa: BLE001 - named
                raise DataSourceError(f"{path} is not an Avro file: {type(exc).__name__}: {exc}", path=path) from exc
            struct = avro_to_arrow(reader.writer_schema)
            if not pa.types.is_struct(struct):
                struct = pa.struct([pa.field("value", struct)])
                wrap = True
            else:
                wrap = False
            schema = pa.schema(list(struct))
            needs_convert = any(not (pa.types.is_primitive(t.type) or pa.types.is_string(t.type)
                                     or pa.types.is_binary(t.type)) for t in schema)
            batch: list[Any] = []
            limit = 1024
            produced = False
            for record in reader:
                batch.append({"value": record} if wrap else record)
                if len(batch) >= limit:
                    table = self._table(batch, schema, needs_convert)
                    produced = True
                    yield table
                    per_row = max(1, table.nbytes // max(1, table.num_rows))
                    limit = max(1, min(1_000_000, max_bytes // per_row))
                    batch = []
            if batch or not produced:
                yield self._table(batch, schema, needs_convert)

    @staticmethod
    def _table(batch: list[dict[str, Any]], schema: pa.Schema, needs_convert: bool) -> pa.Table:
        arrays = []
        for f in schema:  # column by column: several times faster than Table.from_pylist
            values = [r.get(f.name) for r in batch]
            if needs_convert and not (pa.types.is_primitive(f.type) or pa.types.is_string(f.type)
                                      or pa.types.is_binary(f.type)):
                values = [_convert(v, f.type) for v in values]
            arrays.append(pa.array(values, f.type))
        return pa.Table.from_arrays(arrays, schema=schema)
