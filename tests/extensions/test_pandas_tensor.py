"""Ray's pandas tensor extension (``TensorArray``, ``TensorDtype``): pandas operations on
it, its way into Arrow and back, and through a pipeline's pandas UDFs and workers."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import streamdata as sd
from streamdata.errors import PlanError
from streamdata.extensions import TensorArray, TensorDtype
from streamdata.extensions.pandas_tensor import TensorArrayElement


def test_the_names_ray_users_import() -> None:
    from streamdata.data.extensions import TensorArray as FromData
    from streamdata.extensions.tensor_extension import TensorArrayElement as Element, TensorDtype as Dtype

    assert FromData is TensorArray and Dtype is TensorDtype and Element is TensorArrayElement


def test_a_column_of_tensors_in_pandas() -> None:
    images = np.arange(24, dtype=np.int16).reshape(3, 2, 4)
    df = pd.DataFrame({"id": [1, 2, 3], "image": TensorArray(images)})
    assert df["image"].dtype == TensorDtype((2, 4), np.int16)
    assert np.array_equal(df["image"][1], images[1])
    assert np.array_equal(np.asarray(df["image"]), images)
    df["image"] += 1  # elementwise, as Ray's docs do it
    assert np.array_equal(np.asarray(df["image"]), images + 1)
    assert np.asarray(df["image"] == 1).sum() == 1
    picked = df[df["id"] != 2]
    assert np.array_equal(np.asarray(picked["image"]), images[[0, 2]] + 1)
    both = pd.concat([df, df], ignore_index=True)
    assert both["image"].dtype == df["image"].dtype and len(both) == 6
    assert not df["image"].isna().any()


def test_rows_of_different_shapes_stay_apart() -> None:
    rows = [np.ones(2), np.zeros(3)]
    column = TensorArray(rows)
    assert column.is_variable_shaped and column.dtype == TensorDtype(None, np.float64)
    assert [r.shape for r in column] == [(2,), (3,)]


@pytest.mark.parametrize("rows", [np.arange(12.0).reshape(3, 2, 2), [np.ones(2), np.zeros(3), np.ones(1)]],
                         ids=["fixed", "variable"])
def test_arrow_and_back_keep_the_tensors(rows: object) -> None:
    df = pd.DataFrame({"t": TensorArray(rows)})
    table = pa.Table.from_pandas(df)
    assert "tensor" in str(table.column("t").type)
    back = table.to_pandas()
    assert back["t"].dtype == df["t"].dtype
    for got, want in zip(back["t"], df["t"]):
        assert np.array_equal(got, want)


def test_bad_values_and_dtype_names_say_what_is_wrong() -> None:
    with pytest.raises(TypeError, match="ndarray or a sequence of ndarrays"):
        TensorArray([np.ones(2), "text"])
    with pytest.raises(TypeError, match="0-d"):
        TensorArray(np.float64(1.0))
    with pytest.raises(TypeError, match="cannot construct a TensorDtype"):
        TensorDtype.construct_from_string("float64")
    assert TensorDtype.construct_from_string("TensorDtype(shape=None, dtype=uint8)") == TensorDtype(None, np.uint8)


def test_rays_cast_udf_example_through_a_pipeline(tmp_path: Path) -> None:
    """Ray's tensor docs: pickled tensors in Parquet, cast back with a TensorArray in a
    pandas-converting UDF; then a pandas UDF does arithmetic on the column in a worker."""
    arr = np.arange(24).reshape((3, 2, 2, 2))
    df = pd.DataFrame({"one": [1, 2, 3], "two": [pickle.dumps(t) for t in arr]})
    sd.from_pandas([df]).write_parquet(str(tmp_path))

    def cast_udf(block: pa.Table) -> pa.Table:
        frame = block.to_pandas()
        frame["two"] = TensorArray([pickle.loads(a) for a in frame["two"]])
        return pa.Table.from_pandas(frame)

    ds = sd.read_parquet(str(tmp_path), _block_udf=cast_udf)  # Ray's underscore argument, as the docs use it
    doubled = ds.map_batches(lambda b: b.assign(two=b["two"] * 2), batch_format="pandas")
    out = doubled.take_batch(3, batch_format="numpy")
    assert np.array_equal(out["two"], arr * 2) and out["one"].tolist() == [1, 2, 3]
    assert ds.schema().types[1].shape == [2, 2, 2]


def test_a_block_udf_that_is_not_a_function_names_the_argument(tmp_path: Path) -> None:
    sd.from_items([{"x": 1}]).write_parquet(str(tmp_path))
    with pytest.raises(PlanError, match="_block_udf"):
        sd.read_parquet(str(tmp_path), _block_udf="not a function")
