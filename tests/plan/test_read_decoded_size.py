"""Plan-only: a small Parquet read is told by its decoded size, not 5× its files' size.

Starts no processes: the files are written here, the rule runs on the logical plan.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streamdata.io.parquet import ParquetDatasource
from streamdata.io.parquet_sizing import decoded_bytes
from streamdata.plan.logical import LogicalPlan, Read
from streamdata.plan.map_nodes import MapBatches
from streamdata.plan.optimizer import optimize
from streamdata.plan.rules.base import OptimizerContext
from streamdata.plan.rules.read_parallelism import SMALL_READ_BYTES_PER_CPU, ReadParallelismRule

ONE_CPU = OptimizerContext(num_cpus=1)


@pytest.fixture(scope="module")
def floats_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Random floats barely compress: ~7.2 MB of files, 5× that (36 MB) is over one CPU's
    small-read size, the 7.2 MB they decode to is under it."""
    out = tmp_path_factory.mktemp("floats")
    rng = np.random.default_rng(0)
    for i in range(3):
        table = pa.table({"a": rng.random(300_000), "s": [f"v{j % 10}" for j in range(300_000)]})
        pq.write_table(table, out / f"part-{i}.parquet")
    return str(out)


def test_the_decoded_estimate_is_close_to_what_arrow_decodes(floats_dir: str) -> None:
    source = ParquetDatasource(floats_dir)
    actual = pq.read_table(floats_dir).nbytes
    assert 0.8 * actual <= source.estimate_decoded_bytes() <= 1.25 * actual
    assert source.estimate_inmemory_data_size() > 3 * actual  # the deliberately high one
    only_a = ParquetDatasource(floats_dir, columns=["a"])
    assert 0.8 * pq.read_table(floats_dir, columns=["a"]).nbytes <= only_a.estimate_decoded_bytes() \
        <= 1.25 * pq.read_table(floats_dir, columns=["a"]).nbytes


def test_a_read_small_once_decoded_gets_one_task_per_cpu(floats_dir: str) -> None:
    source = ParquetDatasource(floats_dir)
    assert source.estimate_inmemory_data_size() > SMALL_READ_BYTES_PER_CPU  # would have been 2
    assert source.estimate_decoded_bytes() < SMALL_READ_BYTES_PER_CPU
    out = ReadParallelismRule().apply(LogicalPlan(Read(datasource=source)), ONE_CPU)
    assert out.root.parallelism == 1
    # feeding a user function: two tasks per CPU whatever the size
    plan = optimize(LogicalPlan(MapBatches(inputs=(Read(datasource=source),), fn=lambda b: b)), ONE_CPU)
    reads = [plan.root] if isinstance(plan.root, Read) else []
    node = plan.root
    while not reads and node.inputs:
        node = node.inputs[0]
        reads = [node] if isinstance(node, Read) else []
    assert reads[0].parallelism == 2


def test_no_decoded_estimate_keeps_the_file_size_one(floats_dir: str) -> None:
    """A user schema (no footer read) or a nested column: the rule uses the size estimate."""
    schema = pq.read_schema(f"{floats_dir}/part-0.parquet")
    source = ParquetDatasource(floats_dir, schema=schema)
    assert source.estimate_decoded_bytes() is None
    out = ReadParallelismRule().apply(LogicalPlan(Read(datasource=source)), ONE_CPU)
    assert out.root.parallelism == 2


def test_decoded_bytes_of_types_it_cannot_tell(tmp_path) -> None:
    path = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"l": [[1, 2], [3]]}), path)
    assert decoded_bytes(pq.read_metadata(path)) is None  # nested: no estimate
    path = tmp_path / "nostats.parquet"
    pq.write_table(pa.table({"s": ["x", "yy"]}), path, write_statistics=False)
    assert decoded_bytes(pq.read_metadata(path)) is None  # strings without statistics
    path = tmp_path / "fixed.parquet"
    pq.write_table(pa.table({"i": pa.array([1, None, 3], pa.int32()), "b": [True, False, True]}), path)
    # i: 3 × 4 bytes and a validity bit each; b: a bit and a validity bit each
    assert decoded_bytes(pq.read_metadata(path)) == int(3 * 4 + 3 / 8 + 3 / 8 + 3 / 8)
