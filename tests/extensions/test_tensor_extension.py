"""Ray's tensor-extension names in streamdata.extensions build columns streamdata reads back."""

from __future__ import annotations


import numpy as np
import pyarrow as pa
import pytest

import streamdata as sd
from streamdata.extensions import ArrowTensorArray, TensorExtensionError
from streamdata.extensions.tensor_extension import ArrowTensorArray as Same


pytestmark = pytest.mark.usefixtures("data_runtime")  # one runtime for the module


def test_fixed_shape_column_round_trips_through_a_pyarrow_udf() -> None:
    assert Same is ArrowTensorArray
    images = np.arange(2 * 3 * 2, dtype=np.uint8).reshape(2, 3, 2)

    def bump(batch: pa.Table) -> pa.Table:
        col = batch.column("img").combine_chunks().to_numpy_ndarray() + 1
        return batch.set_column(batch.schema.get_field_index("img"), "img", ArrowTensorArray.from_numpy(col))

    ds = sd.from_numpy(images).rename_columns({"data": "img"}).map_batches(bump, batch_format="pyarrow")
    out = ds.take_batch(2)["img"]
    assert out.shape == (2, 3, 2) and (out == images + 1).all()


def test_variable_shape_rows() -> None:
    col = ArrowTensorArray.from_numpy([np.ones((2, 2)), np.zeros((3, 1))])
    rows = sd.from_arrow(pa.table({"t": col})).take_all()
    assert [r["t"].shape for r in rows] == [(2, 2), (3, 1)]


def test_bad_input_says_what_it_got() -> None:
    with pytest.raises(TensorExtensionError, match=r"column 'x'.*got items of type \['int'\]"):
        ArrowTensorArray.from_numpy([np.ones(2), 3], column_name="x")
    with pytest.raises(TensorExtensionError, match="0-d array"):
        ArrowTensorArray.from_numpy(np.float64(1.0))
