"""The Dataset facade without running anything: each method adds one logical node with
normalised arguments, bad arguments fail at once, and metadata answers cheap questions."""

from __future__ import annotations

import pyarrow as pa
import pytest

from streamdata.aggregate import Count, Sum
from streamdata.dataset import Dataset, MaterializedDataset
from streamdata.errors import ColumnNotFoundError, PlanError
from streamdata.exec.interfaces import RefBundle
from streamdata.expressions import col
from streamdata.block_metadata import BlockMetadata
from streamdata.io.memory import RangeDatasource, from_items_source
from streamdata.plan.logical import (
    ActorPoolStrategy, Aggregate, Filter, FlatMap, InputData, Join, Limit, LogicalPlan, MapBatches,
    MapGroups, MapRows, Project, RandomizeBlockOrder, RandomSample, RandomShuffle, Read,
    Repartition, Sort, TaskPoolStrategy, Union, WithColumn, Zip,
)


def rng(n: int = 10) -> Dataset:
    return Dataset(LogicalPlan(Read(datasource=RangeDatasource(n))))


def items() -> Dataset:
    return Dataset(LogicalPlan(Read(datasource=from_items_source(
        [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]))))


class Model:
    def __init__(self, scale: int = 1) -> None:
        self.scale = scale

    def __call__(self, batch):
        return batch


def f(x):
    return x


@pytest.mark.parametrize("make, node_type", [
    (lambda d: d.map(f), MapRows),
    (lambda d: d.map_batches(f), MapBatches),
    (lambda d: d.flat_map(f), FlatMap),
    (lambda d: d.filter(f), Filter),
    (lambda d: d.filter(expr=col("id") > 1), Filter),
    (lambda d: d.with_column("x", col("id") + 1), WithColumn),
    (lambda d: d.add_column("x", f), MapBatches),
    (lambda d: d.select_columns("id"), Project),
    (lambda d: d.drop_columns(["id"]), Project),
    (lambda d: d.rename_columns({"id": "x"}), Project),
    (lambda d: d.rename_columns(["x"]), Project),
    (lambda d: d.limit(3), Limit),
    (lambda d: d.repartition(3, shuffle=True), Repartition),
    (lambda d: d.random_shuffle(seed=1), RandomShuffle),
    (lambda d: d.randomize_block_order(seed=1), RandomizeBlockOrder),
    (lambda d: d.random_sample(0.5, seed=1), RandomSample),
    (lambda d: d.sort("id", descending=True), Sort),
    (lambda d: d.union(rng()), Union),
    (lambda d: d.zip(rng()), Zip),
    (lambda d: d.join(rng(), on="id"), Join),
    (lambda d: d.groupby("id").aggregate(Sum("id")), Aggregate),
    (lambda d: d.groupby("id").count(), Aggregate),
    (lambda d: d.groupby("id").map_groups(f), MapGroups),
])
def test_each_transform_adds_one_node(make, node_type) -> None:
    base = rng()
    out = make(base)
    assert isinstance(out, Dataset) and out is not base
    assert isinstance(out._plan.root, node_type)
    assert out._plan.root.inputs[0] is base._plan.root
    assert base._plan.root.inputs == ()  # the source dataset is unchanged


def test_map_batches_arguments_are_normalised() -> None:
    ds = rng().map_batches(Model, batch_size=8, batch_format=None, concurrency=(1, 4), num_gpus=1,
                           fn_constructor_kwargs={"scale": 2}, fn_kwargs={"k": 1},
                           accelerator_type="A100")
    node = ds._plan.root
    assert node.batch_size == 8 and node.batch_format == "pyarrow"
    assert node.compute == ActorPoolStrategy(min_size=1, max_size=4)
    assert dict(node.ray_remote_args) == {"num_gpus": 1, "accelerator_type": "A100"}
    assert dict(node.fn_constructor_kwargs) == {"scale": 2} and dict(node.fn_kwargs) == {"k": 1}
    assert rng().map_batches(f, concurrency=3)._plan.root.compute == TaskPoolStrategy(size=3)
    assert rng().map_batches(Model, concurrency=2)._plan.root.compute == ActorPoolStrategy(size=2)
    assert rng().map_batches(Model)._plan.root.compute == ActorPoolStrategy(min_size=1)
    assert rng().map_batches(f, compute="tasks")._plan.root.compute == TaskPoolStrategy()


def test_map_batches_takes_rays_batch_size_auto() -> None:
    assert rng().map_batches(f, batch_size="auto")._plan.root.batch_size == "auto"
    assert rng().map_batches(Model, batch_size="auto", concurrency=2)._plan.root.batch_size == "auto"
    assert rng().map_batches(f, batch_size=None, num_gpus=0)._plan.root.batch_size is None
    for size in ("auto", None):  # as Ray: a GPU stage needs an explicit integer batch size
        with pytest.raises(PlanError, match="You must provide `batch_size` to `map_batches` when "
                                            "requesting GPUs"):
            rng().map_batches(Model, batch_size=size, num_gpus=1, concurrency=1)


def test_zip_takes_several_datasets() -> None:
    a, b, c = rng(), rng(), rng()
    node = a.zip(b, c)._plan.root
    assert isinstance(node, Zip) and node.inputs == (a._plan.root, b._plan.root, c._plan.root)
    assert a.zip(b, c).schema() == pa.schema([("id", pa.int64()), ("id_1", pa.int64()),
                                              ("id_2", pa.int64())])
    with pytest.raises(PlanError, match="zip takes at least one Dataset"):
        a.zip()


@pytest.mark.parametrize("make, error, message", [
    (lambda d: d.map_batches(f, batch_size=0), PlanError, "batch_size"),
    (lambda d: d.map_batches(f, batch_size="big"), PlanError,
     "batch_size must be a positive integer, None or 'auto', got 'big'"),
    (lambda d: d.zip(rng(), 3), PlanError, "zip takes Datasets, got int"),
    (lambda d: d.map_batches(f, batch_format="dict"), PlanError, "batch_format must be one of"),
    (lambda d: d.map_batches(f, concurrency=(1, 2)), PlanError, "callable classes"),
    (lambda d: d.map_batches(f, compute="actors"), PlanError, "a function runs as tasks"),
    (lambda d: d.map_batches(f, num_cpus=-1), PlanError, "num_cpus"),
    (lambda d: d.map_batches(42), PlanError, "function or a callable class"),
    (lambda d: d.filter(), PlanError, "exactly one of fn or expr"),
    (lambda d: d.filter(f, expr=col("id") > 1), PlanError, "exactly one of fn or expr"),
    (lambda d: d.filter(expr="id >"), PlanError, "cannot parse expression 'id >'"),
    (lambda d: d.filter(expr="len(id) > 1"), PlanError, "unsupported function 'len'"),
    (lambda d: d.select_columns(["nope"]), ColumnNotFoundError, "'nope' not in ['id']"),
    (lambda d: d.drop_columns(["id", "id"]), PlanError, "duplicate"),
    (lambda d: d.sort("nope"), ColumnNotFoundError, "'nope' not in ['id']"),
    (lambda d: d.groupby("nope"), ColumnNotFoundError, "'nope' not in ['id']"),
    (lambda d: d.with_column("x", col("nope") + 1), ColumnNotFoundError, "'nope'"),
    (lambda d: d.with_column("x", 3), PlanError, "expression"),
    (lambda d: d.rename_columns(["a", "b"]), PlanError, "2 names for 1 columns"),
    (lambda d: d.join(rng(), join_type="outer"), PlanError, "'full_outer'"),
    (lambda d: d.join(rng(), on="nope"), ColumnNotFoundError, "'nope'"),
    (lambda d: d.limit(-1), PlanError, "limit"),
    (lambda d: d.union(42), PlanError, "union takes Datasets"),
    (lambda d: d.groupby("id").aggregate(), PlanError, "at least one aggregation"),
    (lambda d: d.aggregate("sum"), PlanError, "aggregate takes aggregations"),
    (lambda d: d.split(0), PlanError, "positive"),
    (lambda d: d.split_at_indices([3, 1]), PlanError, "sorted"),
    (lambda d: d.split_proportionately([0.5, 0.6]), PlanError, "sum to less than 1"),
    (lambda d: d.streaming_split(0), PlanError, "positive"),
])
def test_bad_arguments_fail_before_running(make, error, message) -> None:
    with pytest.raises(error) as info:
        make(rng())
    assert message in str(info.value)


def test_metadata_answers_without_running() -> None:
    ds = rng(10)
    assert ds.count() == 10
    assert ds.limit(3).count() == 3
    assert ds.union(rng(5)).count() == 15
    assert ds.select_columns(["id"]).sort("id").count() == 10
    assert ds.schema() == pa.schema([("id", pa.int64())])
    assert ds.columns() == ["id"]
    assert items().rename_columns({"a": "x"}).columns() == ["x", "b"]
    assert ds.input_files() == []
    assert ds.stats() == ""  # as Ray, before the dataset ran


def test_materialized_metadata_from_bundles() -> None:
    meta = BlockMetadata(num_rows=3, size_bytes=24, schema=pa.schema([("id", pa.int64())]),
                         input_files=("f1.parquet",))
    bundle = RefBundle(blocks=(("ref-1", meta), ("ref-2", meta)), owns_blocks=False)
    m = MaterializedDataset(LogicalPlan(InputData(bundles=(bundle,), schema=meta.schema)))
    assert m.count() == 6 and m.num_blocks() == 2 and m.size_bytes() == 48
    assert m.input_files() == ["f1.parquet"] and m.columns() == ["id"]
    assert m.materialize() is m
    # consuming a materialized dataset hands back its bundles without running anything
    assert list(m._iter_bundles()) == [bundle]


def test_repr_is_rays_table_or_plan_summary_without_running() -> None:
    # a known schema (a Filter keeps its input's columns): Ray's table form; rows unknown
    ds = items().filter(expr=col("a") > 1).select_columns(["a"])
    assert repr(ds) == str(ds) == (
        "shape: (?, 1)\n"
        "╭───────╮\n"
        "│ a     │\n"
        "│ ---   │\n"
        "│ int64 │\n"
        "╰───────╯\n"
        "(Dataset isn't materialized)")
    assert ds._repr_html_().startswith("<pre>shape: (?, 1)") and "isn&#x27;t" in ds._repr_html_()
    # a UDF hides the schema: the operators above the source's description
    unknown = rng().map_batches(f).filter(expr=col("id") > 1)
    assert repr(unknown) == ("Filter(col('id') > 1)\n"
                             "+- MapBatches(f)\n"
                             "   +- Dataset(num_rows=10, schema={id: int64})")
    assert repr(rng()).startswith("shape: (10, 1)\n")


def test_dataset_is_not_accidentally_iterable() -> None:
    with pytest.raises(TypeError, match="iter_rows"):
        iter(rng())
    with pytest.raises(AttributeError, match="count"):  # as Ray raises
        len(rng())


def test_unique_and_global_aggregate_plans() -> None:
    distinct = rng()._with(Aggregate(inputs=(rng()._plan.root,), keys=("id",)))
    assert distinct._plan.root.aggs == ()
    node = rng()._aggregate_node([], [Count()])._plan.root
    assert isinstance(node, Aggregate) and node.keys == ()
