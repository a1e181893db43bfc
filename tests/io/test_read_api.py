"""The public read functions build the right plan (no execution needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from io_testutil import read_table

from streamdata import read_api as sd
from streamdata.dataset import Dataset
from streamdata.errors import PlanError
from streamdata.io.csv import CSVDatasource
from streamdata.io.memory import ArrowTablesDatasource, RangeDatasource
from streamdata.io.parquet import ParquetDatasource
from streamdata.plan.logical import Read


def read_node(ds: Dataset) -> Read:
    root = ds._logical_plan.root
    assert isinstance(root, Read)
    return root


def test_range_and_range_tensor():
    node = read_node(sd.range(10, override_num_blocks=3))
    assert isinstance(node.datasource, RangeDatasource) and node.override_num_blocks == 3
    assert node.datasource.num_rows() == 10
    node = read_node(sd.range_tensor(4, shape=(2, 2)))
    assert node.datasource.schema().names == ["data"]
    assert read_node(sd.range(5, parallelism=2)).override_num_blocks == 2


def test_from_functions_one_block_per_input_by_default():
    node = read_node(sd.from_pandas([pd.DataFrame({"a": [1]}), pd.DataFrame({"a": [2]})]))
    assert isinstance(node.datasource, ArrowTablesDatasource) and node.override_num_blocks == 2
    assert read_node(sd.from_arrow(pa.table({"a": [1]}))).override_num_blocks == 1
    assert read_node(sd.from_numpy([np.zeros(2)] * 3)).override_num_blocks == 3
    node = read_node(sd.from_items([{"a": 1}], override_num_blocks=1))
    assert node.datasource.name == "FromItems"
    assert read_node(sd.from_items([1, 2, 3])).override_num_blocks is None  # the optimizer chooses


def test_file_readers_build_sources(tmp_path: Path):
    pq.write_table(pa.table({"x": [1, 2]}), tmp_path / "a.parquet")
    node = read_node(sd.read_parquet(str(tmp_path), columns=["x"], override_num_blocks=4,
                                     ray_remote_args={"num_cpus": 0.5}, concurrency=2))
    assert isinstance(node.datasource, ParquetDatasource)
    assert node.override_num_blocks == 4 and node.concurrency == 2
    assert node.datasource.schema().names == ["x"]
    (tmp_path / "c.csv").write_text("q\n1\n")
    node = read_node(sd.read_csv(str(tmp_path / "c.csv"), parse_options={"delimiter": ","}))
    assert isinstance(node.datasource, CSVDatasource)
    for fn in (sd.read_json, sd.read_text, sd.read_binary_files):
        assert read_node(fn(str(tmp_path / "c.csv"))).datasource.input_files() == [str(tmp_path / "c.csv")]


def test_csv_and_json_readers_add_hive_partition_columns_by_default(tmp_path: Path):
    sales = tmp_path / "year=2022" / "month=09"
    sales.mkdir(parents=True)
    (sales / "sales.csv").write_text("order_number,quantity\n10107,30\n")
    (sales / "sales.json").write_text('{"order_number": 10107, "quantity": 30}\n')
    for fn, name in ((sd.read_csv, "sales.csv"), (sd.read_json, "sales.json")):
        table = read_table(read_node(fn(str(sales / name))).datasource)
        assert table.schema == pa.schema([("order_number", pa.int64()), ("quantity", pa.int64()),
                                          ("year", pa.string()), ("month", pa.string())])
        assert table.to_pylist() == [{"order_number": 10107, "quantity": 30, "year": "2022",
                                      "month": "09"}]
        assert read_table(read_node(fn(str(sales / name), partitioning=None)).datasource
                          ).column_names == ["order_number", "quantity"]
    (tmp_path / "plain.csv").write_text("a\n1\n")  # no key=value directory: nothing added
    plain = read_node(sd.read_csv(str(tmp_path / "plain.csv"))).datasource
    assert plain._partition_schema == pa.schema([])
    assert read_table(plain).to_pylist() == [{"a": 1}]


def test_unknown_arguments_and_missing_paths(tmp_path: Path):
    with pytest.raises(PlanError, match="unexpected keyword arguments"):
        sd.read_csv(str(tmp_path), no_such_arg=1)
    with pytest.raises(FileNotFoundError):
        sd.read_parquet(str(tmp_path / "missing"))
