"""Reads that behave as Ray Data's: JSON lines whose values change type or nest (Ray's
``read_json(lines=True)`` reads them, columns with no common Arrow type hold Python
objects), ``include_paths=True`` under ``columns=``, and CSV text that is not UTF-8."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from io_testutil import read_table, run_tasks

from streamdata.block import PythonObjectType, iter_rows
from streamdata.errors import ColumnNotFoundError, DataSourceError
from streamdata.io.csv import CSVDatasource
from streamdata.io.json import JSONDatasource
from streamdata.io.parquet import ParquetDatasource


def put(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def rows(table: pa.Table) -> list[dict]:
    return list(iter_rows(table))  # Python-object columns unpickled, as users see them


# ---------------------------------------------------------------------------- JSON lines


def test_json_lines_type_change_between_rows_reads_python_objects(tmp_path: Path):
    lines = [{"a": 1, "b": [1, 2], "s": "x"}, {"a": "one", "b": {"k": 1}, "s": "y"}]
    f = put(tmp_path / "mixed.jsonl", "".join(json.dumps(r) + "\n" for r in lines))
    table = read_table(JSONDatasource(str(f)))
    assert rows(table) == lines
    assert isinstance(table.schema.field("a").type, PythonObjectType)
    assert isinstance(table.schema.field("b").type, PythonObjectType)
    assert table.schema.field("s").type == pa.string()  # a column with one type stays Arrow


def test_json_lines_nested_values_keep_arrow_types_when_they_unify(tmp_path: Path):
    lines = [{"a": 1, "b": [[1, 2], [3]], "c": {"x": {"y": 1}}},
             {"a": 2, "b": [], "c": {"x": {"y": 2}}},
             {"a": 3.5, "b": None, "c": {"x": None}}]
    f = put(tmp_path / "nested.jsonl", "".join(json.dumps(r) + "\n" for r in lines))
    table = read_table(JSONDatasource(str(f)))
    assert table.column("b").to_pylist() == [[[1, 2], [3]], [], None]
    assert table.column("a").to_pylist() == [1.0, 2.0, 3.5]  # ints and floats unify to double
    assert table.schema.field("b").type == pa.list_(pa.list_(pa.int64()))
    assert table.column("c").to_pylist() == [{"x": {"y": 1}}, {"x": {"y": 2}}, {"x": None}]


def test_json_lines_type_change_after_the_first_block(tmp_path: Path):
    # pyarrow yields the first blocks before it meets the change; the fallback resumes after them
    lines = [{"id": i, "v": i} for i in range(3000)] + [{"id": 3000, "v": "text"}, {"id": 3001, "v": [1]}]
    f = put(tmp_path / "late.jsonl", "".join(json.dumps(r) + "\n" for r in lines))
    src = JSONDatasource(str(f), read_options={"block_size": 4096})
    blocks, _ = run_tasks(src, 1)
    assert blocks[0].schema.field("v").type == pa.int64()  # rows before the change stay Arrow
    got = [r for b in blocks for r in rows(b)]
    assert got == lines  # every row once, in order


def test_json_lines_columns_projection_in_the_fallback(tmp_path: Path):
    f = put(tmp_path / "m.jsonl", '{"a": 1, "b": 2}\n{"a": "x", "b": 3}\n')
    table = read_table(JSONDatasource(str(f), columns=["b"]))
    assert rows(table) == [{"b": 2}, {"b": 3}]


def test_json_lines_bad_line_in_a_file_with_type_changes_names_file_and_line(tmp_path: Path):
    f = put(tmp_path / "bad.jsonl", '{"a": 1}\n{"a": "x"}\n\n{"a": }\n')
    with pytest.raises(DataSourceError, match=r"bad\.jsonl: line 4 is not valid JSON"):
        read_table(JSONDatasource(str(f)))
    g = put(tmp_path / "scalar.jsonl", '{"a": 1}\n{"a": "x"}\n7\n')
    with pytest.raises(DataSourceError, match=r"scalar\.jsonl: line 3 is a JSON int, expected an object"):
        read_table(JSONDatasource(str(g)))


def test_json_explicit_schema_mismatch_is_an_error_not_a_fallback(tmp_path: Path):
    f = put(tmp_path / "s.jsonl", '{"a": 1}\n{"a": "x"}\n')
    schema = pa.schema([("a", pa.int64())])
    with pytest.raises(DataSourceError, match=r"s\.jsonl"):
        read_table(JSONDatasource(str(f), parse_options={"explicit_schema": schema}))


def test_json_array_with_type_changes_and_bad_array(tmp_path: Path):
    f = put(tmp_path / "arr.json", json.dumps([{"a": 1}, {"a": "x"}, {"a": [1, 2]}], indent=1))
    assert rows(read_table(JSONDatasource(str(f)))) == [{"a": 1}, {"a": "x"}, {"a": [1, 2]}]
    g = put(tmp_path / "badarr.json", '[\n{"a": 1},\n{"a": 2}\n{"a": 3}]')
    with pytest.raises(DataSourceError, match=r"badarr\.json: invalid JSON at line 4"):
        read_table(JSONDatasource(str(g)))


# ---------------------------------------------------------------------------- include_paths


def test_include_paths_kept_with_columns_as_ray(tmp_path: Path):
    pf = tmp_path / "t.parquet"
    pq.write_table(pa.table({"x": [1, 2], "y": ["a", "b"]}), pf)
    for src in (ParquetDatasource(str(pf), include_paths=True, columns=["x"]),
                CSVDatasource(str(put(tmp_path / "t.csv", "x,y\n1,a\n2,b\n")), include_paths=True,
                              columns=["x"]),
                JSONDatasource(str(put(tmp_path / "t.jsonl", '{"x": 1, "y": "a"}\n{"x": 2, "y": "b"}\n')),
                               include_paths=True, columns=["x"])):
        table = read_table(src)
        assert table.column_names == ["x", "path"], src
        assert table.column("x").to_pylist() == [1, 2]
        assert {p.rsplit("/", 1)[-1] for p in table.column("path").to_pylist()} == {
            f"t.{'parquet' if isinstance(src, ParquetDatasource) else 'csv' if isinstance(src, CSVDatasource) else 'jsonl'}"}
        # a later projection (select_columns pushed down) picks exactly what it names
        assert read_table(src.apply_projection(["path"])).column_names == ["path"]
        assert read_table(src.apply_projection(["x"])).column_names == ["x"]
        with pytest.raises(ColumnNotFoundError):
            src.apply_projection(["y"])  # not among the columns read


def test_columns_without_include_paths_has_no_path(tmp_path: Path):
    f = put(tmp_path / "t.csv", "x,y\n1,a\n")
    assert read_table(CSVDatasource(str(f), columns=["y"])).column_names == ["y"]


# ---------------------------------------------------------------------------- CSV encoding


def test_csv_invalid_utf8_names_file_column_and_line(tmp_path: Path):
    f = put(tmp_path / "bad.csv", b"x,name\n1,ok\n2,caf\xe9\n3,z\n")
    with pytest.raises(DataSourceError, match=r"bad\.csv: column 'name' has bytes that are not valid "
                                              r"UTF-8 \(line 3\)"):
        read_table(CSVDatasource(str(f)))


def test_csv_invalid_utf8_opt_ins(tmp_path: Path):
    f = put(tmp_path / "latin.csv", b"x,name\n1,caf\xe9\n")
    as_bytes = read_table(CSVDatasource(str(f), convert_options={"column_types": {"name": pa.binary()}}))
    assert as_bytes.column("name").to_pylist() == [b"caf\xe9"]
    latin = read_table(CSVDatasource(str(f), read_options={"encoding": "latin-1"}))
    assert latin.column("name").to_pylist() == ["café"]
    good = read_table(CSVDatasource(str(put(tmp_path / "ok.csv", "x,name\n1,café\n"))))
    assert good.schema.field("name").type == pa.string()
