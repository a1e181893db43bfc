"""Reading from a real S3 protocol server (moto, on loopback)."""

from __future__ import annotations

import io

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from io_testutil import read_table, run_tasks

from streamdata.errors import DataSourceError
from streamdata.expressions import col
from streamdata.io.csv import CSVDatasource
from streamdata.io.json import JSONDatasource
from streamdata.io.parquet import ParquetDatasource


@pytest.fixture(scope="module")
def s3fs_(s3_server):
    return fsspec.filesystem("s3", endpoint_url=s3_server.endpoint, skip_instance_cache=True)


def put_parquet(fs, path: str, table: pa.Table, **kwargs) -> None:
    buf = io.BytesIO()
    pq.write_table(table, buf, **kwargs)
    fs.pipe(path, buf.getvalue())


def test_parquet_partitioned_dataset_on_s3(s3_server, s3fs_):
    s3_server.bucket("rd-parquet")
    for day in (1, 2, 3):
        put_parquet(s3fs_, f"rd-parquet/events/day={day}/part.parquet",
                    pa.table({"v": np.arange(day * 100, day * 100 + 50)}), row_group_size=10)
    s3fs_.pipe("rd-parquet/events/_SUCCESS", b"")
    src = ParquetDatasource("s3://rd-parquet/events")
    assert src.num_rows() == 150
    assert src.schema().names == ["v", "day"]
    table = read_table(src, 3)
    assert sorted(table.column("v").to_pylist()) == sorted(
        v for d in (1, 2, 3) for v in range(d * 100, d * 100 + 50))
    filtered = src.apply_predicate((col("day") == "2") & (col("v") >= 240))  # values are strings, as in Ray
    assert len([s for g in filtered.plan_splits(8) for s in g]) == 1
    assert read_table(filtered).column("v").to_pylist() == list(range(240, 250))


def test_many_small_csvs_on_s3(s3_many_csvs):
    src = CSVDatasource(s3_many_csvs)
    assert len(src.input_files()) == 2000
    tasks = src.get_read_tasks(8)
    assert len(tasks) == 8
    table = read_table(src, 8)
    assert table.num_rows == 2000
    assert table.column("a").to_pylist() == list(range(2000))
    assert table.column("b").to_pylist() == [2 * i for i in range(2000)]


def test_anonymous_reads_of_a_public_bucket(s3_server, s3fs_):
    s3_server.bucket("rd-public", public=True)
    s3_server.bucket("rd-private")
    for bucket in ("rd-public", "rd-private"):
        put_parquet(s3fs_, f"{bucket}/t/data.parquet", pa.table({"x": [1, 2, 3]}))
        s3fs_.pipe(f"{bucket}/j/data.jsonl", b'{"y": 1}\n')
    src = ParquetDatasource("s3://anonymous@rd-public/t")
    assert src.filesystem.anon
    assert read_table(src).column("x").to_pylist() == [1, 2, 3]
    assert read_table(JSONDatasource("s3://anonymous@rd-public/j")).to_pydict() == {"y": [1]}
    # the same unsigned requests are refused on a private bucket: nothing is read
    with pytest.raises(PermissionError, match="rd-private"):
        read_table(JSONDatasource("s3://anonymous@rd-private/j"))


def test_missing_bucket_and_key_on_s3(s3_server):
    with pytest.raises(FileNotFoundError, match="s3://no-such-bucket-rd"):
        ParquetDatasource("s3://no-such-bucket-rd/x")
    s3_server.bucket("rd-empty")
    with pytest.raises(FileNotFoundError, match="s3://rd-empty/nothing"):
        CSVDatasource("s3://rd-empty/nothing")


def test_corrupt_parquet_on_s3_names_it(s3_server, s3fs_):
    s3_server.bucket("rd-corrupt")
    put_parquet(s3fs_, "rd-corrupt/d/a.parquet", pa.table({"x": [1]}))
    s3fs_.pipe("rd-corrupt/d/b.parquet", b"PAR1 this is not parquet")
    src = ParquetDatasource("s3://rd-corrupt/d")
    with pytest.raises(DataSourceError, match=r"s3://rd-corrupt/d/b\.parquet"):
        run_tasks(src, 2)


def test_explicit_filesystem_argument(s3_server, s3fs_):
    s3_server.bucket("rd-explicit")
    s3fs_.pipe("rd-explicit/a.csv", b"q\n7\n")
    fs = fsspec.filesystem("s3", endpoint_url=s3_server.endpoint, skip_instance_cache=True)
    assert read_table(CSVDatasource("rd-explicit/a.csv", filesystem=fs)).to_pydict() == {"q": [7]}
