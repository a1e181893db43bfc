"""Blocks concatenated across schemas (streamdata/block_concat.py) and the tensor-type
unification under it (streamdata/tensor.py): fixed-shape tensor columns of different shapes,
and fixed beside variable shape, become variable-shape as Ray 2.60 unifies them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import streamdata as sd
from streamdata import block_concat
from streamdata.block_concat import concat, concat_tables, empty_table, unify_schemas
from streamdata.tensor import (VariableShapeTensorArray, VariableShapeTensorType, arrow_to_ndarray, ndarray_to_arrow,
                               to_variable_shape, unify_tensor_types)


def _tensors(*arrays: np.ndarray, name: str = "x") -> pa.Table:
    return pa.table({name: ndarray_to_arrow(np.stack(arrays))})


def _rows(table: pa.Table, name: str = "x") -> list:
    return [None if a is None else a.tolist() for a in arrow_to_ndarray(table.column(name))]


def test_fixed_shape_tensors_of_different_shapes_concatenate_as_variable_shape() -> None:
    a = _tensors(np.zeros((2, 2), np.uint8), np.ones((2, 2), np.uint8))
    b = _tensors(np.full((1, 3), 7, np.uint8))
    out = concat([a, b])
    assert str(out.schema.field("x").type) == "variable_shape_tensor<uint8, ndim=2>"
    assert _rows(out) == [[[0, 0], [0, 0]], [[1, 1], [1, 1]], [[7, 7, 7]]]


def test_fixed_beside_variable_shape_and_sliced_inputs_keep_their_rows() -> None:
    fixed = _tensors(*[np.full((2,), i, np.int64) for i in range(4)]).slice(1, 2)  # an offset into the storage
    variable = pa.table({"x": VariableShapeTensorArray.from_numpy([np.arange(3), np.arange(1)])})
    out = concat([fixed, variable])
    assert isinstance(out.schema.field("x").type, VariableShapeTensorType)
    assert _rows(out) == [[1, 1], [2, 2], [0, 1, 2], [0]]


def test_nulls_in_a_fixed_shape_column_stay_null() -> None:
    storage = pa.FixedSizeListArray.from_arrays(pa.array(np.arange(6), pa.int64()), 2)
    with_null = pa.ExtensionArray.from_storage(pa.fixed_shape_tensor(pa.int64(), [2]),
                                               pa.FixedSizeListArray.from_arrays(storage.values, 2,
                                                                                 mask=pa.array([False, True, False])))
    out = concat([pa.table({"x": with_null}), _tensors(np.arange(3))])
    assert out.column("x").null_count == 1
    assert _rows(out) == [[0, 1], None, [4, 5], [0, 1, 2]]


def test_the_number_of_dimensions_is_the_largest_as_in_ray() -> None:
    out = concat([_tensors(np.zeros(2)), _tensors(np.ones((1, 2)))])
    assert out.schema.field("x").type.ndim == 2
    assert _rows(out) == [[0.0, 0.0], [[1.0, 1.0]]]


def test_element_types_that_differ_are_refused_as_ray_refuses_them() -> None:
    with pytest.raises(pa.ArrowTypeError, match="different element types"):
        concat([_tensors(np.zeros((2,), np.uint8)), _tensors(np.zeros((3,), np.float32))])


def test_other_columns_are_still_promoted_beside_a_unified_tensor_column() -> None:
    a = pa.table({"x": ndarray_to_arrow(np.zeros((1, 2), np.uint8)), "n": pa.array([1], pa.int32())})
    b = pa.table({"x": ndarray_to_arrow(np.zeros((1, 3), np.uint8)), "n": pa.array([2], pa.int64()),
                  "s": ["b"]})
    out = concat([a, b])
    assert out.schema.field("n").type == pa.int64() and out.column("s").to_pylist() == [None, "b"]
    assert _rows(out) == [[0, 0], [0, 0, 0]]
    assert concat_tables([a.drop_columns(["n"]), b.drop_columns(["n", "s"])]).num_rows == 2


def test_blocks_of_one_schema_never_reach_the_unification(monkeypatch: pytest.MonkeyPatch) -> None:
    """The common path (one schema, or schemas Arrow merges itself) does no tensor work."""
    def refuse(tables):  # pragma: no cover - reached only if the hot path regressed
        raise AssertionError("tensor unification on the common path")

    monkeypatch.setattr(block_concat, "unify_tensor_columns", refuse)
    same = _tensors(np.zeros((2, 2)))
    assert concat([same, same]).num_rows == 2
    assert concat([pa.table({"a": [1]}), pa.table({"a": [None]})]).column("a").to_pylist() == [1, None]


def test_unify_schemas_and_unify_tensor_types() -> None:
    s1 = pa.schema([("x", pa.fixed_shape_tensor(pa.uint8(), [2, 2])), ("y", pa.int32())])
    s2 = pa.schema([("x", pa.fixed_shape_tensor(pa.uint8(), [3, 3, 1])), ("y", pa.int64())])
    unified = unify_schemas([s1, s2], promote_options="permissive")
    assert str(unified.field("x").type) == "variable_shape_tensor<uint8, ndim=3>"
    assert unified.field("y").type == pa.int64()
    assert unify_tensor_types([s1.field("x").type, s1.field("x").type]) == s1.field("x").type
    assert unify_tensor_types([VariableShapeTensorType(pa.uint8(), 2), s1.field("x").type]).ndim == 2
    with pytest.raises(pa.ArrowTypeError):
        unify_schemas([pa.schema([("a", pa.int64())]), pa.schema([("a", pa.string())])])


def test_a_permuted_fixed_shape_tensor_converts_as_arrow_reads_it() -> None:
    permuted = pa.ExtensionArray.from_storage(pa.fixed_shape_tensor(pa.int64(), [2, 3], permutation=[1, 0]),
                                              pa.FixedSizeListArray.from_arrays(pa.array(np.arange(12)), 6))
    out = to_variable_shape(permuted, VariableShapeTensorType(pa.int64(), 2))
    assert [a.tolist() for a in arrow_to_ndarray(out)] == [[[0, 3], [1, 4], [2, 5]], [[6, 9], [7, 10], [8, 11]]]


def test_empty_table_takes_numpys_fixed_shape_tensor_type() -> None:
    schema = pa.table({"x": ndarray_to_arrow(np.zeros((1, 2, 2), np.uint8)), "y": [1]}).schema
    assert schema.field("x").type.permutation == [0, 1]  # the type Schema.empty_table() refuses
    with pytest.raises(NotImplementedError):
        schema.empty_table()
    empty = empty_table(schema)
    assert empty.num_rows == 0 and empty.schema == schema


@pytest.mark.usefixtures("data_runtime")
def test_a_dataset_of_blocks_of_different_tensor_shapes_as_in_ray() -> None:
    """Ray 2.60: the schema is ``ArrowVariableShapedTensorType(ndim=2, dtype=uint8)`` and
    ``take_batch(5)`` an object array of the rows."""
    ds = sd.from_numpy([np.zeros((2, 2, 2), np.uint8), np.ones((3, 4, 1), np.uint8)])
    assert str(ds.schema().types[0]) == "variable_shape_tensor<uint8, ndim=2>"
    batch = ds.take_batch(5)["data"]
    assert batch.shape == (5,) and batch.dtype == object
    assert [a.shape for a in batch] == [(2, 2), (2, 2), (4, 1), (4, 1), (4, 1)]
    rows = sd.range(4, override_num_blocks=4).map(lambda r: {"x": np.full((r["id"] + 1, 2), r["id"])})
    assert [a.tolist() for a in rows.take_batch(4)["x"]] == [[[0, 0]], [[1, 1], [1, 1]], [[2, 2], [2, 2], [2, 2]],
                                                            [[3, 3], [3, 3], [3, 3], [3, 3]]]
