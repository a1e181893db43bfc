"""Tensor columns and block shaping."""

from __future__ import annotations

import pickle

import numpy as np
import pyarrow as pa

from streamdata.io.sizing import limit_rows, shape_blocks, split_evenly, split_table
from streamdata.tensor import (VariableShapeTensorType, arrow_to_ndarray, is_tensor_type,
                                  ndarray_to_arrow, ndarrays_to_arrow, values_to_arrow)


def ipc_roundtrip(table: pa.Table) -> pa.Table:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return pa.ipc.open_stream(sink.getvalue()).read_all()


def test_fixed_shape_round_trip_zero_copy():
    arr = np.arange(24, dtype=np.float32).reshape(4, 3, 2)
    col = ndarray_to_arrow(arr)
    assert isinstance(col.type, pa.FixedShapeTensorType) and is_tensor_type(col.type)
    back = arrow_to_ndarray(col)
    np.testing.assert_array_equal(back, arr)
    t = ipc_roundtrip(pa.table({"t": col}))
    np.testing.assert_array_equal(arrow_to_ndarray(t.column("t")), arr)


def test_empty_fixed_shape():
    col = ndarray_to_arrow(np.zeros((0, 2, 2), dtype=np.int16))
    assert len(col) == 0 and col.type.shape == [2, 2]


def test_variable_shape_pickle_ipc_slice_concat():
    arrays = [np.full((i + 1, 2), i, dtype=np.uint8) for i in range(4)]
    col = ndarrays_to_arrow(arrays)
    assert isinstance(col.type, VariableShapeTensorType) and col.type.ndim == 2
    table = pa.table({"v": col})
    for t in (pickle.loads(pickle.dumps(table)), ipc_roundtrip(table)):
        out = arrow_to_ndarray(t.column("v"))
        assert [a.shape for a in out] == [a.shape for a in arrays]
        for a, b in zip(out, arrays):
            np.testing.assert_array_equal(a, b)
    sliced = arrow_to_ndarray(table.slice(2).column("v"))
    np.testing.assert_array_equal(sliced[0], arrays[2])
    both = pa.concat_tables([table, table])
    assert len(arrow_to_ndarray(both.column("v"))) == 8


def test_variable_shape_keeps_arrays_of_different_ranks_as_ray_does():
    """Ray 2.60: ``from_items([{"x": np.zeros((2, 2))}, {"x": np.zeros(3)}])`` is
    ``ArrowVariableShapedTensorType(ndim=2)``, each row its own shape."""
    col = ndarrays_to_arrow([np.zeros(2), np.ones((2, 2))])
    assert isinstance(col.type, VariableShapeTensorType) and col.type.ndim == 2
    assert [a.tolist() for a in arrow_to_ndarray(col)] == [[0.0, 0.0], [[1.0, 1.0], [1.0, 1.0]]]


def test_values_to_arrow_plain_and_tensors():
    assert values_to_arrow(["a", None]).to_pylist() == ["a", None]
    assert values_to_arrow([np.zeros(3), np.ones(3)]).type.shape == [3]


def test_split_table_and_shape_blocks():
    t = pa.table({"x": np.arange(1000, dtype=np.int64)})
    pieces = split_table(t, 1000)
    assert sum(p.num_rows for p in pieces) == 1000 and all(p.nbytes <= 1000 for p in pieces)
    small = [pa.table({"x": np.arange(10, dtype=np.int64)}) for _ in range(20)]
    out = list(shape_blocks(small, min_bytes=400, max_bytes=10_000))
    assert [b.num_rows for b in out] == [50, 50, 50, 50]
    # different schemas are not merged
    mixed = [pa.table({"x": [1]}), pa.table({"y": ["a"]})]
    assert [b.column_names for b in shape_blocks(mixed, min_bytes=10**6, max_bytes=10**7)] == [["x"], ["y"]]
    # all empty: one empty block keeps the schema
    assert [b.schema.names for b in shape_blocks([pa.table({"x": pa.array([], pa.int64())})],
                                                 min_bytes=1, max_bytes=2)] == [["x"]]


def test_limit_rows_and_split_evenly():
    t = pa.table({"x": [1, 2, 3]})
    assert [b.num_rows for b in limit_rows([t, t], 4)] == [3, 1]
    assert list(limit_rows([t], 0)) == []
    assert split_evenly(0, 4) == [(0, 0)]
    assert split_evenly(3, 10) == [(0, 1), (1, 2), (2, 3)]
