"""Lowering logical plans to physical operators, without processes: dispatch by type,
read tasks left to the execution, the cluster's size given, not asked for."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from streamdata.context import DataContext
from streamdata.exec.operators.actor_pool_map import ActorPoolMapOperator
from streamdata.exec.operators.all_to_all import AllToAllOperator, SortSpec
from streamdata.exec.operators.all_to_all.map_groups import MapGroupsStage
from streamdata.exec.operators.input_data import InputDataOperator
from streamdata.exec.operators.task_pool_map import TaskPoolMapOperator
from streamdata.io.memory import RangeDatasource
from streamdata.plan import logical as L
from streamdata.plan.cluster import ClusterInfo
from streamdata.plan.lowering import lower
from streamdata.plan.lowering import lower as plan


class CountingRange(RangeDatasource):
    """A range that counts how often it was asked for read tasks."""

    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.asked: list[int] = []

    def get_read_tasks(self, parallelism: int):  # type: ignore[no-untyped-def]
        self.asked.append(parallelism)
        return super().get_read_tasks(parallelism)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class MySort(L.Sort):
    """A subclass under another name: lowered as a sort (by type, not by name)."""


def test_a_subclass_of_a_node_lowers_like_the_node() -> None:
    node = MySort(inputs=(L.InputData(),), keys=("x",))
    op = lower(L.LogicalPlan(node), DataContext(), ClusterInfo(num_cpus=2))
    assert isinstance(op, AllToAllOperator) and isinstance(op.spec, SortSpec)
    assert op.spec.keys == (("x", "ascending"),)


def test_a_node_without_lowering_is_named() -> None:
    @dataclass(frozen=True, slots=True, kw_only=True, eq=False)
    class Mystery(L.LogicalNode):
        pass

    with pytest.raises(NotImplementedError, match="Mystery"):
        lower(L.LogicalPlan(Mystery(inputs=(L.InputData(),))))


def test_read_tasks_are_made_when_the_execution_starts_not_when_lowering() -> None:
    src = CountingRange(100)
    op = lower(L.LogicalPlan(L.Read(datasource=src, parallelism=4)), DataContext(), ClusterInfo(num_cpus=2))
    assert isinstance(op, TaskPoolMapOperator)
    assert isinstance(op.input_dependencies[0], InputDataOperator)
    assert src.asked == []  # nothing asked, nothing put


def test_an_unsized_read_takes_its_parallelism_from_the_rule_and_the_given_cluster() -> None:
    small = CountingRange(1000)
    op = lower(L.LogicalPlan(L.Read(datasource=small)), DataContext(), ClusterInfo(num_cpus=3))
    # the tasks the input operator will put at start (made here without a runtime)
    read_tasks = op.input_dependencies[0]._read_tasks_factory()
    assert small.asked == [6]  # the rule's policy: 2 read tasks per CPU of the cluster given
    assert len(read_tasks) == 6
    assert op.estimated_output_bytes_per_task() > 0  # from the read tasks' metadata


def test_a_map_after_a_read_joins_it_and_a_write_joins_the_map() -> None:
    read = L.Read(datasource=RangeDatasource(10), parallelism=2)
    mapped = L.MapBatches(inputs=(read,), fn=lambda b: b, batch_size=4)
    op = plan(L.LogicalPlan(mapped), DataContext())
    assert op.name == "ReadRange->MapBatches(<lambda>)"
    assert [type(s).__name__ for s in op.transformer.stages] == ["ReadStage", "BatchStage"]


def test_a_shared_node_becomes_one_operator() -> None:
    src = L.InputData()
    union = L.Union(inputs=(L.Limit(inputs=(src,), limit=1), L.Limit(inputs=(src,), limit=2)))
    op = lower(L.LogicalPlan(union))
    a, b = op.input_dependencies
    assert a.input_dependencies[0] is b.input_dependencies[0]


def test_map_groups_with_an_actor_pool_is_a_shuffle_then_a_pool() -> None:
    class PerGroup:
        def __call__(self, group):  # type: ignore[no-untyped-def]
            return group

    node = L.MapGroups(inputs=(L.InputData(),), keys=("k",), fn=PerGroup,
                       compute=L.ActorPoolStrategy(min_size=1, max_size=2))
    op = lower(L.LogicalPlan(node))
    assert isinstance(op, ActorPoolMapOperator)
    assert isinstance(op.transformer.stages[0], MapGroupsStage)
    shuffle = op.input_dependencies[0]
    assert isinstance(shuffle, AllToAllOperator) and shuffle.spec.apply_fn is False


class Doubler:
    def __call__(self, batch):  # type: ignore[no-untyped-def]
        return batch


def test_an_actor_map_right_after_a_read_runs_the_read_tasks_in_its_actors() -> None:
    """As Ray fuses Read → actor map: no read task holds a CPU the pool needs, no block
    crosses processes between the read and the map."""
    src = CountingRange(100)
    read = L.Read(datasource=src, parallelism=4)
    mapped = L.MapBatches(inputs=(read,), fn=Doubler, batch_format="pandas",
                          compute=L.ActorPoolStrategy(min_size=2, max_size=2))
    op = lower(L.LogicalPlan(mapped), DataContext(), ClusterInfo(num_cpus=2))
    assert isinstance(op, ActorPoolMapOperator)
    assert op.name == "ReadRange->MapBatches(Doubler)"
    assert [type(s).__name__ for s in op.transformer.stages] == ["ReadStage", "BatchStage"]
    assert isinstance(op.input_dependencies[0], InputDataOperator)
    assert (op.min_size, op.max_size) == (2, 2)
    assert src.asked == []  # read tasks still made when the execution starts
    assert len(op.input_dependencies[0]._read_tasks_factory()) == 4
    assert op.estimated_output_bytes_per_task() > 0  # the estimate reached the pool


@pytest.mark.parametrize("case", ["gpu actors", "read with resources", "read shared"])
def test_an_actor_map_keeps_its_read_apart_when_it_must(case: str) -> None:
    read = L.Read(datasource=RangeDatasource(10), parallelism=2,
                  ray_remote_args={"num_cpus": 0.5} if case == "read with resources" else {})
    remote = {"num_gpus": 1} if case == "gpu actors" else {}
    mapped = L.MapBatches(inputs=(read,), fn=Doubler, ray_remote_args=remote,
                          compute=L.ActorPoolStrategy(min_size=1, max_size=1))
    root: L.LogicalNode = mapped
    if case == "read shared":
        root = L.Union(inputs=(mapped, L.Limit(inputs=(read,), limit=1)))
    op = lower(L.LogicalPlan(root), DataContext(), ClusterInfo(num_cpus=2, num_gpus=1))
    pool = op if case != "read shared" else op.input_dependencies[0]
    assert isinstance(pool, ActorPoolMapOperator)
    assert [type(s).__name__ for s in pool.transformer.stages] == ["BatchStage"]
    assert isinstance(pool.input_dependencies[0], TaskPoolMapOperator)


def test_read_with_column_write_runs_in_one_task_per_read(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``read → with_column(expr) → write``: the expression is a stage of the read task (Arrow
    compute on the block, no batch conversion) and the write is fused after it, so each
    read task reads, computes and writes its files without a block crossing processes."""
    from streamdata.expressions import col
    from streamdata.io.parquet import ParquetDatasink
    from streamdata.plan.optimizer import optimize
    from streamdata.plan.rules.base import OptimizerContext

    read = L.Read(datasource=RangeDatasource(100))
    with_c = L.WithColumn(inputs=(read,), column="c", expr=col("id") * 2 + col("id"))
    write = L.Write(inputs=(with_c,), datasink=ParquetDatasink(str(tmp_path / "out")))
    optimized = optimize(L.LogicalPlan(write), OptimizerContext(num_cpus=2))
    op = lower(optimized, DataContext(), ClusterInfo(num_cpus=2))
    assert isinstance(op, TaskPoolMapOperator)
    assert [type(s).__name__ for s in op.transformer.stages] == ["ReadStage", "WithColumnStage", "WriteStage"]
    assert isinstance(op.input_dependencies[0], InputDataOperator)  # nothing between the read and the write
