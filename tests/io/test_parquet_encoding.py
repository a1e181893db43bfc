"""The Parquet sink dictionary-encodes only the columns with few distinct values, and
compresses only the columns its codec shrinks (unless told)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streamdata.io.parquet import ParquetDatasink
from streamdata.io.parquet_encoding import MIN_SAMPLE_ROWS, column_compression, dictionary_columns
from streamdata.write_context import WriteContext


def mixed(n: int, start: int = 0) -> pa.Table:
    rng = np.random.default_rng(start)
    ids = np.arange(start, start + n)
    return pa.table({"id": ids, "key": ids % 10, "x": rng.random(n),
                     "s": [f"k{i % 7}" for i in ids], "u": [f"unique-{i}" for i in ids]})


def test_low_cardinality_columns_are_chosen() -> None:
    assert dictionary_columns(mixed(5000)) == ["key", "s"]


def test_no_column_worth_it_is_false_and_dictionary_types_always_are() -> None:
    assert dictionary_columns(pa.table({"x": np.arange(1000.0)})) is False
    table = pa.table({"x": np.arange(1000.0), "d": pa.array([f"v{i}" for i in range(1000)]).dictionary_encode()})
    assert dictionary_columns(table) == ["d"]


def test_small_or_nested_tables_keep_pyarrows_default() -> None:
    assert dictionary_columns(mixed(MIN_SAMPLE_ROWS - 1)) is True
    nested = pa.table({"id": np.arange(1000), "l": [[i] for i in range(1000)]})
    assert dictionary_columns(nested) is True


def test_all_null_and_mostly_null_columns() -> None:
    table = pa.table({"n": pa.nulls(1000, pa.float64()), "x": np.arange(1000.0)})
    assert dictionary_columns(table) == ["n"]


def write_one(dest: Path, blocks: list[pa.Table], **options: object) -> Path:
    sink = ParquetDatasink(str(dest), **options)
    sink.on_write_start()
    sink.on_write_complete([sink.write(iter(blocks), WriteContext("w", 0))])
    return next(dest.iterdir())


def dictionary_pages(path: Path) -> dict[str, bool]:
    md = pq.read_metadata(path)
    rg = md.row_group(0)
    return {rg.column(i).path_in_schema: rg.column(i).has_dictionary_page for i in range(md.num_columns)}


def test_sink_writes_dictionaries_only_where_they_pay(tmp_path: Path) -> None:
    blocks = [mixed(3000, 0), mixed(3000, 3000)]
    path = write_one(tmp_path / "out", blocks)
    assert dictionary_pages(path) == {"id": False, "key": True, "x": False, "s": True, "u": False}
    assert pq.read_table(path).equals(pa.concat_tables(blocks))


def test_users_use_dictionary_is_kept(tmp_path: Path) -> None:
    everything = write_one(tmp_path / "all", [mixed(3000)], use_dictionary=True)
    assert set(dictionary_pages(everything).values()) == {True}
    chosen = write_one(tmp_path / "some", [mixed(3000)], use_dictionary=["x"])
    assert [name for name, has in dictionary_pages(chosen).items() if has] == ["x"]


def test_a_writer_closed_before_any_rows_makes_a_readable_file(tmp_path: Path) -> None:
    import io

    stream = io.BytesIO()
    schema = mixed(0).schema
    ParquetDatasink(str(tmp_path / "e")).open_writer(stream, schema).close()
    back = pq.read_table(pa.BufferReader(stream.getvalue()))
    assert back.num_rows == 0 and back.schema.names == ["id", "key", "x", "s", "u"]


def test_bad_use_dictionary_is_refused_on_the_driver(tmp_path: Path) -> None:
    from streamdata.errors import PlanError

    with pytest.raises((PlanError, TypeError, ValueError)):
        ParquetDatasink(str(tmp_path / "bad"), use_dictionary=3.5)


def codecs(path: Path) -> dict[str, str]:
    rg = pq.read_metadata(path).row_group(0)
    return {rg.column(i).path_in_schema: rg.column(i).compression for i in range(rg.num_columns)}


def test_numbers_the_codec_cannot_shrink_are_left_uncompressed() -> None:
    table = mixed(5000)  # x: random floats; id, key: compressible integers
    assert column_compression(table, ["key", "s"]) == {
        "id": "snappy", "key": "snappy", "x": "none", "s": "snappy", "u": "snappy"}
    assert column_compression(table, True) is None  # every column dictionary-encoded
    assert column_compression(table.drop_columns(["x"]), ["key", "s"]) is None  # nothing to leave out
    assert column_compression(mixed(MIN_SAMPLE_ROWS - 1), False) is None
    assert column_compression(table, False, codec="lz4")["x"] == "none"


def test_a_sliced_or_chunked_column_is_judged_on_its_own_values() -> None:
    zeros = pa.chunked_array([np.random.default_rng(1).random(5000), np.zeros(5000)])
    assert column_compression(pa.table({"x": zeros}), False) == {"x": "none"}
    sliced = pa.table({"x": pa.concat_arrays([pa.array(np.random.default_rng(1).random(5000)),
                                              pa.array(np.zeros(5000))])}).slice(5000)
    assert column_compression(sliced, False) is None  # the zeros after the offset: compressible


def test_sink_compresses_only_what_shrinks_and_the_file_reads_back(tmp_path: Path) -> None:
    blocks = [mixed(3000, 0), mixed(3000, 3000)]
    path = write_one(tmp_path / "out", blocks)
    assert codecs(path) == {"id": "SNAPPY", "key": "SNAPPY", "x": "UNCOMPRESSED", "s": "SNAPPY",
                            "u": "SNAPPY"}
    assert pq.read_table(path).equals(pa.concat_tables(blocks))


def test_users_compression_is_kept(tmp_path: Path) -> None:
    zstd = write_one(tmp_path / "zstd", [mixed(3000)], compression="zstd")
    assert set(codecs(zstd).values()) == {"ZSTD"}
    level = write_one(tmp_path / "level", [mixed(3000)], compression="zstd", compression_level=3)
    assert set(codecs(level).values()) == {"ZSTD"}
    per_column = write_one(tmp_path / "cols", [mixed(3000)], compression={"x": "gzip", "id": "none"})
    assert codecs(per_column)["x"] == "GZIP" and codecs(per_column)["id"] == "UNCOMPRESSED"


def test_other_fixed_width_types_are_judged_and_read_back(tmp_path: Path) -> None:
    import decimal

    n = 5000
    rng = np.random.default_rng(3)
    table = pa.table({
        "ts": pa.array(rng.integers(0, 2**62, n), pa.timestamp("ns", tz="UTC")),
        "day": pa.array(np.zeros(n, dtype=np.int32), pa.date32()),
        "dec": pa.array([decimal.Decimal(int(v)) / 100 for v in rng.integers(0, 10**9, n)], pa.decimal128(12, 2)),
        "half": pa.array(rng.random(n).astype(np.float16)),
        "flag": pa.array(rng.random(n) > 0.5),
        "f_nulls": pa.array([None if i % 3 == 0 else float(v) for i, v in enumerate(rng.random(n))]),
    })
    codecs_chosen = column_compression(table, False)
    assert codecs_chosen is not None
    assert codecs_chosen["ts"] == "none" and codecs_chosen["day"] == "snappy" and codecs_chosen["flag"] == "snappy"
    path = write_one(tmp_path / "types", [table], use_dictionary=False)
    assert pq.read_table(path).equals(table)
