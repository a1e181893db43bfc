"""Tests of streamdata.block: batch-format conversions, UDF-return normalisation, slicing."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from streamdata import block as B
from streamdata.errors import UDFReturnError


def test_numpy_round_trip_keeps_tensor_shape_and_dtype() -> None:
    images = np.arange(2 * 4 * 3 * 2, dtype=np.uint8).reshape(2, 4, 3, 2)
    t = B.batch_to_table({"img": images, "label": np.array([1, 0])})
    assert B.is_tensor_type(t.schema.field("img").type)
    back = B.to_numpy(t)
    assert back["img"].shape == (2, 4, 3, 2) and back["img"].dtype == np.uint8
    np.testing.assert_array_equal(back["img"], images)
    assert back["label"].tolist() == [1, 0]


def test_tensor_column_survives_ipc_and_slicing() -> None:
    arr = np.random.default_rng(0).random((10, 3, 3))
    t = B.batch_to_table({"x": arr})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, t.schema) as w:
        w.write_table(t)
    t2 = pa.ipc.open_stream(sink.getvalue()).read_all()
    np.testing.assert_array_equal(B.to_numpy(B.slice_table(t2, 2, 5))["x"], arr[2:5])


def test_zero_copy_numpy_is_read_only_and_default_is_writable() -> None:
    t = pa.table({"a": np.arange(100, dtype=np.int64)})
    zc = B.to_numpy(t, zero_copy=True)["a"]
    assert not zc.flags.writeable
    # zero-copy: the array's memory is Arrow's buffer
    assert zc.ctypes.data == t.column("a").chunk(0).buffers()[1].address
    w = B.to_numpy(t)["a"]
    w[0] = 42
    assert t.column("a")[0].as_py() == 0


def test_variable_shape_tensors_round_trip() -> None:
    arrays = [np.ones((2, 3)), np.zeros((4, 1)), np.full((1, 1), 7.0)]
    t = B.numpy_to_table({"v": np.array(arrays + [None], dtype=object)[:3]})
    assert isinstance(t.schema.field("v").type, B.VariableShapeTensorType)
    back = B.to_numpy(t)["v"]
    assert [a.shape for a in back] == [(2, 3), (4, 1), (1, 1)]
    assert back[2][0, 0] == 7.0
    # and through pickling (the extension type is registered)
    t2 = pickle.loads(pickle.dumps(t))
    assert [a.shape for a in B.to_numpy(t2)["v"]] == [(2, 3), (4, 1), (1, 1)]


def test_python_objects_are_pickled_and_restored() -> None:
    t = B.numpy_to_table({"o": np.array([complex(1, 2), None], dtype=object)})
    assert isinstance(t.schema.field("o").type, B.PythonObjectType)
    assert B.to_numpy(t)["o"].tolist() == [complex(1, 2), None]


def test_pandas_round_trip_with_tensor_column() -> None:
    t = B.batch_to_table({"x": np.arange(12.0).reshape(3, 2, 2), "s": np.array(["a", "b", "c"])})
    df = B.to_pandas(t)
    assert list(df.columns) == ["x", "s"]
    assert df["x"].iloc[1].shape == (2, 2)
    t2 = B.pandas_to_table(df)
    np.testing.assert_array_equal(B.to_numpy(t2)["x"], B.to_numpy(t)["x"])
    assert t2.column("s").to_pylist() == ["a", "b", "c"]


def test_pandas_index_dropped() -> None:
    df = pd.DataFrame({"a": [1, 2, 3]}, index=[10, 11, 12])
    assert B.batch_to_table(df).column_names == ["a"]


def test_to_batch_formats() -> None:
    t = pa.table({"a": [1, 2]})
    assert isinstance(B.to_batch(t, "default"), dict)
    assert isinstance(B.to_batch(t, "numpy"), dict)
    assert isinstance(B.to_batch(t, "pandas"), pd.DataFrame)
    assert B.to_batch(t, "pyarrow") is t
    with pytest.raises(ValueError, match="batch_format must be one of"):
        B.to_batch(t, "polars")


def test_udf_return_unequal_lengths_names_them() -> None:
    with pytest.raises(UDFReturnError) as info:
        B.batch_to_table({"a": np.arange(3), "b": np.arange(2)})
    assert str(info.value) == "map_batches UDF returned columns of unequal lengths: {'a': 3, 'b': 2}"
    assert isinstance(info.value, ValueError)


def test_udf_return_wrong_type_says_what_is_expected() -> None:
    with pytest.raises(UDFReturnError) as info:
        B.batch_to_table(5)
    assert str(info.value) == ("map_batches UDF returned int; expected a dict of arrays, "
                               "pandas.DataFrame or pyarrow.Table")
    with pytest.raises(UDFReturnError, match="column 'a' as int"):
        B.batch_to_table({"a": 1})


def test_udf_return_list_of_rows_and_arrow_and_lists() -> None:
    assert B.batch_to_table([{"a": 1}, {"a": 2}]).to_pydict() == {"a": [1, 2]}
    assert B.batch_to_table(pa.table({"a": [1]})).num_rows == 1
    assert B.batch_to_table({"a": [1, 2], "b": pa.array(["x", "y"])}).to_pydict() == {
        "a": [1, 2], "b": ["x", "y"]}
    assert B.batch_to_table({"s": np.array(["x", "yy"])}).schema.field("s").type == pa.string()


def test_rows_to_table_rejects_non_dict_rows() -> None:
    with pytest.raises(UDFReturnError, match="returned int as a row; expected a dict"):
        B.rows_to_table([{"a": 1}, 3])


def test_rows_with_ndarray_values_become_tensors() -> None:
    t = B.rows_to_table([{"x": np.zeros((2, 2))}, {"x": np.ones((2, 2))}])
    assert B.is_tensor_type(t.schema.field("x").type)
    rows = list(B.iter_rows(t))
    assert rows[1]["x"].shape == (2, 2) and rows[1]["x"].sum() == 4


def test_concat_promotes_and_fills_missing_columns() -> None:
    out = B.concat([pa.table({"a": pa.array([1], pa.int32())}), pa.table({"a": pa.array([2.5])}),
                    pa.table({"a": [3], "b": ["z"]})])
    assert out.column("a").to_pylist() == [1, 2.5, 3]
    assert out.column("b").to_pylist() == [None, None, "z"]
    assert B.concat([]).num_rows == 0


def test_split_by_size_and_count_cover_every_row_once() -> None:
    t = pa.table({"a": np.arange(10_000), "b": np.random.default_rng(1).random(10_000)})
    parts = B.split_by_size(t, t.nbytes // 3)
    assert len(parts) >= 3
    assert all(p.nbytes <= t.nbytes // 3 + 16 for p in parts)
    assert B.concat(parts).equals(t)
    assert [p.num_rows for p in B.split_by_count(t.slice(0, 7), 3)] == [3, 2, 2]
    assert B.split_by_size(t, 10 * t.nbytes) == [t]


def test_iter_rows_plain_and_num_rows() -> None:
    t = pa.table({"a": [1, 2, 3], "s": ["x", "y", "z"]})
    assert list(B.iter_rows(t))[2] == {"a": 3, "s": "z"}
    assert B.num_rows(B.to_pandas(t)) == 3 and B.num_rows({}) == 0


@pytest.mark.parametrize("arr", [
    pa.chunked_array([[1, 2], [3]]),
    pa.chunked_array([pa.array([1.5, 2.5], pa.float32())]),
    pa.chunked_array([pa.array([1, 2, 3], pa.uint16()).slice(1)]),
    pa.chunked_array([pa.array([1.0], pa.float16())]),
    pa.chunked_array([], pa.int64()),
    pa.chunked_array([pa.array([1, None])]),
    pa.chunked_array([pa.array([True, False])]),
    pa.array([4, 5, 6], pa.int8()).slice(1, 1),
    pa.chunked_array([pa.array([None, None])]),
], ids=["two chunks", "float32", "sliced uint16", "float16", "no chunk", "nulls", "bool", "sliced array",
        "null type"])
def test_numeric_columns_convert_as_pyarrows_to_numpy_does(arr) -> None:
    expected = arr.to_numpy() if isinstance(arr, pa.ChunkedArray) else arr.to_numpy(zero_copy_only=False)
    for zero_copy in (False, True):
        out = B.column_to_numpy(arr, zero_copy=zero_copy)
        assert out.dtype == expected.dtype and np.array_equal(out, expected, equal_nan=out.dtype.kind == "f")
        if not zero_copy:
            assert out.flags.writeable  # the user's own array


def test_a_zero_copy_view_of_a_block_is_read_only_and_a_copy_leaves_the_block_alone() -> None:
    table = pa.table({"x": pa.array([1, 2, 3], pa.int64())})
    view = B.column_to_numpy(table.column("x"), zero_copy=True)
    assert not view.flags.writeable
    with pytest.raises(ValueError):
        view[0] = 9
    owned = B.to_numpy(table)["x"]
    owned[0] = 99
    assert table.column("x").to_pylist() == [1, 2, 3]


_MAIN_OBJECTS_SCRIPT = """
import streamdata as sd

class Point:  # a class of the script's __main__: a worker cannot import it by name
    def __init__(self, x):
        self.x = x

sd.init(num_cpus=1)
ds = sd.from_items([{"p": Point(i)} for i in range(3)])
print(sorted(ds.map(lambda row: {"x": row["p"].x * 10}).to_pandas()["x"].tolist()))
"""


def test_objects_of_a_scripts_main_classes_reach_the_workers(tmp_path: Path) -> None:
    script = tmp_path / "main_objects.py"
    script.write_text(_MAIN_OBJECTS_SCRIPT)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[0, 10, 20]"
