"""Lowering logical plans to physical operators, and running what the planner makes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest
from exec_testutil import column_values

from streamdata.context import DataContext
from streamdata.exec.executor import StreamingExecutor
from streamdata.exec.operators.actor_pool_map import ActorPoolMapOperator
from streamdata.exec.operators.input_data import InputDataOperator
from streamdata.exec.operators.limit import LimitOperator
from streamdata.exec.operators.map_transformer import ReadStage, WriteStage
from streamdata.exec.operators.task_pool_map import TaskPoolMapOperator
from streamdata.exec.operators.union import UnionOperator
from streamdata.exec.operators.zip import ZipOperator
from streamdata.expressions import col
from streamdata.io.datasink import Datasink
from streamdata.io.memory import RangeDatasource
from streamdata.plan import logical as L
from streamdata.plan.lowering import lower as plan, map_stages

RUNTIME_INIT = {"num_cpus": 2}


def read(n: int = 100, blocks: int = 4, **kw: Any) -> L.Read:
    return L.Read(datasource=RangeDatasource(n), parallelism=blocks, **kw)


def names(dag: Any) -> list[str]:
    return [op.name for op in dag.post_order()]


class AddOne:
    def __call__(self, batch: dict) -> dict:
        return {"id": batch["id"] + 1}


def test_task_map_after_read_runs_in_the_read_tasks() -> None:
    node = L.MapBatches(inputs=(read(),), fn=lambda b: b, label="MapBatches(f)")
    dag = plan(L.LogicalPlan(node))
    assert isinstance(dag, TaskPoolMapOperator) and dag.name == "ReadRange->MapBatches(f)"
    assert isinstance(dag.transformer.stages[0], ReadStage)
    assert isinstance(dag.input_dependencies[0], InputDataOperator)


def test_gpu_map_stays_separate_from_the_read_and_a_cpu_actor_map_runs_it() -> None:
    gpu = L.MapBatches(inputs=(read(),), fn=lambda b: b, ray_remote_args={"num_gpus": 1}, label="gpu")
    assert names(plan(L.LogicalPlan(gpu))) == ["ReadRange", "ReadRange", "gpu"]
    gpu_actor = L.MapBatches(inputs=(read(),), fn=AddOne, ray_remote_args={"num_gpus": 1},
                             compute=L.ActorPoolStrategy(min_size=1, max_size=1), label="gpu model")
    assert names(plan(L.LogicalPlan(gpu_actor))) == ["ReadRange", "ReadRange", "gpu model"]
    # a CPU actor pool runs the read tasks itself, as Ray fuses Read → actor map
    actor = L.MapBatches(inputs=(read(),), fn=AddOne, compute=L.ActorPoolStrategy(min_size=1, max_size=3),
                         label="model")
    dag = plan(L.LogicalPlan(actor))
    assert isinstance(dag, ActorPoolMapOperator) and (dag.min_size, dag.max_size) == (1, 3)
    assert names(dag) == ["ReadRange", "ReadRange->model"]
    assert isinstance(dag.transformer.stages[0], ReadStage)


def test_fused_map_becomes_one_chain_and_batch_size_coalesces() -> None:
    fused = L.FusedMap(inputs=(L.InputData(),), stages=(
        L.MapBatches(fn=lambda b: b, batch_size=64), L.Filter(expr=col("id") > 3),
        L.Project(select=("id",))))
    dag = plan(L.LogicalPlan(fused))
    assert [type(s).__name__ for s in dag.transformer.stages] == ["BatchStage", "FilterStage", "ProjectStage"]
    assert dag._bundler.min_rows == 64


def test_every_map_kind_has_a_stage() -> None:
    kinds = [L.MapRows(fn=lambda r: r), L.FlatMap(fn=lambda r: [r]), L.Filter(fn=lambda r: True),
             L.WithColumn(column="x", expr=col("id") + 1), L.RandomSample(fraction=0.5),
             L.Project(drop=("id",))]
    assert [type(map_stages(k)[0]).__name__ for k in kinds] == [
        "RowStage", "FlatMapStage", "FilterStage", "WithColumnStage", "RandomSampleStage", "ProjectStage"]


def test_limit_union_zip_and_shared_subtrees() -> None:
    shared = L.MapBatches(inputs=(read(),), fn=lambda b: b, label="shared")
    union = L.Union(inputs=(shared, shared))
    dag = plan(L.LogicalPlan(L.Limit(inputs=(union,), limit=5)))
    assert isinstance(dag, LimitOperator) and isinstance(dag.input_dependencies[0], UnionOperator)
    ups = dag.input_dependencies[0].input_dependencies
    assert ups[0] is ups[1]  # a node used twice is lowered once
    assert isinstance(plan(L.LogicalPlan(L.Zip(inputs=(read(), read())))), ZipOperator)


def test_all_to_all_nodes_use_the_all_to_all_lowering() -> None:
    from streamdata.exec.operators.all_to_all import AllToAllOperator

    dag = plan(L.LogicalPlan(L.Sort(inputs=(read(),), keys=("id",))))
    assert isinstance(dag, AllToAllOperator) and dag.name.startswith("Sort")


def test_unknown_node_is_named() -> None:
    @dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
    class Mystery(L.LogicalNode):
        arity: ClassVar[int | None] = 0

    with pytest.raises(NotImplementedError, match="Mystery"):
        plan(L.LogicalPlan(Mystery()))


class _CountingSink(Datasink):
    def write(self, blocks, ctx):  # type: ignore[no-untyped-def]
        return sum(b.num_rows for b in blocks)


def test_write_joins_the_map_before_it() -> None:
    node = L.Write(inputs=(L.MapBatches(inputs=(read(),), fn=lambda b: b, label="f"),), datasink=_CountingSink())
    dag = plan(L.LogicalPlan(node))
    assert isinstance(dag.transformer.stages[-1], WriteStage)
    assert names(dag) == ["ReadRange", "ReadRange->f->Write(Write)"]


# ---------------------------------------------------------------- running planned DAGs


def run(node: L.LogicalNode) -> list:
    ctx = DataContext(enable_progress_bars=False)
    return list(StreamingExecutor(ctx).execute(plan(L.LogicalPlan(node), ctx)))


def test_planned_read_map_filter_runs_in_order(runtime: Any) -> None:
    node = L.Filter(inputs=(L.MapBatches(inputs=(read(1000, 8),), fn=lambda b: {"id": b["id"] * 3}),),
                    expr=col("id") % 2 == 0)
    assert column_values(run(node), "id") == [3 * i for i in range(1000) if (3 * i) % 2 == 0]


def test_planned_actor_pool_and_limit(runtime: Any) -> None:
    node = L.Limit(inputs=(L.MapBatches(inputs=(read(1000, 10),), fn=AddOne,
                                        compute=L.ActorPoolStrategy(size=2)),), limit=25)
    assert column_values(run(node), "id") == list(range(1, 26))


def test_planned_write_returns_one_result_per_task(runtime: Any) -> None:
    from streamdata.block import to_numpy

    out = run(L.Write(inputs=(read(100, 4),), datasink=_CountingSink()))
    from streamdata.core import api as rt
    results = [v for b in out for ref, _ in b.blocks for v in to_numpy(rt.get(ref))["write_result"]]
    assert sorted(results) == [25, 25, 25, 25]


def test_planned_sort_end_to_end(runtime: Any) -> None:
    node = L.Sort(inputs=(L.MapBatches(inputs=(read(300, 3),), fn=lambda b: {"id": -b["id"]}),), keys=("id",))
    assert column_values(run(node), "id") == sorted(-i for i in range(300))


def test_default_batch_size_from_the_context() -> None:
    ctx = DataContext(default_batch_size=7)
    stage = map_stages(L.MapBatches(fn=lambda b: b), ctx)[0]
    assert stage.batch_size == 7
    assert np.isscalar(stage.batch_size)
