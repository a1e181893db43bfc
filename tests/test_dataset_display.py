"""``repr(dataset)`` and ``repr(ds.schema())`` print what Ray 2.60 prints: every expected string
here is Ray 2.60's own output for the same code (``import ray`` instead of streamdata), copied
verbatim. A display never runs a plan Ray would not run."""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import streamdata as sd
from streamdata import execution
from streamdata.dataset import Dataset
from streamdata.dataset_display_plan import inline_expr, udf_name
from streamdata.dataset_repr import format_summary, format_table, preview_targets, truncate
from streamdata.expressions import col
from streamdata.io.datasource import Datasource
from streamdata.plan.logical import LogicalPlan, Read
from streamdata.schema import Schema, format_type
from streamdata.tensor import VariableShapeTensorType

pytestmark = pytest.mark.usefixtures("data_runtime")


def text(s: str) -> str:
    """A literal written as an indented block, without its first newline."""
    return textwrap.dedent(s).strip("\n")


def fn(x: Any) -> Any:
    return x


# ---------------------------------------------------------------------------- Dataset.schema()
def test_schema_prints_rays_column_type_table() -> None:
    s = sd.range(10).schema()
    assert repr(s) == str(s) == "Column  Type\n------  ----\nid      int64"
    iris = Schema(pa.schema([("sepal.length", pa.float64()), ("sepal.width", pa.float64()),
                             ("variety", pa.string())]))
    assert repr(iris) == text("""
        Column        Type
        ------        ----
        sepal.length  double
        sepal.width   double
        variety       string""")
    grouped = Schema(pa.schema([("k", pa.int64()), ("count()", pa.int64())]))
    assert repr(grouped) == "Column   Type\n------   ----\nk        int64\ncount()  int64"
    assert repr(Schema(pa.schema([]))) == "Column  Type\n------  ----"
    # the schema API is unchanged
    assert s.names == ["id"] and s.types == [pa.int64()] and s.base_schema == pa.schema([("id", pa.int64())])


def test_schema_prints_tensor_and_nested_types_as_ray() -> None:
    ds = sd.from_items([{"d": {"x": 1, "y": [1, 2]}, "l": [1, 2, 3], "img": np.zeros((2, 3), np.uint8)}])
    assert repr(ds.schema()) == text("""
        Column  Type
        ------  ----
        d       struct<x: int64, y: list<item: int64>>
        l       list<item: int64>
        img     ArrowTensorTypeV2(shape=(2, 3), dtype=uint8)""")
    assert format_type(pa.fixed_shape_tensor(pa.float32(), [3])) == "ArrowTensorTypeV2(shape=(3,), dtype=float)"
    assert format_type(VariableShapeTensorType(pa.uint8(), 3)) == "ArrowVariableShapedTensorType(ndim=3, dtype=uint8)"
    assert format_type(pa.dictionary(pa.int32(), pa.string())) == "dictionary<values=string, indices=int32, ordered=0>"


def test_schema_found_by_running_is_remembered_and_shown() -> None:
    ds = sd.range(10).map(fn)
    assert ds.schema(fetch_if_missing=False) is None
    assert repr(ds) == "Map(fn)\n+- Dataset(num_rows=10, schema={id: int64})"
    assert ds.schema().names == ["id"]
    assert repr(ds.schema(fetch_if_missing=False)) == "Column  Type\n------  ----\nid      int64"
    assert repr(ds) == text("""
        shape: (10, 1)
        ╭───────╮
        │ id    │
        │ ---   │
        │ int64 │
        ╰───────╯
        (Dataset isn't materialized)""")


# ---------------------------------------------------------------------------- lazy datasets
def test_a_source_with_a_known_schema_prints_a_table() -> None:
    assert repr(sd.range(1000)) == str(sd.range(1000)) == text("""
        shape: (1000, 1)
        ╭───────╮
        │ id    │
        │ ---   │
        │ int64 │
        ╰───────╯
        (Dataset isn't materialized)""")
    assert repr(sd.range_tensor(10, shape=(2, 2))) == text("""
        shape: (10, 1)
        ╭──────────────────────────────────────────╮
        │ data                                     │
        │ ---                                      │
        │ ArrowTensorTypeV2(shape=(2, 2), dtype=i… │
        ╰──────────────────────────────────────────╯
        (Dataset isn't materialized)""")
    assert repr(sd.range(0)) == "Dataset(num_rows=0, schema=Unknown schema)"


def test_operators_that_keep_or_derive_columns_keep_the_table() -> None:
    assert repr(sd.range(1000).random_shuffle()).startswith("shape: (1000, 1)\n")
    assert repr(sd.range(1000).sort("id")).startswith("shape: (1000, 1)\n")
    assert repr(sd.range(1000).limit(5)).startswith("shape: (5, 1)\n")
    assert repr(sd.range(1000).filter(fn)).startswith("shape: (?, 1)\n")
    assert repr(sd.range(10).rename_columns({"id": "x"})).startswith("shape: (10, 1)\n╭───────╮\n│ x     │")
    items = sd.from_items([{"k": i % 3, "v": i} for i in range(10)])
    assert repr(items.groupby("k").count()) == text("""
        shape: (?, 2)
        ╭───────┬─────────╮
        │ k     ┆ count() │
        │ ---   ┆ ---     │
        │ int64 ┆ int64   │
        ╰───────┴─────────╯
        (Dataset isn't materialized)""")
    assert repr(sd.range(10).groupby("id").mean("id")) == text("""
        shape: (?, 2)
        ╭───────┬──────────╮
        │ id    ┆ mean(id) │
        │ ---   ┆ ---      │
        │ int64 ┆ double   │
        ╰───────┴──────────╯
        (Dataset isn't materialized)""")
    left, right = sd.from_items([{"k": 1, "a": 2}]), sd.from_items([{"k": 1, "b": 3}])
    assert repr(left.join(right, "inner", num_partitions=1, on=("k",))) == text("""
        shape: (?, 3)
        ╭───────┬───────┬───────╮
        │ k     ┆ a     ┆ b     │
        │ ---   ┆ ---   ┆ ---   │
        │ int64 ┆ int64 ┆ int64 │
        ╰───────┴───────┴───────╯
        (Dataset isn't materialized)""")
    assert repr(sd.range(10).zip(sd.range(10))) == text("""
        shape: (?, 2)
        ╭───────┬───────╮
        │ id    ┆ id_1  │
        │ ---   ┆ ---   │
        │ int64 ┆ int64 │
        ╰───────┴───────╯
        (Dataset isn't materialized)""")
    assert repr(sd.range(10).with_column("y", col("id") * 2)).startswith(
        "shape: (10, 2)\n╭───────┬───────╮\n│ id    ┆ y     │\n│ ---   ┆ ---   │\n│ int64 ┆ int64 │")


def test_a_udf_hides_the_schema_and_the_plan_is_listed() -> None:
    ds = sd.range(1000)
    assert repr(ds.map_batches(lambda batch: {"id": batch["id"] * 2})) == text("""
        MapBatches(<lambda>)
        +- Dataset(num_rows=1000, schema={id: int64})""")
    assert repr(ds.map(fn).limit(5)) == text("""
        limit=5
        +- Map(fn)
           +- Dataset(num_rows=1000, schema={id: int64})""")
    assert repr(sd.range(10).map(fn).filter(expr=(col("id") > 3) & (col("id") < 8))) == text("""
        Filter((col('id') > 3) & (col('id') < 8))
        +- Map(fn)
           +- Dataset(num_rows=10, schema={id: int64})""")
    items = sd.from_items([{"k": i % 3, "v": i} for i in range(10)])
    assert repr(items.groupby("k").map_groups(lambda g: g)) == text("""
        MapBatches(<lambda>)
        +- Repartition
           +- Dataset(num_rows=10, schema={k: int64, v: int64})""")
    assert repr(sd.range(10).add_column("y", lambda df: df["id"])) == text("""
        MapBatches(add_column)
        +- Dataset(num_rows=10, schema={id: int64})""")
    # several inputs: nothing is said of the sources
    assert repr(sd.range(10).map(fn).union(sd.range(5).map(fn))) == text("""
        Union
        +- Map(fn)
        +- Map(fn)
           +- Dataset(num_rows=?, schema=Unknown schema)""")
    named = sd.range(10).map(fn)
    named.set_name("myds")
    assert repr(named) == "Map(fn)\n+- Dataset(name=myds, num_rows=10, schema={id: int64})"


def test_a_long_schema_is_broken_over_lines_as_ray_does() -> None:
    wide = sd.from_items([{f"column_number_{i}": i for i in range(12)}]).map(fn)
    fields = ",\n".join(f"         column_number_{i}: int64" for i in range(12))
    assert repr(wide) == ("Map(fn)\n+- Dataset(\n      num_rows=1,\n      schema={\n"
                          f"{fields}\n      }}\n   )")
    long_name = sd.from_items([{"a" * 90: 1}]).map(fn)
    assert repr(long_name) == text("""
        Map(fn)
        +- Dataset(
              num_rows=1,
              schema={
                 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...: int64
              }
           )""")
    four = sd.from_items([{f"col_{i}": 1.5 for i in range(4)}]).map(fn)
    assert repr(four) == text("""
        Map(fn)
        +- Dataset(
              num_rows=1,
              schema={col_0: double, col_1: double, col_2: double, col_3: double}
           )""")


def test_file_sources_as_ray_2_60_plans_them(tmp_path: Any) -> None:
    table = pa.table({"a": list(range(20)), "b": [f"s{i}" for i in range(20)]})
    pq.write_table(table, tmp_path / "data.parquet")
    pacsv.write_csv(table, tmp_path / "data.csv")
    parquet = sd.read_parquet(str(tmp_path / "data.parquet"))
    assert repr(parquet) == text("""
        shape: (?, 2)
        ╭───────┬────────╮
        │ a     ┆ b      │
        │ ---   ┆ ---    │
        │ int64 ┆ string │
        ╰───────┴────────╯
        (Dataset isn't materialized)""")
    assert repr(parquet.map_batches(lambda b: b)) == text("""
        MapBatches(<lambda>)
        +- ReadFilesParquetV2
           +- Dataset(num_rows=?, schema={__path: string, __file_size: int64})""")
    csv = sd.read_csv(str(tmp_path / "data.csv"))
    assert repr(csv) == "Dataset(num_rows=?, schema=Unknown schema)"
    assert repr(csv.map(fn)) == "Map(fn)\n+- Dataset(num_rows=?, schema=Unknown schema)"


def test_from_pandas_keeps_pandas_dtypes_in_the_summary() -> None:
    df = pd.DataFrame({"k": [1], "v": np.array([1.5], dtype=np.float32)})
    assert repr(sd.from_pandas(df).groupby("k").sum("v")) == text("""
        Aggregate
        +- Dataset(num_rows=1, schema={k: int64, v: float32})""")
    frame = pd.DataFrame({"o": pd.Series(["x"], dtype=object), "s": pd.array(["y"], dtype="string[python]"),
                          "a": pd.array(["z"], dtype=pd.ArrowDtype(pa.string())), "n": pd.array([1], dtype="Int64"),
                          "d": ["w"]})
    assert repr(sd.from_pandas(frame).map_batches(lambda b: b)) == text("""
        MapBatches(<lambda>)
        +- Dataset(
              num_rows=1,
              schema={o: object, s: string, a: string[pyarrow], n: Int64, d: str}
           )""")


def test_from_pandas_string_columns_print_as_rays_string() -> None:
    """pandas 3's default str dtype: Ray 2.60 prints ``string`` (its schema type), not the
    ``large_string`` Arrow holds it in."""
    ds = sd.from_pandas(pd.DataFrame({"s": ["a", "b", "c"], "i": [1, 2, 3]}))
    assert repr(ds.schema()) == "Column  Type\n------  ----\ns       string\ni       int64"
    assert repr(ds) == text("""
        shape: (3, 2)
        ╭────────┬───────╮
        │ s      ┆ i     │
        │ ---    ┆ ---   │
        │ string ┆ int64 │
        ╞════════╪═══════╡
        │ a      ┆ 1     │
        │ b      ┆ 2     │
        │ c      ┆ 3     │
        ╰────────┴───────╯
        (Showing 3 of 3 rows)""")
    assert ds.filter(lambda r: True).schema().types == [pa.string(), pa.int64()]
    assert ds.materialize().schema().types == [pa.string(), pa.int64()]
    assert sd.from_pandas_refs([sd.put(pd.DataFrame({"s": ["a"]}))]).schema().types == [pa.string()]


# ---------------------------------------------------------------------------- materialized data
def test_in_memory_data_shows_its_rows() -> None:
    assert repr(sd.from_items([1, 2, 3, 4, 5])) == text("""
        shape: (5, 1)
        ╭───────╮
        │ item  │
        │ ---   │
        │ int64 │
        ╞═══════╡
        │ 1     │
        │ 2     │
        │ 3     │
        │ 4     │
        │ 5     │
        ╰───────╯
        (Showing 5 of 5 rows)""")
    assert repr(sd.from_items([{"a": i, "name": "x" * i} for i in range(12)])) == text("""
        shape: (12, 2)
        ╭───────┬─────────────╮
        │ a     ┆ name        │
        │ ---   ┆ ---         │
        │ int64 ┆ string      │
        ╞═══════╪═════════════╡
        │ 0     ┆             │
        │ 1     ┆ x           │
        │ 2     ┆ xx          │
        │ 3     ┆ xxx         │
        │ 4     ┆ xxxx        │
        │ …     ┆ …           │
        │ 7     ┆ xxxxxxx     │
        │ 8     ┆ xxxxxxxx    │
        │ 9     ┆ xxxxxxxxx   │
        │ 10    ┆ xxxxxxxxxx  │
        │ 11    ┆ xxxxxxxxxxx │
        ╰───────┴─────────────╯
        (Showing 10 of 12 rows)""")
    assert repr(sd.from_numpy(np.ones((3, 2, 2)))) == text("""
        shape: (3, 1)
        ╭──────────────────────────────────────────╮
        │ data                                     │
        │ ---                                      │
        │ ArrowTensorTypeV2(shape=(2, 2), dtype=d… │
        ╞══════════════════════════════════════════╡
        │ [[1. 1.]  [1. 1.]]                       │
        │ [[1. 1.]  [1. 1.]]                       │
        │ [[1. 1.]  [1. 1.]]                       │
        ╰──────────────────────────────────────────╯
        (Showing 3 of 3 rows)""")
    row = {"f": 0.1 + 0.2, "g": 1e20, "h": float("nan"), "b": True, "by": b"xy",
           "d": {"x": 1, "y": [1, 2]}, "l": [1, 2, 3], "n": None, "s": "word " * 20}
    assert repr(sd.from_items([row])) == text("""
        shape: (1, 9)
        ╭─────────────────────┬────────┬────────┬──────┬────────┬────────────────────────────────────────┬───────────────────┬──────┬──────────────────────────────────────────╮
        │ f                   ┆ g      ┆ h      ┆ b    ┆ by     ┆ d                                      ┆ l                 ┆ n    ┆ s                                        │
        │ ---                 ┆ ---    ┆ ---    ┆ ---  ┆ ---    ┆ ---                                    ┆ ---               ┆ ---  ┆ ---                                      │
        │ double              ┆ double ┆ double ┆ bool ┆ binary ┆ struct<x: int64, y: list<item: int64>> ┆ list<item: int64> ┆ null ┆ string                                   │
        ╞═════════════════════╪════════╪════════╪══════╪════════╪════════════════════════════════════════╪═══════════════════╪══════╪══════════════════════════════════════════╡
        │ 0.30000000000000004 ┆ 1e+20  ┆ nan    ┆ True ┆ b'xy'  ┆ {'x': 1, 'y': [1, 2]}                  ┆ [1, 2, 3]         ┆ None ┆ word word word word word word word word… │
        ╰─────────────────────┴────────┴────────┴──────┴────────┴────────────────────────────────────────┴───────────────────┴──────┴──────────────────────────────────────────╯
        (Showing 1 of 1 rows)""")  # noqa: E501
    assert repr(sd.from_items([])) == "MaterializedDataset(num_rows=0, schema=Unknown schema)"


def test_a_materialized_dataset_shows_its_first_and_last_rows() -> None:
    m = sd.range(150, override_num_blocks=7).materialize()
    assert repr(m) == text("""
        shape: (150, 1)
        ╭───────╮
        │ id    │
        │ ---   │
        │ int64 │
        ╞═══════╡
        │ 0     │
        │ 1     │
        │ 2     │
        │ 3     │
        │ 4     │
        │ …     │
        │ 145   │
        │ 146   │
        │ 147   │
        │ 148   │
        │ 149   │
        ╰───────╯
        (Showing 10 of 150 rows)""")
    m.set_name("m")
    assert repr(m).startswith("name: m\nshape: (150, 1)\n")
    assert repr(sd.range(10).materialize().map(fn)) == "Map(fn)\n+- Dataset(num_rows=10, schema={id: int64})"
    empty = sd.range(10).filter(lambda r: False).materialize()
    assert repr(empty).startswith("MaterializedDataset(num_blocks=") and repr(empty).endswith(
        "num_rows=0, schema=Unknown schema)")  # Ray's block count is its own (5 there)


def test_a_materialized_preview_reads_only_the_blocks_it_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    m = sd.range(1000, override_num_blocks=20).materialize()
    fetched: list[Any] = []
    real = execution.fetch
    monkeypatch.setattr(execution, "fetch", lambda refs: fetched.extend(refs) or real(refs))
    assert "(Showing 10 of 1000 rows)" in repr(m)
    assert 1 <= len(fetched) <= 2  # the first block and the last one


class _Unreadable(Datasource):
    """A source that fails if anything plans its read or reads it."""

    name = "ReadUnreadable"

    def schema(self) -> pa.Schema:
        return pa.schema([("x", pa.int64())])

    def get_read_tasks(self, parallelism: int) -> list[Any]:
        raise AssertionError("the display ran the plan")


def test_a_display_runs_nothing() -> None:
    ds = Dataset(LogicalPlan(Read(datasource=_Unreadable())))
    assert repr(ds).startswith("shape: (?, 1)\n")
    assert repr(ds.map(fn).limit(2)) == ("limit=2\n+- Map(fn)\n"
                                         "   +- Dataset(num_rows=?, schema={x: int64})")
    assert ds._repr_html_().startswith("<pre>shape: (?, 1)")


# ---------------------------------------------------------------------------- after a whole run
DOUBLED_PLAN = "MapBatches(<lambda>)\n+- Dataset(num_rows=1000, schema={id: int64})"
DOUBLED_SEEN = text("""
    shape: (1000, 1)
    ╭───────╮
    │ id    │
    │ ---   │
    │ int64 │
    ╰───────╯
    (Dataset isn't materialized)""")


def _doubled() -> Dataset:
    return sd.range(1000, override_num_blocks=10).map_batches(lambda b: {"id": b["id"] * 2})


def test_a_whole_run_shows_the_rows_and_schema_it_saw(tmp_path: Any) -> None:
    """Ray 2.60 keeps what a consumer that ran the dataset to its end saw."""
    consumers = [lambda d: d.take_all(), lambda d: list(d.iter_batches()), lambda d: list(d.iter_rows()),
                 lambda d: list(d.iterator().iter_batches(batch_size=7)), lambda d: d.to_pandas(),
                 lambda d: d.size_bytes(), lambda d: list(d.iter_internal_ref_bundles()),
                 lambda d: d.to_arrow_refs(), lambda d: d.split(2), lambda d: d.take_all(limit=1000)]
    for consume in consumers:
        ds = _doubled()
        assert repr(ds) == DOUBLED_PLAN
        consume(ds)
        assert repr(ds) == DOUBLED_SEEN
        assert repr(ds.schema(fetch_if_missing=False)) == "Column  Type\n------  ----\nid      int64"
    filtered = sd.range(1000).filter(lambda r: r["id"] > 3)
    assert repr(filtered).startswith("shape: (?, 1)\n")
    filtered.take_all()
    assert repr(filtered).startswith("shape: (996, 1)\n")
    mixed = sd.range(5).map(lambda r: {"s": "x" * r["id"], "f": float(r["id"]), "l": [1, 2]})
    assert repr(mixed) == "Map(<lambda>)\n+- Dataset(num_rows=5, schema={id: int64})"
    mixed.take_all()
    assert repr(mixed) == text("""
        shape: (5, 3)
        ╭────────┬────────┬───────────────────╮
        │ s      ┆ f      ┆ l                 │
        │ ---    ┆ ---    ┆ ---               │
        │ string ┆ double ┆ list<item: int64> │
        ╰────────┴────────┴───────────────────╯
        (Dataset isn't materialized)""")


def test_a_whole_run_of_nothing_and_of_several_inputs() -> None:
    empty = sd.range(10).filter(lambda r: False)
    empty.take_all()
    assert repr(empty).startswith("shape: (0, 1)\n")
    no_columns = sd.range(10).map_batches(lambda b: {})
    assert no_columns.take_all() == []
    assert repr(no_columns) == "MapBatches(<lambda>)\n+- Dataset(num_rows=0, schema={id: int64})"
    union = sd.range(5).union(sd.range(3)).map_batches(lambda b: b)
    assert repr(union) == "MapBatches(<lambda>)\n+- Union\n   +- Dataset(num_rows=?, schema=Unknown schema)"
    union.take_all()
    assert repr(union).startswith("shape: (8, 1)\n")


def test_consumers_that_run_another_plan_or_stop_early_show_nothing_new(tmp_path: Any) -> None:
    def partly(d: Dataset) -> None:
        batches = iter(d.iter_batches(batch_size=2, prefetch_batches=0))
        next(batches)
        batches.close()

    consumers = [lambda d: d.count(), lambda d: d.take(2), lambda d: d.take_batch(100),
                 lambda d: d.materialize(), lambda d: d.sum("id"), lambda d: d.unique("id"),
                 lambda d: d.write_parquet(str(tmp_path / "out")), lambda d: d.stats(),
                 lambda d: [list(it.iter_batches()) for it in d.streaming_split(1)], partly]
    for consume in consumers:
        ds = _doubled()
        consume(ds)
        assert repr(ds) == DOUBLED_PLAN
    filtered = sd.range(1000).filter(lambda r: r["id"] > 3)
    assert filtered.count() == 996
    assert repr(filtered).startswith("shape: (?, 1)\n")


def test_what_a_run_saw_is_used_without_running_again(tmp_path: Any) -> None:
    allowed = tmp_path / "may_run"
    allowed.write_text("")

    def once(batch: dict) -> dict:
        if not allowed.exists():
            raise AssertionError("the plan ran again")
        return {"v": batch["id"] + 1}

    ds = sd.range(50).map_batches(once)
    assert len(ds.take_all()) == 50
    allowed.unlink()
    assert ds.count() == 50 and ds.columns(fetch_if_missing=False) == ["v"] and ds.schema().names == ["v"]
    assert repr(ds).startswith("shape: (50, 1)\n")
    assert repr(Dataset.copy(ds)).startswith("shape: (50, 1)\n")  # Ray's copy keeps its cache
    assert repr(ds.map_batches(fn)) == text("""
        MapBatches(fn)
        +- MapBatches(once)
           +- Dataset(num_rows=50, schema={id: int64})""")  # a derived dataset starts afresh


def test_a_failed_run_shows_nothing_new() -> None:
    def fail_late(batch: dict) -> dict:
        if batch["id"][0] >= 500:
            raise ValueError("bad block")
        return batch

    ds = sd.range(1000, override_num_blocks=4).map_batches(fail_late)
    with pytest.raises(ValueError, match="bad block"):
        ds.take_all()
    assert repr(ds) == "MapBatches(fail_late)\n+- Dataset(num_rows=1000, schema={id: int64})"


# ---------------------------------------------------------------------------- pure formatting
def test_formatting_helpers() -> None:
    assert preview_targets(10) == (10, 0) and preview_targets(11) == (5, 5)
    assert truncate("x" * 41) == "x" * 39 + "…" and truncate("x" * 40) == "x" * 40
    assert format_table(pa.schema([("a", pa.int64())]), num_rows=None, materialized=True) == text("""
        shape: (?, 1)
        ╭───────╮
        │ a     │
        │ ---   │
        │ int64 │
        ╰───────╯
        (Showing 0 of ? rows)""")
    assert format_summary("MaterializedDataset", num_rows=0, schema=None, name="m", num_blocks=5) == (
        "MaterializedDataset(name=m, num_blocks=5, num_rows=0, schema=Unknown schema)")


def test_operator_names_follow_rays() -> None:
    import functools

    class C:
        def __call__(self, b: Any) -> Any:
            return b

        def m(self, b: Any) -> Any:
            return b

    assert [udf_name(f) for f in (fn, C, C(), C().m, functools.partial(fn))] == ["fn", "C", "C", "C.m", "fn"]
    assert inline_expr(col("id").is_in([1, 2])) == "col('id') in [1, 2]"
    assert inline_expr(~(col("a") > 1)) == "~(col('a') > 1)"
    assert inline_expr(col("a").is_null()) == "col('a').is_null()"
