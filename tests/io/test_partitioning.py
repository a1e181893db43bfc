"""Partition values in paths (streamdata.io.partitioning): Ray's hive and directory styles."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import streamdata as sd
from streamdata.datasource import PartitionStyle, Partitioning, PathPartitionFilter, PathPartitionParser
from streamdata.errors import PlanError
from streamdata.io.partitioning import partition_values


def test_directory_style_names_each_level_below_base_dir() -> None:
    p = Partitioning(PartitionStyle.DIRECTORY, base_dir="/data", field_names=["year", "country"])
    assert p.style == "dir"
    assert p.parse("/data/2024/fr/part-0.parquet") == {"year": "2024", "country": "fr"}
    assert Partitioning("dir", base_dir="/data", field_names=["year", None]).parse("/data/2024/fr/x") == {
        "year": "2024"}  # None skips a level
    with pytest.raises(PlanError, match=r"part-0.parquet: directory partitioning expects 1 .*found 2"):
        Partitioning("dir", base_dir="/data", field_names=["year"]).parse("/data/2024/fr/part-0.parquet")
    with pytest.raises(PlanError, match="needs field_names"):
        Partitioning("dir")
    with pytest.raises(PlanError, match="unsupported partitioning style 'flat'"):
        Partitioning("flat")


def test_hive_style_with_field_names_checks_the_count() -> None:
    assert Partitioning("hive", field_names=["year", "country"]).parse("/d/year=1/country=fr/x") == {
        "year": "1", "country": "fr"}
    with pytest.raises(PlanError, match="expects 1 key=value"):
        Partitioning("hive", field_names=["year"]).parse("/d/year=1/country=fr/x")


def test_the_parser_types_values_as_field_types_say() -> None:
    parser = PathPartitionParser(Partitioning("hive", field_types={"year": int}))
    assert parser("/d/year=2024/country=fr/x") == {"year": 2024, "country": "fr"}
    schema, values = partition_values(Partitioning("dir", base_dir="/d", field_names=["n"]), ["/d/1/a", "/d/2/b"])
    assert schema.field("n").type == pa.string() and values == [{"n": "1"}, {"n": "2"}]  # as Ray: no inference
    typed = Partitioning("dir", base_dir="/d", field_names=["n"], field_types={"n": int})
    assert partition_values(typed, ["/d/1/a", "/d/2/b"]) == (pa.schema([("n", pa.int64())]), [{"n": 1}, {"n": 2}])


@pytest.fixture
def dir_partitioned(tmp_path):
    for year in (2023, 2024):
        for country in ("fr", "de"):
            folder = tmp_path / str(year) / country
            folder.mkdir(parents=True)
            pq.write_table(pa.table({"v": [year * 10 + len(country)]}), folder / "part-0.parquet")
    return tmp_path


@pytest.mark.usefixtures("data_runtime")
def test_a_read_adds_directory_partition_columns(dir_partitioned) -> None:
    part = Partitioning("dir", base_dir=str(dir_partitioned), field_names=["year", "country"])
    rows = sd.read_parquet(str(dir_partitioned), partitioning=part).take_all()
    assert sorted((r["year"], r["country"]) for r in rows) == [("2023", "de"), ("2023", "fr"), ("2024", "de"),
                                                                ("2024", "fr")]  # strings, as in Ray
    kept = PathPartitionFilter.of(lambda p: p["country"] == "fr", style="dir", base_dir=str(dir_partitioned),
                                  field_names=["year", "country"])
    rows = sd.read_parquet(str(dir_partitioned), partitioning=part, partition_filter=kept).take_all()
    assert sorted(r["year"] for r in rows) == ["2023", "2024"] and {r["country"] for r in rows} == {"fr"}
