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
from streamdata.io.datasink import Datasink
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


def test_auto_batch_size_reaches_the_stage_and_coalesces_nothing() -> None:
    auto = L.MapBatches(inputs=(L.InputData(),), fn=lambda b: b, batch_size="auto")
    op = plan(L.LogicalPlan(auto), DataContext())
    assert isinstance(op, TaskPoolMapOperator)
    assert op.transformer.stages[0].batch_size == "auto"
    assert op._bundler.min_rows is None  # as Ray: "auto" is resolved in each task
    sized = L.MapBatches(inputs=(L.InputData(),), fn=lambda b: b, batch_size=8)
    assert plan(L.LogicalPlan(sized), DataContext())._bundler.min_rows == 8


def test_a_zip_of_three_inputs_is_one_operator_over_three() -> None:
    zipped = L.Zip(inputs=(L.InputData(), L.InputData(), L.InputData()))
    op = plan(L.LogicalPlan(zipped), DataContext())
    assert op.name == "Zip" and len(op.input_dependencies) == 3


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


class _NullSink(Datasink):
    name = "Null"

    def write(self, blocks, ctx):  # type: ignore[no-untyped-def]  # pragma: no cover - never run here
        return None


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


def _double(batch):  # type: ignore[no-untyped-def]  # pragma: no cover - never run here
    return batch


def test_a_read_run_by_an_actor_pool_is_split_finer_so_what_follows_overlaps_it() -> None:
    """Issue 14: the pool holds its CPUs all along; the tasks after it run on what is
    left and overlap it block by block, so its read aims at 8 tasks per CPU, not 2."""
    big = CountingRange(10_000_000)  # 80 MB: room for 16 blocks over target_min_block_size
    read = L.Read(datasource=big, parallelism=4)  # what the rule chose for 2 CPUs
    mapped = L.MapBatches(inputs=(read,), fn=Doubler, batch_format="pandas",
                          compute=L.ActorPoolStrategy(min_size=1, max_size=1))
    after = L.MapBatches(inputs=(mapped,), fn=_double)  # A → T: two operators
    op = lower(L.LogicalPlan(after), DataContext(), ClusterInfo(num_cpus=2))
    pool = op.input_dependencies[0]
    assert isinstance(pool, ActorPoolMapOperator)
    assert len(pool.input_dependencies[0]._read_tasks_factory()) == 16
    assert big.asked == [16]
    # the same read on its own (a task pool) keeps the rule's choice
    small_op = lower(L.LogicalPlan(L.Read(datasource=CountingRange(10_000_000), parallelism=4)),
                     DataContext(), ClusterInfo(num_cpus=2))
    assert len(small_op.input_dependencies[0]._read_tasks_factory()) == 4


def test_an_actor_pools_read_keeps_the_users_block_count_and_the_minimum_block_size() -> None:
    asked = CountingRange(10_000_000)
    read = L.Read(datasource=asked, parallelism=3, override_num_blocks=3)
    mapped = L.MapBatches(inputs=(read,), fn=Doubler, compute=L.ActorPoolStrategy(min_size=1, max_size=1))
    lower(L.LogicalPlan(mapped), DataContext(), ClusterInfo(num_cpus=2)).input_dependencies[0]._read_tasks_factory()
    assert asked.asked == [3]
    tiny = CountingRange(1000)  # 8 KB: one block's worth; the rule's floor of 2 per CPU stays
    mapped = L.MapBatches(inputs=(L.Read(datasource=tiny, parallelism=4),), fn=Doubler,
                          compute=L.ActorPoolStrategy(min_size=1, max_size=1))
    lower(L.LogicalPlan(mapped), DataContext(), ClusterInfo(num_cpus=2)).input_dependencies[0]._read_tasks_factory()
    assert tiny.asked == [4]


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


def test_a_read_fused_with_its_write_estimates_one_result_row_per_task() -> None:
    """Issue 14, wave 9: ``read → map_batches → write`` runs as one task per read task whose
    output is the write's one-row result. Estimated as the read's size, the first task ran
    alone under a budget smaller than a read task (``larger_than_memory``: 108–162 MiB per
    task, 80 MiB budget) until it finished; estimated as a result row, one task per CPU
    starts at once, and the backpressure policy lets the second in."""
    from streamdata.exec.backpressure import may_launch
    from streamdata.exec.interfaces import ExecutionResources
    from streamdata.exec.operators.map_operator import WRITE_RESULT_BYTES
    from streamdata.exec.resources import OpResourceState

    def fused(write: bool) -> TaskPoolMapOperator:
        read = L.Read(datasource=RangeDatasource(400_000), parallelism=4)
        node: L.LogicalNode = L.MapBatches(inputs=(read,), fn=len)
        if write:
            node = L.Write(inputs=(node,), datasink=_NullSink())
        op = lower(L.LogicalPlan(node), DataContext(), ClusterInfo(num_cpus=2))
        assert isinstance(op, TaskPoolMapOperator)
        op.input_dependencies[0]._read_tasks_factory()  # what the execution does at start
        return op

    reads, writes = fused(write=False), fused(write=True)
    assert [type(s).__name__ for s in writes.transformer.stages] == ["ReadStage", "BatchStage", "WriteStage"]
    per_read_task = reads.estimated_output_bytes_per_task()
    assert per_read_task >= 400_000 * 8 / 4  # the read tasks' metadata: 8 bytes a row
    assert writes.estimated_output_bytes_per_task() == WRITE_RESULT_BYTES
    budget = per_read_task / 2  # smaller than one read task
    for op, second_may_start in ((reads, False), (writes, True)):
        one_running = OpResourceState(name=op.name, queued_inputs=3, active_tasks=1,
                                      pending_output_bytes=op.estimated_output_bytes_per_task(),
                                      incremental=op.incremental_resource_usage())
        assert may_launch(0, [one_running], [budget], ExecutionResources(cpu=1),
                          ExecutionResources(cpu=2)) is second_may_start


class AsyncDoubler:
    async def __call__(self, batch):  # type: ignore[no-untyped-def]  # pragma: no cover - never run here
        return batch


def test_a_write_after_an_actor_pool_runs_in_its_calls() -> None:
    """Issue 14, wave 5: ``read → map_batches(class) → write``: each actor call maps and
    writes its block; no block crosses processes to a write task (which would run on the
    CPUs the pool leaves, one round trip per block). When the pool may take every CPU,
    its actors also read."""
    read = L.Read(datasource=RangeDatasource(1000), parallelism=4)
    mapped = L.MapBatches(inputs=(read,), fn=Doubler, batch_format="pandas",
                          compute=L.ActorPoolStrategy(min_size=2, max_size=2))
    op = lower(L.LogicalPlan(L.Write(inputs=(mapped,), datasink=_NullSink())), DataContext(),
               ClusterInfo(num_cpus=2))
    assert isinstance(op, ActorPoolMapOperator)
    assert op.name == "ReadRange->MapBatches(Doubler)->Write(Null)"
    assert [type(s).__name__ for s in op.transformer.stages] == ["ReadStage", "BatchStage", "WriteStage"]
    assert isinstance(op.input_dependencies[0], InputDataOperator)


@pytest.mark.parametrize("sizes", [(1, 1), (1, 3)])
def test_a_pool_that_writes_and_leaves_a_cpu_free_lets_read_tasks_use_it(sizes) -> None:  # type: ignore[no-untyped-def]
    """Issue 14, wave 5: with the write in the pool's calls, the CPUs the pool leaves have
    nothing else to run, so the read runs there as tasks (the rule's block count, not the
    finer split of a read in actors) and the actors only convert, call and write."""
    src = CountingRange(10_000_000)
    read = L.Read(datasource=src, parallelism=4)
    low, high = sizes
    mapped = L.MapBatches(inputs=(read,), fn=Doubler, batch_format="pandas",
                          compute=L.ActorPoolStrategy(min_size=low, max_size=high))
    op = lower(L.LogicalPlan(L.Write(inputs=(mapped,), datasink=_NullSink())), DataContext(),
               ClusterInfo(num_cpus=4 if high == 3 else 2))
    assert isinstance(op, ActorPoolMapOperator)
    assert [type(s).__name__ for s in op.transformer.stages] == ["BatchStage", "WriteStage"]
    reads = op.input_dependencies[0]
    assert isinstance(reads, TaskPoolMapOperator)
    assert [type(s).__name__ for s in reads.transformer.stages] == ["ReadStage"]
    assert len(reads.input_dependencies[0]._read_tasks_factory()) == 4 and src.asked == [4]


@pytest.mark.parametrize("case", ["pool may grow", "pool holds every CPU", "no write", "write apart"])
def test_a_pool_keeps_its_read_when_its_cpus_are_not_left_free(case: str) -> None:
    read = L.Read(datasource=RangeDatasource(1000), parallelism=4)
    compute = {"pool may grow": L.ActorPoolStrategy(min_size=1),
               "pool holds every CPU": L.ActorPoolStrategy(size=2)}.get(case, L.ActorPoolStrategy(size=1))
    mapped = L.MapBatches(inputs=(read,), fn=Doubler, batch_format="pandas", compute=compute)
    root: L.LogicalNode = mapped
    if case != "no write":
        root = L.Write(inputs=(mapped,), datasink=_NullSink(),
                       concurrency=1 if case == "write apart" else None)
    op = lower(L.LogicalPlan(root), DataContext(), ClusterInfo(num_cpus=2))
    pool = op.input_dependencies[0] if case == "write apart" else op
    assert isinstance(pool, ActorPoolMapOperator)
    assert type(pool.transformer.stages[0]).__name__ == "ReadStage"
    assert isinstance(pool.input_dependencies[0], InputDataOperator)
    # an actor pool fed by anything else takes the write the same way
    pool_of_input = L.MapBatches(inputs=(L.InputData(),), fn=Doubler,
                                 compute=L.ActorPoolStrategy(min_size=2, max_size=2))
    op = lower(L.LogicalPlan(L.Write(inputs=(pool_of_input,), datasink=_NullSink())),
               DataContext(), ClusterInfo(num_cpus=2))
    assert isinstance(op, ActorPoolMapOperator)
    assert [type(s).__name__ for s in op.transformer.stages] == ["BatchStage", "WriteStage"]


@pytest.mark.parametrize("case", ["gpu actors", "concurrent calls", "true multi-threading", "async class",
                                  "write concurrency", "write remote args", "min rows per write",
                                  "pool shared"])
def test_a_write_after_an_actor_pool_keeps_its_own_tasks_when_it_must(case: str) -> None:
    compute = L.ActorPoolStrategy(
        min_size=1, max_size=1,
        max_concurrent_calls_per_actor=2 if case == "concurrent calls" else None,
        enable_true_multi_threading=True if case == "true multi-threading" else None)
    mapped = L.MapBatches(inputs=(L.InputData(),), fn=AsyncDoubler if case == "async class" else Doubler,
                          compute=compute, ray_remote_args={"num_gpus": 1} if case == "gpu actors" else {})
    write = L.Write(inputs=(mapped,), datasink=_NullSink(),
                    concurrency=1 if case == "write concurrency" else None,
                    ray_remote_args={"num_cpus": 0.5} if case == "write remote args" else {},
                    min_rows_per_write=100 if case == "min rows per write" else None)
    root: L.LogicalNode = write
    if case == "pool shared":
        root = L.Union(inputs=(write, L.Limit(inputs=(mapped,), limit=1)))
    op = lower(L.LogicalPlan(root), DataContext(), ClusterInfo(num_cpus=2, num_gpus=1))
    write_op = op if case != "pool shared" else op.input_dependencies[0]
    assert isinstance(write_op, TaskPoolMapOperator)
    assert [type(s).__name__ for s in write_op.transformer.stages] == ["WriteStage"]
    pool = write_op.input_dependencies[0]
    assert isinstance(pool, ActorPoolMapOperator)
    assert [type(s).__name__ for s in pool.transformer.stages] == ["BatchStage"]
