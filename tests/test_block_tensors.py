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


def test_a_torch_tensor_that_requires_grad_is_detached() -> None:
    """Ray raises "Can't call numpy() on Tensor that requires grad" here; streamdata detaches,
    as its batch UDFs already do."""
    torch = pytest.importorskip("torch")
    col = _column([torch.ones(2, requires_grad=True)] * 2)
    assert col.type.shape == [2] and B.to_numpy(pa.table({"t": col}))["t"].tolist() == [[1.0, 1.0]] * 2


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
