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
