"""A small Parquet read consumed in this process runs on its threads
(streamdata.execution.driver_read): which plans qualify (no processes), and that what
the consumer sees is what the executor would have given it."""

from __future__ import annotations

import threading

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv  # noqa: F401 (pa.csv)
import pyarrow.parquet as pq
import pytest

import streamdata as sd
from streamdata.aggregate import AggregateFn, Count, Max, Mean, Sum
from streamdata.context import DataContext
from streamdata.errors import ColumnNotFoundError, DataSourceError, TaskError
from streamdata.execution import driver_read
from streamdata.expressions.generators import random
from streamdata.expressions.udf import udf
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


def _chosen(ds: sd.Dataset, ctx: DataContext | None = None) -> driver_read.DriverRead | None:
    ctx = ctx or DataContext()
    plan = optimize(ds._plan, ctx, ClusterInfo(num_cpus=2))
    return driver_read.small_driver_read(plan, ctx, num_cpus=2)


# ---------------------------------------------------------------------------- the policy


def test_a_small_parquet_read_and_nothing_else_runs_on_the_driver(parquet_dir):
    chosen = _chosen(sd.read_parquet(str(parquet_dir)))
    assert isinstance(chosen.read, Read) and isinstance(chosen.read.datasource, ParquetDatasource)
    assert chosen.aggregate is None
    # projections and filters pushed into the read keep it a read
    assert _chosen(sd.read_parquet(str(parquet_dir)).select_columns(["id"])) is not None


def test_a_built_in_aggregation_of_a_small_read_runs_on_the_driver(parquet_dir):
    path = str(parquet_dir)
    grouped = _chosen(sd.read_parquet(path).filter(expr="id > 10").groupby("s").mean("id"))
    assert isinstance(grouped.read, Read) and grouped.aggregate.keys == ("s",)
    assert _chosen(sd.read_parquet(path).groupby("s").count()).aggregate is not None
    everything = _chosen(sd.read_parquet(path)._aggregate_node([], (Count(), Max("id"))))
    assert everything.aggregate.keys == ()


def test_column_expressions_after_a_small_read_run_on_the_driver(parquet_dir):
    ds = sd.read_parquet(str(parquet_dir))
    chosen = _chosen(ds.with_column("d", sd.col("id") * 2).filter(expr=sd.col("d") > 10)
                     .select_columns(["d", "s"]).rename_columns({"s": "t"}))
    assert isinstance(chosen.read, Read) and chosen.maps is not None and chosen.aggregate is None
    both = _chosen(ds.with_column("d", sd.col("id") + 1).groupby("s").sum("d"))
    assert both.maps is not None and both.aggregate is not None


def test_what_keeps_column_expressions_on_the_executor(parquet_dir):
    ds = sd.read_parquet(str(parquet_dir))

    @udf(return_dtype=pa.int64())
    def plus_one(x):
        return pc.add(x, 1)

    assert _chosen(ds.with_column("d", plus_one(sd.col("id")))) is None  # Python per batch
    assert _chosen(ds.with_column("r", random(seed=1))) is None  # values depend on the task
    assert _chosen(ds.with_column("d", sd.col("id") * 2).map_batches(lambda b: b)) is None
    assert _chosen(ds.filter(lambda row: row["id"] > 3)) is None
    assert _chosen(ds.with_column("d", sd.col("id") * 2, concurrency=1)) is None


def test_what_keeps_an_aggregation_on_the_executor(parquet_dir):
    path = str(parquet_dir)

    class Total(AggregateFn):
        """A user's aggregation: Python code per block, which threads would serialize."""

        def __init__(self) -> None:
            super().__init__(init=lambda k: 0, accumulate_block=lambda a, b: a + len(b),
                             merge=lambda a, b: a + b, name="total")

    assert _chosen(sd.read_parquet(path).groupby("s").aggregate(Total())) is None
    assert _chosen(sd.read_parquet(path).map_batches(lambda b: b).groupby("s").count()) is None
    assert _chosen(sd.read_parquet(path).groupby("s").map_groups(lambda g: g)) is None
    assert _chosen(sd.read_parquet(path, concurrency=1).groupby("s").count()) is None


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


# ---------------------------------------------------------------------------- aggregations


def test_aggregations_are_the_executors(parquet_dir, executor_only):
    ds = sd.read_parquet(str(parquet_dir))
    queries = {
        "grouped": lambda: ds.filter(expr="id > 10").groupby("s").mean("id").to_pandas(),
        "expressions": lambda: ds.with_column("d", sd.col("id") * 2).filter(expr=sd.col("d") % 3 == 0)
                                 .select_columns(["d", "s"]).rename_columns({"s": "t"}).to_arrow(),
        "expressions, grouped": lambda: ds.with_column("d", sd.col("id") % 5).groupby("d").count().to_pandas(),
        "several": lambda: ds.groupby("s").aggregate(Count(), Sum("id"), Max("id")).to_arrow(),
        "global": lambda: ds.aggregate(Count(), Mean("id")),
        "method": lambda: ds.sum("id"),
        "count": lambda: ds.filter(expr="id > 10").count(),
        "distinct": lambda: ds.unique("s"),
        "empty": lambda: ds.filter(expr="id < 0").groupby("s").sum("id").to_arrow(),
        "empty global": lambda: ds.filter(expr="id < 0").aggregate(Count(), Sum("id")),
    }
    on_driver = {name: q() for name, q in queries.items()}
    grouped = ds.groupby("s").count()
    grouped.take_all()
    assert "driver threads" in grouped.stats() and "merged on the driver" in grouped.stats()
    executor_only.driver_reads_small_data = False
    grouped.take_all()
    assert "driver threads" not in grouped.stats()
    for name, query in queries.items():
        expected, got = query(), on_driver[name]
        if hasattr(expected, "equals"):
            assert got.equals(expected), name
        else:
            assert got == expected, name
    assert on_driver["global"] == {"count()": 4 * ROWS_PER_FILE, "mean(id)": (4 * ROWS_PER_FILE - 1) / 2}
    assert list(on_driver["grouped"]["s"]) == sorted(f"v{j}" for j in range(7))  # sorted by key, as Ray's


@pytest.mark.parametrize("driver", [True, False], ids=["driver", "executor"])
def test_an_aggregation_naming_a_missing_column_fails_naming_it(parquet_dir, executor_only, driver):
    executor_only.driver_reads_small_data = driver
    ds = sd.read_parquet(str(parquet_dir))
    with pytest.raises(ColumnNotFoundError, match="'nope'"):
        ds.groupby("nope").sum("id").take_all()
    with pytest.raises(TaskError, match=r"partial Aggregate.*failed on .*part-\d.parquet.*'nope'") as err:
        ds.groupby("s").sum("nope").take_all()
    assert isinstance(err.value, ColumnNotFoundError)  # the user's except clause still matches


def test_counting_a_filtered_read_counts_in_its_tasks(parquet_dir, executor_only):
    """``count()`` of a read whose metadata cannot say (a pushed filter) returns each
    task's row count, never its blocks; on the driver's threads or the executor's."""
    for driver in (True, False):
        executor_only.driver_reads_small_data = driver
        ds = sd.read_parquet(str(parquet_dir)).filter(expr="id >= 1500")
        assert ds.count() == 4 * ROWS_PER_FILE - 1500
        assert "partial Aggregate(global, count())" in ds.stats()
        assert ("driver threads" in ds.stats()) is driver


# ---------------------------------------------------------------------------- the threads


class _ConcurrencyWatchingParquet(ParquetDatasource):
    """A Parquet source that records how many of its files are being read at once."""

    lock = threading.Lock()
    active = 0
    peak = 0

    def read_split(self, fs, split):
        cls = type(self)
        with cls.lock:
            cls.active += 1
            cls.peak = max(cls.peak, cls.active)
        try:
            yield from super().read_split(fs, split)
        finally:
            with cls.lock:
                cls.active -= 1


@pytest.mark.parametrize("threads", [1, 2])
def test_a_read_runs_at_most_its_threads_tasks_at_once_on_reused_threads(parquet_dir, threads):
    for i in range(4, 12):  # more files than threads
        ids = list(range(i * ROWS_PER_FILE, (i + 1) * ROWS_PER_FILE))
        pq.write_table(pa.table({"id": ids, "s": ["x"] * ROWS_PER_FILE}), parquet_dir / f"part-{i:02d}.parquet")
    source = _ConcurrencyWatchingParquet(str(parquet_dir))
    plan = driver_read.DriverRead(Read(datasource=source, parallelism=12))
    _ConcurrencyWatchingParquet.peak = 0
    before = sum(t.name.startswith("streamdata-driver") for t in threading.enumerate())
    for _ in range(5):
        tables = list(driver_read.read_on_threads(plan, threads=threads, ctx=DataContext()))
        assert sorted(pa.concat_tables(tables)["id"].to_pylist()) == list(range(12 * ROWS_PER_FILE))
    assert _ConcurrencyWatchingParquet.peak <= threads
    after = sum(t.name.startswith("streamdata-driver") for t in threading.enumerate())
    assert after <= max(before, threads)  # no new threads per read
