"""Parquet reads: pushdown (checked by bytes and row groups read), splitting, schemas, errors."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.local import LocalFileSystem
from io_testutil import read_table, run_tasks, source_stats

from streamdata.errors import ColumnNotFoundError, DataSourceError, SchemaError
from streamdata.expressions import col
from streamdata.io.partitioning import Partitioning
from streamdata.io.parquet import ParquetDatasource, conform_schema


def write(path: Path, table: pa.Table, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, **kwargs)
    return path


def sample(start: int, n: int) -> pa.Table:
    ids = np.arange(start, start + n, dtype=np.int64)
    return pa.table({"a": ids, "b": ids * 0.5, "c": [f"row-{i:08d}" for i in ids]})


class CountingFS(LocalFileSystem):
    """The local filesystem, counting the bytes read through it (class-wide, so the count
    survives the pickling of read tasks)."""

    cachable = False
    bytes_read = 0

    def _open(self, path, mode="rb", **kwargs):
        f = super()._open(path, mode=mode, **kwargs)
        return _CountingFile(f) if "r" in mode else f


class _CountingFile(io.RawIOBase):
    def __init__(self, f):
        self._f = f

    def readable(self):
        return True

    def seekable(self):
        return True

    def readinto(self, b):
        n = self._f.readinto(b)
        CountingFS.bytes_read += n or 0
        return n

    def read(self, n=-1):
        data = self._f.read(n)
        CountingFS.bytes_read += len(data)
        return data

    def seek(self, *args):
        return self._f.seek(*args)

    def tell(self):
        return self._f.tell()

    def close(self):
        self._f.close()
        super().close()


def bytes_read(source, parallelism: int = 1) -> tuple[int, pa.Table]:
    CountingFS.bytes_read = 0
    table = read_table(source, parallelism)
    return CountingFS.bytes_read, table


N = 20_000  # rows per file


@pytest.fixture
def files(tmp_path: Path) -> Path:
    for i in range(4):
        write(tmp_path / "ds" / f"part-{i}.parquet", sample(i * N, N), row_group_size=N // 10)
    return tmp_path / "ds"


def test_read_all_rows_in_order(files: Path):
    src = ParquetDatasource(str(files))
    for parallelism in (1, 2, 4, 16):
        table = read_table(src, parallelism)
        assert table.column("a").to_pylist() == list(range(4 * N))
    assert src.schema() == pa.schema([("a", pa.int64()), ("b", pa.float64()), ("c", pa.string())])
    assert src.input_files() == [str(files / f"part-{i}.parquet") for i in range(4)]


def test_num_rows_from_footers_reads_no_data(files: Path):
    src = ParquetDatasource(str(files), filesystem=CountingFS())
    CountingFS.bytes_read = 0
    assert src.num_rows() == 4 * N
    footer_bytes = CountingFS.bytes_read
    total = sum(os.path.getsize(files / f) for f in os.listdir(files))
    assert 0 < footer_bytes < total / 4
    assert src.estimate_inmemory_data_size() > 0


def test_projection_reads_fewer_bytes(files: Path):
    full, table = bytes_read(ParquetDatasource(str(files), filesystem=CountingFS()))
    assert table.num_rows == 4 * N
    narrow, table = bytes_read(ParquetDatasource(str(files), filesystem=CountingFS(), columns=["a"]))
    assert table.column_names == ["a"] and table.num_rows == 4 * N
    assert narrow < full / 2
    pushed, table = bytes_read(ParquetDatasource(str(files), filesystem=CountingFS()).apply_projection(["b"]))
    assert table.column_names == ["b"] and pushed < full / 2


def test_predicate_prunes_row_groups_and_bytes(files: Path):
    src = ParquetDatasource(str(files), filesystem=CountingFS())
    full, _ = bytes_read(src)
    filtered = src.apply_predicate((col("a") >= 22_500) & (col("a") < 23_500))
    CountingFS.bytes_read = 0
    blocks, tasks = run_tasks(filtered, 4)
    table = pa.concat_tables(blocks)
    assert sorted(table.column("a").to_pylist()) == list(range(22_500, 23_500))
    stats = source_stats(tasks)
    assert stats == {"row_groups_total": 40, "row_groups_read": 1}
    assert CountingFS.bytes_read < full / 4
    assert filtered.num_rows() is None  # unknown until read


def test_arrow_filter_argument(files: Path):
    src = ParquetDatasource(str(files), filter=pc.field("a") < 5, columns=["c"])
    assert read_table(src).column("c").to_pylist() == [f"row-{i:08d}" for i in range(5)]


def test_predicate_on_missing_column_is_an_error(files: Path):
    src = ParquetDatasource(str(files)).apply_predicate(col("nope") > 1)
    with pytest.raises(SchemaError, match="nope"):
        read_table(src)


def test_unknown_column_fails_at_construction(files: Path):
    with pytest.raises(ColumnNotFoundError, match=r"'zz' not in \['a', 'b', 'c'\]"):
        ParquetDatasource(str(files), columns=["a", "zz"])


def test_limit_pushdown(files: Path):
    src = ParquetDatasource(str(files)).apply_limit(150)
    blocks, _ = run_tasks(src, 1)
    assert sum(b.num_rows for b in blocks) == 150
    assert src.num_rows() == 150


def test_large_file_is_split_by_row_groups(tmp_path: Path, data_context):
    write(tmp_path / "big.parquet", sample(0, 20_000), row_group_size=1000)
    data_context.target_min_block_size = 1024
    src = ParquetDatasource(str(tmp_path / "big.parquet"))
    tasks = src.get_read_tasks(4)
    assert len(tasks) == 4
    blocks, ran = run_tasks(src, 4)
    ids = pa.concat_tables(blocks).column("a").to_pylist()
    assert sorted(ids) == list(range(20_000))  # every row exactly once
    per_task = [t._read_fn.source.stats["row_groups_read"] for t in ran]
    assert sum(per_task) == 20 and all(n > 0 for n in per_task)


def test_blocks_follow_target_max_block_size(tmp_path: Path, data_context):
    write(tmp_path / "f.parquet", sample(0, 10_000))
    data_context.target_max_block_size = 64 * 1024
    blocks, _ = run_tasks(ParquetDatasource(str(tmp_path / "f.parquet")), 1)
    assert len(blocks) > 3
    assert all(b.nbytes <= 2 * 64 * 1024 for b in blocks)
    assert sum(b.num_rows for b in blocks) == 10_000


def test_hive_partitions_typed_and_pruned_without_opening_files(tmp_path: Path):
    for year in (2022, 2023, 2024):
        for country in ("fr", "us"):
            write(tmp_path / "p" / f"year={year}" / f"country={country}" / "data.parquet",
                  pa.table({"v": [year * 10, year * 10 + 1]}))
    as_ray = ParquetDatasource(str(tmp_path / "p"))  # values stay strings, as in Ray
    assert as_ray.schema() == pa.schema([("v", pa.int64()), ("year", pa.string()), ("country", pa.string())])
    assert set(read_table(as_ray.apply_predicate(col("year") == "2023")).column("v").to_pylist()) == {20230, 20231}
    typed = Partitioning("hive", field_types={"year": int})
    src = ParquetDatasource(str(tmp_path / "p"), filesystem=CountingFS(), partitioning=typed)
    assert src.schema() == pa.schema([("v", pa.int64()), ("year", pa.int64()), ("country", pa.string())])
    table = read_table(src)
    assert table.num_rows == 12
    assert set(table.column("year").to_pylist()) == {2022, 2023, 2024}

    pruned = src.apply_predicate((col("year") >= 2023) & (col("country") == "fr") & (col("v") > 0))
    groups = pruned.plan_splits(8)
    assert [s.path.split("/p/")[1] for g in groups for s in g] == [
        "year=2023/country=fr/data.parquet", "year=2024/country=fr/data.parquet"]
    table = read_table(pruned)
    assert sorted(table.column("v").to_pylist()) == [20230, 20231, 20240, 20241]
    assert set(table.column("country").to_pylist()) == {"fr"}

    only_partitions = ParquetDatasource(str(tmp_path / "p"), columns=["year"])
    assert read_table(only_partitions).column_names == ["year"]
    no_partitioning = ParquetDatasource(str(tmp_path / "p"), partitioning=None)
    assert no_partitioning.schema().names == ["v"]


def test_include_paths(files: Path):
    table = read_table(ParquetDatasource(str(files / "part-1.parquet"), include_paths=True, columns=["a", "path"]))
    assert set(table.column("path").to_pylist()) == {str(files / "part-1.parquet")}


def test_schema_evolution_missing_and_widened_columns(tmp_path: Path):
    write(tmp_path / "s" / "1.parquet", pa.table({"a": pa.array([1], pa.int32()), "b": ["x"]}))
    write(tmp_path / "s" / "2.parquet", pa.table({"a": pa.array([2], pa.int64())}))
    table = read_table(ParquetDatasource(str(tmp_path / "s")), 1)
    assert table.column("a").to_pylist() == [1, 2]
    assert table.column("b").to_pylist() == ["x", None]
    assert pa.types.is_int64(table.schema.field("a").type)
    assert ParquetDatasource(str(tmp_path / "s")).unified_schema().field("a").type == pa.int64()


def test_schema_conflict_names_both_files(tmp_path: Path):
    write(tmp_path / "s" / "1.parquet", pa.table({"a": [1]}))
    write(tmp_path / "s" / "2.parquet", pa.table({"a": ["text"]}))
    src = ParquetDatasource(str(tmp_path / "s"))
    with pytest.raises(SchemaError, match=r"'a' is string in .*2\.parquet but int64 in .*1\.parquet"):
        read_table(src, 2)
    with pytest.raises(SchemaError, match="2.parquet"):
        src.unified_schema()
    forced = ParquetDatasource(str(tmp_path / "s"), schema=pa.schema([("a", pa.string())]))
    assert read_table(forced, 1).column("a").to_pylist() == ["1", "text"]


def test_corrupt_footer_names_the_file(tmp_path: Path):
    write(tmp_path / "d" / "good.parquet", sample(0, 10))
    (tmp_path / "d" / "zbad.parquet").write_bytes(b"PAR1" + b"\0" * 100)
    src = ParquetDatasource(str(tmp_path / "d"))
    with pytest.raises(DataSourceError, match="zbad.parquet") as info:
        read_table(src, 2)
    assert info.value.path.endswith("zbad.parquet")
    with pytest.raises(DataSourceError, match="zbad.parquet"):
        src.num_rows()
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "x.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataSourceError, match="x.parquet"):
        ParquetDatasource(str(tmp_path / "only")).schema()


def test_conform_schema_rules():
    exp = pa.schema([("a", pa.int64()), ("b", pa.string())])
    assert conform_schema(exp, pa.schema([("a", pa.int32()), ("z", pa.bool_())]), path="p", reference="r") == exp
    assert conform_schema(exp, pa.schema([("a", pa.float64())]), path="p", reference="r").field("a").type == pa.float64()
    with pytest.raises(SchemaError, match="timestamp"):
        conform_schema(exp, pa.schema([("a", pa.timestamp("s"))]), path="p", reference="r")


def test_predicate_on_path_column_runs_after_it_is_added(files: Path):
    target = str(files / "part-2.parquet")
    src = ParquetDatasource(str(files), include_paths=True, columns=["a"])
    table = read_table(src.apply_predicate(col("path") == target))
    assert table.column_names == ["a", "path"]  # as Ray: columns= keeps include_paths' column
    assert set(table.column("path").to_pylist()) == {target}
    assert table.column("a").to_pylist() == list(range(2 * N, 3 * N))


def test_a_file_is_cut_into_no_more_byte_ranges_than_it_has_row_groups(tmp_path: Path):
    from streamdata.context import DataContext

    table = pa.table({"x": np.arange(40_000), "y": np.random.default_rng(0).random(40_000)})
    one = write(tmp_path / "one.parquet", table)
    four = write(tmp_path / "four.parquet", table, row_group_size=10_000)
    ctx = DataContext.get_current()
    saved, ctx.target_min_block_size = ctx.target_min_block_size, 1
    try:
        single = ParquetDatasource(str(one)).plan_splits(4)
        several = ParquetDatasource(str(four)).plan_splits(4)
        blocks, ran = run_tasks(ParquetDatasource(str(four)), 4)
    finally:
        ctx.target_min_block_size = saved
    assert [len(g) for g in single] == [1] and single[0][0].whole
    assert len(several) == 4 and len(ran) == 4  # four row groups: four ranges, one each
    assert sorted(v for b in blocks for v in b.column("x").to_pylist()) == list(range(40_000))
    for src in (ParquetDatasource(str(one)), ParquetDatasource(str(four))):
        assert read_table(src).column("x").to_pylist() == list(range(40_000))
