"""The Parquet sink dictionary-encodes only the columns with few distinct values, and
compresses only the columns its codec shrinks (unless told)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streamdata.io.parquet import ParquetDatasink
from streamdata.io.parquet_encoding import (MIN_SAMPLE_ROWS, column_compression, delta_columns,
                                            dictionary_columns, encoding_options)
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
    # id: delta-encoded, so left uncompressed; x: random floats Snappy cannot shrink
    assert codecs(path) == {"id": "UNCOMPRESSED", "key": "SNAPPY", "x": "UNCOMPRESSED", "s": "SNAPPY",
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


def encodings(path: Path) -> dict[str, tuple[str, ...]]:
    rg = pq.read_metadata(path).row_group(0)
    return {rg.column(i).path_in_schema: rg.column(i).encodings for i in range(rg.num_columns)}


def integer_valued(n: int) -> pa.Table:
    rng = np.random.default_rng(5)
    ids = np.arange(n)
    return pa.table({
        "i8": pa.array(rng.integers(-100, 100, n), pa.int8()),
        "u16": pa.array(rng.integers(0, 60000, n), pa.uint16()),
        "u32": pa.array(ids, pa.uint32()),
        "u64": pa.array(ids * 2**40, pa.uint64()),
        "i64": pa.array(rng.integers(-2**62, 2**62, n)),  # random: delta is no smaller, still exact
        "nulls": pa.array([None if i % 3 == 0 else i for i in range(n)], pa.int64()),
        "day": pa.array(ids.astype(np.int32), pa.int32()).cast(pa.date32()),
        "day64": pa.array(ids * 86_400_000, pa.int64()).cast(pa.date64()),
        "ts": pa.array(ids * 1_003_000, pa.int64()).cast(pa.timestamp("ns")),
        "ts_tz": pa.array(ids, pa.int64()).cast(pa.timestamp("ms", tz="Europe/Paris")),
        "t32": pa.array(ids.astype(np.int32), pa.int32()).cast(pa.time32("s")),
        "t64": pa.array(ids, pa.int64()).cast(pa.time64("us")),
        "dur": pa.array(ids, pa.int64()).cast(pa.duration("ms")),
        "x": rng.random(n),
        "s": [f"v{i % 5}" for i in ids],
    })


def test_integer_valued_columns_not_dictionary_encoded_are_delta_encoded() -> None:
    table = integer_valued(5000)
    chosen = dictionary_columns(table)
    assert chosen == ["i8", "s"]
    assert delta_columns(table.schema, chosen) == [
        "u16", "u32", "u64", "i64", "nulls", "day", "day64", "ts", "ts_tz", "t32", "t64", "dur"]
    assert delta_columns(table.schema, True) == []
    options = encoding_options({}, table)
    assert set(options["column_encoding"]) == set(delta_columns(table.schema, chosen))
    assert {c for c, codec in options["compression"].items() if codec == "none"} >= set(options["column_encoding"])


@pytest.mark.parametrize("version", ["1.0", "2.4", "2.6"])
def test_delta_encoded_files_read_back_with_the_same_types_and_values(tmp_path: Path, version: str) -> None:
    table = integer_valued(5000)
    path = write_one(tmp_path / "out", [table.slice(0, 2000), table.slice(2000)], version=version)
    assert "DELTA_BINARY_PACKED" in encodings(path)["u32"] and "DELTA_BINARY_PACKED" in encodings(path)["ts"]
    plain = tmp_path / "plain.parquet"
    pq.write_table(table, plain, version=version)  # what pyarrow's own defaults read back as
    back = pq.read_table(path)
    assert back.schema.equals(pq.read_table(plain).schema) and back.equals(pq.read_table(plain))


def test_other_readers_read_delta_encoded_files(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    polars = pytest.importorskip("polars")
    table = mixed(5000).append_column("ts", pa.array(np.arange(5000) * 10**6, pa.int64()).cast(pa.timestamp("us")))
    path = write_one(tmp_path / "out", [table])
    assert "DELTA_BINARY_PACKED" in encodings(path)["id"]
    con = duckdb.connect()
    assert con.execute(f"SELECT sum(id), sum(key), max(ts) FROM read_parquet('{path}')").fetchone() == (
        sum(range(5000)), int(np.sum(np.arange(5000) % 10)), table["ts"][4999].as_py())
    back = polars.read_parquet(path)
    assert back["id"].to_list() == list(range(5000)) and back["ts"].to_list() == table["ts"].to_pylist()


def test_users_encoding_choices_rule_out_delta(tmp_path: Path) -> None:
    table = mixed(3000).append_column("ts", pa.array(np.arange(3000) * 10**9, pa.int64()).cast(pa.timestamp("ns")))
    assert encoding_options({"column_encoding": {"x": "BYTE_STREAM_SPLIT"}, "use_dictionary": False},
                            table)["column_encoding"] == {"x": "BYTE_STREAM_SPLIT"}
    mine = write_one(tmp_path / "mine", [table], use_dictionary=False, column_encoding={"id": "PLAIN"})
    assert "DELTA_BINARY_PACKED" not in encodings(mine)["id"] and "DELTA_BINARY_PACKED" not in encodings(mine)["key"]
    split = write_one(tmp_path / "split", [table], use_byte_stream_split=["x"])
    assert "DELTA_BINARY_PACKED" not in encodings(split)["id"] and "BYTE_STREAM_SPLIT" in encodings(split)["x"]
    int96 = write_one(tmp_path / "int96", [table], use_deprecated_int96_timestamps=True)
    assert "DELTA_BINARY_PACKED" not in encodings(int96)["id"]
    assert pq.read_table(int96)["ts"].to_pylist() == table["ts"].to_pylist()
    everything = write_one(tmp_path / "all", [table], use_dictionary=True)
    assert not any("DELTA_BINARY_PACKED" in e for e in encodings(everything).values())
    zstd = write_one(tmp_path / "zstd", [table], compression="zstd")  # delta still chosen, the codec kept
    assert "DELTA_BINARY_PACKED" in encodings(zstd)["id"] and set(codecs(zstd).values()) == {"ZSTD"}
    for path in (mine, split, everything, zstd):
        assert pq.read_table(path).equals(table)


@pytest.mark.parametrize("values", [
    np.arange(5000) % 7, np.arange(5000), np.arange(5000, dtype=np.uint8), np.random.default_rng(2).random(5000),
    np.repeat(np.random.default_rng(2).random(10), 500), np.array([np.nan, 1.0] * 2500),
    np.array([np.nan] + [1.0] * 4999), pa.array([None, 1, 2] * 1000), pa.array([1.5, None] * 2000),
])
def test_the_distinct_count_matches_count_distinct(values) -> None:
    import pyarrow.compute as pc

    from streamdata.io.parquet_encoding import _distinct

    column = pa.chunked_array([pa.array(values)])
    expected = pc.count_distinct(column, mode="all").as_py()
    assert _distinct(column) == expected
    assert _distinct(pa.chunked_array([column.chunk(0).slice(0, 100), column.chunk(0).slice(100)])) == expected
