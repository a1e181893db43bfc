"""Corrupt and truncated files of every file format the readers support: reading them raises a named
streamdata error naming the file; with ``DataContext.max_errored_blocks`` set, the bad file is skipped
and every good row is read exactly once."""

from __future__ import annotations

import io
import json
import os
import random
import tarfile

import numpy as np
import pytest

import streamdata as sd
from streamdata.context import DataContext
from streamdata.errors import StreamDataError

pytestmark = pytest.mark.reliability

GOOD_FILES = 2
ROWS = 10


def _ids(i: int) -> list[int]:
    return list(range(i * ROWS, (i + 1) * ROWS))


def _good(fmt: str, path: str, i: int) -> None:
    import pyarrow as pa
    ids = _ids(i)
    if fmt == "parquet":
        import pyarrow.parquet as pq
        pq.write_table(pa.table({"id": ids}), path)
    elif fmt == "csv":
        open(path, "w").write("id\n" + "".join(f"{x}\n" for x in ids))
    elif fmt == "json":
        open(path, "w").write("".join(json.dumps({"id": x}) + "\n" for x in ids))
    elif fmt == "text":
        open(path, "w").write("".join(f"{x}\n" for x in ids))
    elif fmt == "numpy":
        np.save(path, np.array(ids, dtype=np.int64))
    elif fmt == "images":
        from PIL import Image
        Image.new("RGB", (4, 4), (i, 0, 0)).save(path)
    elif fmt == "avro":
        import fastavro
        schema = {"type": "record", "name": "r", "fields": [{"name": "id", "type": "long"}]}
        with open(path, "wb") as f:
            fastavro.writer(f, schema, [{"id": x} for x in ids])
    elif fmt == "tfrecords":
        sd.from_items([{"id": x} for x in ids]).repartition(1).write_tfrecords(path + ".d")
        (name,) = os.listdir(path + ".d")
        os.rename(os.path.join(path + ".d", name), path)
        os.rmdir(path + ".d")
    elif fmt == "webdataset":
        with tarfile.open(path, "w") as tar:
            for x in ids:
                data = str(x).encode()
                info = tarfile.TarInfo(f"s{x:05d}.id")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    else:
        raise AssertionError(fmt)


EXT = {"parquet": "parquet", "csv": "csv", "json": "jsonl", "text": "txt", "numpy": "npy", "images": "png",
       "avro": "avro", "tfrecords": "tfrecords", "webdataset": "tar"}


def _corrupt(fmt: str, kind: str, good: bytes) -> bytes:
    if kind == "truncated":
        if fmt == "csv":
            return b"id\n1\n2,3,4\n"  # a ragged row: what a cut-and-appended CSV looks like
        if fmt == "json":
            return b'{"id": 1}\n{"id": '
        if fmt == "text":
            return b"ok\n\xff\xfe\xfa broken utf-8\n"
        # cut mid-record (a cut exactly at a record boundary is a valid, shorter TFRecord file)
        return good[: max(1, len(good) // 3 + 7)]
    rng = random.Random(hash((fmt, kind)) & 0xFFFF)
    junk = bytes(rng.randrange(256) for _ in range(max(64, len(good))))
    if fmt == "text":
        return b"\xff" + junk
    if fmt == "csv":
        return b"a,b\n1\n1,2,3\n"
    if fmt == "webdataset":
        return b"\x00" * 100 + junk  # not a tar header
    return junk


def _read(fmt: str, d: str):
    kw = {"file_extensions": [EXT[fmt]]} if fmt in ("numpy", "webdataset", "tfrecords") else {}
    if fmt == "csv":
        return sd.read_csv(d)
    if fmt == "json":
        return sd.read_json(d, lines=True) if "lines" in sd.read_json.__code__.co_varnames else sd.read_json(d)
    if fmt == "images":
        return sd.read_images(d, mode="RGB")
    return getattr(sd, f"read_{fmt}")(d, **kw)


def _rows(fmt: str, ds) -> list:
    rows = ds.take_all()
    if fmt == "images":
        return sorted(int(r["image"][0, 0, 0]) for r in rows)
    if fmt == "text":
        return sorted(int(r["text"]) for r in rows)
    if fmt == "numpy":
        return sorted(int(r["data"]) for r in rows)
    if fmt == "webdataset":
        return sorted(int(r["id"] if not isinstance(r["id"], bytes) else r["id"].decode()) for r in rows)
    return sorted(int(r["id"]) for r in rows)


@pytest.fixture(scope="module", autouse=True)
def _rt(runtime):
    yield


_tried: list[int] = [0, 0]


@pytest.mark.parametrize("kind", ["truncated", "garbage"])
@pytest.mark.parametrize("fmt", list(EXT))
def test_corrupt_file_named_then_skipped(fmt, kind, tmp_path, figures, request):
    d = str(tmp_path / fmt)
    os.makedirs(d)
    for i in range(GOOD_FILES):
        _good(fmt, os.path.join(d, f"good{i}.{EXT[fmt]}"), i)
    good_bytes = open(os.path.join(d, f"good0.{EXT[fmt]}"), "rb").read()
    bad = os.path.join(d, f"bad.{EXT[fmt]}")
    open(bad, "wb").write(_corrupt(fmt, kind, good_bytes))
    expected = sorted(i if fmt == "images" else x for i in range(GOOD_FILES)
                      for x in (_ids(i) if fmt != "images" else [i]))

    ctx = DataContext.get_current()
    old = ctx.max_errored_blocks
    try:
        ctx.max_errored_blocks = 0
        with pytest.raises(Exception) as info:
            _rows(fmt, _read(fmt, d))
        err = info.value
        assert isinstance(err, StreamDataError), f"{fmt}/{kind}: got {type(err).__name__}: {err}"
        assert "bad." + EXT[fmt] in str(err), f"{fmt}/{kind}: the error does not name the file: {err}"
        ctx.max_errored_blocks = 1
        got = _rows(fmt, _read(fmt, d))
        assert got == expected, f"{fmt}/{kind}: skipping the bad file read {got}, expected {expected}"
    finally:
        ctx.max_errored_blocks = old
    _tried[0] += 1
    _tried[1] += len(got)
    if _tried[0] == len(EXT) * 2:
        figures.record("corrupt/truncated files", runs=_tried[0], rows_checked=_tried[1],
                       notes=f"formats: {', '.join(EXT)}; lance/delta (table dirs) not covered")
