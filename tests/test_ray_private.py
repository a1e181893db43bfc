"""The private ``ray.data._internal`` names Ray's own guides import (``streamdata.ray_private``)."""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from streamdata.ray_private import DelegatingBlockBuilder, RangeDatasource, is_null


@pytest.mark.parametrize("path, name", [
    ("_internal.util", "is_null"),
    ("_internal.delegating_block_builder", "DelegatingBlockBuilder"),
    ("_internal.datasource.range_datasource", "RangeDatasource"),
])
def test_the_names_import_from_rays_paths(path: str, name: str) -> None:
    module = importlib.import_module(f"streamdata.data.{path}")
    assert getattr(module, name) is getattr(importlib.import_module("streamdata.ray_private"), name)


def test_the_rest_of_rays_private_package_is_not_there() -> None:
    with pytest.raises(ModuleNotFoundError, match="streamdata.data._internal.arrow_block"):
        importlib.import_module("streamdata.data._internal.arrow_block")


@pytest.mark.parametrize("value, expected", [
    (None, True), (float("nan"), True), (np.float32("nan"), True), (np.nan, True),
    (0, False), (0.0, False), ("nan", False), ([None], False), (np.int64(3), False), (float("inf"), False),
])
def test_is_null(value, expected) -> None:
    assert is_null(value) is expected


def test_builder_keeps_the_order_of_rows_batches_and_blocks() -> None:
    builder = DelegatingBlockBuilder()
    builder.add({"x": 1, "image": np.zeros((2, 2), dtype=np.uint8)})
    builder.add_batch({"x": np.array([2]), "image": np.ones((1, 2, 2), dtype=np.uint8)})
    builder.add_block(pd.DataFrame({"x": [3], "image": [np.full((2, 2), 2, dtype=np.uint8)]}))
    builder.add({"x": 4, "image": np.full((2, 2), 3, dtype=np.uint8)})
    assert builder.num_rows() == 4
    table = builder.build()
    assert table.column("x").to_pylist() == [1, 2, 3, 4]
    images = table.column("image").to_pylist()
    assert [np.asarray(v).ravel()[0] for v in images] == [0, 1, 2, 3]
    assert builder.get_estimated_memory_usage() > 0


def test_builder_of_nothing_and_of_empty_blocks() -> None:
    assert DelegatingBlockBuilder().build().num_rows == 0
    builder = DelegatingBlockBuilder()
    builder.add_block(pa.table({"x": pa.array([], pa.int32())}))
    assert builder.build().schema.names == ["x"]  # an empty block's schema survives
    builder = DelegatingBlockBuilder()
    builder.add_block(pa.table({"x": pa.array([], pa.int32())}))
    builder.add({"x": 1})
    assert builder.build(additional_blocks=[pa.table({"x": [2]})]).column("x").to_pylist() == [1, 2]


def test_builder_rejects_a_row_that_is_not_a_dict() -> None:
    with pytest.raises(TypeError, match="add\\(\\) takes a row as a dict, got list"):
        DelegatingBlockBuilder().add([1, 2])


def test_range_datasource_takes_rays_arguments() -> None:
    assert RangeDatasource(n=3)._column == "id"
    tensor = RangeDatasource(4, block_format="tensor", tensor_shape=(2, 3))
    block = next(iter(tensor.get_read_tasks(1)[0]()))
    assert block.column_names == ["data"] and block.num_rows == 4
    assert RangeDatasource(2, column_name="value")._column == "value"
    with pytest.raises(ValueError, match="block_format must be .* got 'simple'"):
        RangeDatasource(3, block_format="simple")


def test_rays_custom_datasource_example_runs(tmp_path) -> None:
    """Ray's custom-datasource example: a FileBasedDatasource whose reader builds its rows
    with DelegatingBlockBuilder, read by tasks (imports as Ray's, ``ray`` → ``streamdata``)."""
    import streamdata as ray
    from streamdata.data.datasource import FileBasedDatasource

    for i in range(3):
        (tmp_path / f"v{i}.txt").write_text(" ".join(str(i * 10 + j) for j in range(i + 1)))

    class NumbersDatasource(FileBasedDatasource):
        def __init__(self, paths):
            super().__init__(paths, file_extensions=["txt"])

        def _read_stream(self, f, path):
            from streamdata.data._internal.delegating_block_builder import DelegatingBlockBuilder
            builder = DelegatingBlockBuilder()
            for word in f.readall().decode().split():
                builder.add({"n": int(word)})
            yield builder.build()

    ray.init(num_cpus=2, ignore_reinit_error=True)
    try:
        rows = ray.data.read_datasource(NumbersDatasource(str(tmp_path))).take_all()
    finally:
        ray.shutdown()
    assert sorted(r["n"] for r in rows) == [0, 10, 11, 20, 21, 22]


def test_cached_remote_fn_makes_one_remote_function_per_function_and_arguments() -> None:
    from streamdata.data._internal.remote_fn import cached_remote_fn

    def triple(x):
        return 3 * x

    assert cached_remote_fn(triple) is cached_remote_fn(triple)
    assert cached_remote_fn(triple, num_cpus=1) is cached_remote_fn(triple, num_cpus=1)
    assert cached_remote_fn(triple, num_cpus=1) is not cached_remote_fn(triple)
    with pytest.raises(TypeError, match="remote argument 'resources' must be hashable"):
        cached_remote_fn(triple, resources={"a": {1}})
    with pytest.raises(TypeError, match="fn must be a function"):
        cached_remote_fn(3)


def test_cached_remote_fn_runs_with_per_call_options() -> None:
    import streamdata as sd
    from streamdata.data._internal.remote_fn import cached_remote_fn

    def triple(x):
        return 3 * x

    assert sd.get(cached_remote_fn(triple).options(num_cpus=1).remote(5)) == 15
