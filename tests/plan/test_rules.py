"""Unit tests of each optimizer rule, on plans only (no processes, no runtime)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from streamdata.aggregate import AggregateFn, Count, Sum
from streamdata.expressions import col
from streamdata.expressions import random as expr_random
from streamdata.io.datasource import Datasource
from streamdata.plan.logical import (
    ActorPoolStrategy, Aggregate, Filter, FusedMap, Join, Limit, LogicalPlan, MapBatches, MapRows,
    Project, RandomShuffle, Read, Repartition, Sort, TaskPoolStrategy, Union, WithColumn, Zip,
)
from streamdata.plan.optimizer import optimize
from streamdata.plan.rules.base import OptimizerContext, consumer_counts
from streamdata.plan.rules.combine_repartitions import CombineRepartitionsRule
from streamdata.plan.rules.limit_pushdown import LimitPushdownRule
from streamdata.plan.rules.map_fusion import MapFusionRule
from streamdata.plan.rules.predicate_pushdown import PredicatePushdownRule
from streamdata.plan.rules.projection_pushdown import ProjectionPushdownRule, merge_projects
from streamdata.plan.rules.read_parallelism import (SMALL_READ_BYTES_PER_CPU, ReadParallelismRule,
                                                     choose_parallelism)

CTX = OptimizerContext(num_cpus=2)
SCHEMA = pa.schema([("a", pa.int64()), ("b", pa.float64()), ("c", pa.string()), ("d", pa.int64())])


class FakeSource(Datasource):
    """Records the pushdowns it accepted (each one returns a new source, as the contract says)."""

    name = "ReadFake"

    def __init__(self, *, schema: pa.Schema | None = SCHEMA, size: int | None = None,
                 accepts: tuple[str, ...] = ("projection", "predicate", "limit"),
                 projection: list[str] | None = None, predicate=None, limit: int | None = None):
        self._schema, self._size, self.accepts = schema, size, accepts
        self.projection, self.predicate, self.limit = projection, predicate, limit

    def _with(self, **changes) -> "FakeSource":
        state = dict(schema=self._schema, size=self._size, accepts=self.accepts,
                     projection=self.projection, predicate=self.predicate, limit=self.limit)
        state.update(changes)
        return FakeSource(**state)

    def get_read_tasks(self, parallelism: int) -> list:
        return []

    def schema(self) -> pa.Schema | None:
        if self._schema is None or self.projection is None:
            return self._schema
        return pa.schema([self._schema.field(c) for c in self.projection])

    def estimate_inmemory_data_size(self) -> int | None:
        return self._size

    def supports_projection_pushdown(self) -> bool:
        return "projection" in self.accepts

    def apply_projection(self, columns: list[str]) -> "FakeSource":
        return self._with(projection=list(columns))

    def supports_predicate_pushdown(self) -> bool:
        return "predicate" in self.accepts

    def apply_predicate(self, predicate) -> "FakeSource":
        if self.predicate is not None:
            predicate = self.predicate & predicate
        return self._with(predicate=predicate)

    def supports_limit_pushdown(self) -> bool:
        return "limit" in self.accepts

    def apply_limit(self, limit: int) -> "FakeSource":
        return self._with(limit=limit)


class Model:
    def __call__(self, batch):
        return batch


def udf(batch):
    return batch


def read(**kwargs) -> Read:
    return Read(datasource=FakeSource(**kwargs))


def lines(plan: LogicalPlan) -> list[str]:
    return plan.explain().splitlines()


def apply(rule, root) -> LogicalPlan:
    return rule.apply(LogicalPlan(root), CTX)


# --------------------------------------------------------------------------- predicate pushdown


def test_predicate_into_read_removes_filter() -> None:
    out = apply(PredicatePushdownRule(), Filter(inputs=(read(),), expr=col("a") > 1))
    assert isinstance(out.root, Read)
    assert out.root.datasource.predicate.structurally_equals(col("a") > 1)


def test_predicate_with_a_generator_stays_where_it_is() -> None:
    pred = expr_random(seed=1) > 0.5
    out = apply(PredicatePushdownRule(), Filter(inputs=(read(),), expr=pred))
    assert isinstance(out.root, Filter) and out.root.input.datasource.predicate is None


def test_adjacent_expr_filters_combine_inner_first() -> None:
    f1 = Filter(inputs=(read(accepts=()),), expr=col("a") > 1)
    f2 = Filter(inputs=(f1,), expr=col("b") < 2)
    out = apply(PredicatePushdownRule(), f2)
    assert isinstance(out.root, Filter) and isinstance(out.root.input, Read)
    assert out.root.expr.structurally_equals((col("a") > 1) & (col("b") < 2))


def test_predicate_through_project_renames_columns() -> None:
    p = Project(inputs=(read(),), select=("a", "b"), rename={"a": "x"})
    out = apply(PredicatePushdownRule(), Filter(inputs=(p,), expr=col("x") > 1))
    assert isinstance(out.root, Project) and isinstance(out.root.input, Read)
    assert out.root.input.datasource.predicate.structurally_equals(col("a") > 1)


@pytest.mark.parametrize("project, expr", [
    (dict(select=("a",)), col("b") > 1),  # b is not let through
    (dict(drop=("b",)), col("b") > 1),  # b is dropped
    (dict(rename={"a": "x"}), col("a") > 1),  # a was renamed away
])
def test_predicate_stops_at_project_that_hides_the_column(project, expr) -> None:
    p = Project(inputs=(read(),), **project)
    out = apply(PredicatePushdownRule(), Filter(inputs=(p,), expr=expr))
    assert isinstance(out.root, Filter) and out.root.input is p


def test_predicate_through_with_column_only_when_not_reading_it() -> None:
    w = WithColumn(inputs=(read(),), column="z", expr=col("a") + 1)
    out = apply(PredicatePushdownRule(), Filter(inputs=(w,), expr=col("a") > 0))
    assert isinstance(out.root, WithColumn) and isinstance(out.root.input, Read)
    blocked = Filter(inputs=(w,), expr=col("z") > 0)
    assert apply(PredicatePushdownRule(), blocked).root is blocked


def test_predicate_through_sort_and_into_union_branches() -> None:
    u = Union(inputs=(read(), read(accepts=())))
    s = Sort(inputs=(u,), keys=("a",))
    out = apply(PredicatePushdownRule(), Filter(inputs=(s,), expr=col("a") > 0))
    assert lines(out) == ["Sort(a)", "+- Union", "   +- ReadFake[filter=(col('a') > 0)]",
                          "   +- Filter((col('a') > 0))", "      +- ReadFake"]
    assert out.root.input.inputs[0].datasource.predicate is not None


def test_predicate_not_pushed_past_udfs_limits_or_shared_nodes() -> None:
    r = read()
    for below in (MapBatches(inputs=(r,), fn=udf), Filter(inputs=(r,), fn=bool),
                  Limit(inputs=(r,), limit=3)):
        f = Filter(inputs=(below,), expr=col("a") > 0)
        assert apply(PredicatePushdownRule(), f).root is f
    # a read shared with another consumer keeps serving it unfiltered
    f = Filter(inputs=(r,), expr=col("a") > 0)
    u = Union(inputs=(f, r))
    assert apply(PredicatePushdownRule(), u).root is u


def test_predicate_stays_when_source_declines() -> None:
    f = Filter(inputs=(read(accepts=()),), expr=col("a") > 0)
    assert apply(PredicatePushdownRule(), f).root is f


# --------------------------------------------------------------------------- projection pushdown


def test_select_over_read_becomes_the_read() -> None:
    out = apply(ProjectionPushdownRule(), Project(inputs=(read(),), select=("c", "a")))
    assert isinstance(out.root, Read) and out.root.datasource.projection == ["c", "a"]
    assert out.root.name == "ReadFake[columns=['c', 'a']]"


def test_select_with_rename_keeps_the_rename() -> None:
    out = apply(ProjectionPushdownRule(),
                Project(inputs=(read(),), select=("c", "a"), rename={"a": "x"}))
    assert isinstance(out.root, Project) and dict(out.root.rename) == {"a": "x"}
    assert out.root.input.datasource.projection == ["c", "a"]
    assert out.schema().names == ["c", "x"]


def test_required_columns_traced_through_filter_and_with_column() -> None:
    f = Filter(inputs=(read(accepts=("projection",)),), expr=col("d") > 0)
    w = WithColumn(inputs=(f,), column="z", expr=col("b") * 2)
    p = Project(inputs=(w,), select=("a", "z"))
    out = apply(ProjectionPushdownRule(), p)
    source = [n for n in out.nodes() if isinstance(n, Read)][0]
    assert source.datasource.projection == ["a", "b", "d"]  # schema order
    assert lines(out)[:3] == ["Project(select=['a', 'z'])", "+- WithColumn(z=(col('b') * 2))",
                              "   +- Filter((col('d') > 0))"]


def test_builtin_aggregations_need_only_their_columns() -> None:
    agg = Aggregate(inputs=(read(),), keys=("a",), aggs=(Sum("b"), Count()))
    out = apply(ProjectionPushdownRule(), agg)
    assert out.root.input.datasource.projection == ["a", "b"]


def test_a_join_below_an_aggregation_reads_only_keys_and_used_columns() -> None:
    right_schema = pa.schema([("a", pa.int64()), ("e", pa.float64()), ("f", pa.string())])
    join = Join(inputs=(read(), read(schema=right_schema)), on=("a",))
    out = apply(ProjectionPushdownRule(), Aggregate(inputs=(join,), keys=(), aggs=(Count(), Sum("e"))))
    left, right = [n.datasource.projection for n in out.nodes() if isinstance(n, Read)]
    assert left == ["a"] and right == ["a", "e"]  # the left side gives only its key


def test_a_join_keeps_columns_both_sides_have_so_suffixes_stay() -> None:
    right_schema = pa.schema([("a", pa.int64()), ("b", pa.float64()), ("e", pa.int64())])
    join = Join(inputs=(read(), read(schema=right_schema)), on=("a",), left_suffix="_l", right_suffix="_r")
    top = Project(inputs=(join,), select=("b_r", "c"))
    out = apply(ProjectionPushdownRule(), top)
    left, right = [n.datasource.projection for n in out.nodes() if isinstance(n, Read)]
    assert left == ["a", "b", "c"] and right == ["a", "b"]
    assert out.schema() is None or out.schema().names == ["b_r", "c"]


def test_a_join_whose_output_is_used_whole_reads_every_column() -> None:
    join = Join(inputs=(read(), read()), on=("a",), left_suffix="_l", right_suffix="_r")
    out = apply(ProjectionPushdownRule(), join)
    assert all(n.datasource.projection is None for n in out.nodes() if isinstance(n, Read))


def test_user_functions_need_every_column() -> None:
    user_agg = AggregateFn(init=lambda k: 0, merge=lambda a, b: a + b, name="n",
                           accumulate_row=lambda a, r: a + 1)
    for top in (Aggregate(inputs=(read(),), keys=("a",), aggs=(user_agg,)),
                Project(inputs=(MapBatches(inputs=(read(),), fn=udf),), select=("a",)),
                Project(inputs=(Zip(inputs=(read(), read())),), select=("a",))):
        out = apply(ProjectionPushdownRule(), top)
        assert all(n.datasource.projection is None for n in out.nodes() if isinstance(n, Read))


def test_projection_not_pushed_when_useless_unknown_or_declined() -> None:
    # every column needed
    p = Project(inputs=(read(),), select=("a", "b", "c", "d"))
    assert apply(ProjectionPushdownRule(), p).root is p
    # a column the source does not have: left for the run to report with the real columns
    p = Project(inputs=(read(),), select=("zzz",))
    assert apply(ProjectionPushdownRule(), p).root is p
    # a source that does not accept projections
    p = Project(inputs=(read(accepts=()),), select=("a",))
    assert apply(ProjectionPushdownRule(), p).root is p
    # a global count needs no column: never pushed as an empty projection
    a = Aggregate(inputs=(read(),), aggs=(Count(),))
    assert apply(ProjectionPushdownRule(), a).root is a


def test_unknown_schema_projects_sorted_columns() -> None:
    f = Filter(inputs=(read(schema=None, accepts=("projection",)),), expr=col("b") > 0)
    out = apply(ProjectionPushdownRule(), Project(inputs=(f,), select=("c", "a")))
    assert out.root.input.input.datasource.projection == ["a", "b", "c"]


def test_adjacent_projects_merge() -> None:
    inner = Project(inputs=(read(accepts=()),), select=("a", "b", "c"), rename={"a": "x"})
    outer = Project(inputs=(inner,), select=("c", "x"), rename={"c": "y"})
    out = apply(ProjectionPushdownRule(), outer)
    assert isinstance(out.root.input, Read)
    assert out.root.select == ("c", "a") and dict(out.root.rename) == {"c": "y", "a": "x"}
    assert out.schema().names == ["y", "x"]
    # the outer one naming a column the inner one removed is not merged (the run reports it)
    bad = Project(inputs=(inner,), select=("a",))
    assert merge_projects(bad, inner) is None


def test_drop_becomes_select_when_schema_known_and_is_pushed() -> None:
    out = apply(ProjectionPushdownRule(), Project(inputs=(read(),), drop=("b", "c")))
    assert isinstance(out.root, Read) and out.root.datasource.projection == ["a", "d"]
    unknown = Project(inputs=(read(schema=None),), drop=("b",))
    assert apply(ProjectionPushdownRule(), unknown).root is unknown


def test_shared_read_gets_the_union_of_needs() -> None:
    r = read()
    u = Union(inputs=(Project(inputs=(r,), select=("a",)), Project(inputs=(r,), select=("b",))))
    out = apply(ProjectionPushdownRule(), u)
    reads = [n for n in out.nodes() if isinstance(n, Read)]
    assert len(reads) == 1 and reads[0].datasource.projection == ["a", "b"]
    assert lines(out)[1] == "+- Project(select=['a'])"


# --------------------------------------------------------------------------- limit pushdown


def test_limit_through_row_preserving_maps_into_read() -> None:
    m = MapRows(inputs=(read(),), fn=udf)
    p = Project(inputs=(m,), select=("a",))
    out = apply(LimitPushdownRule(), Limit(inputs=(p,), limit=5))
    assert lines(out) == ["Project(select=['a'])", "+- Map(udf)", "   +- Limit(5)",
                          "      +- ReadFake[limit=5]"]
    assert out.root.input.input.input.datasource.limit == 5


def test_adjacent_limits_merge() -> None:
    inner = Limit(inputs=(read(accepts=()),), limit=3)
    out = apply(LimitPushdownRule(), Limit(inputs=(inner,), limit=10))
    assert isinstance(out.root, Limit) and out.root.limit == 3 and isinstance(out.root.input, Read)


def test_limit_not_moved_when_it_cannot_reach_a_source() -> None:
    # moving it past the project would only split Project and MapBatches into two operators
    p = Project(inputs=(MapBatches(inputs=(read(),), fn=udf),), select=("a",))
    limit = Limit(inputs=(p,), limit=2)
    assert apply(LimitPushdownRule(), limit).root is limit
    limit = Limit(inputs=(MapRows(inputs=(read(accepts=()),), fn=udf),), limit=2)
    assert apply(LimitPushdownRule(), limit).root is limit


def test_limit_stops_at_row_changing_operations() -> None:
    for below in (MapBatches(inputs=(read(),), fn=udf), Filter(inputs=(read(),), expr=col("a") > 0),
                  Sort(inputs=(read(),), keys=("a",)),
                  FusedMap(inputs=(read(),), stages=(MapRows(fn=udf), Filter(fn=bool)))):
        limit = Limit(inputs=(below,), limit=2)
        assert apply(LimitPushdownRule(), limit).root is limit


def test_limit_through_fused_row_preserving_maps() -> None:
    fused = FusedMap(inputs=(read(),), stages=(MapRows(fn=udf), Project(select=("a",))))
    out = apply(LimitPushdownRule(), Limit(inputs=(fused,), limit=2))
    assert isinstance(out.root, FusedMap) and isinstance(out.root.input, Limit)
    assert out.root.input.input.datasource.limit == 2


def test_limit_copied_into_union_branches() -> None:
    u = Union(inputs=(read(), read(accepts=())))
    out = apply(LimitPushdownRule(), Limit(inputs=(u,), limit=4))
    assert lines(out) == ["Limit(4)", "+- Union", "   +- Limit(4)", "      +- ReadFake[limit=4]",
                          "   +- ReadFake"]
    first, second = out.root.input.inputs
    assert isinstance(first, Limit) and first.limit == 4 and first.input.datasource.limit == 4
    assert second is u.inputs[1]


def test_limit_not_pushed_into_shared_map() -> None:
    m = MapRows(inputs=(read(),), fn=udf)
    u = Union(inputs=(Limit(inputs=(m,), limit=1), m))
    assert apply(LimitPushdownRule(), u).root is u


# --------------------------------------------------------------------------- repartitions


def test_adjacent_repartitions_combine() -> None:
    r = read()
    chain = Repartition(inputs=(Repartition(inputs=(Repartition(inputs=(r,), num_blocks=2,
                                                                 shuffle=True),), num_blocks=7),),
                        num_blocks=4)
    out = apply(CombineRepartitionsRule(), chain)
    assert out.root.num_blocks == 4 and out.root.shuffle and out.root.input is r
    shuffles = RandomShuffle(inputs=(RandomShuffle(inputs=(r,), seed=1),), seed=2)
    out = apply(CombineRepartitionsRule(), shuffles)
    assert out.root.seed == 2 and out.root.input is r


def test_repartition_kept_when_shared_or_not_adjacent() -> None:
    r = read()
    inner = Repartition(inputs=(r,), num_blocks=2)
    u = Union(inputs=(Repartition(inputs=(inner,), num_blocks=3), inner))
    assert apply(CombineRepartitionsRule(), u).root is u
    apart = Repartition(inputs=(MapBatches(inputs=(inner,), fn=udf),), num_blocks=3)
    assert apply(CombineRepartitionsRule(), apart).root is apart


# --------------------------------------------------------------------------- map fusion


def test_task_maps_fuse_into_one_node() -> None:
    r = read()
    m1 = MapBatches(inputs=(r,), fn=udf, batch_size=10)
    m2 = Filter(inputs=(m1,), expr=col("a") > 0)
    m3 = MapRows(inputs=(m2,), fn=udf)
    out = apply(MapFusionRule(), m3)
    assert isinstance(out.root, FusedMap) and out.root.input is r
    assert [s.name for s in out.root.stages] == ["MapBatches(udf)", "Filter((col('a') > 0))",
                                                 "Map(udf)"]
    assert out.root.stages[0].batch_size == 10 and all(not s.inputs for s in out.root.stages)


def test_task_maps_into_actor_map() -> None:
    r = read()
    t = MapBatches(inputs=(r,), fn=udf)
    a = MapBatches(inputs=(t,), fn=Model, compute=ActorPoolStrategy(min_size=1, max_size=2))
    out = apply(MapFusionRule(), a)
    assert isinstance(out.root, FusedMap) and out.root.uses_actors
    assert out.root.compute == ActorPoolStrategy(min_size=1, max_size=2)
    # ... but nothing fuses into the map after an actor map
    after = MapBatches(inputs=(a,), fn=udf)
    out = apply(MapFusionRule(), after)
    assert isinstance(out.root, MapBatches) and isinstance(out.root.input, FusedMap)


@pytest.mark.parametrize("up_args, down_args", [
    (dict(), dict(ray_remote_args={"num_gpus": 1}, fn=Model, compute=ActorPoolStrategy(size=1))),
    (dict(ray_remote_args={"num_cpus": 2}), dict()),
    (dict(compute=TaskPoolStrategy(size=2)), dict()),
    (dict(compute=TaskPoolStrategy(size=2)), dict(fn=Model, compute=ActorPoolStrategy(size=1))),
])
def test_incompatible_maps_do_not_fuse(up_args, down_args) -> None:
    up = MapBatches(inputs=(read(),), **{"fn": udf, **up_args})
    down = MapBatches(inputs=(up,), **{"fn": udf, **down_args})
    assert apply(MapFusionRule(), down).root is down


def test_explicit_default_resources_still_fuse() -> None:
    up = MapBatches(inputs=(read(),), fn=udf, ray_remote_args={"num_cpus": 1})
    down = MapBatches(inputs=(up,), fn=udf, ray_remote_args={"num_gpus": 0})
    assert isinstance(apply(MapFusionRule(), down).root, FusedMap)


def test_shared_map_is_not_fused() -> None:
    m = MapBatches(inputs=(read(),), fn=udf)
    u = Union(inputs=(MapRows(inputs=(m,), fn=udf), m))
    assert apply(MapFusionRule(), u).root is u


# --------------------------------------------------------------------------- read parallelism


def test_read_parallelism_from_size_and_cpus() -> None:
    ctx = OptimizerContext(num_cpus=2, target_max_block_size=100, target_min_block_size=10)
    assert choose_parallelism(None, ctx) == 4  # unknown size: 2 tasks per CPU
    assert choose_parallelism(20, ctx) == 4  # small data for a user function: 2 tasks per CPU
    assert choose_parallelism(20, ctx, feeds_udf=False) == 2  # else one per CPU, one wave
    assert choose_parallelism(10_000, ctx) == 100  # enough tasks to keep blocks under max
    big = OptimizerContext(num_cpus=2)
    assert choose_parallelism(2 * SMALL_READ_BYTES_PER_CPU, big, feeds_udf=False) == 2
    assert choose_parallelism(2 * SMALL_READ_BYTES_PER_CPU + 1, big, feeds_udf=False) == 4
    assert choose_parallelism(20, OptimizerContext(num_cpus=3, target_min_block_size=10),
                              feeds_udf=False) == 3
    ctx = OptimizerContext(num_cpus=2, target_max_block_size=100, target_min_block_size=10,
                           read_op_min_num_blocks=50)
    assert choose_parallelism(200, ctx) == 20  # no smaller blocks than target_min
    assert choose_parallelism(2000, ctx) == 50


def test_a_small_read_feeding_no_user_function_gets_one_task_per_cpu() -> None:
    small = read(size=1000)
    for consumer, tasks in [(Filter(inputs=(small,), expr=col("a") > 0.5), 2),
                            (Project(inputs=(small,), select=("a",)), 2),
                            (MapBatches(inputs=(small,), fn=udf), 4),
                            (Filter(inputs=(small,), fn=lambda r: True), 4)]:
        assert [r.parallelism for r in _reads(optimize(LogicalPlan(consumer), CTX).root)] == [tasks], consumer
    fused = optimize(LogicalPlan(MapBatches(inputs=(Project(inputs=(small,), select=("a",)),), fn=udf)), CTX)
    assert [r.parallelism for r in _reads(fused.root)] == [4]  # a fused map holding a user function


def _reads(node) -> list[Read]:
    if isinstance(node, Read):
        return [node]
    return [r for i in node.inputs for r in _reads(i)]


def test_read_parallelism_rule_respects_override() -> None:
    r = read(size=10 * 2**30)
    out = ReadParallelismRule().apply(LogicalPlan(r), CTX)
    assert out.root.parallelism == 80 and r.parallelism is None
    o = Read(datasource=FakeSource(size=10 * 2**30), override_num_blocks=3)
    assert ReadParallelismRule().apply(LogicalPlan(o), CTX).root.parallelism == 3
    done = out.root
    assert ReadParallelismRule().apply(LogicalPlan(done), CTX).root is done


# --------------------------------------------------------------------------- the whole optimizer


def test_optimize_end_to_end() -> None:
    r = Read(datasource=FakeSource(size=1000))
    f = Filter(inputs=(r,), expr=col("a") > 0.5)
    m = MapBatches(inputs=(f,), fn=udf)
    p = Project(inputs=(m,), select=("a",))
    w = WithColumn(inputs=(p,), column="e", expr=col("a") * 2)
    lim = Limit(inputs=(w,), limit=10)
    plan = LogicalPlan(lim)
    out = optimize(plan, CTX)
    assert lines(out) == ["Limit(10)",
                          "+- MapBatches(udf)->Project(select=['a'])->WithColumn(e=(col('a') * 2))",
                          "   +- ReadFake[filter=(col('a') > 0.5)]"]
    read_node = out.root.input.input
    assert read_node.datasource.predicate.structurally_equals(col("a") > 0.5)
    assert read_node.parallelism == 4  # the read feeds a user function: 2 tasks per CPU
    assert lines(plan)[0] == "Limit(10)" and len(lines(plan)) == 6  # the input plan is untouched
    assert optimize(LogicalPlan(r), CTX, rules=[]).root is r


def test_consumer_counts() -> None:
    r = read()
    u = Union(inputs=(r, r, Limit(inputs=(r,), limit=1)))
    counts = consumer_counts(u)
    assert counts[id(r)] == 3 and counts[id(u)] == 1
