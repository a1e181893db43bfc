"""How a small sort of sorted runs plans its reduce, without processes: one reduce task per
CPU over every run (no sample, no map task) when the key is one numeric column and each
task gets enough data; one merge task otherwise, as before."""

from __future__ import annotations

import pyarrow as pa
import pytest

from streamdata.context import DataContext
from streamdata.exec.interfaces import ExecutionOptions, ExecutionResources, RefBundle
from streamdata.exec.operators.all_to_all import AllToAllOperator
from streamdata.exec.operators.all_to_all.policy import SPLIT_MERGE_BYTES, split_merge_ways
from streamdata.exec.operators.all_to_all.spec import SortSpec
from streamdata.exec.operators.input_data import InputDataOperator
from streamdata.block_metadata import BlockMetadata
from streamdata.io.memory import RangeDatasource
from streamdata.plan import logical as L
from streamdata.plan.cluster import ClusterInfo
from streamdata.plan.lowering import lower

SCHEMA = pa.schema([("id", pa.int64()), ("a", pa.float64()), ("s", pa.string())])


def _planned(spec: SortSpec, *, blocks: int = 2, block_bytes: int = 6_400_000, cpus: float = 2,
             memory: float = float("inf"), **op_args) -> AllToAllOperator:
    """The operator after its inputs arrived and it planned its reduce (nothing launched:
    the refs are placeholders)."""
    op = AllToAllOperator("Sort", [InputDataOperator("in", bundles=[])], spec, **op_args)
    op.start(ExecutionOptions(resource_limits=ExecutionResources(cpu=cpus, object_store_memory=memory),
                              data_context=DataContext()))
    meta = BlockMetadata(num_rows=400_000, size_bytes=block_bytes, schema=SCHEMA)
    for i in range(blocks):
        op.add_input(RefBundle(blocks=((f"run-{i}", meta),), owns_blocks=True), 0)
    op._plan()
    op._start_map()
    return op


def _runs_spec(key: str = "a", order: str = "ascending") -> SortSpec:
    return SortSpec(keys=((key, order),), presorted=True)


@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_the_suites_sort_plans_two_reduce_tasks_over_both_runs(order: str) -> None:
    op = _planned(_runs_spec(order=order))
    assert op.num_outputs_total() == 2 and op.spec.split_runs == 2
    assert op.progress_str() == "reduce: 0 prepare, 0+0 map, 0+2 reduce, 2 partitions"
    assert not op._prepare  # no sample tasks


@pytest.mark.parametrize("case", ["string key", "two keys", "unsorted blocks", "one cpu", "too small"])
def test_a_sort_keeps_one_merge_task_when_the_merge_may_not_be_split(case: str) -> None:
    spec = {
        "string key": _runs_spec("s"),
        "two keys": SortSpec(keys=(("a", "ascending"), ("id", "ascending")), presorted=True),
        "unsorted blocks": SortSpec(keys=(("a", "ascending"),)),
    }.get(case, _runs_spec())
    args: dict = {"one cpu": {"cpus": 1}, "too small": {"block_bytes": SPLIT_MERGE_BYTES // 2 - 1}}.get(case, {})
    op = _planned(spec, **args)
    assert op.spec.split_runs == 1 and op.num_outputs_total() == 1


def test_split_merge_ways_follows_cpus_size_and_rows() -> None:
    assert split_merge_ways(total_bytes=12 << 20, total_rows=800_000, cpus=2) == 2
    assert split_merge_ways(total_bytes=12 << 20, total_rows=800_000, cpus=8) == 3
    assert split_merge_ways(total_bytes=12 << 20, total_rows=2, cpus=8) == 2
    assert split_merge_ways(total_bytes=12 << 20, total_rows=800_000, cpus=1) == 1
    assert split_merge_ways(total_bytes=0, total_rows=0, cpus=4) == 1
    assert split_merge_ways(total_bytes=100, total_rows=None, cpus=4, split_merge_bytes=10) == 4


def test_a_sort_after_a_read_lowers_to_a_spec_that_may_split_its_merge() -> None:
    read = L.Read(datasource=RangeDatasource(10), parallelism=2)
    op = lower(L.LogicalPlan(L.Sort(inputs=(read,), keys=("id",))), DataContext(), ClusterInfo(num_cpus=2))
    assert isinstance(op, AllToAllOperator) and op.spec.presorted
    assert op.spec.can_split_runs(pa.schema([("id", pa.int64())]))
    in_memory = lower(L.LogicalPlan(L.Sort(inputs=(L.InputData(),), keys=("id",))), DataContext(),
                      ClusterInfo(num_cpus=2))
    assert not in_memory.spec.can_split_runs(pa.schema([("id", pa.int64())]))
