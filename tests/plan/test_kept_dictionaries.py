"""Plan-only: the lowering lets a read keep its dictionary columns only for a Parquet sink in
the same task, every stage in between letting them pass (no processes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streamdata.context import DataContext
from streamdata.exec.operators.map_transformer import ReadStage
from streamdata.exec.operators.task_pool_map import TaskPoolMapOperator
from streamdata.expressions import col
from streamdata.io.csv import CSVDatasink
from streamdata.io.parquet import ParquetDatasink, ParquetDatasource
from streamdata.plan import logical as L
from streamdata.plan.cluster import ClusterInfo
from streamdata.plan.lowering import lower
from streamdata.plan.optimizer import optimize
from streamdata.plan.rules.base import OptimizerContext


def _udf(batch: Any) -> Any:  # pragma: no cover - never run here
    return batch


class MySink(ParquetDatasink):
    """A subclass: its methods may look at the blocks, so it gets them expanded."""


@pytest.fixture()
def source(tmp_path: Path) -> ParquetDatasource:
    pq.write_table(pa.table({"id": list(range(100)), "a": [0.5] * 100, "s": ["x", "y"] * 50}),
                   tmp_path / "part-0.parquet")
    return ParquetDatasource(str(tmp_path / "part-0.parquet"))


def _read_stages(plan_end: L.LogicalNode) -> list[ReadStage]:
    op = lower(optimize(L.LogicalPlan(plan_end), OptimizerContext(num_cpus=2)), DataContext(),
               ClusterInfo(num_cpus=2))
    found: list[ReadStage] = []
    todo = [op]
    while todo:
        o = todo.pop()
        todo.extend(o.input_dependencies)
        stages = getattr(getattr(o, "transformer", None), "stages", [])
        found += [s for s in stages if isinstance(s, ReadStage)]
    return found


def _kept(source: ParquetDatasource, *maps: Any, sink: Any = None, **write: Any) -> frozenset[str] | None:
    node: L.LogicalNode = L.Read(datasource=source)
    for make in maps:
        node = make(node)
    sink = sink if sink is not None else ParquetDatasink("/tmp/unused-kept-dictionaries")
    (read,) = _read_stages(L.Write(inputs=(node,), datasink=sink, **write))
    return read.kept_dictionaries


def test_read_map_batches_write_parquet_keeps_every_dictionary(source: ParquetDatasource) -> None:
    assert _kept(source, lambda n: L.MapBatches(inputs=(n,), fn=_udf)) == frozenset()
    assert _kept(source, lambda n: L.MapBatches(inputs=(n,), fn=_udf, batch_format="pandas")) == frozenset()
    assert _kept(source) == frozenset()


def test_expressions_exclude_the_columns_they_read_and_write(source: ParquetDatasource) -> None:
    kept = _kept(source, lambda n: L.WithColumn(inputs=(n,), column="c", expr=col("a") * 2 + col("id")),
                 lambda n: L.WithColumn(inputs=(n,), column="s", expr=col("a") > 1))
    assert kept == frozenset({"a", "id", "c", "s"})


def test_partition_columns_are_excluded(source: ParquetDatasource) -> None:
    assert _kept(source, sink=ParquetDatasink("/tmp/unused", partition_cols=["s"])) == frozenset({"s"})


@pytest.mark.parametrize("case", ["row map", "flat_map", "filter fn", "rename", "csv sink", "subclass",
                                  "write apart"])
def test_nothing_is_kept_where_a_stage_or_sink_could_see_it(source: ParquetDatasource, case: str) -> None:
    maps: list[Any] = []
    sink = None
    write: dict[str, Any] = {}
    if case == "row map":
        maps = [lambda n: L.MapRows(inputs=(n,), fn=_udf)]
    elif case == "flat_map":
        maps = [lambda n: L.FlatMap(inputs=(n,), fn=lambda r: [r])]
    elif case == "filter fn":
        maps = [lambda n: L.Filter(inputs=(n,), fn=lambda r: True)]
    elif case == "rename":
        maps = [lambda n: L.Project(inputs=(n,), rename={"s": "t"})]
    elif case == "csv sink":
        sink = CSVDatasink("/tmp/unused-csv")
    elif case == "subclass":
        sink = MySink("/tmp/unused-sub")
    else:  # a write with its own concurrency runs in its own tasks: blocks cross processes
        write = {"concurrency": 1}
    assert _kept(source, *maps, sink=sink, **write) is None


def test_a_read_that_does_not_write_keeps_nothing(source: ParquetDatasource) -> None:
    (read,) = _read_stages(L.MapBatches(inputs=(L.Read(datasource=source),), fn=_udf))
    assert read.kept_dictionaries is None
    op = lower(optimize(L.LogicalPlan(L.Read(datasource=source)), OptimizerContext(num_cpus=2)),
               DataContext(), ClusterInfo(num_cpus=2))
    assert isinstance(op, TaskPoolMapOperator) and op.transformer.stages[0].kept_dictionaries is None
