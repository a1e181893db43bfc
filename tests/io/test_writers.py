"""File sinks: round trips for every format and mode, the staging commit, failed writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from io_testutil import read_table

from streamdata.errors import ColumnNotFoundError, DataSinkError, DestinationExistsError, PlanError
from streamdata.io.csv import CSVDatasink, CSVDatasource
from streamdata.write_context import WriteContext
from streamdata.io.json import JSONDatasink, JSONDatasource
from streamdata.io.numpy import NumpyDatasink, NumpyDatasource
from streamdata.io.parquet import ParquetDatasink, ParquetDatasource
from streamdata.tensor import arrow_to_ndarray, ndarray_to_arrow


def table(start: int, n: int) -> pa.Table:
    ids = np.arange(start, start + n)
    return pa.table({"id": ids, "x": ids * 1.5, "s": [f"v{i}" for i in ids]})


def write(sink, task_blocks: list[list[pa.Table]], uuid: str = "w0001") -> list[dict]:
    """Run the sink protocol in-process: start, one write per task, commit."""
    sink.on_write_start()
    results = [sink.write(iter(blocks), WriteContext(uuid, i)) for i, blocks in enumerate(task_blocks)]
    sink.on_write_complete(results)
    return results


def visible(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


SINKS = {
    "parquet": (ParquetDatasink, ParquetDatasource, {}),
    "csv": (CSVDatasink, CSVDatasource, {}),
    "json": (JSONDatasink, JSONDatasource, {}),
}


@pytest.mark.parametrize("fmt", sorted(SINKS))
def test_round_trip_and_unique_names(tmp_path: Path, fmt: str):
    sink_cls, source_cls, _ = SINKS[fmt]
    dest = tmp_path / "out"
    results = write(sink_cls(str(dest)), [[table(0, 5), table(5, 5)], [table(10, 3)], []])
    assert [r["num_rows"] for r in results] == [10, 3, 0]
    assert visible(dest) == [f"w0001_000000_000000.{sink_cls.extension}", f"w0001_000001_000000.{sink_cls.extension}"]
    back = read_table(source_cls(str(dest)), 1)
    assert back.column("id").to_pylist() == list(range(13))
    assert back.column("s").to_pylist() == [f"v{i}" for i in range(13)]
    assert not [p for p in os.listdir(dest) if p.startswith(".staging")]


def test_modes(tmp_path: Path):
    dest = tmp_path / "out"
    write(ParquetDatasink(str(dest)), [[table(0, 2)]], uuid="first")
    write(ParquetDatasink(str(dest)), [[table(2, 2)]], uuid="second")  # append (default)
    assert sorted(read_table(ParquetDatasource(str(dest))).column("id").to_pylist()) == [0, 1, 2, 3]

    with pytest.raises(DestinationExistsError, match="mode='error'") as info:
        ParquetDatasink(str(dest), mode="error").on_write_start()
    assert isinstance(info.value, FileExistsError)
    write(ParquetDatasink(str(tmp_path / "fresh"), mode="error"), [[table(0, 1)]])

    write(ParquetDatasink(str(dest), mode="ignore"), [[table(100, 2)]], uuid="third")
    assert sorted(read_table(ParquetDatasource(str(dest))).column("id").to_pylist()) == [0, 1, 2, 3]
    assert not [p for p in os.listdir(dest) if p.startswith(".")]

    write(ParquetDatasink(str(dest), mode="overwrite"), [[table(50, 2)]], uuid="fourth")
    assert visible(dest) == ["fourth_000000_000000.parquet"]
    assert read_table(ParquetDatasource(str(dest))).column("id").to_pylist() == [50, 51]

    with pytest.raises(PlanError, match="mode must be one of"):
        ParquetDatasink(str(dest), mode="replace")


def test_a_destination_that_is_a_file_is_named_without_the_staging_path(tmp_path: Path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(NotADirectoryError, match="afile is a file") as info:
        ParquetDatasink(str(afile)).on_write_start()
    assert ".staging" not in str(info.value)
    assert afile.read_text() == "x"


def test_overwrite_keeps_hidden_entries_and_replaces_subdirectories(tmp_path: Path):
    dest = tmp_path / "out"
    (dest / "old=1").mkdir(parents=True)
    (dest / "old=1" / "a.parquet").write_bytes(b"x")
    (dest / "_SUCCESS").write_bytes(b"")
    write(ParquetDatasink(str(dest), mode="overwrite"), [[table(0, 1)]])
    assert visible(dest) == ["_SUCCESS", "w0001_000000_000000.parquet"]


def test_files_are_invisible_until_commit(tmp_path: Path):
    dest = tmp_path / "out"
    sink = ParquetDatasink(str(dest))
    sink.on_write_start()
    result = sink.write(iter([table(0, 3)]), WriteContext("w", 0))
    assert visible(dest) == [f".staging-{sink._sink_id}/w_000000_000000.parquet"]
    assert not [p for p in dest.iterdir() if not p.name.startswith(".")]
    # a reader sees no data in the destination yet
    with pytest.raises(Exception, match="no files to read"):
        ParquetDatasource(str(dest))
    sink.on_write_complete([result])
    assert visible(dest) == ["w_000000_000000.parquet"]


def failing_blocks(good: int):
    for i in range(good):
        yield table(i * 10, 10)
    raise RuntimeError("UDF failed mid-write")


@pytest.mark.parametrize("fmt", sorted(SINKS))
def test_failed_write_leaves_destination_as_it_was(tmp_path: Path, fmt: str):
    sink_cls, _, _ = SINKS[fmt]
    dest = tmp_path / "out"
    write(sink_cls(str(dest)), [[table(0, 2)]], uuid="before")
    before = visible(dest)
    for mode in ("append", "overwrite"):
        sink = sink_cls(str(dest), mode=mode)
        sink.on_write_start()
        ok = sink.write(iter([table(0, 5)]), WriteContext("after", 0))
        assert ok["files"]
        with pytest.raises(RuntimeError, match="mid-write"):
            sink.write(failing_blocks(2), WriteContext("after", 1))
        sink.on_write_failed(RuntimeError("task 1 failed"))
        assert visible(dest) == before
        assert sorted(os.listdir(dest)) == sorted(before)  # staging removed too


def test_failed_write_to_new_destination_leaves_nothing(tmp_path: Path):
    dest = tmp_path / "new" / "out"
    sink = CSVDatasink(str(dest))
    sink.on_write_start()
    with pytest.raises(RuntimeError):
        sink.write(failing_blocks(1), WriteContext("w", 0))
    sink.on_write_failed(RuntimeError("x"))
    assert not dest.exists()


def test_max_rows_per_file(tmp_path: Path):
    dest = tmp_path / "out"
    results = write(ParquetDatasink(str(dest), max_rows_per_file=4), [[table(0, 3), table(3, 7)]])
    assert results[0]["files"] == [f"w0001_000000_{n:06d}.parquet" for n in range(3)]
    assert [pq.read_metadata(dest / f).num_rows for f in results[0]["files"]] == [4, 4, 2]
    assert sorted(read_table(ParquetDatasource(str(dest))).column("id").to_pylist()) == list(range(10))


def test_schema_change_between_blocks_starts_a_new_file(tmp_path: Path):
    dest = tmp_path / "out"
    results = write(CSVDatasink(str(dest)), [[pa.table({"a": [1]}), pa.table({"b": ["x"]})]])
    assert len(results[0]["files"]) == 2
    assert [p.read_text() for p in sorted(dest.iterdir())] == ['"a"\n1\n', '"b"\n"x"\n']


def test_parquet_partition_cols_round_trip(tmp_path: Path):
    dest = tmp_path / "out"
    data = pa.table({"year": [2023, 2024, 2023, None], "city": ["a b", "c", "a b", "d"], "v": [1, 2, 3, 4]})
    write(ParquetDatasink(str(dest), partition_cols=["year", "city"]), [[data]])
    assert visible(dest) == [
        "year=2023/city=a%20b/w0001_000000_000000.parquet",
        "year=2024/city=c/w0001_000000_000001.parquet",
        "year=__HIVE_DEFAULT_PARTITION__/city=d/w0001_000000_000002.parquet"]
    back = read_table(ParquetDatasource(str(dest)), 1)
    rows = sorted(back.to_pylist(), key=lambda r: r["v"])
    assert rows == [{"v": 1, "year": "2023", "city": "a b"}, {"v": 2, "year": "2024", "city": "c"},
                    {"v": 3, "year": "2023", "city": "a b"}, {"v": 4, "year": None, "city": "d"}]  # as Ray reads them
    with pytest.raises(ColumnNotFoundError):
        write(ParquetDatasink(str(tmp_path / "o2"), partition_cols=["nope"]), [[data]])


def test_parquet_options_pass_through(tmp_path: Path):
    dest = tmp_path / "out"
    write(ParquetDatasink(str(dest), compression="zstd", row_group_size=2), [[table(0, 5)]])
    md = pq.read_metadata(next(dest.iterdir()))
    assert md.num_row_groups == 3
    assert md.row_group(0).column(0).compression == "ZSTD"
    with pytest.raises(PlanError):
        ParquetDatasink(str(dest), no_such_option=1)


def test_tensor_columns(tmp_path: Path):
    t = pa.table({"id": [0, 1], "img": ndarray_to_arrow(np.arange(8, dtype=np.uint8).reshape(2, 2, 2))})
    write(ParquetDatasink(str(tmp_path / "p")), [[t]])
    back = read_table(ParquetDatasource(str(tmp_path / "p")))
    np.testing.assert_array_equal(arrow_to_ndarray(back.column("img")), np.arange(8).reshape(2, 2, 2))
    write(JSONDatasink(str(tmp_path / "j")), [[t]])
    lines = (next((tmp_path / "j").iterdir())).read_text().splitlines()
    assert json.loads(lines[1]) == {"id": 1, "img": [[4, 5], [6, 7]]}
    with pytest.raises(DataSinkError, match="'img'.*cannot be written to CSV"):
        write(CSVDatasink(str(tmp_path / "c")), [[t]])


def test_numpy_sink_round_trip(tmp_path: Path):
    dest = tmp_path / "npy"
    blocks = [pa.table({"data": ndarray_to_arrow(np.arange(6, dtype=np.float32).reshape(3, 2)), "o": [1, 2, 3]}),
              pa.table({"data": ndarray_to_arrow(np.arange(6, 10, dtype=np.float32).reshape(2, 2)), "o": [4, 5]})]
    results = write(NumpyDatasink(str(dest), column="data"), [blocks])
    assert len(results[0]["files"]) == 2  # one .npy per block
    back = read_table(NumpyDatasource(str(dest)), 1)
    np.testing.assert_array_equal(arrow_to_ndarray(back.column("data")), np.arange(10).reshape(5, 2))
    with pytest.raises(ColumnNotFoundError):
        write(NumpyDatasink(str(tmp_path / "x"), column="nope"), [blocks])


def test_memory_filesystem_sink(memfs):
    write(JSONDatasink("memory://sinks/j"), [[table(0, 2)]])
    assert memfs.ls("/sinks/j", detail=False) == ["/sinks/j/w0001_000000_000000.json"]
    assert read_table(JSONDatasource("memory://sinks/j")).column("id").to_pylist() == [0, 1]


# ---------------------------------------------------------------------------- S3 (moto server)


def test_s3_write_commit_and_failure(s3_server):
    s3_server.bucket("wr-bucket")
    dest = "s3://wr-bucket/out"
    write(ParquetDatasink(dest), [[table(0, 3)], [table(3, 3)]], uuid="s3w")
    assert s3_server.keys("wr-bucket") == ["out/s3w_000000_000000.parquet", "out/s3w_000001_000000.parquet"]
    assert sorted(read_table(ParquetDatasource(dest)).column("id").to_pylist()) == list(range(6))

    sink = ParquetDatasink(dest, mode="overwrite")
    sink.on_write_start()
    sink.write(iter([table(100, 1)]), WriteContext("bad", 0))
    assert any(".staging-" in k for k in s3_server.keys("wr-bucket"))
    sink.on_write_failed(RuntimeError("boom"))
    assert s3_server.keys("wr-bucket") == ["out/s3w_000000_000000.parquet", "out/s3w_000001_000000.parquet"]

    write(CSVDatasink(dest, mode="overwrite"), [[table(7, 2)]], uuid="s3o")
    assert s3_server.keys("wr-bucket") == ["out/s3o_000000_000000.csv"]
    with pytest.raises(DestinationExistsError):
        CSVDatasink(dest, mode="error").on_write_start()
    fs = fsspec.filesystem("s3", endpoint_url=s3_server.endpoint, skip_instance_cache=True)
    assert fs.cat("wr-bucket/out/s3o_000000_000000.csv").decode().splitlines()[1:] == ['7,10.5,"v7"', '8,12,"v8"']


def test_sinks_pickle_with_their_options(tmp_path: Path):
    import pickle

    import cloudpickle
    import pyarrow.csv as pacsv

    sinks = [CSVDatasink(str(tmp_path / "c"), write_options=pacsv.WriteOptions(delimiter=";")),
             CSVDatasink(str(tmp_path / "d"), write_options={"include_header": False}),
             ParquetDatasink(str(tmp_path / "p"), compression="gzip", partition_cols=["id"]),
             JSONDatasink(str(tmp_path / "j"), ensure_ascii=False), NumpyDatasink(str(tmp_path / "n"), column="id")]
    for sink in sinks:
        pickle.loads(cloudpickle.dumps(sink))
    copy = pickle.loads(cloudpickle.dumps(sinks[0]))
    write(copy, [[pa.table({"a": [1], "b": [2]})]])
    assert next((tmp_path / "c").iterdir()).read_text() == '"a";"b"\n1;2\n'
