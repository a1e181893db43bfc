"""Lowering of aggregations: the partial step joins the task-pool map that makes the
blocks (as Ray fuses a task-pool map into an all-to-all's map side), without processes."""

from __future__ import annotations

import pyarrow as pa
import pytest

from streamdata.aggregate import Count, Sum
from streamdata.context import DataContext
from streamdata.exec.operators.all_to_all import AllToAllOperator
from streamdata.exec.operators.map_transformer import TaskContext
from streamdata.exec.operators.partial_aggregate import PartialAggregateStage
from streamdata.exec.operators.task_pool_map import TaskPoolMapOperator
from streamdata.exec.shuffle import groupby as G
from streamdata.io.memory import RangeDatasource
from streamdata.plan import logical as L
from streamdata.plan.cluster import ClusterInfo
from streamdata.plan.lowering import lower


def _lower(root: L.LogicalNode) -> AllToAllOperator:
    op = lower(L.LogicalPlan(root), DataContext(), ClusterInfo(num_cpus=2, num_gpus=1))
    return op  # type: ignore[return-value]


def test_a_groupby_after_a_read_runs_its_partial_step_in_the_read_tasks() -> None:
    read = L.Read(datasource=RangeDatasource(10), parallelism=2)
    agg = L.Aggregate(inputs=(read,), keys=("id",), aggs=(Sum("id"),))
    op = _lower(agg)
    assert isinstance(op, AllToAllOperator)
    assert op.spec.prepared and not op.spec.has_prepare
    (reader,) = op.input_dependencies
    assert isinstance(reader, TaskPoolMapOperator)
    assert [type(s).__name__ for s in reader.transformer.stages] == ["ReadStage", "PartialAggregateStage"]
    assert reader.name == "ReadRange->partial Aggregate(keys=['id'], sum(id))"


def test_a_groupby_after_a_filter_joins_the_fused_read_and_filter() -> None:
    read = L.Read(datasource=RangeDatasource(10), parallelism=2)
    filt = L.Filter(inputs=(read,), fn=lambda r: True)
    op = _lower(L.Aggregate(inputs=(filt,), keys=(), aggs=(Count(),)))
    stages = [type(s).__name__ for s in op.input_dependencies[0].transformer.stages]
    assert stages == ["ReadStage", "FilterStage", "PartialAggregateStage"]
    assert op.spec.single_partition and op.spec.prepared


@pytest.mark.parametrize("case", ["in-memory input", "read shared", "gpu map"])
def test_the_partial_step_stays_in_the_aggregate_when_it_must(case: str) -> None:
    read = L.Read(datasource=RangeDatasource(10), parallelism=2)
    src: L.LogicalNode = L.InputData() if case == "in-memory input" else read
    if case == "gpu map":
        src = L.MapBatches(inputs=(read,), fn=lambda b: b, ray_remote_args={"num_gpus": 1})
    agg = L.Aggregate(inputs=(src,), keys=("id",), aggs=(Sum("id"),))
    root: L.LogicalNode = agg
    if case == "read shared":
        root = L.Union(inputs=(agg, L.Limit(inputs=(read,), limit=1)))
    op = _lower(root)
    if case == "read shared":
        op = op.input_dependencies[0]
    assert isinstance(op, AllToAllOperator)
    assert not op.spec.prepared and op.spec.has_prepare
    upstream = op.input_dependencies[0]
    stages = getattr(getattr(upstream, "transformer", None), "stages", [])
    assert not any(isinstance(s, PartialAggregateStage) for s in stages)


def test_the_partial_stage_merges_its_buffers_into_one_partial() -> None:
    stage = PartialAggregateStage(name="agg", keys=("k",), aggs=(Sum("v"), Count()), buffer_bytes=1)
    blocks = [pa.table({"k": [1, 2, 1], "v": [1, 2, 3]}), pa.table({"k": [2, 3], "v": [10, 20]})]
    (out,) = list(stage.apply(iter(blocks), TaskContext(task_index=0)))
    final = G.finalize_aggregate(G.merge_partials([out], ["k"], [Sum("v"), Count()]), ["k"], [Sum("v"), Count()])
    assert final.to_pylist() == [{"k": 1, "sum(v)": 4, "count()": 2}, {"k": 2, "sum(v)": 12, "count()": 2},
                                 {"k": 3, "sum(v)": 20, "count()": 1}]
    assert list(stage.apply(iter([]), TaskContext(task_index=0))) == []


def test_the_partial_stage_names_a_missing_column() -> None:
    from streamdata.errors import ColumnNotFoundError
    stage = PartialAggregateStage(name="agg", keys=("k",), aggs=(Sum("nope"),))
    with pytest.raises(ColumnNotFoundError, match="nope"):
        list(stage.apply(iter([pa.table({"k": [1], "v": [1]})]), TaskContext(task_index=0)))


def test_which_all_to_alls_may_run_a_small_input_as_one_task() -> None:
    """Sort, join and aggregation partitions are a sizing knob (a small input runs as one
    task); a repartition's, a random shuffle's, a map_groups' and user-given sort
    boundaries fix what the output is, so they keep their partitions."""
    src = L.InputData()
    may = {
        "sort": L.Sort(inputs=(src,), keys=("id",)),
        "join": L.Join(inputs=(src, L.InputData()), on=("id",), num_partitions=4),
        "aggregate": L.Aggregate(inputs=(src,), keys=("id",), aggs=(Count(),), num_partitions=3),
    }
    may_not = {
        "sort with boundaries": L.Sort(inputs=(src,), keys=("id",), boundaries=(5,)),
        "repartition": L.Repartition(inputs=(src,), num_blocks=4, shuffle=True),
        "random shuffle": L.RandomShuffle(inputs=(src,)),
        "map_groups": L.MapGroups(inputs=(src,), keys=("id",), fn=lambda g: g),
    }
    for name, node in {**may, **may_not}.items():
        op = _lower(node)
        assert isinstance(op, AllToAllOperator), name
        assert op.spec.small_as_one_task is (name in may), name


def test_a_sort_after_a_read_sorts_runs_in_the_read_tasks() -> None:
    read = L.Read(datasource=RangeDatasource(10), parallelism=2)
    op = _lower(L.Sort(inputs=(read,), keys=("id",), descending=(True,)))
    assert isinstance(op, AllToAllOperator) and op.spec.presorted
    (reader,) = op.input_dependencies
    assert [type(s).__name__ for s in reader.transformer.stages] == ["ReadStage", "SortRunsStage"]
    assert reader.transformer.stages[-1].keys == (("id", "descending"),)


@pytest.mark.parametrize("case", ["in-memory input", "read shared", "gpu map"])
def test_a_sort_keeps_unsorted_inputs_when_it_must(case: str) -> None:
    read = L.Read(datasource=RangeDatasource(10), parallelism=2)
    src: L.LogicalNode = L.InputData() if case == "in-memory input" else read
    if case == "gpu map":
        src = L.MapBatches(inputs=(read,), fn=lambda b: b, ray_remote_args={"num_gpus": 1})
    node = L.Sort(inputs=(src,), keys=("id",))
    root: L.LogicalNode = node
    if case == "read shared":
        root = L.Union(inputs=(node, L.Limit(inputs=(read,), limit=1)))
    op = _lower(root)
    if case == "read shared":
        op = op.input_dependencies[0]
    assert isinstance(op, AllToAllOperator) and not op.spec.presorted


def test_an_aggregation_of_a_join_runs_its_partial_step_in_the_join_reduce() -> None:
    left = L.Read(datasource=RangeDatasource(10), parallelism=2)
    right = L.Read(datasource=RangeDatasource(5), parallelism=1)
    join = L.Join(inputs=(left, right), on=("id",))
    aggs = (Count(), Sum("id"))
    op = _lower(L.Aggregate(inputs=(join,), keys=(), aggs=aggs))
    assert op.spec.prepared
    (join_op,) = op.input_dependencies
    assert join_op.spec.partial_aggregate == ((), aggs)
    assert join_op.name == "Join(inner, on=['id'])->partial Aggregate(global, count(), sum(id))"
    parts = [pa.table({"id": [0, 1, 2, 3]}), pa.table({"id": [2, 3, 9]})]
    partial = join_op.spec.reduce([[parts[0]], [parts[1]]], index=0)
    final = G.finalize_aggregate(G.merge_partials([partial], (), aggs), (), aggs)
    assert final.to_pylist() == [{"count()": 2, "sum(id)": 5}]


def test_a_join_read_by_two_consumers_keeps_its_rows() -> None:
    left = L.Read(datasource=RangeDatasource(10), parallelism=2)
    right = L.Read(datasource=RangeDatasource(5), parallelism=1)
    join = L.Join(inputs=(left, right), on=("id",))
    both = L.Union(inputs=(L.Aggregate(inputs=(join,), keys=(), aggs=(Count(),)), join))
    op = lower(L.LogicalPlan(both), DataContext(), ClusterInfo(num_cpus=2, num_gpus=1))
    joins = [o for o in op.post_order() if isinstance(o, AllToAllOperator) and o.name.startswith("Join")]
    assert joins and all(o.spec.partial_aggregate is None for o in joins)


def _row_stage_of(root: L.LogicalNode):  # noqa: ANN202
    op = _lower(root)
    return op.input_dependencies[0].transformer.stages[-2]


def test_a_row_udf_before_a_fused_partial_step_builds_only_the_columns_it_reads() -> None:
    from streamdata.exec.operators.map_transformer import FlatMapStage, RowStage

    read = L.Read(datasource=RangeDatasource(10), parallelism=2)
    mapped = L.MapRows(inputs=(read,), fn=lambda r: r)
    stage = _row_stage_of(L.Aggregate(inputs=(mapped,), keys=("k",), aggs=(Count(), Sum("c"), Sum("k"))))
    assert isinstance(stage, RowStage) and stage.columns == ("k", "c")
    flat = L.FlatMap(inputs=(read,), fn=lambda r: [r])
    stage = _row_stage_of(L.Aggregate(inputs=(flat,), keys=(), aggs=(Count(),)))
    assert isinstance(stage, FlatMapStage) and stage.columns == ()
    # Count(on=...) reads its column
    stage = _row_stage_of(L.Aggregate(inputs=(flat,), keys=(), aggs=(Count("x", ignore_nulls=True),)))
    assert stage.columns == ("x",)


def test_the_row_stage_keeps_every_column_when_the_aggregation_may_read_any() -> None:
    from streamdata.aggregate import AggregateFn

    read = L.Read(datasource=RangeDatasource(10), parallelism=2)
    mapped = L.MapRows(inputs=(read,), fn=lambda r: r)
    users = AggregateFn(init=lambda k: 0, accumulate_row=lambda a, r: a + len(r),
                        merge=lambda a, b: a + b, name="width")
    stage = _row_stage_of(L.Aggregate(inputs=(mapped,), keys=(), aggs=(Count(), users)))
    assert stage.columns is None
    # a stage between the row UDF and the partial step reads what it likes
    filt = L.Filter(inputs=(mapped,), fn=lambda r: True)
    op = _lower(L.Aggregate(inputs=(filt,), keys=(), aggs=(Count(),)))
    stages = []
    while op.input_dependencies:
        op = op.input_dependencies[0]
        stages = list(getattr(getattr(op, "transformer", None), "stages", [])) + stages
    names = [type(s).__name__ for s in stages]
    assert names == ["ReadStage", "RowStage", "FilterStage", "PartialAggregateStage"]
    assert stages[1].columns is None


def test_count_runs_in_the_tasks_after_a_read_an_expression_or_a_task_pool_row_udf() -> None:
    from streamdata.dataset_consume import _count_in_tasks
    from streamdata.expressions import col

    read = L.Read(datasource=RangeDatasource(10), parallelism=2)
    assert _count_in_tasks(L.FlatMap(inputs=(read,), fn=lambda r: [r]))
    assert _count_in_tasks(L.MapRows(inputs=(read,), fn=lambda r: r))

    class Rows:
        def __call__(self, row: dict) -> dict:
            return row

    assert not _count_in_tasks(L.MapRows(inputs=(read,), fn=Rows, compute=L.ActorPoolStrategy(size=1)))
    assert not _count_in_tasks(L.MapRows(inputs=(read,), fn=lambda r: r, ray_remote_args={"num_gpus": 1}))
    assert not _count_in_tasks(L.MapBatches(inputs=(read,), fn=lambda b: b))
    assert _count_in_tasks(read)  # one whose metadata cannot say (a CSV read, a pushed filter)
    assert _count_in_tasks(L.Filter(inputs=(read,), expr=col("id") > 3))
    assert not _count_in_tasks(L.Filter(inputs=(read,), fn=lambda r: True))


def test_the_join_reduce_gathers_only_the_columns_its_fused_aggregation_reads() -> None:
    left = L.Read(datasource=RangeDatasource(10), parallelism=2)
    right = L.Read(datasource=RangeDatasource(5), parallelism=1)
    join = L.Join(inputs=(left, right), on=("id",))
    (join_op,) = _lower(L.Aggregate(inputs=(join,), keys=(), aggs=(Count(), Sum("id")))).input_dependencies
    assert join_op.spec.output_columns == ("id",)
    (join_op,) = _lower(L.Aggregate(inputs=(join,), keys=(), aggs=(Count(),))).input_dependencies
    assert join_op.spec.output_columns == ()
    parts = [pa.table({"id": [0, 1, 2, 3], "x": ["a", "b", "c", "d"]}), pa.table({"id": [2, 3, 9]})]
    partial = join_op.spec.reduce([[parts[0]], [parts[1]]], index=0)
    assert G.finalize_aggregate(G.merge_partials([partial], (), (Count(),)), (), (Count(),)).to_pylist() == [
        {"count()": 2}]


def test_a_users_aggregation_gets_every_joined_column() -> None:
    from streamdata.aggregate import AggregateFn
    join = L.Join(inputs=(L.Read(datasource=RangeDatasource(10), parallelism=2),
                          L.Read(datasource=RangeDatasource(5), parallelism=1)), on=("id",))
    agg = AggregateFn(init=lambda k: 0, accumulate_row=lambda a, r: a + 1, merge=lambda a, b: a + b, name="n")
    (join_op,) = _lower(L.Aggregate(inputs=(join,), keys=(), aggs=(agg,))).input_dependencies
    assert join_op.spec.partial_aggregate is not None and join_op.spec.output_columns is None
