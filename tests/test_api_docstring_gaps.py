"""Ray Data behaviours that Ray 2.60's API docstrings show and streamdata lacked (the
``api_docstrings`` probe suite's gaps): collate-function classes, list columns as tensors,
``with_columns(unnest(...))``, UDF arguments as chunked arrays, tensor ``DataType`` reprs, and
the example connectors of ``ray.data.datasource``."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import streamdata as ray
from streamdata.data.datatype import DataType
from streamdata.data.expressions import col, udf, unnest
from streamdata.errors import PlanError

torch = pytest.importorskip("torch")


def _two_rows():
    return ray.data.from_items([{"col_1": 1, "col_2": 2}, {"col_1": 3, "col_2": 4}])


def test_collate_fn_classes_receive_their_batch_format() -> None:
    from streamdata.data.collate_fn import (
        ArrowBatchCollateFn, DefaultCollateFn, NumpyBatchCollateFn, PandasBatchCollateFn,
    )

    seen = []

    class Arrow(ArrowBatchCollateFn):
        def __call__(self, batch):
            seen.append(type(batch))
            return torch.as_tensor(batch["col_1"].to_numpy() + 5)

    class Numpy(NumpyBatchCollateFn):
        def __call__(self, batch):
            seen.append(type(batch["col_1"]))
            return torch.as_tensor(batch["col_1"] + 5)

    class Pandas(PandasBatchCollateFn):
        def __call__(self, batch):
            seen.append(type(batch))
            return torch.as_tensor(batch["col_1"].to_numpy() + 5)

    for fn in (Arrow(), Numpy(), Pandas()):
        assert [b.tolist() for b in _two_rows().iterator().iter_torch_batches(collate_fn=fn)] == [[6, 8]]
    assert seen[0] is pa.Table and seen[2] is pd.DataFrame and seen[1].__name__ == "ndarray"
    [batch] = _two_rows().iter_torch_batches(collate_fn=DefaultCollateFn(dtypes=torch.float))
    assert batch["col_1"].dtype == torch.float and batch["col_1"].tolist() == [1.0, 3.0]


def test_collate_fn_bad_input_names_the_argument() -> None:
    with pytest.raises(ValueError, match="collate_fn must be callable"):
        list(_two_rows().iter_torch_batches(collate_fn=3))
    from streamdata.collate_fn import DefaultCollateFn

    with pytest.raises(ValueError, match="num_workers"):
        DefaultCollateFn(num_workers=-1)


def test_list_columns_of_one_length_become_2d_tensors() -> None:
    """TorchTrainer's docstring: ``{"input": [x], "label": [2 * x + 1]}`` rows feed ``nn.Linear``."""
    ds = ray.data.from_items([{"input": [x], "label": [2 * x + 1], "s": "a"} for x in range(4)])
    [batch] = ds.iter_torch_batches(batch_size=4, dtypes=torch.float)
    assert batch["input"].shape == (4, 1) and batch["input"].dtype == torch.float
    assert batch["label"][:, 0].tolist() == [1.0, 3.0, 5.0, 7.0]
    assert list(batch["s"]) == ["a"] * 4  # strings stay an ndarray
    [ragged] = ray.data.from_items([{"v": [1, 2]}, {"v": [3]}]).iter_torch_batches()
    assert [list(v) for v in ragged["v"]] == [[1, 2], [3]]  # ragged lists are not stacked


@udf(return_dtype=DataType.struct([("sum_ab", DataType.int64()), ("product_ab", DataType.int64())]))
def _features(a, b):
    return pa.StructArray.from_arrays([pc.add(a, b).combine_chunks(), pc.multiply(a, b).combine_chunks()],
                                      names=["sum_ab", "product_ab"])


def test_with_columns_takes_unnest_expressions() -> None:
    ds = ray.data.from_items([{"a": 2, "b": 10}, {"a": 3, "b": 20}])
    out = ds.with_columns(unnest(_features(col("a"), col("b"))))
    assert out.take_all() == [{"a": 2, "b": 10, "sum_ab": 12, "product_ab": 20},
                              {"a": 3, "b": 20, "sum_ab": 23, "product_ab": 60}]
    mixed = ds.with_columns({"a2": col("a") * 2}, unnest(_features(col("a"), col("b"))))
    assert mixed.take(1) == [{"a": 2, "b": 10, "a2": 4, "sum_ab": 12, "product_ab": 20}]
    with pytest.raises(PlanError, match="dicts or unnest"):
        ds.with_columns(col("a"))
    with pytest.raises(PlanError, match="'sum_ab' twice"):
        ds.with_columns({"sum_ab": col("a")}, unnest(_features(col("a"), col("b"))))


def test_udf_arguments_are_chunked_arrays_as_in_ray() -> None:
    @udf(return_dtype=DataType.string())
    def kind(a):
        return pa.array([type(a).__name__] * len(a))

    assert ray.data.from_items([{"a": 1}]).with_column("k", kind(col("a") + 1)).take_all() == [{"a": 1, "k": "ChunkedArray"}]


def test_tensor_datatypes_repr_with_rays_names() -> None:
    assert repr(DataType.tensor(shape=(3, 4), dtype=DataType.float32())) == \
        "DataType(arrow:ArrowTensorType(shape=(3, 4), dtype=float))"
    assert repr(DataType.variable_shaped_tensor(dtype=DataType.float32(), ndim=2)) == \
        "DataType(arrow:ArrowVariableShapedTensorType(ndim=2, dtype=float))"
    assert repr(DataType.int64()) == "DataType(arrow:int64)"


def test_example_connectors_of_ray_data_datasource() -> None:
    from streamdata.data.datasource import DummyOutputDatasink, RandomIntRowDatasource

    output = DummyOutputDatasink()
    ray.data.range(10).write_datasink(output)
    assert output.num_ok == 1 and output.rows_written == 10 and output.num_failed == 0
    output.enabled = False
    with pytest.raises(Exception, match="disabled"):
        ray.data.range(3).write_datasink(output)
    assert output.num_failed == 1
    rows = ray.data.read_datasource(RandomIntRowDatasource(n=10, num_columns=2)).take_all()
    assert len(rows) == 10 and set(rows[0]) == {"c_0", "c_1"}
    with pytest.raises(ValueError, match="num_columns must be an int"):
        RandomIntRowDatasource(n=3, num_columns="2")
