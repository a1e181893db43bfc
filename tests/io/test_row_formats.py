"""Avro (fastavro) and TFRecord files through the engine; the Example codec checked against protobuf itself."""

from __future__ import annotations

import datetime
import io

import numpy as np
import pyarrow as pa
import pytest

import streamdata as sd
from streamdata.errors import DataSourceError, SchemaError
from streamdata.io.file_datasource import FileSplit
from streamdata.io.tfexample import decode_example, decode_example_py, encode_example, read_records, write_record
from streamdata.io.tfrecords import TFRecordDatasource, TFXReadOptions
from tests.io.io_testutil import read_table


@pytest.fixture(scope="module", autouse=True)
def runtime():
    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=2)
    yield
    sd.shutdown()


# ---------------------------------------------------------------------------- Avro

AVRO_SCHEMA = {
    "type": "record", "name": "Item", "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": ["null", "string"]},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "score", "type": "double"},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
        {"name": "when", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "attrs", "type": {"type": "map", "values": "long"}},
        {"name": "inner", "type": {"type": "record", "name": "Inner", "fields": [{"name": "v", "type": "int"}]}},
    ]}


def _avro_records(start, n):
    when = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    return [{"id": i, "name": None if i % 5 == 0 else f"n{i}", "tags": [f"t{i}"] * (i % 3), "score": i / 2,
             "kind": "AB"[i % 2], "when": when, "attrs": {"k": i}, "inner": {"v": i}} for i in range(start, start + n)]


def test_avro_read(tmp_path):
    fastavro = pytest.importorskip("fastavro")
    for k in range(3):
        with open(tmp_path / f"part{k}.avro", "wb") as f:
            fastavro.writer(f, AVRO_SCHEMA, _avro_records(k * 100, 100), codec="deflate")
    ds = sd.read_avro(str(tmp_path))
    schema = ds.schema()
    assert schema.names == ["id", "name", "tags", "score", "kind", "when", "attrs", "inner"]
    rows = sorted(ds.take_all(), key=lambda r: r["id"])
    assert len(rows) == 300
    r = rows[7]
    assert (r["name"], list(r["tags"]), r["score"], r["kind"], r["inner"]) == ("n7", ["t7"], 3.5, "B", {"v": 7})
    assert rows[5]["name"] is None and list(rows[7]["attrs"]) == [("k", 7)]
    assert sd.read_avro(str(tmp_path)).filter(expr=sd.col("id") >= 290).count() == 10
    assert sorted(sd.read_avro(str(tmp_path), include_paths=True).take(1)[0]) == sorted(schema.names + ["path"])


def test_avro_bad_files(tmp_path):
    fastavro = pytest.importorskip("fastavro")
    buf = io.BytesIO()
    fastavro.writer(buf, AVRO_SCHEMA, _avro_records(0, 2000))
    (tmp_path / "truncated.avro").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(DataSourceError, match="truncated.avro"):
        sd.read_avro(str(tmp_path / "truncated.avro")).take_all()
    (tmp_path / "junk.avro").write_bytes(b"this is not avro at all")
    with pytest.raises(DataSourceError, match="junk.avro is not an Avro file"):
        sd.read_avro(str(tmp_path / "junk.avro")).take_all()


# ---------------------------------------------------------------------------- the Example codec vs protobuf


def _protobuf_example_class():
    """tf.train.Example's messages, declared with protobuf's own descriptor API."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fdp = descriptor_pb2.FileDescriptorProto(name="sd_example_test.proto", package="sdtest", syntax="proto3")
    T = descriptor_pb2.FieldDescriptorProto

    def msg(name, fields, nested=()):
        m = fdp.message_type.add(name=name)
        for fname, num, ftype, label, tname in fields:
            f = m.field.add(name=fname, number=num, type=ftype, label=label)
            if tname:
                f.type_name = tname
        return m

    rep, opt = T.LABEL_REPEATED, T.LABEL_OPTIONAL
    msg("BytesList", [("value", 1, T.TYPE_BYTES, rep, None)])
    msg("FloatList", [("value", 1, T.TYPE_FLOAT, rep, None)])
    msg("Int64List", [("value", 1, T.TYPE_INT64, rep, None)])
    feat = msg("Feature", [("bytes_list", 1, T.TYPE_MESSAGE, opt, ".sdtest.BytesList"),
                           ("float_list", 2, T.TYPE_MESSAGE, opt, ".sdtest.FloatList"),
                           ("int64_list", 3, T.TYPE_MESSAGE, opt, ".sdtest.Int64List")])
    feat.oneof_decl.add(name="kind")
    for f in feat.field:
        f.oneof_index = 0
    features = msg("Features", [("feature", 1, T.TYPE_MESSAGE, rep, ".sdtest.Features.FeatureEntry")])
    entry = features.nested_type.add(name="FeatureEntry")
    entry.field.add(name="key", number=1, type=T.TYPE_STRING, label=opt)
    entry.field.add(name="value", number=2, type=T.TYPE_MESSAGE, label=opt, type_name=".sdtest.Feature")
    entry.options.map_entry = True
    msg("Example", [("features", 1, T.TYPE_MESSAGE, opt, ".sdtest.Features")])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("sdtest.Example"))


def test_example_codec_matches_protobuf():
    pytest.importorskip("google.protobuf")
    Example = _protobuf_example_class()
    ours = encode_example({"i": [1, -2, 2**40], "f": [0.5, 2.0], "b": [b"x", b""], "e": []},
                          {"i": "int", "f": "float", "b": "bytes", "e": "int"})
    parsed = Example.FromString(ours)
    feats = parsed.features.feature
    assert list(feats["i"].int64_list.value) == [1, -2, 2**40]
    assert list(feats["f"].float_list.value) == [0.5, 2.0]
    assert list(feats["b"].bytes_list.value) == [b"x", b""]
    theirs = Example()
    theirs.features.feature["n"].int64_list.value.extend([-5, 7])
    theirs.features.feature["s"].bytes_list.value.append(b"hello")
    theirs.features.feature["v"].float_list.value.extend([1.5])
    expected = {"n": ("int", [-5, 7]), "s": ("bytes", [b"hello"]), "v": ("float", [1.5])}
    assert decode_example(theirs.SerializeToString()) == expected
    assert decode_example_py(theirs.SerializeToString()) == expected  # the pure-Python fallback agrees
    assert decode_example_py(ours) == decode_example(ours)


# ---------------------------------------------------------------------------- TFRecords


def test_tfrecords_roundtrip_and_inference(tmp_path):
    rows = [{"id": i, "label": f"l{i}", "emb": np.arange(3, dtype=np.float32) + i, "w": i * 0.25}
            for i in range(50)]
    out = tmp_path / "out"
    sd.from_items(rows, override_num_blocks=2).write_tfrecords(str(out))
    files = sorted(out.glob("*.tfrecords"))
    assert len(files) == 2
    ds = sd.read_tfrecords(str(out))
    schema = ds.schema()
    assert schema.field("id").type == pa.int64() and schema.field("label").type == pa.binary()
    assert schema.field("w").type == pa.float32() and schema.field("emb").type == pa.list_(pa.float32())
    got = sorted(ds.take_all(), key=lambda r: r["id"])
    assert [r["id"] for r in got] == list(range(50))
    assert got[3]["label"] == b"l3" and list(got[3]["emb"]) == [3.0, 4.0, 5.0] and got[3]["w"] == 0.75
    # without unwrapping every feature is a list; a dict tf_schema fixes types and keeps lists
    src = TFRecordDatasource(str(out), tfx_read_options=TFXReadOptions(batch_size=7, auto_infer_schema=False))
    t = read_table(src, 1)
    assert t.schema.field("id").type == pa.list_(pa.int64())
    first = src.files()[0]
    sizes = [b.num_rows for b in src.read_split(src.filesystem, FileSplit(first.path, first.size, 0))]
    assert sum(sizes) == 25 and max(sizes) == 7  # decoded 7 records at a time
    typed = sd.read_tfrecords(str(out), tf_schema={"id": "int", "label": "bytes", "emb": "float", "w": "float"})
    assert typed.schema().field("w").type == pa.list_(pa.float32())
    with pytest.raises(SchemaError, match="feature 'w' is not in tf_schema"):
        sd.read_tfrecords(str(out), tf_schema={"id": "int", "label": "bytes", "emb": "float"}).take_all()
    with pytest.raises(SchemaError, match="'id' holds \\['int'\\] values, tf_schema says 'float'"):
        sd.read_tfrecords(str(out), tf_schema={"id": "float", "label": "bytes", "emb": "float",
                                                "w": "float"}).take_all()


def test_tfrecords_ragged_and_missing_features(tmp_path):
    path = tmp_path / "r.tfrecords"
    with open(path, "wb") as f:
        write_record(f, encode_example({"a": [1], "b": [b"x"]}))
        write_record(f, encode_example({"a": [1, 2]}))
    t = read_table(TFRecordDatasource(str(path)), 1)
    assert t.column("a").to_pylist() == [[1], [1, 2]]
    assert t.column("b").to_pylist() == [b"x", None]


def test_tfrecords_corrupt_and_truncated(tmp_path):
    buf = io.BytesIO()
    for i in range(10):
        write_record(buf, encode_example({"x": [i]}))
    data = buf.getvalue()
    (tmp_path / "t.tfrecords").write_bytes(data[:-7])
    with pytest.raises(DataSourceError, match=r"t.tfrecords: truncated TFRecord at byte \d+"):
        sd.read_tfrecords(str(tmp_path / "t.tfrecords")).take_all()
    bad = bytearray(data)
    bad[20] ^= 0xFF  # a byte of the first record's data
    (tmp_path / "c.tfrecords").write_bytes(bytes(bad))
    with pytest.raises(DataSourceError, match="c.tfrecords: corrupt TFRecord at byte 0"):
        sd.read_tfrecords(str(tmp_path / "c.tfrecords")).take_all()
    assert [decode_example(r)["x"] for r in read_records(io.BytesIO(data), "m")][-1] == ("int", [9])
    with pytest.raises(SchemaError, match="column 'm' of type"):
        sd.from_items([{"m": {"a": 1}}]).write_tfrecords(str(tmp_path / "bad"))
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())


def test_ray_only_arguments(tmp_path):
    path = tmp_path / "a.tfrecords"
    with open(path, "wb") as f:
        write_record(f, encode_example({"x": [1]}))
    # scheduling arguments that only mean something on a Ray cluster are accepted
    ds = sd.read_tfrecords(str(path), label_selector={"zone": "a"}, max_calls=2, accelerator_type=None,
                           runtime_env={"env_vars": {}}, num_cpus=1, arrow_open_stream_args={})
    assert ds.take_all() == [{"x": 1}]
    # file options streamdata does not implement are refused, never silently ignored
    with pytest.raises(NotImplementedError, match="shuffle='files'"):
        sd.read_tfrecords(str(path), shuffle="files")
    with pytest.raises(NotImplementedError, match="ignore_missing_paths=True"):
        sd.read_avro(str(path), ignore_missing_paths=True)
    with pytest.raises(TypeError, match="nonsense"):
        sd.read_avro(str(path), nonsense=1)


def test_orc_and_save_mode(tmp_path):
    import pyarrow.orc as orc

    for k in range(3):
        orc.write_table(pa.table({"id": list(range(k * 50, k * 50 + 50)), "s": [f"v{i}" for i in range(50)]}),
                        str(tmp_path / f"{k}.orc"), stripe_size=1024)
    ds = sd.read_orc(str(tmp_path))
    assert ds.count() == 150 and ds.schema().names == ["id", "s"]
    assert sorted(r["id"] for r in ds.filter(expr=sd.col("id") >= 140).select_columns(["id"]).take_all()) == \
        list(range(140, 150))
    (tmp_path / "bad.orc").write_bytes(b"ORC" + b"\x00" * 50)
    with pytest.raises(DataSourceError, match="bad.orc"):
        sd.read_orc(str(tmp_path / "bad.orc")).take_all()
    out = tmp_path / "tfr"
    sd.from_items([{"x": 1}]).write_tfrecords(str(out), mode=sd.SaveMode.ERROR)
    with pytest.raises(Exception, match="already holds data"):
        sd.from_items([{"x": 2}]).write_tfrecords(str(out), mode=sd.SaveMode.ERROR)
    sd.from_items([{"x": 3}]).write_tfrecords(str(out), mode=sd.SaveMode.OVERWRITE)
    assert sd.read_tfrecords(str(out)).take_all() == [{"x": 3}]
