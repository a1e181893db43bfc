"""Which stream a file sink writes through: Arrow's own for a Parquet file on a filesystem
Arrow reaches natively, the fsspec file anywhere else (and for every other format)."""

from __future__ import annotations

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from streamdata.io.csv import CSVDatasink
from streamdata.io.filesystem import native_arrow_filesystem
from streamdata.io.parquet import ParquetDatasink

TABLE = pa.table({"id": [1, 2, 3], "s": ["x", "y", None]})


def _write_one_file(sink: ParquetDatasink, target: str) -> type:
    stream = sink._open_stream(target)
    kind = type(stream)
    writer = sink.open_writer(stream, TABLE.schema)
    writer.write(TABLE)
    writer.close()
    stream.close()
    return kind


def test_a_local_parquet_file_is_written_through_arrows_stream(tmp_path):
    sink = ParquetDatasink(str(tmp_path / "out"))
    target = str(tmp_path / "one.parquet")
    assert issubclass(_write_one_file(sink, target), pa.NativeFile)
    assert pq.read_table(target).equals(TABLE)


def test_other_filesystems_and_formats_keep_the_fsspec_file(tmp_path, memfs):
    sink = ParquetDatasink("memory://out")
    kind = _write_one_file(sink, "/out/one.parquet")
    assert not issubclass(kind, pa.NativeFile)
    with memfs.open("/out/one.parquet", "rb") as f:
        assert pq.read_table(f).equals(TABLE)
    csv_stream = CSVDatasink(str(tmp_path / "csv"))._open_stream(str(tmp_path / "a.csv"))
    assert not isinstance(csv_stream, pa.NativeFile)
    csv_stream.close()


def test_native_arrow_filesystem_only_where_arrow_needs_no_python():
    assert native_arrow_filesystem(fsspec.filesystem("file")) is not None
    assert native_arrow_filesystem(fsspec.filesystem("memory")) is None
