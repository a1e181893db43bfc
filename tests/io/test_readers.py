"""CSV, JSON, text, binary, image and NumPy reads; bad input; skipping bad files."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from io_testutil import read_table, run_tasks

from streamdata.errors import ColumnNotFoundError, DataSourceError, PlanError
from streamdata.io.binary import BinaryDatasource
from streamdata.io.csv import CSVDatasource
from streamdata.io.file_datasource import FileBasedDatasource
from streamdata.io.images import ImageDatasource
from streamdata.io.json import JSONDatasource
from streamdata.io.numpy import NumpyDatasource
from streamdata.tensor import VariableShapeTensorType, arrow_to_ndarray
from streamdata.io.text import TextDatasource


def put(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


# ---------------------------------------------------------------------------- CSV


def test_csv_directory_in_order(tmp_path: Path):
    for i in range(5):
        put(tmp_path / "c" / f"{i}.csv", "id,name\n" + "".join(f"{i * 10 + j},n{j}\n" for j in range(10)))
    src = CSVDatasource(str(tmp_path / "c"))
    for parallelism in (1, 3, 10):
        table = read_table(src, parallelism)
        assert table.column("id").to_pylist() == list(range(50))
    assert src.estimate_inmemory_data_size() > 0


def test_csv_options_pass_through_and_compression(tmp_path: Path):
    put(tmp_path / "x.csv.gz", gzip.compress(b"# comment\na;b\n1;2\n3;4\n"))
    src = CSVDatasource(str(tmp_path / "x.csv.gz"), read_options={"skip_rows": 1},
                        parse_options=pacsv.ParseOptions(delimiter=";"),
                        convert_options={"column_types": {"b": pa.float32()}})
    table = read_table(src)
    assert table.to_pydict() == {"a": [1, 3], "b": [2.0, 4.0]}
    assert table.schema.field("b").type == pa.float32()
    with pytest.raises(PlanError):
        CSVDatasource(str(tmp_path / "x.csv.gz"), read_options={"no_such_option": 1})


def test_csv_columns_and_paths(tmp_path: Path):
    f = put(tmp_path / "a.csv", "x,y,z\n1,2,3\n")
    table = read_table(CSVDatasource(str(f), columns=["z", "path"], include_paths=True))
    assert table.to_pylist() == [{"z": 3, "path": str(f)}]
    with pytest.raises(ColumnNotFoundError, match=r"'w' not in \['x', 'y', 'z'\]"):
        read_table(CSVDatasource(str(f), columns=["w"]))


def test_csv_ragged_row_names_file_and_line(tmp_path: Path):
    f = put(tmp_path / "ragged.csv", "a,b\n1,2\n3,4\n5,6,7\n8,9\n")
    with pytest.raises(DataSourceError, match=r"ragged\.csv: line 4 has 3 fields, expected 2") as info:
        read_table(CSVDatasource(str(f)))
    assert info.value.path == str(f)
    # with pyarrow's threaded reader the line is found by a second pass
    threaded = CSVDatasource(str(f), read_options=pacsv.ReadOptions(use_threads=True))
    with pytest.raises(DataSourceError, match="line 4"):
        read_table(threaded)
    # the user's own handler still decides
    lenient = CSVDatasource(str(f), parse_options={"invalid_row_handler": lambda row: "skip"})
    assert read_table(lenient).column("a").to_pylist() == [1, 3, 8]


def test_csv_empty_file_gives_no_rows(tmp_path: Path):
    put(tmp_path / "d" / "a.csv", "v\n1\n")
    put(tmp_path / "d" / "b.csv", "")
    assert read_table(CSVDatasource(str(tmp_path / "d"))).column("v").to_pylist() == [1]


def test_csv_hive_partitioning_when_asked(tmp_path: Path):
    put(tmp_path / "p" / "day=3" / "a.csv", "v\n1\n")
    put(tmp_path / "p" / "day=4" / "a.csv", "v\n2\n")
    # the datasource itself has no partitioning unless given (as Ray's CSVDatasource)
    assert read_table(CSVDatasource(str(tmp_path / "p"))).column_names == ["v"]
    table = read_table(CSVDatasource(str(tmp_path / "p"), partitioning="hive"))
    assert table.to_pydict() == {"v": [1, 2], "day": ["3", "4"]}  # strings, as Ray


def test_json_and_csv_partition_values_are_strings_unless_typed(tmp_path: Path):
    from streamdata.io.partitioning import Partitioning

    put(tmp_path / "j" / "year=2022" / "month=09" / "a.json", '{"x": 1}\n')
    table = read_table(JSONDatasource(str(tmp_path / "j"), partitioning="hive"))
    assert table.to_pydict() == {"x": [1], "year": ["2022"], "month": ["09"]}
    put(tmp_path / "c" / "year=2022" / "a.csv", "x\n1\n")
    typed = CSVDatasource(str(tmp_path / "c"), partitioning=Partitioning("hive", field_types={"year": int}))
    assert read_table(typed).to_pydict() == {"x": [1], "year": [2022]}


def test_csv_large_file_gives_several_blocks(tmp_path: Path, data_context):
    f = put(tmp_path / "big.csv", "a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(50_000)))
    data_context.target_max_block_size = 100_000
    blocks, _ = run_tasks(CSVDatasource(str(f), read_options={"block_size": 64 * 1024}), 1)
    assert len(blocks) >= 4 and all(b.nbytes <= 200_000 for b in blocks)
    assert sum(b.num_rows for b in blocks) == 50_000


# ---------------------------------------------------------------------------- JSON


def test_json_lines_and_arrays(tmp_path: Path):
    put(tmp_path / "j" / "a.jsonl", '{"x": 1, "s": "a"}\n\n{"x": 2, "s": "b"}\n')
    put(tmp_path / "j" / "b.json", json.dumps([{"x": 3, "s": "c"}, {"x": 4, "s": "d"}], indent=2))
    put(tmp_path / "j" / "c.json", '  {"x": 5,\n   "s": "e"}\n')
    table = read_table(JSONDatasource(str(tmp_path / "j")), 1)
    assert table.to_pydict() == {"x": [1, 2, 3, 4, 5], "s": ["a", "b", "c", "d", "e"]}


def test_json_explicit_schema_and_columns(tmp_path: Path):
    f = put(tmp_path / "a.json", '[{"x": 1, "y": 2}]')
    schema = pa.schema([("x", pa.float64()), ("y", pa.int64())])
    table = read_table(JSONDatasource(str(f), parse_options={"explicit_schema": schema}, columns=["x"]))
    assert table.schema == pa.schema([("x", pa.float64())])


def test_json_bad_line_names_file_and_line(tmp_path: Path):
    f = put(tmp_path / "bad.jsonl", '{"a": 1}\n{"a": 2}\n{"a": 3,}\n{"a": 4}\n')
    with pytest.raises(DataSourceError, match=r"bad\.jsonl: line 3 is not valid JSON"):
        read_table(JSONDatasource(str(f)))
    g = put(tmp_path / "notobj.jsonl", '{"a": 1}\n[1, 2]\n')
    with pytest.raises(DataSourceError, match="line 2"):
        read_table(JSONDatasource(str(g)))
    h = put(tmp_path / "badarray.json", '[{"a": 1},\n {"a": }]')
    with pytest.raises(DataSourceError, match=r"badarray\.json: invalid JSON at line 2"):
        read_table(JSONDatasource(str(h)))


# ---------------------------------------------------------------------------- text, binary


def test_text_lines(tmp_path: Path):
    put(tmp_path / "t" / "a.txt", "one\r\ntwo\n\nthree")
    put(tmp_path / "t" / "b.txt.gz", gzip.compress("four\n".encode()))
    assert read_table(TextDatasource(str(tmp_path / "t"))).column("text").to_pylist() == [
        "one", "two", "three", "four"]
    keep = TextDatasource(str(tmp_path / "t" / "a.txt"), drop_empty_lines=False)
    assert read_table(keep).column("text").to_pylist() == ["one", "two", "", "three"]


def test_text_bad_encoding_names_line(tmp_path: Path):
    f = put(tmp_path / "latin.txt", b"ok\ncaf\xe9\n")
    with pytest.raises(DataSourceError, match=r"latin\.txt: line 2 is not valid utf-8"):
        read_table(TextDatasource(str(f)))
    assert read_table(TextDatasource(str(f), encoding="latin-1")).column("text").to_pylist() == ["ok", "café"]


def test_binary_files(tmp_path: Path):
    a = put(tmp_path / "b" / "a.bin", b"\x00\x01\x02")
    b = put(tmp_path / "b" / "sub" / "b.bin", b"")
    table = read_table(BinaryDatasource(str(tmp_path / "b"), include_paths=True), 1)
    assert table.to_pylist() == [{"bytes": b"\x00\x01\x02", "path": str(a)}, {"bytes": b"", "path": str(b)}]
    assert read_table(BinaryDatasource(str(a))).column_names == ["bytes"]


# ---------------------------------------------------------------------------- images, numpy


def png(arr: np.ndarray, fmt: str = "PNG") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt)
    return buf.getvalue()


def test_images_same_size_fixed_shape(tmp_path: Path):
    pytest.importorskip("PIL")
    for i in range(3):
        put(tmp_path / "i" / f"{i}.png", png(np.full((4, 6, 3), i * 10, dtype=np.uint8)))
    put(tmp_path / "i" / "notes.txt", "not an image")
    table = read_table(ImageDatasource(str(tmp_path / "i"), include_paths=True), 1)
    assert table.num_rows == 3
    assert isinstance(table.schema.field("image").type, pa.FixedShapeTensorType)
    images = arrow_to_ndarray(table.column("image"))
    assert images.shape == (3, 4, 6, 3) and images.dtype == np.uint8
    assert [int(im[0, 0, 0]) for im in images] == [0, 10, 20]
    assert table.column("path").to_pylist()[0].endswith("0.png")


def test_images_mixed_sizes_resize_and_mode(tmp_path: Path):
    pytest.importorskip("PIL")
    put(tmp_path / "i" / "a.png", png(np.zeros((4, 6, 3), dtype=np.uint8)))
    put(tmp_path / "i" / "b.jpg", png(np.zeros((8, 2, 3), dtype=np.uint8), "JPEG"))
    table = read_table(ImageDatasource(str(tmp_path / "i")), 1)
    assert isinstance(table.schema.field("image").type, VariableShapeTensorType)
    assert [im.shape for im in arrow_to_ndarray(table.column("image"))] == [(4, 6, 3), (8, 2, 3)]
    table = read_table(ImageDatasource(str(tmp_path / "i"), size=(5, 5), mode="L"), 1)
    assert arrow_to_ndarray(table.column("image")).shape == (2, 5, 5)
    with pytest.raises(PlanError):
        ImageDatasource(str(tmp_path / "i"), size=(5,))


def test_unreadable_image_names_file(tmp_path: Path):
    pytest.importorskip("PIL")
    put(tmp_path / "i" / "a.png", png(np.zeros((2, 2, 3), dtype=np.uint8)))
    put(tmp_path / "i" / "broken.png", b"\x89PNG not really")
    with pytest.raises(DataSourceError, match=r"broken\.png"):
        read_table(ImageDatasource(str(tmp_path / "i")), 1)


def test_numpy_files(tmp_path: Path):
    for i, arr in enumerate([np.arange(6).reshape(3, 2), np.arange(6, 10).reshape(2, 2)]):
        buf = io.BytesIO()
        np.save(buf, arr)
        put(tmp_path / "n" / f"{i}.npy", buf.getvalue())
    put(tmp_path / "n" / "readme.md", "ignored: not .npy")
    table = read_table(NumpyDatasource(str(tmp_path / "n")), 1)
    np.testing.assert_array_equal(arrow_to_ndarray(table.column("data")), np.arange(10).reshape(5, 2))
    put(tmp_path / "bad.npy", b"garbage")
    with pytest.raises(DataSourceError, match=r"bad\.npy"):
        read_table(NumpyDatasource(str(tmp_path / "bad.npy")))


# ---------------------------------------------------------------------------- common behaviour


def test_missing_and_empty_inputs(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="absent"):
        CSVDatasource(str(tmp_path / "absent"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataSourceError, match="no files"):
        JSONDatasource(str(tmp_path / "empty"))
    put(tmp_path / "txt" / "a.txt", "x")
    with pytest.raises(DataSourceError, match="extensions"):
        NumpyDatasource(str(tmp_path / "txt"))


def test_file_deleted_after_listing_is_file_not_found(tmp_path: Path):
    f = put(tmp_path / "gone.csv", "a\n1\n")
    src = CSVDatasource(str(f))
    f.unlink()
    with pytest.raises(FileNotFoundError, match="gone.csv"):
        read_table(src)


def test_max_errored_blocks_skips_bad_files_with_a_warning(tmp_path: Path, data_context):
    put(tmp_path / "j" / "a.jsonl", '{"a": 1}\n')
    put(tmp_path / "j" / "b.jsonl", '{"a": \n')
    put(tmp_path / "j" / "c.jsonl", '{"a": 3}\n')
    put(tmp_path / "j" / "d.jsonl", 'nope\n')
    src = JSONDatasource(str(tmp_path / "j"))
    with pytest.raises(DataSourceError, match="b.jsonl"):
        read_table(src, 1)
    data_context.max_errored_blocks = 1
    with pytest.raises(DataSourceError, match="d.jsonl"):  # the second bad file exceeds the budget
        with pytest.warns(RuntimeWarning, match="b.jsonl"):
            read_table(src, 1)
    data_context.max_errored_blocks = -1
    with pytest.warns(RuntimeWarning, match="skipping unreadable file") as record:
        blocks, tasks = run_tasks(src, 1)
    assert pa.concat_tables(blocks).column("a").to_pylist() == [1, 3]
    assert len(tasks[0].skipped_inputs) == 2
    assert any("b.jsonl" in str(w.message) for w in record)
    assert any("d.jsonl" in s for s in tasks[0].skipped_inputs)


def test_parallelism_groups_files_evenly_in_order(tmp_path: Path):
    for i in range(10):
        put(tmp_path / "f" / f"{i:02d}.txt", "x" * (100 if i % 2 else 300))
    src = TextDatasource(str(tmp_path / "f"))
    groups = src.plan_splits(4)
    assert len(groups) == 4
    flat = [s.path for g in groups for s in g]
    assert flat == sorted(flat) and len(flat) == 10
    sizes = [sum(s.size for s in g) for g in groups]
    assert max(sizes) <= 2 * min(sizes)
    assert len(src.plan_splits(100)) == 10
    tasks = src.get_read_tasks(4)
    assert [t.metadata.input_files for t in tasks][0] == tuple(s.path for s in groups[0])


def test_projection_and_limit_pushdown_on_file_sources(tmp_path: Path):
    f = put(tmp_path / "a.csv", "x,y\n" + "".join(f"{i},{i}\n" for i in range(100)))
    src = CSVDatasource(str(f))
    assert isinstance(src, FileBasedDatasource) and src.supports_projection_pushdown()
    table = read_table(src.apply_projection(["y"]).apply_limit(7))
    assert table.column_names == ["y"] and table.num_rows == 7
    with pytest.raises(ColumnNotFoundError):
        src.apply_projection(["y"]).apply_projection(["x"])
