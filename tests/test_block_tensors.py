"""Row values that are arrays (streamdata/block.py ``rows_to_table`` / ``_objects_to_arrow``,
streamdata/tensor.py ``array_likes_to_ndarrays``): a ``torch.Tensor``, or any object with
``__array__`` and ``__len__``, becomes a tensor column as an ndarray does, as Ray 2.60's docs
say and its ``map`` does. Each expected type below is what Ray 2.60 gives for the same rows."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

import streamdata as sd
from streamdata import block as B
from streamdata.errors import StreamDataError, TensorRequiresGradError
from streamdata.tensor import VariableShapeTensorType


class _ArrayLike:
    """An array by the array protocol only (Ray's ``is_ndarray_like``: ``__array__`` and ``__len__``)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        return np.arange(self.n)

    def __len__(self) -> int:
        return self.n


class _NoLen:
    """``__array__`` without ``__len__``: not array-like for Ray, kept as a Python object."""

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        return np.arange(3)


def _column(values: list) -> pa.Array:
    return B.rows_to_table([{"t": v} for v in values]).column("t")


def test_torch_tensors_in_rows_become_tensor_columns() -> None:
    torch = pytest.importorskip("torch")
    fixed = _column([torch.ones(2, 2, dtype=torch.uint8)] * 3)
    assert isinstance(fixed.type, pa.FixedShapeTensorType) and fixed.type.shape == [2, 2]
    assert fixed.type.value_type == pa.uint8()
    assert [r["t"].tolist() for r in B.iter_rows(pa.table({"t": fixed}))] == [[[1, 1], [1, 1]]] * 3
    ragged = _column([torch.ones(i + 1) for i in range(3)])
    assert str(ragged.type) == "variable_shape_tensor<float, ndim=1>"
    assert [len(r["t"]) for r in B.iter_rows(pa.table({"t": ragged}))] == [1, 2, 3]
    assert _column([torch.tensor(float(i)) for i in range(3)]).to_pylist() == [0.0, 1.0, 2.0]  # 0-d: scalars


def test_a_torch_tensor_that_requires_grad_is_refused_naming_its_column() -> None:
    """Ray 2.60 raises ``ValueError: Failed to convert column values to numpy array: ...
    Can't call numpy() on Tensor that requires grad`` for such rows, columns and lists (it
    never detaches them); streamdata raises its own ValueError naming the column."""
    torch = pytest.importorskip("torch")
    with pytest.raises(TensorRequiresGradError, match="map UDF returned column 't' holding a torch.Tensor "
                       "that requires grad; return tensor.detach()"):
        B.rows_to_table([{"t": torch.ones(2, requires_grad=True)}] * 2, what="map UDF")
    with pytest.raises(TensorRequiresGradError, match="map_batches UDF returned column 'x'") as err:
        B.batch_to_table({"x": torch.ones(3, requires_grad=True) * 2, "y": np.arange(3)})  # not a leaf
    assert isinstance(err.value, ValueError) and (err.value.column, err.value.what) == ("x", "map_batches UDF")
    with pytest.raises(TensorRequiresGradError, match="column 'x'"):
        B.batch_to_table({"x": [torch.ones(2), torch.ones(2, requires_grad=True)]})
    with pytest.raises(TensorRequiresGradError, match="from_items returned column 'v'"):
        sd.from_items([{"v": torch.tensor(1.0, requires_grad=True)}])  # 0-d too, as Ray's from_items


def test_a_tensor_without_grad_or_made_under_no_grad_converts() -> None:
    torch = pytest.importorskip("torch")
    grad = torch.ones(2, requires_grad=True)
    assert _column([grad.detach()] * 2).type.shape == [2]
    with torch.no_grad():  # torch's own numpy() converts it then, and so does Ray
        assert _column([grad] * 2).type.shape == [2]
        assert B.batch_to_table({"x": torch.ones(2, requires_grad=True)}).column("x").to_pylist() == [1.0, 1.0]
    assert _column([[grad]]).type == B.PythonObjectType()  # a list of tensors is an object, as Ray's


def test_grad_tensor_cells_of_a_dataframe_stay_python_objects() -> None:
    """Ray 2.60 pickles a DataFrame's object column of grad tensors: the rows come back as
    tensors that still require grad (schema ``extension<ray.data.arrow_pickled_object<...>>``)."""
    torch = pytest.importorskip("torch")
    import pandas as pd

    table = B.batch_to_table(pd.DataFrame({"x": [torch.ones(2, requires_grad=True)] * 2}))
    assert table.schema.field("x").type == B.PythonObjectType()
    assert all(r["x"].requires_grad for r in B.iter_rows(table))


@pytest.mark.usefixtures("data_runtime")
def test_an_operator_returning_a_grad_tensor_fails_naming_operator_and_column() -> None:
    torch = pytest.importorskip("torch")
    cases = [
        (sd.range(4).map_batches(lambda b: {"x": torch.ones(len(b["id"]), requires_grad=True)}),
         "ReadRange->MapBatches(<lambda>) failed", "map_batches UDF returned column 'x'"),
        (sd.range(4).map(lambda r: {"id": r["id"], "y": torch.ones(3, requires_grad=True)}),
         "ReadRange->Map(<lambda>) failed", "map UDF returned column 'y'"),
        (sd.range(2).flat_map(lambda r: [{"z": torch.ones(2, requires_grad=True)}]),
         "FlatMap(<lambda>) failed", "flat_map UDF returned column 'z'"),
    ]
    for ds, operator, column in cases:
        with pytest.raises(TensorRequiresGradError) as err:
            ds.take_all()
        assert operator in str(err.value) and column in str(err.value)
        assert isinstance(err.value, (StreamDataError, ValueError))
    detached = sd.range(4).map_batches(lambda b: {"x": torch.ones(len(b["id"]), requires_grad=True).detach()})
    assert detached.take_all() == [{"x": 1.0}] * 4  # Ray's output for the same code


def test_torch_tensors_returned_as_a_batch_column_list() -> None:
    torch = pytest.importorskip("torch")
    table = B.batch_to_table({"t": [torch.ones(2), torch.zeros(2)]})
    assert table.schema.field("t").type.shape == [2]
    assert B.to_numpy(table)["t"].tolist() == [[1.0, 1.0], [0.0, 0.0]]


def test_objects_with_the_array_protocol_and_a_length_are_tensors() -> None:
    col = _column([_ArrayLike(3)] * 2)
    assert col.type.shape == [3] and col.type.value_type == pa.int64()
    assert isinstance(_column([_NoLen(), _NoLen()]).type, B.PythonObjectType)
    assert B.batch_to_table({"t": _ArrayLike(4)}).column("t").to_pylist() == [0, 1, 2, 3]  # a whole column


def test_ndarrays_of_one_shape_and_different_dtypes_and_0d_ndarrays() -> None:
    mixed = _column([np.ones(2, np.float32), np.ones(2)])
    assert mixed.type.shape == [2] and mixed.type.value_type == pa.float64()  # promoted, as Ray's np.asarray
    assert _column([np.array(1.5), np.array(2.5)]).to_pylist() == [1.5, 2.5]  # 0-d: a double column
    ranks = _column([np.zeros((2, 2)), np.zeros(3)])
    assert isinstance(ranks.type, VariableShapeTensorType) and ranks.type.ndim == 2
    assert _column([None, np.ones(2)]).type == pa.list_(pa.float64())  # with a None: lists, as Ray


def test_plain_rows_do_not_import_torch(tmp_path) -> None:
    code = ("import sys, numpy as np\n"
            "from streamdata import block as B\n"
            "B.rows_to_table([{'a': 1, 's': 'x', 't': np.zeros(2)}, {'a': 2, 's': 'y', 't': np.ones(2)}])\n"
            "B.rows_to_table([{'a': None}, {'a': 1.5}])\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.usefixtures("data_runtime")
def test_a_map_that_returns_torch_tensors_gives_the_next_map_ndarrays() -> None:
    """Ray's working-with-pytorch page: ``{"tensor": torch.as_tensor(row["image"])}``; the schema
    is a (32, 32, 3) uint8 tensor and the next ``map`` receives ndarrays."""
    torch = pytest.importorskip("torch")
    images = sd.from_numpy(np.stack([np.full((32, 32, 3), 7, np.uint8), np.full((32, 32, 3), 9, np.uint8)]))
    ds = images.map(lambda row: {"tensor": torch.as_tensor(row["data"])})
    tensor_type = ds.schema().types[0]
    assert tensor_type.shape == [32, 32, 3] and tensor_type.value_type == pa.uint8()

    def check_numpy(row: dict) -> dict:
        assert isinstance(row["tensor"], np.ndarray)
        return {"first": int(row["tensor"][0, 0, 0])}

    assert sorted(r["first"] for r in ds.map(check_numpy).take_all()) == [7, 9]
