"""A small Parquet read consumed in this process runs on its threads
(streamdata.execution.driver_read): which plans qualify (no processes), and that what
the consumer sees is what the executor would have given it."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.csv  # noqa: F401 (pa.csv)
import pyarrow.parquet as pq
import pytest

import streamdata as sd
from streamdata.context import DataContext
from streamdata.errors import DataSourceError
from streamdata.execution import driver_read
from streamdata.execution.compiler import optimize
from streamdata.io.parquet import ParquetDatasource
from streamdata.plan.cluster import ClusterInfo
from streamdata.plan.logical import Read

ROWS_PER_FILE = 1000


@pytest.fixture
def parquet_dir(tmp_path):
    for i in range(4):
        ids = list(range(i * ROWS_PER_FILE, (i + 1) * ROWS_PER_FILE))
        pq.write_table(pa.table({"id": ids, "s": [f"v{j % 7}" for j in ids]}), tmp_path / f"part-{i}.parquet")
    return tmp_path


def _chosen(ds: sd.Dataset, ctx: DataContext | None = None) -> Read | None:
    ctx = ctx or DataContext()
    plan = optimize(ds._plan, ctx, ClusterInfo(num_cpus=2))
    return driver_read.small_driver_read(plan, ctx, num_cpus=2)


# ---------------------------------------------------------------------------- the policy


def test_a_small_parquet_read_and_nothing_else_runs_on_the_driver(parquet_dir):
    read = _chosen(sd.read_parquet(str(parquet_dir)))
    assert isinstance(read, Read) and isinstance(read.datasource, ParquetDatasource)
    # projections and filters pushed into the read keep it a read
    assert _chosen(sd.read_parquet(str(parquet_dir)).select_columns(["id"])) is not None


def test_what_keeps_a_read_on_the_executor(parquet_dir, tmp_path_factory, monkeypatch):
    path = str(parquet_dir)
    assert _chosen(sd.read_parquet(path).map_batches(lambda b: b)) is None  # a user function
    assert _chosen(sd.read_parquet(path, concurrency=1)) is None
    assert _chosen(sd.read_parquet(path, ray_remote_args={"num_cpus": 0.5})) is None
    assert _chosen(sd.read_parquet(path), DataContext(max_errored_blocks=1)) is None
    assert _chosen(sd.read_parquet(path), DataContext(driver_reads_small_data=False)) is None
    csv = tmp_path_factory.mktemp("csv") / "one.csv"
    pa.csv.write_csv(pa.table({"id": [1]}), csv)
    assert _chosen(sd.read_csv(str(csv))) is None  # only Parquet says it decodes in Arrow

    class Custom(ParquetDatasource):
        """A user's Parquet source, which may read its own way."""

    assert _chosen(sd.read_datasource(Custom(path))) is None  # a subclass may read otherwise
    monkeypatch.setattr(driver_read, "SMALL_READ_BYTES_PER_CPU", 1)
    assert _chosen(sd.read_parquet(path)) is None  # not small


# ---------------------------------------------------------------------------- what the consumer sees


@pytest.fixture
def executor_only():
    ctx = DataContext.get_current()
    saved = ctx.driver_reads_small_data
    yield ctx
    ctx.driver_reads_small_data = saved


def test_batches_rows_and_order_are_the_executors(parquet_dir, executor_only):
    ds = sd.read_parquet(str(parquet_dir))
    on_driver = {fmt: [pa.table(b) if fmt == "pandas" else b
                       for b in ds.iter_batches(batch_size=300, batch_format=fmt)]
                 for fmt in ("pyarrow", "pandas")}
    ids = [i for b in ds.iter_batches(batch_size=300) for i in b["id"].tolist()]
    assert "driver threads" in ds.stats()
    table, rows, head = ds.to_arrow(), list(ds.iter_rows()), ds.take(3)
    executor_only.driver_reads_small_data = False
    ds.take(1)
    assert "driver threads" not in ds.stats()
    assert ids == list(range(4 * ROWS_PER_FILE))  # in the files' order
    assert table.equals(ds.to_arrow())
    assert rows == list(ds.iter_rows()) and head == ds.take(3)
    for fmt, batches in on_driver.items():
        expected = list(ds.iter_batches(batch_size=300, batch_format=fmt))
        assert [b.num_rows if fmt == "pyarrow" else len(b) for b in expected] == [b.num_rows for b in batches]
        assert pa.concat_tables([b if fmt == "pyarrow" else pa.table(b) for b in expected]).equals(
            pa.concat_tables(batches))


def test_a_filter_that_keeps_nothing_still_gives_the_schema(parquet_dir):
    out = sd.read_parquet(str(parquet_dir)).filter(expr="id < 0").to_arrow()
    assert out.num_rows == 0 and out.schema.names == ["id", "s"]


def test_a_bad_file_fails_the_pass_naming_it(parquet_dir):
    (parquet_dir / "part-9.parquet").write_bytes(b"PAR1 this is not parquet PAR1")
    with pytest.raises(DataSourceError, match="part-9.parquet"):
        list(sd.read_parquet(str(parquet_dir)).iter_batches())


def test_leaving_a_pass_early_and_passing_again(parquet_dir):
    batches = sd.read_parquet(str(parquet_dir)).iter_batches(batch_size=10)
    first = next(iter(batches))
    assert first["id"].tolist() == list(range(10))
    assert sum(len(b["id"]) for b in batches) == 4 * ROWS_PER_FILE
