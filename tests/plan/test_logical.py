"""Unit tests of the logical plan nodes (no processes)."""

from __future__ import annotations

import pickle

import cloudpickle
import pyarrow as pa
import pytest

from streamdata.errors import ColumnNotFoundError, PlanError
from streamdata.io.datasink import Datasink
from streamdata.io.datasource import Datasource
from streamdata.plan.logical import (
    ActorPoolStrategy, Aggregate, Filter, FrozenDict, FusedMap, InputData, Join, Limit,
    LogicalPlan, MapBatches, MapGroups, MapRows, Project, RandomSample, Read, Repartition, Sort,
    TaskPoolStrategy, Union, Write, Zip,
)


class TinySource(Datasource):
    name = "ReadTiny"

    def __init__(self, schema: pa.Schema | None = None) -> None:
        self._schema = schema

    def get_read_tasks(self, parallelism: int) -> list:
        return []

    def schema(self) -> pa.Schema | None:
        return self._schema


class TinySink(Datasink):
    name = "Tiny"

    def write(self, blocks, ctx):  # pragma: no cover - never run here
        return None


class Model:
    def __init__(self, scale: int = 1) -> None:
        self.scale = scale

    def __call__(self, batch):
        return batch


def double(batch):
    return batch


def read(schema: pa.Schema | None = None) -> Read:
    return Read(datasource=TinySource(schema))


def test_names_and_explain() -> None:
    r = read()
    plan = LogicalPlan(Write(inputs=(Limit(inputs=(MapBatches(inputs=(r,), fn=double),), limit=3),),
                             datasink=TinySink()))
    assert plan.explain().splitlines() == [
        "Write(Tiny)", "+- Limit(3)", "   +- MapBatches(double)", "      +- ReadTiny"]
    assert MapRows(inputs=(r,), fn=double).name == "Map(double)"
    assert MapBatches(inputs=(r,), fn=double, label="AddColumn(x)").name == "AddColumn(x)"
    assert Sort(inputs=(r,), keys=("a", "b"), descending=(True, False)).name == "Sort(a desc, b)"
    assert repr(Limit(inputs=(r,), limit=0)) == "Limit(0)"


@pytest.mark.parametrize("make, message", [
    (lambda r: Limit(inputs=(r,), limit=-1), "limit must be an integer >= 0"),
    (lambda r: MapBatches(inputs=(r,), fn=double, batch_size=0), "batch_size"),
    (lambda r: MapBatches(inputs=(r,), fn=double, batch_format="arrow"),
     "['default', 'numpy', 'pandas', 'pyarrow']"),
    (lambda r: Join(inputs=(r, r), on=("k",), join_type="outer"), "'full_outer'"),
    (lambda r: Repartition(inputs=(r,), num_blocks=0), "num_blocks"),
    (lambda r: RandomSample(inputs=(r,), fraction=1.5), "[0, 1]"),
    (lambda r: Filter(inputs=(r,)), "exactly one of fn or expr"),
    (lambda r: MapBatches(inputs=(r,), fn=Model), "actor pool"),
    (lambda r: MapBatches(inputs=(r,), fn=double, compute=ActorPoolStrategy(size=2)), "callable class"),
    (lambda r: MapBatches(inputs=(r,), fn=double, fn_constructor_args=(1,)), "callable class"),
    (lambda r: Union(inputs=(r,)), "at least two inputs"),
    (lambda r: Zip(inputs=(r,)), "Zip needs at least two inputs"),
    (lambda r: Limit(inputs=(), limit=1), "1 input"),
    (lambda r: Aggregate(inputs=(r,)), "at least one aggregation"),
    (lambda r: Sort(inputs=(r,), keys=("a",), descending=(True, False)), "descending"),
    (lambda r: Project(inputs=(r,), select=("a", "a")), "duplicate"),
    (lambda r: Project(inputs=(r,), rename={"a": "x", "b": "x"}), "two columns to one"),
    (lambda r: MapGroups(inputs=(r,), keys=("k",), fn=Model), "actor pool"),
    (lambda r: ActorPoolStrategy(min_size=3, max_size=2), "max_size 2 < min_size 3"),
    (lambda r: TaskPoolStrategy(size=0), "size"),
    (lambda r: Write(inputs=(r,), datasink="path"), "Datasink"),
])
def test_invariants_raise_plan_error(make, message) -> None:
    with pytest.raises(PlanError) as info:
        make(read())
    assert message in str(info.value)


def test_zip_schema_renames_clashes_input_by_input_as_ray() -> None:
    ids = pa.schema([("id", pa.int64())])
    three = Zip(inputs=(read(), read(), read()))
    assert three.infer_schema([ids, ids, ids]).names == ["id", "id_1", "id_2"]
    both = pa.schema([("id", pa.int64()), ("id_1", pa.string())])
    assert three.infer_schema([ids, both, ids]).names == ["id", "id_1", "id_1_1", "id_2"]
    assert three.infer_schema([ids, None, ids]) is None
    auto = MapBatches(inputs=(read(),), fn=double, batch_size="auto")
    assert auto.batch_size == "auto"


def test_valid_constructions_normalise() -> None:
    r = read()
    m = MapBatches(inputs=[r], fn=Model, compute=ActorPoolStrategy(size=2),
                   fn_constructor_kwargs={"scale": 2}, ray_remote_args={"num_gpus": 1})
    assert m.inputs == (r,) and m.is_class and m.uses_actors
    assert isinstance(m.ray_remote_args, FrozenDict) and dict(m.ray_remote_args) == {"num_gpus": 1}
    assert (m.compute.min_size, m.compute.max_size) == (2, 2)
    s = Sort(inputs=(r,), keys="a", descending=True)
    assert s.keys == ("a",) and s.descending == (True,)
    assert Aggregate(inputs=(r,), keys="k").keys == ("k",)  # distinct values of k
    # a class without __call__ (bool) is a plain function, not an actor class
    assert not Filter(inputs=(r,), fn=bool).is_class


def test_frozen_and_identity_semantics() -> None:
    r = read()
    a, b = Limit(inputs=(r,), limit=1), Limit(inputs=(r,), limit=1)
    assert a != b and a == a and len({a, b}) == 2
    with pytest.raises(AttributeError):
        a.limit = 3  # type: ignore[misc]
    with pytest.raises(AttributeError):
        a.replace(limit=2).ray_remote_args  # noqa: B018 - Limit has no such field
    with pytest.raises(TypeError):
        FrozenDict({"x": 1})["y"] = 2  # type: ignore[index]


def test_pickle_roundtrip() -> None:
    r = read()
    node = MapBatches(inputs=(r,), fn=double, fn_kwargs={"k": 1}, ray_remote_args={"num_cpus": 2})
    back = pickle.loads(cloudpickle.dumps(LogicalPlan(node)))
    assert back.root.name == "MapBatches(double)"
    assert dict(back.root.fn_kwargs) == {"k": 1} and dict(back.root.ray_remote_args) == {"num_cpus": 2}


def test_transform_up_reuses_unchanged_and_shared_nodes() -> None:
    r = read()
    m = MapBatches(inputs=(r,), fn=double)
    plan = LogicalPlan(Union(inputs=(Limit(inputs=(m,), limit=2), m)))
    assert plan.transform_up(lambda n: n) is plan
    visits: list[str] = []

    def bump(node):
        visits.append(node.name)
        if isinstance(node, Limit):
            return node.replace(limit=node.limit + 1)
        return node

    new = plan.transform_up(bump)
    assert visits.count("MapBatches(double)") == 1  # the shared node is visited once
    assert new is not plan and new.root.inputs[0].limit == 3
    assert new.root.inputs[1] is m  # unchanged subtree reused
    assert new.root.inputs[0].input is m


def test_schema_inference() -> None:
    schema = pa.schema([("a", pa.int64()), ("b", pa.string()), ("c", pa.float64())])
    r = read(schema)
    p = Project(inputs=(Limit(inputs=(r,), limit=5),), select=("c", "a"), rename={"a": "x"})
    assert LogicalPlan(p).schema() == pa.schema([("c", pa.float64()), ("x", pa.int64())])
    assert LogicalPlan(Project(inputs=(r,), drop=("b",))).schema().names == ["a", "c"]
    assert LogicalPlan(MapBatches(inputs=(r,), fn=double)).schema() is None
    # a bad projection shows no schema; asking the node directly names the missing column
    bad = Project(inputs=(r,), select=("zzz",))
    assert LogicalPlan(bad).schema() is None
    with pytest.raises(ColumnNotFoundError) as info:
        bad.output_columns(list(schema.names))
    assert "'zzz' not in ['a', 'b', 'c']" in str(info.value)
    assert LogicalPlan(InputData(schema=schema)).schema() == schema


def test_fused_map_checks_stages() -> None:
    r = read()
    f = FusedMap(inputs=(r,), stages=(MapBatches(fn=double), Filter(fn=bool)))
    assert f.name == "MapBatches(double)->Filter(bool)"
    with pytest.raises(PlanError):
        FusedMap(inputs=(r,), stages=(MapBatches(fn=double),))
    with pytest.raises(PlanError, match="detached"):
        FusedMap(inputs=(r,), stages=(MapBatches(inputs=(r,), fn=double), Filter(fn=bool)))


def test_arrow_expressions_only_tells_maps_of_arrow_kernels() -> None:
    """The maps a driver-side read may run, and ``count()`` may count after (no processes)."""
    from streamdata.expressions import col
    from streamdata.expressions.generators import monotonically_increasing_id
    from streamdata.expressions.udf import udf
    from streamdata.plan.map_nodes import WithColumn, arrow_expressions_only

    @udf(return_dtype=pa.int64())
    def twice(x):
        return x

    fused = FusedMap(stages=(WithColumn(column="c", expr=(col("a") * 2).alias("d")),
                               Filter(expr=col("c").is_in([1, 2])), Project(select=("c",))))
    assert arrow_expressions_only(fused)
    assert not arrow_expressions_only(WithColumn(column="c", expr=twice(col("a"))))
    assert not arrow_expressions_only(WithColumn(column="i", expr=monotonically_increasing_id()))
    assert not arrow_expressions_only(Filter(fn=bool))
    assert not arrow_expressions_only(MapBatches(fn=lambda b: b))
    assert not arrow_expressions_only(WithColumn(column="c", expr=col("a"), compute=TaskPoolStrategy(size=1)))
    assert not arrow_expressions_only(WithColumn(column="c", expr=col("a"), ray_remote_args={"num_gpus": 1}))
    assert not arrow_expressions_only(Read(datasource=TinySource()))
