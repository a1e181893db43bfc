"""Reads and writes through the whole engine (plan → executor → worker processes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest


from streamdata import read_api as rd  # noqa: E402
from streamdata.core import api as rt  # noqa: E402
from streamdata.expressions import col  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def runtime(s3_server):
    """One runtime for the module, started after the S3 environment is set (workers inherit it)."""
    if rt.is_initialized():
        rt.shutdown()
    rt.init(num_cpus=2)
    yield
    rt.shutdown()


def visible(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def test_in_memory_sources():
    # block order is not preserved by default (as in Ray): compare as sets of rows
    assert sorted(r["id"] for r in rd.range(10, override_num_blocks=3).take_all()) == list(range(10))
    data = {int(r["data"][0, 0]): r["data"].tolist() for r in rd.range_tensor(4, shape=(2, 2)).take_all()}
    assert data[3] == [[3, 3], [3, 3]]
    assert rd.from_items([{"a": i} for i in range(5)]).sum("a") == 10
    df = rd.from_pandas([pd.DataFrame({"a": [1, 2]}), pd.DataFrame({"a": [3]})]).to_pandas()
    assert sorted(df["a"].tolist()) == [1, 2, 3]
    assert rd.from_arrow(pa.table({"x": [1, 2]})).count() == 2
    assert rd.from_numpy(np.ones((3, 2))).take_all()[0]["data"].tolist() == [1.0, 1.0]


def test_parquet_round_trip_with_pushdown(tmp_path: Path):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    for i in range(4):
        pq.write_table(pa.table({"a": np.arange(i * 100, (i + 1) * 100), "b": np.arange(100) * 0.5}),
                       src / f"p{i}.parquet", row_group_size=25)
    ds = rd.read_parquet(str(src))
    assert ds.count() == 400
    got = ds.filter(expr=(col("a") >= 150) & (col("a") < 160)).select_columns(["a"]).take_all()
    assert sorted(r["a"] for r in got) == list(range(150, 160))
    ds.map_batches(lambda b: {"a": b["a"], "c": b["a"] * 2}).write_parquet(str(out))
    assert all(name.endswith(".parquet") and not name.startswith(".") for name in visible(out))
    back = rd.read_parquet(str(out))
    assert back.count() == 400
    assert sorted(r["c"] for r in back.take_all()) == [2 * i for i in range(400)]


@pytest.mark.parametrize("fmt", ["parquet", "csv", "json"])
def test_write_modes_end_to_end(tmp_path: Path, fmt: str):
    out = str(tmp_path / "out")
    write = lambda ds, **kw: getattr(ds, f"write_{fmt}")(out, **kw)  # noqa: E731
    read = getattr(rd, f"read_{fmt}")
    write(rd.range(10, override_num_blocks=2))
    write(rd.range(5))
    assert read(out).count() == 15
    write(rd.range(3), mode="overwrite")
    assert sorted(r["id"] for r in read(out).take_all()) == [0, 1, 2]
    write(rd.range(100), mode="ignore")
    assert read(out).count() == 3
    with pytest.raises(FileExistsError):
        write(rd.range(1), mode="error")


def test_udf_failure_mid_write_leaves_no_partial_files(tmp_path: Path):
    out = tmp_path / "out"
    rd.range(20, override_num_blocks=2).write_parquet(str(out))
    before = visible(out)

    def explode(batch):
        if batch["id"].max() >= 150:
            raise ValueError("bad batch")
        return batch

    with pytest.raises(ValueError, match="bad batch"):
        rd.range(200, override_num_blocks=8).map_batches(explode).write_parquet(str(out))
    assert visible(out) == before  # nothing new, no staging left behind
    with pytest.raises(ValueError, match="bad batch"):
        rd.range(200, override_num_blocks=8).map_batches(explode).write_csv(str(out), mode="overwrite")
    assert visible(out) == before


def test_s3_read_and_write_in_workers(s3_server):
    s3_server.bucket("e2e-bucket")
    rd.range(50, override_num_blocks=4).write_parquet("s3://e2e-bucket/ids")
    keys = s3_server.keys("e2e-bucket")
    assert keys and all(k.startswith("ids/") and ".staging" not in k for k in keys)
    ds = rd.read_parquet("s3://e2e-bucket/ids")
    assert ds.count() == 50
    assert sorted(r["id"] for r in ds.take_all()) == list(range(50))


def test_many_small_files_end_to_end(s3_many_csvs):
    rows = rd.read_csv(s3_many_csvs).take_all()  # one pass: 2000 GETs on the test's moto server
    assert sorted(r["a"] for r in rows) == list(range(2000))
    assert sum(r["b"] for r in rows) == 2 * sum(range(2000))


def test_bad_inputs_end_to_end(tmp_path: Path):
    (tmp_path / "r.csv").write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(Exception, match=r"r\.csv: line 3"):
        rd.read_csv(str(tmp_path / "r.csv")).take_all()
    with pytest.raises(FileNotFoundError):
        rd.read_csv(str(tmp_path / "nope"))


def test_max_errored_blocks_skips_a_bad_file_end_to_end(tmp_path: Path, data_context):
    (tmp_path / "a.jsonl").write_text('{"v": 1}\n')
    (tmp_path / "b.jsonl").write_text('{"v": \n')
    (tmp_path / "c.jsonl").write_text('{"v": 3}\n')
    with pytest.raises(Exception, match=r"b\.jsonl"):
        rd.read_json(str(tmp_path), override_num_blocks=1).take_all()
    data_context.max_errored_blocks = 1
    rows = rd.read_json(str(tmp_path), override_num_blocks=1).take_all()
    assert sorted(r["v"] for r in rows) == [1, 3]


def test_images_and_numpy_end_to_end(tmp_path: Path):
    pytest.importorskip("PIL")
    from PIL import Image

    for i in range(3):
        Image.fromarray(np.full((4, 5, 3), i, dtype=np.uint8)).save(tmp_path / f"{i}.png")
    rows = rd.read_images(str(tmp_path), include_paths=True).take_all()
    assert sorted(int(r["image"][0, 0, 0]) for r in rows) == [0, 1, 2]
    assert all(r["image"].shape == (4, 5, 3) for r in rows)
    out = tmp_path / "npy"
    rd.range_tensor(6, shape=(2,)).write_numpy(str(out), column="data")
    back = rd.read_numpy(str(out)).take_all()
    assert sorted(int(r["data"][0]) for r in back) == list(range(6))
