"""A small codec of ``tf.train.Example`` protocol buffers and TFRecord framing, without TensorFlow.

An Example is ``features { feature { key: name, value: Feature } ... }``; a Feature holds
one of ``bytes_list`` (field 1), ``float_list`` (field 2) or ``int64_list`` (field 3),
each a repeated field 1 (packed or not). A TFRecord file is a sequence of
``uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)``.

Example:
    >>> data = encode_example({"x": [1, 2], "s": [b"hi"], "f": [0.5]})
    >>> decode_example(data) == decode_example_py(data)
    True
    >>> sorted(decode_example(data).items())
    [('f', ('float', [0.5])), ('s', ('bytes', [b'hi'])), ('x', ('int', [1, 2]))]
    >>> import io
    >>> buf = io.BytesIO(); write_record(buf, data); _ = buf.seek(0)
    >>> [decode_example(r)["x"] for r in read_records(buf, "mem")]
    [('int', [1, 2])]
"""

from __future__ import annotations

import struct
from typing import Any, BinaryIO, Iterator

import numpy as np

from streamdata.errors import DataSourceError

try:  # the C implementation; without it data CRCs are not checked (lengths still are)
    from crc32c import crc32c as _crc32c
except ImportError:  # pragma: no cover - depends on the environment
    _crc32c = None

_TABLE: list[int] = []


def _crc32c_py(data: bytes) -> int:
    if not _TABLE:
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            _TABLE.append(c)
    crc = 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC32-C of ``data``."""
    crc = _crc32c(data) if _crc32c is not None else _crc32c_py(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# ---------------------------------------------------------------------------- protobuf wire format


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("malformed varint")


def _fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    """``(field number, wire type, value)`` of a message (value: int, or bytes for wire type 2)."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            n, pos = _varint(buf, pos)
            if pos + n > end:
                raise ValueError("truncated length-delimited field")
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield field, wire, value


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _decode_feature(buf: bytes) -> tuple[str, list[Any]]:
    kind, values = "none", []
    for field, _, payload in _fields(buf):
        if field == 1:
            kind, values = "bytes", [v for f, w, v in _fields(payload) if f == 1]
        elif field == 2:
            kind = "float"
            values = []
            for f, w, v in _fields(payload):
                if f == 1 and w == 2:
                    values.extend(np.frombuffer(v, dtype="<f4").tolist())
                elif f == 1 and w == 5:
                    values.append(struct.unpack("<f", v)[0])
        elif field == 3:
            kind = "int"
            values = []
            for f, w, v in _fields(payload):
                if f == 1 and w == 2:
                    pos = 0
                    while pos < len(v):
                        x, pos = _varint(v, pos)
                        values.append(_signed64(x))
                elif f == 1 and w == 0:
                    values.append(_signed64(v))
    return kind, values


_PB: list[Any] = []  # [Example message class or None], built on first use
_PB_KINDS = {"bytes_list": "bytes", "float_list": "float", "int64_list": "int"}


def _protobuf_example() -> Any:
    """tf.train.Example's message class built with the ``protobuf`` package (its C parser is
    faster than :func:`decode_example_py`), or None when protobuf is not installed."""
    if _PB:
        return _PB[0]
    try:
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    except ImportError:  # pragma: no cover - depends on the environment
        _PB.append(None)
        return None
    T = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="streamdata_tf_example.proto", package="streamdata_tf",
                                             syntax="proto3")
    for name, ftype in (("BytesList", T.TYPE_BYTES), ("FloatList", T.TYPE_FLOAT), ("Int64List", T.TYPE_INT64)):
        fdp.message_type.add(name=name).field.add(name="value", number=1, type=ftype, label=T.LABEL_REPEATED)
    feature = fdp.message_type.add(name="Feature")
    feature.oneof_decl.add(name="kind")
    for i, (fname, tname) in enumerate((("bytes_list", "BytesList"), ("float_list", "FloatList"),
                                        ("int64_list", "Int64List"))):
        feature.field.add(name=fname, number=i + 1, type=T.TYPE_MESSAGE, label=T.LABEL_OPTIONAL,
                          type_name=f".streamdata_tf.{tname}", oneof_index=0)
    features = fdp.message_type.add(name="Features")
    features.field.add(name="feature", number=1, type=T.TYPE_MESSAGE, label=T.LABEL_REPEATED,
                       type_name=".streamdata_tf.Features.FeatureEntry")
    entry = features.nested_type.add(name="FeatureEntry")
    entry.field.add(name="key", number=1, type=T.TYPE_STRING, label=T.LABEL_OPTIONAL)
    entry.field.add(name="value", number=2, type=T.TYPE_MESSAGE, label=T.LABEL_OPTIONAL,
                    type_name=".streamdata_tf.Feature")
    entry.options.map_entry = True
    fdp.message_type.add(name="Example").field.add(name="features", number=1, type=T.TYPE_MESSAGE,
                                                   label=T.LABEL_OPTIONAL, type_name=".streamdata_tf.Features")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    _PB.append(message_factory.GetMessageClass(pool.FindMessageTypeByName("streamdata_tf.Example")))
    return _PB[0]


def decode_example(data: bytes) -> dict[str, tuple[str, list[Any]]]:
    """``{feature name: (kind, values)}`` with kind ``"bytes"``, ``"float"``, ``"int"`` or ``"none"``."""
    example_cls = _protobuf_example()
    if example_cls is None:
        return decode_example_py(data)
    from google.protobuf.message import DecodeError

    try:
        ex = example_cls.FromString(data)
    except DecodeError as exc:
        raise ValueError(f"not a tf.train.Example: {exc}") from exc
    out: dict[str, tuple[str, list[Any]]] = {}
    for key, feature in ex.features.feature.items():
        which = feature.WhichOneof("kind")
        out[key] = (_PB_KINDS[which], list(getattr(feature, which).value)) if which else ("none", [])
    return out


def decode_columns(records: list[bytes]) -> dict[str, tuple[set[str], list[Any]]]:
    """Decode a batch of Examples straight into columns: ``{feature: (kinds seen, values per
    record)}``, ``None`` where a record lacks the feature (one pass, no per-record dicts).

    Example:
        >>> cols = decode_columns([encode_example({"a": [1]}), encode_example({"a": [2, 3], "b": [b"x"]})])
        >>> sorted((k, sorted(kinds), v) for k, (kinds, v) in cols.items())
        [('a', ['int'], [[1], [2, 3]]), ('b', ['bytes'], [None, [b'x']])]
    """
    example_cls = _protobuf_example()
    cols: dict[str, tuple[set[str], list[Any]]] = {}
    if example_cls is None:
        for i, rec in enumerate(records):
            for key, (kind, values) in decode_example_py(rec).items():
                entry = cols.get(key)
                if entry is None:
                    entry = cols[key] = (set(), [None] * i)
                entry[0].add(kind)
                entry[1].append(values)
            for entry in cols.values():
                if len(entry[1]) <= i:
                    entry[1].append(None)
        return cols
    from google.protobuf.message import DecodeError

    kinds_of = _PB_KINDS
    for i, rec in enumerate(records):
        try:
            ex = example_cls.FromString(rec)
        except DecodeError as exc:
            raise ValueError(f"record {i} of the batch is not a tf.train.Example: {exc}") from exc
        for key, feature in ex.features.feature.items():
            which = feature.WhichOneof("kind")
            entry = cols.get(key)
            if entry is None:
                entry = cols[key] = (set(), [None] * i)
            if which is None:
                entry[0].add("none")
                entry[1].append([])
            else:
                entry[0].add(kinds_of[which])
                entry[1].append(list(getattr(feature, which).value))
        for entry in cols.values():
            if len(entry[1]) <= i:
                entry[1].append(None)
    return cols


def decode_example_py(data: bytes) -> dict[str, tuple[str, list[Any]]]:
    """:func:`decode_example` in pure Python (used when protobuf is not installed)."""
    out: dict[str, tuple[str, list[Any]]] = {}
    for field, wire, features in _fields(data):
        if field != 1 or wire != 2:
            raise ValueError(f"not a tf.train.Example (field {field}, wire type {wire})")
        for f, w, entry in _fields(features):
            if f != 1 or w != 2:
                continue
            key, value = "", b""
            for ef, _, ev in _fields(entry):
                if ef == 1:
                    key = ev.decode("utf-8")
                elif ef == 2:
                    value = ev
            out[key] = _decode_feature(value)
    return out


def _enc_varint(v: int) -> bytes:
    v &= (1 << 64) - 1
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _len_field(field: int, payload: bytes) -> bytes:
    return _enc_varint((field << 3) | 2) + _enc_varint(len(payload)) + payload


def encode_feature(kind: str, values: list[Any]) -> bytes:
    """A ``Feature`` message of ``kind`` (``"bytes"``, ``"float"``, ``"int"``) holding ``values``."""
    if kind == "bytes":
        inner = b"".join(_len_field(1, v) for v in values)
        return _len_field(1, inner)
    if kind == "float":
        packed = np.asarray(values, dtype="<f4").tobytes()
        return _len_field(2, _len_field(1, packed) if values else b"")
    if kind == "int":
        packed = b"".join(_enc_varint(int(v)) for v in values)
        return _len_field(3, _len_field(1, packed) if values else b"")
    raise ValueError(f"unknown feature kind {kind!r}")


def encode_example(features: dict[str, list[Any]], kinds: dict[str, str] | None = None) -> bytes:
    """An Example from ``{name: values}`` (kinds inferred from the first value unless given)."""
    entries = []
    for name, values in features.items():
        kind = (kinds or {}).get(name)
        if kind is None:
            first = values[0] if values else b""
            kind = "bytes" if isinstance(first, (bytes, str)) else "float" if isinstance(first, float) else "int"
        entry = _len_field(1, name.encode("utf-8")) + _len_field(2, encode_feature(kind, values))
        entries.append(_len_field(1, entry))
    return _len_field(1, b"".join(entries))


# ---------------------------------------------------------------------------- TFRecord framing


def read_records(f: BinaryIO, path: str) -> Iterator[bytes]:
    """The records of a TFRecord stream; a truncated or corrupt record raises an error naming ``path``."""
    offset = 0
    while True:
        header = f.read(12)
        if not header:
            return
        if len(header) < 12:
            raise DataSourceError(f"{path}: truncated TFRecord header at byte {offset}", path=path)
        length, length_crc = struct.unpack("<QI", header)
        if masked_crc(header[:8]) != length_crc:
            raise DataSourceError(f"{path}: corrupt TFRecord at byte {offset} (length checksum mismatch)", path=path)
        data = f.read(length)
        footer = f.read(4)
        if len(data) < length or len(footer) < 4:
            raise DataSourceError(f"{path}: truncated TFRecord at byte {offset} (expected {length} bytes of data, "
                                  f"the file ends first)", path=path)
        if _crc32c is not None and masked_crc(data) != struct.unpack("<I", footer)[0]:
            raise DataSourceError(f"{path}: corrupt TFRecord at byte {offset} (data checksum mismatch)", path=path)
        offset += 16 + length
        yield data


def write_record(f: BinaryIO, data: bytes) -> None:
    """Append one framed record."""
    header = struct.pack("<Q", len(data))
    f.write(header + struct.pack("<I", masked_crc(header)) + data + struct.pack("<I", masked_crc(data)))
