"""Dictionary columns kept from a Parquet read to a Parquet write write what expanding them
wrote: the same values, types, stored Arrow schema, Parquet schema and statistics (no
processes: the task's chain of stages runs here, once as the lowering sets it up and once
with the read expanding every column, as before)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streamdata import block as B
from streamdata.exec.operators.map_transformer import (BatchStage, FilterStage, MapTransformer, ProjectStage,
                                                       ReadStage, TaskContext, WithColumnStage, WriteStage)
from streamdata.expressions import col
from streamdata.expressions.udf import udf
from streamdata.io.parquet import ParquetDatasink, ParquetDatasource
from streamdata.io.parquet_writer import ParquetFileWriter
from streamdata.kept_dictionary import (KeptDictionaryType, decode_kept, dense_schema, keep,
                                        reading_kept_dictionaries)
from streamdata.numpy_batch import NumpyBatch
from streamdata.plan.lowering.kept_dictionaries import keep_read_dictionaries

N = 3000


def _table(i: int) -> pa.Table:
    """One file's rows: ``s`` and ``b`` low-cardinality (each file and row group its own set of
    values, nulls in ``s``), ``u`` all distinct, ``ls`` a large_string."""
    rng = np.random.default_rng(i)
    words = [f"w{i}_{k}" for k in range(7 + i)]
    s = [None if j % 11 == 0 else words[(j // 1000 + int(rng.integers(0, 5)))] for j in range(N)]
    return pa.table({
        "id": pa.array(range(i * N, (i + 1) * N), pa.int64()),
        "a": pa.array(rng.random(N)),
        "s": pa.array(s, pa.string()),
        "b": pa.array([bytes([65 + (j % 3) + i]) for j in range(N)], pa.binary()),
        "u": pa.array([f"u{i}_{j}" for j in range(N)]),
        "ls": pa.array([f"x{j % 4}" for j in range(N)], pa.large_string()),
    }).replace_schema_metadata({b"origin": b"test"})


@pytest.fixture()
def source(tmp_path: Path) -> str:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(4):
        t = _table(i)
        t = t.cast(pa.schema([f.with_metadata({b"doc": f"column {f.name}".encode()}) for f in t.schema],
                             metadata=t.schema.metadata))
        # the last file stores "s" plain-encoded: its blocks reach the sink expanded
        pq.write_table(t, src / f"part-{i}.parquet", row_group_size=1000,
                       use_dictionary=i != 3)
    return str(src)


def _write(source: str, dest: Path, middle: list[Any], *, kept: bool, tasks: int = 2,
           predicate: Any = None, **sink_options: Any) -> ParquetDatasink:
    """Runs ``read → middle → write`` as each of ``tasks`` tasks would; ``kept``: as the
    lowering sets the chain up (else every column is expanded by the read, as before);
    ``predicate``: pushed into the read."""
    sink = ParquetDatasink(str(dest), **sink_options)
    sink.on_write_start()
    results = []
    datasource = ParquetDatasource(source)
    if predicate is not None:
        datasource = datasource.apply_predicate(predicate)
    for i, task in enumerate(datasource.get_read_tasks(tasks)):
        stages = [ReadStage(), *middle, WriteStage(name="w", datasink=sink, write_uuid="u")]
        if kept:
            keep_read_dictionaries(stages)
        for out in MapTransformer(stages).apply([task], TaskContext(task_index=i)):
            results.append(B.column_to_numpy(out.column(WriteStage.RESULT_COLUMN))[0])
    sink.on_write_complete(results)
    return sink


def _assert_same_files(before: Path, after: Path) -> None:
    names = sorted(p.name for p in before.rglob("*.parquet"))
    assert names and names == sorted(p.name for p in after.rglob("*.parquet"))
    for p in before.rglob("*.parquet"):
        q = after / p.relative_to(before)
        a, b = pq.read_table(p), pq.read_table(q)
        assert a.schema.equals(b.schema, check_metadata=True)
        assert a.equals(b)
        ma, mb = pq.read_metadata(p), pq.read_metadata(q)
        assert list((ma.metadata or {}).items()) == list((mb.metadata or {}).items())  # ARROW:schema, in order
        assert ma.schema.equals(mb.schema) and ma.num_row_groups == mb.num_row_groups
        for g in range(ma.num_row_groups):
            for c in range(ma.num_columns):
                sa, sb = ma.row_group(g).column(c).statistics, mb.row_group(g).column(c).statistics
                assert (sa is None) == (sb is None)
                if sa is not None:
                    assert (sa.has_min_max, sa.null_count, sa.num_values) == (sb.has_min_max, sb.null_count,
                                                                              sb.num_values)
                    if sa.has_min_max:
                        assert (sa.min, sa.max) == (sb.min, sb.max)
        import duckdb

        query = "SELECT * FROM read_parquet('{}') ORDER BY id"
        ra, rb = duckdb.sql(query.format(p)), duckdb.sql(query.format(q))
        assert ra.types == rb.types and ra.fetchall() == rb.fetchall()


def _add_c(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    batch["c"] = batch["a"] * 2
    return batch


def _reads_s(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    assert batch["s"].dtype == object and batch["b"].dtype == object
    batch["s_seen"] = np.array([type(v).__name__ for v in batch["s"]])
    batch["b_seen"] = np.array([type(v).__name__ for v in batch["b"]])
    return batch


def _arrow_udf(table: pa.Table) -> pa.Table:
    assert table.schema.field("s").type == pa.string() and table.schema.field("b").type == pa.binary()
    return table.append_column("t", pa.array([str(table.schema.field("s").type)] * table.num_rows))


def _pandas_udf(df: Any) -> Any:
    df["first"] = df["s"].str[:2]
    return df


def _users_dictionary(batch: dict[str, np.ndarray]) -> dict[str, Any]:
    batch["s"] = pa.array(batch["u"]).dictionary_encode()  # a dictionary of the user's own
    return batch


CHAINS = {
    "numpy, s unread": lambda: [BatchStage(name="m", fn=_add_c)],
    "numpy, small batches": lambda: [BatchStage(name="m", fn=_add_c, batch_size=700)],
    "numpy, s read": lambda: [BatchStage(name="m", fn=_reads_s)],
    "pyarrow": lambda: [BatchStage(name="m", fn=_arrow_udf, batch_format="pyarrow")],
    "pandas": lambda: [BatchStage(name="m", fn=_pandas_udf, batch_format="pandas")],
    "user's dictionary": lambda: [BatchStage(name="m", fn=_users_dictionary)],
    "expressions": lambda: [WithColumnStage(name="w", column="c", expr=col("a") * 2),
                            FilterStage(name="f", expr=col("a") > 0.3),
                            ProjectStage(name="p", drop=("u",))],
    "expression on s": lambda: [WithColumnStage(name="w", column="t", expr=col("s") == "w1_3"),
                                FilterStage(name="f", expr=col("b") != b"B")],
}


@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_a_kept_chain_writes_what_the_expanded_chain_wrote(source: str, tmp_path: Path, chain: str) -> None:
    _write(source, tmp_path / "before", CHAINS[chain](), kept=False)
    _write(source, tmp_path / "after", CHAINS[chain](), kept=True)
    _assert_same_files(tmp_path / "before", tmp_path / "after")


@pytest.mark.parametrize("options", [{"partition_cols": ["b"]}, {"use_dictionary": False},
                                     {"use_dictionary": ["s"]}, {"compression": "zstd"},
                                     {"store_schema": False}, {"row_group_size": 500},
                                     {"max_rows_per_file": 2500}])
def test_the_sinks_options_apply_as_before(source: str, tmp_path: Path, options: dict[str, Any]) -> None:
    _write(source, tmp_path / "before", [BatchStage(name="m", fn=_add_c)], kept=False, **options)
    _write(source, tmp_path / "after", [BatchStage(name="m", fn=_add_c)], kept=True, **options)
    _assert_same_files(tmp_path / "before", tmp_path / "after")


def test_one_task_writing_all_files_mixes_kept_and_expanded_blocks(source: str, tmp_path: Path) -> None:
    """One task reads the three dictionary-encoded files and the plain one: one output file."""
    _write(source, tmp_path / "before", [], kept=False, tasks=1)
    _write(source, tmp_path / "after", [], kept=True, tasks=1)
    _assert_same_files(tmp_path / "before", tmp_path / "after")
    assert len(list((tmp_path / "after").rglob("*.parquet"))) == 1


def test_the_read_keeps_only_dictionary_encoded_string_and_binary_columns(source: str) -> None:
    (task,) = ParquetDatasource(source, ).get_read_tasks(1)
    with reading_kept_dictionaries(frozenset({"b"})):
        tables = list(task())
    first = tables[0].schema
    assert isinstance(first.field("s").type, KeptDictionaryType)
    assert first.field("s").metadata == {b"doc": b"column s"}
    for name, t in [("b", pa.binary()), ("u", pa.string()), ("ls", pa.large_string())]:
        assert first.field(name).type == t  # excluded, high cardinality, not dictionary read
    assert not isinstance(tables[-1].schema.field("s").type, KeptDictionaryType)  # the plain file
    expanded = pa.concat_tables(decode_kept(t) for t in tables)
    assert expanded.equals(pa.concat_tables(ParquetDatasource(source).get_read_tasks(1)[0]()))


def test_a_numpy_batch_converts_a_kept_column_as_its_own_type() -> None:
    values = pa.array(["x", None, "y", "x"])
    table = pa.table({"s": keep(values.dictionary_encode())})
    batch = B.to_batch(table, "numpy")
    assert isinstance(batch, NumpyBatch)
    assert batch["s"].tolist() == B.column_to_numpy(pa.chunked_array([values])).tolist() == ["x", None, "y", "x"]
    assert B.to_batch(table, "pyarrow").schema == pa.schema([("s", pa.string())])
    assert B.to_batch(table, "pandas")["s"].tolist()[::2] == ["x", "y"]


def test_the_file_records_the_columns_own_type() -> None:
    table = pa.table({"s": keep(pa.array(["a", "b"] * 300).dictionary_encode()),
                      "n": pa.array(range(600))}).replace_schema_metadata({b"k": b"v"})
    f = io.BytesIO()
    w = ParquetFileWriter(f, table.schema, {}, None)
    w.write(table)
    w.close()
    back = pq.read_table(pa.BufferReader(f.getvalue()))
    assert back.schema.equals(dense_schema(table.schema), check_metadata=True)
    assert back.column("s").to_pylist() == ["a", "b"] * 300
    assert pq.read_metadata(pa.BufferReader(f.getvalue())).row_group(0).column(0).has_dictionary_page


def test_other_sinks_get_expanded_columns(tmp_path: Path) -> None:
    """Any sink but the Parquet sink itself (a subclass too) gets each column as its own type."""
    seen: list[pa.Schema] = []

    class Recording(ParquetDatasink):
        def write(self, blocks, ctx):  # type: ignore[no-untyped-def]
            blocks = list(blocks)
            seen.extend(b.schema for b in blocks)
            return super().write(blocks, ctx)

    sink = Recording(str(tmp_path / "out"))
    sink.on_write_start()
    table = pa.table({"s": keep(pa.array(["a", "b"]).dictionary_encode())})
    list(WriteStage(name="w", datasink=sink, write_uuid="u").apply(iter([table]), TaskContext(task_index=0)))
    assert seen == [pa.schema([("s", pa.string())])]


@pytest.mark.parametrize("chain,kept", [("numpy, s unread", {"s", "b"}), ("expressions", {"s", "b"}),
                                        ("expression on s", set()), ("pandas", set()), ("pyarrow", set())])
def test_the_sink_gets_the_dictionaries_where_the_chain_lets_them_pass(source: str, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch,
                                                                       chain: str, kept: set[str]) -> None:
    """The files are written from the dictionaries of the columns no stage reads (in the three
    dictionary-encoded files; pandas and pyarrow batches show the user the columns expanded)."""
    stored: list[dict[str, Any]] = []
    original = ParquetFileWriter._open_kept

    def spy(self: ParquetFileWriter, tables: list[pa.Table]) -> Any:
        writer = original(self, tables)
        stored.append(dict(self._kept))
        return writer

    monkeypatch.setattr(ParquetFileWriter, "_open_kept", spy)
    _write(source, tmp_path / "after", CHAINS[chain](), kept=True)
    as_dictionary = {"s": pa.dictionary(pa.int32(), pa.string()), "b": pa.dictionary(pa.int32(), pa.binary())}
    assert stored == ([{k: as_dictionary[k] for k in sorted(kept)}] * 2 if kept else [])


@pytest.mark.usefixtures("data_runtime")
def test_read_map_batches_write_parquet_end_to_end(source: str, tmp_path: Path) -> None:
    """Through the runtime (the lowering decides): the files hold the source's rows and
    types, plus ``c``, for pyarrow and DuckDB alike."""
    import duckdb

    import streamdata as sd

    sd.read_parquet(source).map_batches(_add_c).write_parquet(str(tmp_path / "out"))
    back = pq.read_table(tmp_path / "out").sort_by("id")
    expected = pq.read_table(source).sort_by("id")
    expected = expected.append_column("c", pc_multiply(expected.column("a")))
    assert back.schema.remove_metadata().equals(expected.schema.remove_metadata())
    assert back.select(expected.column_names).equals(expected.select(expected.column_names))
    types = dict(duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{tmp_path / 'out'}/*.parquet')").fetchall()
                 [i][:2] for i in range(7))
    assert types["s"] == "VARCHAR" and types["b"] == "BLOB"


def pc_multiply(column: pa.ChunkedArray) -> pa.ChunkedArray:
    import pyarrow.compute as pc

    return pc.multiply(column, 2)


@pytest.mark.parametrize("version", ["1.0", "2.4", "2.6"])
def test_other_types_beside_a_kept_column_are_stored_as_before(version: str) -> None:
    """The file written without pyarrow's ``store_schema`` (the sink records the schema at
    close) stores every other type as the file written with it: timestamps (ns, with a time
    zone), durations, dates, decimals, large strings, lists."""
    import datetime
    import decimal

    n = 1000
    s = pa.array([None if i % 9 == 0 else f"v{i % 5}" for i in range(n)])
    table = pa.table({
        "s": s,
        "ts": pa.array([datetime.datetime(2020, 1, 1) + datetime.timedelta(microseconds=i) for i in range(n)],
                       pa.timestamp("ns")),
        "tz": pa.array(range(n), pa.timestamp("ms", tz="Europe/Paris")),
        "d": pa.array(range(n), pa.duration("s")),
        "day": pa.array(range(n), pa.date32()),
        "dec": pa.array([decimal.Decimal(i) / 100 for i in range(n)], pa.decimal128(10, 2)),
        "ls": pa.array([str(i) for i in range(n)], pa.large_string()),
        "l": pa.array([[i, i + 1] for i in range(n)], pa.list_(pa.int32())),
    }).replace_schema_metadata({b"pandas": b"{}", b"z": b"last"})
    kept = table.set_column(0, table.schema.field(0).with_type(KeptDictionaryType(pa.dictionary(pa.int32(),
                                                                                                pa.string()))),
                            keep(s.dictionary_encode()))
    files = []
    for t in (table, kept):
        f = io.BytesIO()
        w = ParquetFileWriter(f, t.schema, {"version": version}, None)
        w.write(t.slice(0, 400))
        w.write(t.slice(400))
        w.close()
        files.append(pa.BufferReader(f.getvalue()))
    ma, mb = (pq.read_metadata(f) for f in files)
    assert ma.schema.equals(mb.schema) and list(ma.metadata.items()) == list(mb.metadata.items())
    a, b = (pq.read_table(f) for f in files)
    assert a.schema.equals(b.schema, check_metadata=True) and a.equals(b)


@udf(return_dtype=pa.bool_())
def _starts_w1(s: Any) -> Any:
    import pyarrow.compute as pc

    assert s.type == pa.string()  # the user's function sees the column's own type
    return pc.fill_null(pc.starts_with(s, "w1"), False)


@pytest.mark.parametrize("predicate", [col("s") == "w2_3", col("b") == b"C", _starts_w1(col("s"))],
                         ids=["arrow on s", "arrow on b", "python udf on s"])
def test_predicates_pushed_into_the_read_see_the_columns_own_type(source: str, tmp_path: Path,
                                                                    predicate: Any) -> None:
    _write(source, tmp_path / "before", [BatchStage(name="m", fn=_add_c)], kept=False, predicate=predicate)
    _write(source, tmp_path / "after", [BatchStage(name="m", fn=_add_c)], kept=True, predicate=predicate)
    _assert_same_files(tmp_path / "before", tmp_path / "after")


def test_a_datasource_subclass_reads_every_column_expanded(source: str) -> None:
    class Mine(ParquetDatasource):
        """A user's subclass: its own code may look at what the read returns."""

    (task,) = Mine(source).get_read_tasks(1)
    with reading_kept_dictionaries(frozenset()):
        tables = list(task())
    assert all(t.schema.field("s").type == pa.string() for t in tables)
