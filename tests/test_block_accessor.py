"""Ray's ``ray.data.block`` names (streamdata.block_accessor): the accessor code written for
Ray uses on blocks, in custom sinks and sources."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import streamdata as sd
from streamdata.data.block import Block, BlockAccessor, BlockMetadata
from streamdata.datasource import Datasink


def test_for_block_takes_arrow_and_pandas_and_refuses_other_types() -> None:
    table = pa.table({"x": [3, 1, 2], "s": ["a", "b", "c"]})
    acc = BlockAccessor.for_block(table)
    assert acc.to_arrow() is table and acc.to_block() is table and isinstance(table, Block)
    assert BlockAccessor.for_block(pd.DataFrame({"x": [1, 2]})).num_rows() == 2
    with pytest.raises(TypeError, match="for_block.*list"):
        BlockAccessor.for_block([1, 2])
    assert acc.num_rows() == 3 and acc.size_bytes() == table.nbytes and acc.schema() == table.schema
    assert acc.slice(1, 3)["x"].to_pylist() == [1, 2]
    assert acc.take([2, 0])["x"].to_pylist() == [2, 3]
    assert acc.select(["s"]).column_names == ["s"]
    assert sorted(acc.random_shuffle(7)["x"].to_pylist()) == [1, 2, 3]
    assert [r["x"] for r in acc.iter_rows()] == [3, 1, 2]
    assert acc.to_pandas()["s"].tolist() == ["a", "b", "c"]
    assert acc.to_numpy("x").tolist() == [3, 1, 2] and list(acc.to_numpy()) == ["x", "s"]
    assert isinstance(acc.to_batch_format("pandas"), pd.DataFrame)
    assert acc.get_metadata(input_files=["f"]) == BlockMetadata.of(table, ["f"])


def test_batch_to_block_builds_arrow_blocks() -> None:
    assert BlockAccessor.batch_to_block({"x": np.arange(3), "y": ["a", "b", "c"]}).num_rows == 3
    assert BlockAccessor.batch_to_block(pd.DataFrame({"x": [1.5]}))["x"].to_pylist() == [1.5]
    with pytest.raises(sd.errors.UDFReturnError, match="batch_to_block"):
        BlockAccessor.batch_to_block(5)


class _PandasRowsSink(Datasink):
    """A sink as Ray users write it: each block seen through ``BlockAccessor.for_block``."""

    def write(self, blocks, ctx):
        return sum(int(BlockAccessor.for_block(block).to_pandas()["id"].sum()) for block in blocks)

    def on_write_complete(self, write_results):
        self.total = sum(write_results.write_returns if hasattr(write_results, "write_returns")
                         else write_results)


@pytest.mark.usefixtures("data_runtime")
def test_a_ray_style_sink_reads_its_blocks_through_the_accessor() -> None:
    sink = _PandasRowsSink()
    sd.range(100, override_num_blocks=4).write_datasink(sink)
    assert sink.total == sum(range(100))


# ---------------------------------------------------------------- Ray's aggregations on a block

#: what Ray 2.60's ``BlockAccessor.for_block(table).<method>("x", ignore_nulls)`` returns, for
#: ignore_nulls True and False, methods in the order count, sum, min, max, mean,
#: sum_of_squared_diffs_from_mean
_RAY_AGGREGATES = {
    "ints": (pa.table({"x": [1, 2, 3, 4]}), [(4, 4), (10, 10), (1, 1), (4, 4), (2.5, 2.5), (5.0, 5.0)]),
    "nulls": (pa.table({"x": [1, None, 3]}), [(2, 3), (4, None), (1, None), (3, None), (2.0, None), (2.0, None)]),
    "all null": (pa.table({"x": pa.array([None, None], pa.int64())}),
                 [(0, 2), (None, None), (None, None), (None, None), (None, None), (None, None)]),
    "null type": (pa.table({"x": [None, None]}),
                  [(0, 2), (None, None), (None, None), (None, None), (None, None), (None, None)]),
    "empty": (pa.table({"x": pa.array([], pa.int64())}),
              [(0, 0), (None, None), (None, None), (None, None), (None, None), (None, None)]),
    "strings": (pa.table({"x": ["a", "b"]}), [(2, 2), None, ("a", "a"), ("b", "b"), None, None]),
}
_METHODS = ("count", "sum", "min", "max", "mean", "sum_of_squared_diffs_from_mean")


@pytest.mark.parametrize("case", sorted(_RAY_AGGREGATES))
def test_block_aggregations_return_what_rays_return(case: str) -> None:
    table, expected = _RAY_AGGREGATES[case]
    acc = BlockAccessor.for_block(table)
    for method, want in zip(_METHODS, expected):
        if want is None:  # Arrow has no kernel for the type (Ray raises the same error)
            with pytest.raises(pa.ArrowNotImplementedError):
                getattr(acc, method)("x", True)
            continue
        got = (getattr(acc, method)("x", True), getattr(acc, method)("x", False))
        assert got == want, method


def test_block_aggregations_nan_missing_columns_and_defaults() -> None:
    acc = BlockAccessor.for_block(pa.table({"x": [1.5, float("nan"), 2.0]}))
    assert acc.count("x", True) == 3 and acc.min("x", True) == 1.5 and acc.max("x", False) == 2.0
    assert np.isnan(acc.sum("x", True)) and np.isnan(acc.mean("x", True))
    ints = BlockAccessor.for_block(pa.table({"x": [1, 2, 3], "y": [1, 1, 1]}))
    assert ints.count("x") == 3  # ignore_nulls defaults to False, as in Ray
    assert ints.sum_of_squared_diffs_from_mean("x", True) == 2.0
    assert ints.sum_of_squared_diffs_from_mean("x", True, mean=0) == 14.0  # Ray ignores `mean` (gives 2.0)
    for method in _METHODS:
        with pytest.raises(KeyError, match="'z' not in \\['x', 'y'\\]"):  # Ray: KeyError for count ...
            getattr(ints, method)("z", True)
        with pytest.raises(ValueError, match="'z'"):  # ... and ValueError for the others
            getattr(ints, method)("z", True)
        with pytest.raises(ValueError, match="has to be non-null"):
            getattr(ints, method)(None, True)
    pandas_acc = BlockAccessor.for_block(pd.DataFrame({"x": [1.0, None, 3.0]}))
    assert (pandas_acc.count("x", True), pandas_acc.sum("x", True), pandas_acc.sum("x", False)) == (2, 4.0, None)


def test_block_column_accessor() -> None:
    from streamdata.data.block import BlockColumnAccessor

    col = BlockColumnAccessor.for_column(pa.chunked_array([[3, None], [1, 3]]))
    assert (col.count(ignore_nulls=True), col.sum(ignore_nulls=True), col.min(ignore_nulls=True)) == (3, 7, 1)
    assert col.sum(ignore_nulls=True, as_py=False) == pa.scalar(7)
    assert col.quantile(q=0.5, ignore_nulls=True) == 3.0
    assert col.unique().to_pylist() == [3, None, 1]
    assert col.value_counts() == {"values": [3, None, 1], "counts": [2, 1, 1]}
    assert col.dropna().to_pylist() == [3, 1, 3] and col.to_pylist() == [3, None, 1, 3]
    assert not col.is_composed_of_lists()
    lists = BlockColumnAccessor.for_column(pa.array([[1, 2], [3]]))
    assert lists.is_composed_of_lists() and lists.flatten().to_pylist() == [1, 2, 3]
    assert BlockColumnAccessor.for_column(pd.Series([1.0, None])).count(ignore_nulls=True) == 1
    assert BlockColumnAccessor.for_column(pa.array([1, 2])).to_numpy().tolist() == [1, 2]
    with pytest.raises(TypeError, match="pandas.Series or pyarrow.Array"):
        BlockColumnAccessor.for_column([1, 2])


def test_column_edits_as_rays_accessor_makes_them() -> None:
    acc = BlockAccessor.for_block(pa.table({"a": [1, 2], "b": ["x", "y"]}))
    assert acc.column_names() == ["a", "b"] and acc.block_type().value == "arrow"
    assert acc.drop(["a"]).column_names == ["b"]
    assert acc.rename_columns({"a": "c"}).column_names == ["c", "b"]
    assert acc.upsert_column("a", pa.array([5, 6])).to_pydict() == {"a": [5, 6], "b": ["x", "y"]}
    assert acc.upsert_column("n", np.array([7, 8])).column("n").to_pylist() == [7, 8]


def test_rays_type_names_in_ray_data_block() -> None:
    import typing

    import streamdata.data.block as block

    for name in ("T", "U", "KeyType", "AggType"):
        assert isinstance(getattr(block, name), typing.TypeVar) and getattr(block, name).__name__ == name
    assert block.DEFAULT_BATCH_FORMAT == "numpy" and "pyarrow" in block.VALID_BATCH_FORMATS
    assert block.BatchFormat.NUMPY == "numpy" and block.Block is pa.Table
    for name in ("DataBatch", "UserDefinedFunction", "BlockColumn", "BatchColumn", "DataBatchColumn",
                 "CallableClass", "Schema", "BlockType"):
        assert name in block.__all__ and getattr(block, name) is not None


@pytest.mark.usefixtures("data_runtime")
def test_rays_custom_mean_aggregation_runs() -> None:
    """Ray's aggregating-data page, block 3 (its private ``is_null`` written out here):
    ``ray.data.range(10).aggregate(Mean(on="id"))`` is ``{'mean(id)': 4.5}`` on Ray 2.60."""
    from typing import Optional

    from streamdata.data.aggregate import AggregateFnV2
    from streamdata.data.block import AggType, U

    class Mean(AggregateFnV2):
        def __init__(self, on: Optional[str] = None, ignore_nulls: bool = True,
                     alias_name: Optional[str] = None) -> None:
            super().__init__(alias_name if alias_name else f"mean({str(on)})", on=on, ignore_nulls=ignore_nulls,
                             zero_factory=lambda: list([0, 0]))  # noqa: C410

        def aggregate_block(self, block: Block) -> AggType:
            block_acc = BlockAccessor.for_block(block)
            count = block_acc.count(self._target_col_name, self._ignore_nulls)
            if count == 0 or count is None:
                return None
            sum_ = block_acc.sum(self._target_col_name, self._ignore_nulls)
            if sum_ is None:
                return sum_
            return [sum_, count]

        def combine(self, current_accumulator: AggType, new: AggType) -> AggType:
            return [current_accumulator[0] + new[0], current_accumulator[1] + new[1]]

        def finalize(self, accumulator: AggType) -> Optional[U]:
            if accumulator[1] == 0:
                return np.nan
            return accumulator[0] / accumulator[1]

    assert sd.range(10).aggregate(Mean(on="id")) == {"mean(id)": 4.5}
    ds = sd.from_items([{"k": i % 2, "v": None if i % 3 == 0 else i} for i in range(12)])
    assert sorted(ds.groupby("k").aggregate(Mean(on="v")).take_all(), key=lambda r: r["k"]) == [
        {"k": 0, "mean(v)": 6.0}, {"k": 1, "mean(v)": 6.0}]
    # a group of nulls only: aggregate_block gives None, which Ray's null-safe combine skips
    nulls = sd.from_items([{"k": i % 2, "v": None if i % 2 == 0 else i} for i in range(6)])
    assert sorted(nulls.groupby("k").aggregate(Mean(on="v")).take_all(), key=lambda r: r["k"]) == [
        {"k": 0, "mean(v)": None}, {"k": 1, "mean(v)": 3.0}]
    # not ignoring nulls: a null seen makes the result null
    assert sd.from_items([{"v": 1}, {"v": None}]).aggregate(Mean(on="v", ignore_nulls=False)) == {"mean(v)": None}
