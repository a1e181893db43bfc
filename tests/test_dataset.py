"""The Dataset facade end to end: plans run on one shared runtime (2 CPUs) per module."""

from __future__ import annotations

import os
import threading
from typing import Any, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from streamdata.aggregate import Count, Max, Mean, Sum
from streamdata.context import DataContext
from streamdata.core import api as rt
from streamdata.dataset import Dataset, MaterializedDataset
from streamdata.errors import ColumnNotFoundError
from streamdata.expressions import col, lit
from streamdata.io.datasink import Datasink
from streamdata.io.memory import RangeDatasource, from_items_source
from streamdata.plan.logical import LogicalPlan, Read


@pytest.fixture(scope="module", autouse=True)
def runtime() -> Iterator[None]:
    if rt.is_initialized():
        rt.shutdown()
    rt.init(num_cpus=2)
    ctx = DataContext.get_current()
    saved = (ctx.enable_progress_bars, dict(ctx.extra))
    ctx.enable_progress_bars = False
    yield
    ctx.enable_progress_bars, ctx.extra = saved[0], saved[1]
    rt.shutdown()


@pytest.fixture
def ordered() -> Iterator[None]:
    ctx = DataContext.get_current()
    before = ctx.preserve_order
    ctx.preserve_order = True
    yield
    ctx.preserve_order = before


def rng(n: int, blocks: int | None = None) -> Dataset:
    return Dataset(LogicalPlan(Read(datasource=RangeDatasource(n), override_num_blocks=blocks)))


def items(rows: list[dict[str, Any]], blocks: int | None = None) -> Dataset:
    return Dataset(LogicalPlan(Read(datasource=from_items_source(rows), override_num_blocks=blocks)))


def ids(rows: list[dict[str, Any]], key: str = "id") -> list[Any]:
    return sorted(r[key] for r in rows)


class AddOffset:
    """A callable class: runs in an actor pool, built once per actor."""

    def __init__(self, offset: int) -> None:
        self.offset = offset
        self.pid = os.getpid()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"id": batch["id"] + self.offset, "pid": np.full(len(batch["id"]), self.pid)}


# --------------------------------------------------------------------------- transforms


def test_row_and_batch_maps() -> None:
    ds = rng(20, blocks=4)
    assert ids(ds.map(lambda r: {"id": r["id"] * 2}).take_all()) == [i * 2 for i in range(20)]
    out = ds.map_batches(lambda b: {"id": b["id"] + 1}, batch_size=3).take_all()
    assert ids(out) == list(range(1, 21))
    pandas_out = ds.map_batches(lambda df: df.assign(x=df["id"] * 10), batch_format="pandas")
    assert sorted(r["x"] for r in pandas_out.take_all()) == [i * 10 for i in range(20)]
    arrow_out = ds.map_batches(lambda t: t.append_column("s", pa.array([str(v) for v in
                                                                       t["id"].to_pylist()])),
                               batch_format="pyarrow")
    assert sorted(r["s"] for r in arrow_out.take_all()) == sorted(str(i) for i in range(20))
    flat = ds.flat_map(lambda r: [r, {"id": r["id"] + 100}])
    assert flat.count() == 40
    assert ids(ds.filter(lambda r: r["id"] % 5 == 0).take_all()) == [0, 5, 10, 15]


def test_actor_pool_map_with_constructor_args() -> None:
    out = rng(12, blocks=3).map_batches(AddOffset, fn_constructor_args=(1000,), concurrency=1,
                                        batch_size=4).take_all()
    assert ids(out) == [1000 + i for i in range(12)]
    assert len({r["pid"] for r in out}) == 1  # one actor did every batch
    assert all(r["pid"] != os.getpid() for r in out)


def test_expression_filter_and_columns() -> None:
    ds = items([{"a": i, "b": float(i) / 2, "s": "x" if i % 2 else "y"} for i in range(10)],
               blocks=2)
    assert ids(ds.filter(expr=(col("a") > 3) & (col("s") == "x")).take_all(), "a") == [5, 7, 9]
    out = ds.with_column("c", col("a") * 2 + lit(1)).select_columns(["a", "c"]).take_all()
    assert sorted((r["a"], r["c"]) for r in out) == [(i, 2 * i + 1) for i in range(10)]
    assert ds.drop_columns(["b", "s"]).columns() == ["a"]
    renamed = ds.rename_columns({"a": "x"}).filter(expr=col("x") < 2)
    assert sorted(r["x"] for r in renamed.take_all()) == [0, 1]
    added = ds.add_column("d", lambda df: df["a"] + 100)
    assert sorted(r["d"] for r in added.take_all()) == [100 + i for i in range(10)]


def test_unknown_column_when_running_names_the_columns() -> None:
    ds = rng(5).map_batches(lambda b: b)  # schema unknown until it runs
    with pytest.raises(ColumnNotFoundError) as info:
        ds.filter(expr=col("nope") > 1).take_all()
    assert "nope" in str(info.value) and "id" in str(info.value)


def test_udf_error_keeps_user_type_and_operator_name() -> None:
    def boom(batch):
        raise KeyError("bad row")

    with pytest.raises(KeyError) as info:
        rng(10).map_batches(boom).take_all()
    assert "boom" in str(info.value)


def test_limit_take_and_early_stop(ordered) -> None:
    big = rng(1_000_000, blocks=50).map_batches(lambda b: {"id": b["id"] * 1})
    assert big.take(3) == [{"id": 0}, {"id": 1}, {"id": 2}]
    assert big.limit(7).count() == 7
    assert rng(10).limit(0).take_all() == []


def test_sort_shuffle_repartition_union_zip(ordered) -> None:
    ds = items([{"k": v} for v in [5, 3, 9, 1, 7]], blocks=2)
    assert [r["k"] for r in ds.sort("k").take_all()] == [1, 3, 5, 7, 9]
    assert [r["k"] for r in ds.sort("k", descending=True).take_all()] == [9, 7, 5, 3, 1]
    shuffled = rng(50, blocks=5).random_shuffle(seed=3).take_all()
    assert ids(shuffled) == list(range(50)) and [r["id"] for r in shuffled] != list(range(50))
    assert rng(20, blocks=2).repartition(5).num_blocks() == 5
    assert ids(rng(3).union(rng(2)).take_all()) == [0, 0, 1, 1, 2]
    zipped = rng(4, blocks=2).zip(rng(4, blocks=1).map(lambda r: {"sq": r["id"] ** 2}))
    assert [(r["id"], r["sq"]) for r in zipped.take_all()] == [(0, 0), (1, 1), (2, 4), (3, 9)]
    assert rng(100).randomize_block_order(seed=1).count() == 100
    sample = rng(1000, blocks=4).random_sample(0.3, seed=5).count()
    assert 150 < sample < 450


def test_join() -> None:
    left = items([{"id": i, "a": f"a{i}"} for i in range(6)])
    right = items([{"id": i, "b": i * 10} for i in range(3, 9)])
    inner = left.join(right, on="id", num_partitions=2).take_all()
    assert sorted((r["id"], r["a"], r["b"]) for r in inner) == [(3, "a3", 30), (4, "a4", 40),
                                                                 (5, "a5", 50)]
    outer = left.join(right, join_type="full_outer", on="id").take_all()
    assert sorted(r["id"] for r in outer) == list(range(9))


def test_groupby_aggregations_and_map_groups() -> None:
    ds = items([{"k": i % 3, "v": float(i)} for i in range(12)], blocks=3)
    sums = {r["k"]: r["sum(v)"] for r in ds.groupby("k").sum("v").take_all()}
    assert sums == {0: 18.0, 1: 22.0, 2: 26.0}
    agg = ds.groupby("k").aggregate(Count(), Max("v"), Mean("v")).sort("k").take_all()
    assert agg[0] == {"k": 0, "count()": 4, "max(v)": 9.0, "mean(v)": 4.5}
    counts = ds.groupby("k").count().take_all()
    assert sorted(r["count()"] for r in counts) == [4, 4, 4]
    groups = ds.groupby("k").map_groups(lambda g: {"k": g["k"][:1], "n": np.array([len(g["v"])])})
    assert sorted((r["k"], r["n"]) for r in groups.take_all()) == [(0, 4), (1, 4), (2, 4)]
    assert sorted(ds.unique("k")) == [0, 1, 2]


def test_global_aggregations() -> None:
    ds = rng(5, blocks=2)
    assert ds.sum("id") == 10 and ds.min("id") == 0 and ds.max("id") == 4
    assert ds.mean("id") == 2.0 and abs(ds.std("id") - 1.5811388) < 1e-6
    assert ds.aggregate(Count(), Sum("id")) == {"count()": 5, "sum(id)": 10}
    assert ds.sum(["id"]) == 10 and ds.sum() == 10  # one value: the value itself, as Ray's
    two = ds.map(lambda r: {"id": r["id"], "x": 2 * r["id"]})
    assert two.sum(["id", "x"]) == {"sum(id)": 10, "sum(x)": 20} and two.max() == {"max(id)": 4, "max(x)": 8}


# --------------------------------------------------------------------------- consumption


def test_consumption_methods(ordered, capsys) -> None:
    ds = rng(10, blocks=2).map_batches(lambda b: {"id": b["id"], "x": b["id"] * 0.5})
    assert ds.count() == 10  # runs: the UDF may change the row count
    assert ds.schema() == pa.schema([("id", pa.int64()), ("x", pa.float64())])
    assert ds.columns() == ["id", "x"]
    batch = ds.take_batch(4)
    assert batch["id"].tolist() == [0, 1, 2, 3]
    assert isinstance(ds.take_batch(2, batch_format="pandas"), pd.DataFrame)
    ds.show(2)
    assert capsys.readouterr().out.splitlines() == ["{'id': 0, 'x': 0.0}", "{'id': 1, 'x': 0.5}"]
    assert ds.to_pandas()["x"].tolist() == [i * 0.5 for i in range(10)]
    assert ds.to_arrow().num_rows == 10
    assert ds.size_bytes() == 160 and ds.num_blocks() >= 2
    with pytest.raises(ValueError, match="limit"):
        ds.take_all(limit=5)
    assert "MapBatches" in ds.stats() or "Read" in ds.stats()


def test_iteration(ordered) -> None:
    ds = rng(10, blocks=3)
    assert [r["id"] for r in ds.iter_rows()] == list(range(10))
    sizes = [len(b["id"]) for b in ds.iter_batches(batch_size=4)]
    assert sizes == [4, 4, 2]
    assert [len(b["id"]) for b in ds.iter_batches(batch_size=4, drop_last=True)] == [4, 4]
    frames = list(ds.iter_batches(batch_size=5, batch_format="pandas"))
    assert all(isinstance(f, pd.DataFrame) for f in frames)
    torch = pytest.importorskip("torch")
    tb = list(ds.iter_torch_batches(batch_size=5))
    assert isinstance(tb[0]["id"], torch.Tensor) and tb[0]["id"].tolist() == [0, 1, 2, 3, 4]


def test_materialize_runs_once() -> None:
    ds = rng(6, blocks=2).map(lambda r: {"id": r["id"] + 1})
    m = ds.materialize()
    assert isinstance(m, MaterializedDataset)
    assert m.count() == 6 and ids(m.take_all()) == list(range(1, 7))
    # more transforms on top of materialized blocks
    assert ids(m.map(lambda r: {"id": -r["id"]}).take_all()) == [-i for i in range(6, 0, -1)]
    assert m.num_blocks() >= 1 and m.size_bytes() == 48


def test_splits(ordered) -> None:
    ds = rng(10, blocks=3)
    assert [s.count() for s in ds.split(3, equal=True)] == [3, 3, 3]
    parts = ds.split(3)
    assert sum(p.count() for p in parts) == 10 and all(p.count() >= 3 for p in parts)
    pieces = ds.split_at_indices([2, 5, 5])
    assert [[r["id"] for r in p.take_all()] for p in pieces] == [[0, 1], [2, 3, 4], [],
                                                                 [5, 6, 7, 8, 9]]
    assert [p.count() for p in ds.split_proportionately([0.2, 0.5])] == [2, 5, 3]
    train, test = ds.train_test_split(0.25)
    assert (train.count(), test.count()) == (7, 3)
    train, test = ds.train_test_split(2, shuffle=True, seed=1)
    assert ids(train.take_all() + test.take_all()) == list(range(10))


def test_streaming_split_consumes_one_execution() -> None:
    its = rng(40, blocks=8).streaming_split(2, equal=True)
    got: list[list[int]] = [[], []]

    def consume(i: int) -> None:
        for b in its[i].iter_batches(batch_size=None):
            got[i].extend(b["id"].tolist())

    threads = [threading.Thread(target=consume, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert len(got[0]) == len(got[1]) == 20
    assert sorted(got[0] + got[1]) == list(range(40))


# --------------------------------------------------------------------------- writing


class CollectingSink(Datasink):
    """Writes each task's rows to a file in a directory; commits by listing them."""

    name = "Collecting"

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.started = False
        self.completed: list[Any] | None = None
        self.failed: BaseException | None = None

    def on_write_start(self) -> None:
        self.started = True

    def write(self, blocks, ctx):
        rows = []
        for b in blocks:
            rows.extend(b.column("id").to_pylist())
        path = os.path.join(self.directory, f"{ctx.write_uuid}-{ctx.task_index}.txt")
        with open(path, "w") as fh:
            fh.write(",".join(map(str, rows)))
        return len(rows)

    def on_write_complete(self, write_results: list[Any]) -> None:
        self.completed = write_results

    def on_write_failed(self, error: BaseException) -> None:
        self.failed = error


def test_write_datasink_commits(tmp_path) -> None:
    sink = CollectingSink(str(tmp_path))
    rng(30, blocks=3).write_datasink(sink)
    assert sink.started and sink.failed is None and sum(sink.completed) == 30
    written = []
    for name in os.listdir(tmp_path):
        written += [int(x) for x in (tmp_path / name).read_text().split(",") if x]
    assert sorted(written) == list(range(30))


def test_write_datasink_failure_rolls_back(tmp_path) -> None:
    def bad(batch):
        if (batch["id"] >= 25).any():
            raise RuntimeError("broken batch")
        return batch

    sink = CollectingSink(str(tmp_path))
    with pytest.raises(RuntimeError, match="broken batch"):
        rng(30, blocks=3).map_batches(bad).write_datasink(sink)
    assert sink.completed is None and isinstance(sink.failed, RuntimeError)


def test_write_parquet_roundtrip(tmp_path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    ds = items([{"a": i, "b": str(i)} for i in range(20)], blocks=2)
    ds.write_parquet(str(tmp_path / "out"))
    table = pq.read_table(str(tmp_path / "out"))
    assert sorted(table.column("a").to_pylist()) == list(range(20))


# --------------------------------------------------------------------------- explain


def test_explain_shows_three_plans(capsys) -> None:
    ds = rng(10).filter(expr=col("id") > 2).map_batches(lambda b: b).map(lambda r: r)
    assert ds.explain() is None  # printed, as Ray's
    text = capsys.readouterr().out
    logical, optimized, physical = (text.split("-------- Optimized logical plan --------")[0],
                                    *text.split("-------- Optimized logical plan --------")[1]
                                    .split("-------- Physical plan --------"))
    assert "Filter((col('id') > 2))" in logical
    assert "MapBatches(<lambda>)->Map(<lambda>)" in optimized
    assert physical.strip()


def test_explain_says_when_actor_pools_hold_every_cpu(capsys) -> None:
    ds = (rng(40, blocks=4).map_batches(AddOffset, fn_constructor_args=(1,), concurrency=2)
          .map(lambda row: row))
    ds.explain()
    text = capsys.readouterr().out
    assert text.count("actor pools hold every CPU") == 1
    assert ds.count() == 40  # the map's tasks still run next to the two actors on two CPUs


def test_write_and_read_back_csv_json(tmp_path) -> None:
    from streamdata.read_api import read_csv, read_json
    ds = items([{"a": i, "b": f"s{i}"} for i in range(12)], blocks=3)
    ds.write_csv(str(tmp_path / "csv"))
    ds.write_json(str(tmp_path / "json"))
    for back in (read_csv(str(tmp_path / "csv")), read_json(str(tmp_path / "json"))):
        assert sorted((r["a"], r["b"]) for r in back.take_all()) == [(i, f"s{i}") for i in range(12)]


def test_filter_expression_on_an_unknown_column_fails_when_built() -> None:
    from streamdata.errors import ColumnNotFoundError
    with pytest.raises(ColumnNotFoundError, match="nope"):
        rng(5).filter(expr=col("nope") > 1)  # no execution: the schema of range is known


def test_notebook_display_previews_a_materialized_dataset() -> None:
    html = rng(10).materialize()._repr_html_()  # the text repr, as Ray shows without ipywidgets
    assert html.startswith("<pre>shape: (10, 1)") and "│ 4     │" in html and "(Showing 10 of 10 rows)" in html
    assert "(Dataset isn&#x27;t materialized)" in rng(10)._repr_html_()  # a lazy dataset is not run
