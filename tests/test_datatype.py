"""DataType (Ray's ray.data.datatype.DataType): factories, conversions, predicates, and its use
in expressions (cast, udf return_dtype)."""

from __future__ import annotations

import inspect

import numpy as np
import pyarrow as pa
import pytest

from streamdata.datatype import DataType
from streamdata.expressions import col, udf


def test_ray_names_and_parameters() -> None:
    ray_dt = pytest.importorskip("ray.data.datatype")
    for name in (m for m in dir(ray_dt.DataType) if not m.startswith("_")):
        assert hasattr(DataType, name), name
        theirs = inspect.signature(getattr(ray_dt.DataType, name)).parameters
        ours = inspect.signature(getattr(DataType, name)).parameters
        assert [p for p in theirs if p not in ours] == [], name


def test_factories_and_conversions() -> None:
    assert DataType.int32().to_arrow_dtype() == pa.int32() and repr(DataType.bool()) == "DataType(arrow:bool)"
    assert DataType.struct([("a", DataType.int64()), ("b", DataType.string())]).to_arrow_dtype() == \
        pa.struct([("a", pa.int64()), ("b", pa.string())])
    assert DataType.map(DataType.string(), DataType.float64()).is_map_type()
    assert DataType.fixed_size_list(DataType.float32(), 3).to_arrow_dtype() == pa.list_(pa.float32(), 3)
    assert DataType.tensor((2, 2), DataType.uint8()).is_tensor_type()
    assert DataType.variable_shaped_tensor(DataType.float32(), ndim=3).is_tensor_type()
    assert DataType.temporal("date32").is_temporal_type()
    assert DataType.from_numpy("int16").to_arrow_dtype() == pa.int16()
    assert DataType.int64().to_numpy_dtype() == np.dtype("int64")
    assert DataType(str).to_python_type() is str and DataType(object).to_arrow_dtype([1, 2]) == pa.int64()
    assert DataType.infer_dtype(np.float32(1)) == DataType.from_numpy(np.float32)
    assert DataType.from_dtype("float64") == DataType.from_numpy(np.float64) and DataType.from_dtype(None) is None
    assert DataType.int64() == DataType.from_arrow(pa.int64()) and len({DataType.int64(), DataType.int64()}) == 1
    assert DataType.list(DataType.int64()).is_of("list") and not DataType.int64().is_of("nonsense")


def test_bad_input() -> None:
    with pytest.raises(TypeError, match="pyarrow DataType"):
        DataType("int64x")
    with pytest.raises(ValueError, match="inferred from values"):
        DataType(int).to_arrow_dtype()
    with pytest.raises(ValueError, match="is not backed by a Python type"):
        DataType.int64().to_python_type()
    with pytest.raises(ValueError, match="temporal_type"):
        DataType.temporal("week")
    with pytest.raises(NotImplementedError, match="cuDF"):
        DataType.int64().to_cudf_type()


def test_in_expressions() -> None:
    t = pa.table({"x": [1.5, 2.5]})
    assert col("x").cast(DataType.int64(), safe=False).evaluate(t).to_pylist() == [1, 2]

    @udf(return_dtype=DataType.string())
    def show(x: pa.Array) -> list:
        return [f"<{v}>" for v in x.to_pylist()]

    out = show(col("x")).evaluate(t)
    assert out.type == pa.string() and out.to_pylist() == ["<1.5>", "<2.5>"]
    with pytest.raises(ValueError, match="Python type"):
        col("x").cast(DataType(int))
