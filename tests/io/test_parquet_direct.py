"""The Parquet read without the dataset scanner gives what the scanner gives (no processes)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from streamdata.expressions import col, lit
from streamdata.io.parquet import ParquetDatasource
from streamdata.io.parquet_direct import direct_read_plan


def _rows(src: ParquetDatasource, parallelism: int = 3) -> list[dict]:
    rows = [r for task in src.get_read_tasks(parallelism) for t in task() for r in t.to_pylist()]
    return _sorted(rows)


def _direct_reads(src: ParquetDatasource) -> int:
    (task,) = src.get_read_tasks(1)
    list(task())
    return task.read_fn.source.stats.get("files_read_directly", 0)


def _sorted(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: tuple((v is None, v) for v in r.values()))


def _scanner_rows(path: str, columns: list[str], arrow_filter: pc.Expression | None) -> list[dict]:
    table = pads.dataset(path, format="parquet").to_table(columns=columns, filter=arrow_filter)
    return sorted(table.to_pylist(), key=lambda r: tuple((v is None, v) for v in r.values()))


@pytest.fixture()
def files(tmp_path):
    """Three files, several row groups each, nulls in the filtered column."""
    for i in range(3):
        n = 1000
        a = [None if j % 7 == 0 else (j * 37 + i) % 100 / 100 for j in range(n)]
        table = pa.table({"id": pa.array(range(i * n, (i + 1) * n), pa.int64()),
                          "a": pa.array(a, pa.float64()),
                          "key": pa.array([j % 13 for j in range(n)], pa.int32()),
                          "s": pa.array([f"r{j}" for j in range(n)])})
        pq.write_table(table, tmp_path / f"part-{i}.parquet", row_group_size=300)
    return str(tmp_path)


@pytest.mark.parametrize("predicates,arrow,files_decoded", [
    ([col("a") > 0.5], pc.field("a") > 0.5, 3),
    ([col("a") > 0.5, col("key") < 5], (pc.field("a") > 0.5) & (pc.field("key") < 5), 3),
    ([(col("a") > 0.9) | (col("key") == 3)], (pc.field("a") > 0.9) | (pc.field("key") == 3), 3),
    ([col("id") >= 2900], pc.field("id") >= 2900, 1),  # statistics prune the other files' row groups
    ([col("a") > 2.0], pc.field("a") > 2.0, 3),  # no row matches
    ([col("a").is_null()], pc.field("a").is_null(), 3),
])
def test_filtered_projected_read_matches_the_scanner(files, predicates, arrow, files_decoded):
    src = ParquetDatasource(files)
    for p in predicates:
        src = src.apply_predicate(p)
    src = src.apply_projection(["key", "id"])  # the predicate's columns are not returned
    assert _rows(src) == _scanner_rows(files, ["key", "id"], arrow)
    assert _direct_reads(src) == files_decoded


def test_a_literal_predicate_keeps_or_drops_every_row(files):
    keep = ParquetDatasource(files).apply_predicate(lit(True)).apply_projection(["id"])
    drop = ParquetDatasource(files).apply_predicate(lit(False)).apply_projection(["id"])
    assert len(_rows(keep)) == 3000 and _rows(drop) == []


def test_a_file_whose_type_differs_is_read_into_the_dataset_schema(tmp_path):
    pq.write_table(pa.table({"x": pa.array([1, 2, 3], pa.int64())}), tmp_path / "a.parquet")
    pq.write_table(pa.table({"x": pa.array([4, 5], pa.int32())}), tmp_path / "b.parquet")
    src = ParquetDatasource(str(tmp_path)).apply_predicate(col("x") > 1)
    tables = [t for task in src.get_read_tasks(2) for t in task()]
    assert all(t.schema.field("x").type == pa.int64() for t in tables)
    assert sorted(v for t in tables for v in t.column("x").to_pylist()) == [2, 3, 4, 5]


def test_the_plan_reads_directly_only_without_casts_or_missing_columns():
    physical = pa.schema([("x", pa.int64()), ("y", pa.string())])
    assert direct_read_plan(physical, physical, ["x", "y"], []) == ["x", "y"]
    assert direct_read_plan(physical, physical, ["y"], [col("x") > 1]) == ["y", "x"]
    wider = pa.schema([("x", pa.int64()), ("y", pa.string()), ("z", pa.int8())])
    assert direct_read_plan(physical, wider, ["z"], []) is None  # the file lacks z: nulls
    assert direct_read_plan(physical, physical, ["y"], [col("z") > 1]) is None
    assert direct_read_plan(physical, pa.schema([("x", pa.int32())]), ["x"], []) is None


def test_hive_partitions_and_a_pyarrow_filter_keep_the_scanner(tmp_path):
    for year in (2023, 2024):
        (tmp_path / f"year={year}").mkdir()
        pq.write_table(pa.table({"x": [year * 10 + i for i in range(4)]}),
                       tmp_path / f"year={year}" / "p.parquet")
    src = ParquetDatasource(str(tmp_path)).apply_predicate(col("x") % 2 == 0)
    assert sorted((r["x"], r["year"]) for r in _rows(src)) == [
        (20230, "2023"), (20232, "2023"), (20240, "2024"), (20242, "2024")]
    raw = ParquetDatasource(str(tmp_path), filter=pc.field("x") > 20241)
    assert sorted(r["x"] for r in _rows(raw)) == [20242, 20243]
    assert _direct_reads(src) == 0 and _direct_reads(raw) == 0


def test_dictionary_encoded_strings_are_read_as_their_own_type(tmp_path):
    """A string column of few distinct values (nulls too) goes through an Arrow dictionary
    and comes back as the same strings, same type, in order; a column of distinct values and
    one written without dictionaries are decoded as before."""
    from streamdata.io.parquet_direct import dictionary_columns

    n = 5000
    table = pa.table({
        "s": pa.array([None if i % 7 == 0 else f"v{i % 13}" for i in range(n)], pa.string()),
        "b": pa.array([bytes([i % 5]) * 3 for i in range(n)], pa.binary()),
        "u": [f"unique-{i}" for i in range(n)],
        "x": list(range(n)),
    })
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=2000)
    pq.write_table(table, tmp_path / "plain.parquet", use_dictionary=False)
    md = pq.read_metadata(tmp_path / "d.parquet")
    assert dictionary_columns(md, range(md.num_row_groups), ["s", "b", "u", "x"]) == ["s", "b"]
    plain = pq.read_metadata(tmp_path / "plain.parquet")
    assert dictionary_columns(plain, [0], ["s", "b", "u", "x"]) == []
    for name in ["d.parquet", "plain.parquet"]:
        src = ParquetDatasource(str(tmp_path / name))
        (task,) = src.get_read_tasks(1)
        got = pa.concat_tables(list(task()))
        assert task.read_fn.source.stats.get("files_read_directly", 0) == 1
        assert got.schema == table.schema
        assert got.equals(table)
    only = ParquetDatasource(str(tmp_path / "d.parquet"), columns=["x", "s"]).apply_predicate(col("s") == lit("v3"))
    rows = [r for task in only.get_read_tasks(1) for t in task() for r in t.to_pylist()]
    assert rows == [{"x": i, "s": "v3"} for i in range(n) if i % 7 and i % 13 == 3]
