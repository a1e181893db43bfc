"""In-memory datasources: range, range_tensor, from_items/pandas/arrow/numpy."""

from __future__ import annotations

import pickle

import cloudpickle
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from streamdata.context import DataContext
from streamdata.errors import ColumnNotFoundError, PlanError
from streamdata.io.memory import (ArrowTablesDatasource, RangeDatasource, from_arrow_source,
                                  from_items_source, from_numpy_source, from_pandas_source)
from streamdata.tensor import VariableShapeTensorType, arrow_to_ndarray


def run_all(source, parallelism: int) -> list[pa.Table]:
    """Run every read task as a worker would: pickled, then called."""
    blocks = []
    for task in source.get_read_tasks(parallelism):
        task = cloudpickle.loads(cloudpickle.dumps(task))
        blocks.extend(task())
    return blocks


def concat(blocks: list[pa.Table]) -> pa.Table:
    return pa.concat_tables(blocks)


@pytest.fixture
def small_blocks():
    ctx = DataContext.get_current()
    old = ctx.target_max_block_size
    ctx.target_max_block_size = 800  # 100 int64 rows
    yield ctx
    ctx.target_max_block_size = old


def test_range_rows_in_order_across_tasks():
    src = RangeDatasource(1000)
    tasks = src.get_read_tasks(7)
    assert len(tasks) == 7
    assert sum(t.metadata.num_rows for t in tasks) == 1000
    ids = concat(run_all(src, 7)).column("id").to_pylist()
    assert ids == list(range(1000))
    assert src.num_rows() == 1000
    assert src.estimate_inmemory_data_size() == 8000
    assert src.schema() == pa.schema([("id", pa.int64())])


def test_range_more_parallelism_than_rows_and_empty():
    assert len(RangeDatasource(3).get_read_tasks(10)) == 3
    blocks = run_all(RangeDatasource(0), 4)
    assert sum(b.num_rows for b in blocks) == 0
    assert blocks[0].schema.names == ["id"]


def test_range_blocks_respect_target_max_block_size(small_blocks):
    blocks = run_all(RangeDatasource(1000), 1)
    assert len(blocks) == 10
    assert all(b.nbytes <= 800 for b in blocks)


def test_range_rejects_bad_n():
    with pytest.raises(PlanError):
        RangeDatasource(-1)
    with pytest.raises(PlanError):
        RangeDatasource(2.5)  # type: ignore[arg-type]


def test_range_limit_pushdown():
    src = RangeDatasource(100).apply_limit(5)
    assert concat(run_all(src, 3)).column("id").to_pylist() == [0, 1, 2, 3, 4]


def test_range_tensor_values_and_type():
    src = RangeDatasource(5, tensor_shape=(2, 3))
    table = concat(run_all(src, 2))
    assert table.column_names == ["data"]
    assert isinstance(table.schema.field("data").type, pa.FixedShapeTensorType)
    arr = arrow_to_ndarray(table.column("data"))
    assert arr.shape == (5, 2, 3)
    for i in range(5):
        assert (arr[i] == i).all()
    assert src.estimate_inmemory_data_size() == 5 * 6 * 8


def test_from_items_dicts_and_missing_keys():
    src = from_items_source([{"a": 1, "b": "x"}, {"a": 2}, {"b": "z", "c": 1.5}])
    table = concat(run_all(src, 2))
    assert table.to_pylist() == [{"a": 1, "b": "x", "c": None}, {"a": 2, "b": None, "c": None},
                                 {"a": None, "b": "z", "c": 1.5}]


def test_from_items_non_dicts_become_item_column():
    table = concat(run_all(from_items_source([3, 1, 2]), 3))
    assert table.to_pydict() == {"item": [3, 1, 2]}


def test_from_items_mixed_is_an_error():
    with pytest.raises(PlanError, match="mix"):
        from_items_source([{"a": 1}, 2])


def test_from_items_ndarray_values_become_tensors():
    items = [{"img": np.full((2, 2), i, dtype=np.uint8), "label": i} for i in range(4)]
    table = concat(run_all(from_items_source(items), 2))
    assert isinstance(table.schema.field("img").type, pa.FixedShapeTensorType)
    assert arrow_to_ndarray(table.column("img")).shape == (4, 2, 2)

    ragged = [{"img": np.zeros((i + 1, 2))} for i in range(3)]
    table = concat(run_all(from_items_source(ragged), 1))
    assert isinstance(table.schema.field("img").type, VariableShapeTensorType)
    assert [a.shape for a in arrow_to_ndarray(table.column("img"))] == [(1, 2), (2, 2), (3, 2)]


def test_from_pandas_list_keeps_order_and_drops_index():
    df1 = pd.DataFrame({"a": [1, 2, 3], "s": ["x", "y", "z"]}, index=[10, 11, 12])
    df2 = pd.DataFrame({"a": [4, 5], "s": ["u", "v"]})
    src = from_pandas_source([df1, df2])
    assert src.num_rows() == 5
    for parallelism in (1, 2, 5, 50):
        table = concat(run_all(src, parallelism))
        assert table.column_names == ["a", "s"]
        assert table.column("a").to_pylist() == [1, 2, 3, 4, 5]


def test_from_pandas_ndarray_cells():
    df = pd.DataFrame({"x": [np.ones((2, 2)), np.zeros((2, 2))]})
    table = concat(run_all(from_pandas_source(df), 1))
    assert arrow_to_ndarray(table.column("x")).shape == (2, 2, 2)


def test_from_pandas_rejects_non_frames():
    with pytest.raises(PlanError):
        from_pandas_source([{"a": 1}])
    with pytest.raises(PlanError, match="from_pandas expects pandas DataFrames, got Series"):
        from_pandas_source(pd.Series(["a", "b"]))


def test_from_pandas_string_columns_are_arrow_string_as_in_rays_schema():
    """Ray 2.60 (pandas 3): ``from_pandas(df).schema()`` of a default ``str`` column and of a
    ``string[pyarrow]`` one is ``string`` (not the ``large_string`` that holds them)."""
    df = pd.DataFrame({"s": ["a", None, "c"], "p": pd.array(["x", "y", None], dtype="string[pyarrow]"),
                       "i": [1, 2, 3]})
    src = from_pandas_source([df, df.iloc[:1]])
    assert src.schema().types == [pa.string(), pa.string(), pa.int64()]
    assert src.pandas_dtypes == ["str", "string", "int64"]  # the frame's own, for the display
    table = concat(run_all(src, 2))
    assert table.schema.types == [pa.string(), pa.string(), pa.int64()]
    assert table.column("s").to_pylist() == ["a", None, "c", "a"] and table.column("p").to_pylist() == ["x", "y", None, "x"]


def test_from_arrow_tables_and_batches():
    t = pa.table({"x": [1, 2]})
    rb = pa.record_batch({"x": [3]})
    src = from_arrow_source([t, rb])
    assert concat(run_all(src, 8)).column("x").to_pylist() == [1, 2, 3]
    with pytest.raises(PlanError):
        from_arrow_source("nope")


def test_from_numpy_1d_and_nd():
    table = concat(run_all(from_numpy_source(np.arange(4)), 2))
    assert table.to_pydict() == {"data": [0, 1, 2, 3]}
    arrs = [np.ones((3, 2, 2), dtype=np.float32), np.zeros((1, 2, 2), dtype=np.float32)]
    table = concat(run_all(from_numpy_source(arrs), 3))
    out = arrow_to_ndarray(table.column("data"))
    assert out.shape == (4, 2, 2) and out.dtype == np.float32
    assert out[:3].sum() == 12 and out[3].sum() == 0


def test_in_memory_projection_and_limit_pushdown():
    src = from_items_source([{"a": i, "b": -i} for i in range(10)])
    assert src.supports_projection_pushdown()
    proj = src.apply_projection(["b"])
    assert concat(run_all(proj, 2)).column_names == ["b"]
    with pytest.raises(ColumnNotFoundError, match="'zz' not in"):
        src.apply_projection(["zz"])
    lim = src.apply_limit(3)
    assert concat(run_all(lim, 2)).column("a").to_pylist() == [0, 1, 2]


def test_read_task_metadata_matches_output():
    src = ArrowTablesDatasource([pa.table({"a": list(range(7))}), pa.table({"a": list(range(5))})])
    for task in src.get_read_tasks(4):
        blocks = list(pickle.loads(pickle.dumps(task))())
        assert sum(b.num_rows for b in blocks) == task.metadata.num_rows
        assert task.metadata.schema == blocks[0].schema
