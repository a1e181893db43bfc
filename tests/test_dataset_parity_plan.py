"""Ray Data parity of the facade, checked without running anything (no processes):
argument checks, the nodes each call adds, DataContext fields, Schema, configs and the
pure policies behind them (execution limits, summary statistics, repartition slices)."""

from __future__ import annotations

import dataclasses
import math

import pyarrow as pa
import pytest

import streamdata as sd
from streamdata.context import DataContext
from streamdata.context_fields import ACCEPTED_FIELDS
from streamdata.context_options import ExecutionOptions, ExecutionResources, effective_limits
from streamdata.dataset import Dataset
from streamdata.errors import ColumnNotFoundError, PlanError, SchemaError
from streamdata.exec.shuffle.repartition import plan_slices
from streamdata.expressions import col
from streamdata.io.memory import RangeDatasource, from_items_source
from streamdata.plan.logical import (
    ActorPoolStrategy, Join, LogicalPlan, MapBatches, Project, Read, Repartition, Sort,
    TaskPoolStrategy, WithColumn,
)
from streamdata.schema import Schema
from streamdata.summary import SummaryBuilder


def items(rows=None) -> Dataset:
    rows = rows or [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    return Dataset(LogicalPlan(Read(datasource=from_items_source(rows))))


def double(batch):
    return batch


class Model:
    def __call__(self, batch):
        return batch


# ---------------------------------------------------------------------------- remote args
def test_every_transform_takes_rays_remote_options_into_its_node() -> None:
    fn = lambda: {"num_cpus": 1}  # noqa: E731
    ds = items().map_batches(double, resources={"custom": 1}, accelerator_type="A100",
                             runtime_env={"env_vars": {"X": "1"}}, max_calls=3,
                             ray_remote_args_fn=fn, label_selector={"zone": "a"},
                             fallback_strategy=[{"num_cpus": 1}], num_gpus=0)
    args = dict(ds._plan.root.ray_remote_args)
    assert args["resources"] == {"custom": 1} and args["accelerator_type"] == "A100"
    assert args["runtime_env"] == {"env_vars": {"X": "1"}} and args["ray_remote_args_fn"] is fn
    assert args["max_calls"] == 3 and args["label_selector"] == {"zone": "a"}
    for node in (items().select_columns("a", num_cpus=0.5).\
                 _plan.root, items().rename_columns({"a": "c"}, memory=10)._plan.root,
                 items().drop_columns(["b"], resources={"r": 1})._plan.root,
                 items().with_column("c", col("a") + 1, runtime_env={"env_vars": {}})._plan.root):
        assert isinstance(node, (Project, WithColumn)) and node.ray_remote_args


@pytest.mark.parametrize("kwargs, message", [
    ({"resources": {"x": -1}}, "resources['x'] must be a number >= 0"),
    ({"resources": [1]}, "resources must be a dict"),
    ({"accelerator_type": 7}, "accelerator_type must be a str"),
    ({"runtime_env": "env"}, "runtime_env must be a dict"),
    ({"runtime_env": {"env_vars": {"A": 1}}}, "runtime_env['env_vars']['A'] must be a str"),
    ({"max_calls": -1}, "max_calls must be an int >= 0"),
    ({"ray_remote_args_fn": {"num_cpus": 1}}, "ray_remote_args_fn must be a function"),
    ({"fallback_strategy": {"num_cpus": 1}}, "fallback_strategy must be a list of dicts"),
    ({"num_cpus": "two"}, "num_cpus must be a number >= 0"),
])
def test_bad_remote_options_name_the_argument(kwargs, message) -> None:
    with pytest.raises(PlanError, match=message.replace("[", r"\[").replace("]", r"\]")):
        items().map(lambda r: r, **kwargs)


def test_compute_wins_over_concurrency_and_must_fit_the_udf() -> None:
    ds = items().map_batches(double, compute=TaskPoolStrategy(size=2), concurrency=5)
    assert ds._plan.root.compute == TaskPoolStrategy(size=2)
    with pytest.raises(PlanError, match="runs in an actor pool"):
        items().map_batches(Model, compute="tasks")
    with pytest.raises(PlanError, match="a function runs as tasks"):
        items().map_batches(double, compute=ActorPoolStrategy(size=1))
    with pytest.raises(PlanError, match="fn_constructor_args"):
        items().map_batches(double, fn_constructor_args=(1,))
    three = items().map_batches(Model, concurrency=(1, 3, 2))._plan.root.compute
    assert (three.min_size, three.max_size, three.initial_size) == (1, 3, 2)


def test_actor_pool_strategy_takes_rays_parameters() -> None:
    s = sd.ActorPoolStrategy(min_size=1, max_size=4, initial_size=2,
                             max_concurrent_calls_per_actor=3, enable_true_multi_threading=True)
    assert (s.initial_size, s.max_concurrent_calls_per_actor) == (2, 3)
    with pytest.raises(PlanError, match="initial_size 5 must lie between"):
        sd.ActorPoolStrategy(min_size=1, max_size=4, initial_size=5)
    with pytest.raises(PlanError, match="max_concurrent_calls_per_actor"):
        sd.ActorPoolStrategy(max_concurrent_calls_per_actor=0)


# ---------------------------------------------------------------------------- transforms
def test_with_columns_adds_one_node_per_column_and_refuses_chained_reads() -> None:
    ds = items().with_columns({"c": col("a") + 1}, {"d": col("a") * 2})
    assert isinstance(ds._plan.root, WithColumn) and ds._plan.root.column == "d"
    assert ds.schema().names == ["a", "b", "c", "d"]
    with pytest.raises(PlanError, match="reads column 'c', which the same call assigns"):
        items().with_columns({"c": col("a") + 1, "d": col("c") * 2})
    with pytest.raises(PlanError, match="needs at least one"):
        items().with_columns()
    with pytest.raises(ColumnNotFoundError):
        items().with_columns({"c": col("zzz")})


def test_sort_boundaries_and_argument_checks() -> None:
    node = items().sort("a", boundaries=[1, 5])._plan.root
    assert isinstance(node, Sort) and node.boundaries == (1, 5)
    for bad, message in [(dict(key=123), "sort key must be a column name"),
                         (dict(key="a", descending="x"), "descending must be a bool"),
                         (dict(key="a", boundaries=[5, 1]), "ascending"),
                         (dict(key="a", boundaries=["x"]), "list of numbers"),
                         (dict(key="a", descending=True, boundaries=[1]), "one ascending key")]:
        with pytest.raises(PlanError, match=message):
            items().sort(**bad)


def test_repartition_variants_build_one_node() -> None:
    node = items().repartition(4, keys=["a"], sort=True)._plan.root
    assert isinstance(node, Repartition) and node.keys == ("a",) and node.sort
    node = items().repartition(target_num_rows_per_block=10, strict=True)._plan.root
    assert node.num_blocks is None and node.target_num_rows_per_block == 10
    with pytest.raises(PlanError, match="exactly one of num_blocks or target_num_rows_per_block"):
        items().repartition()
    with pytest.raises(PlanError, match="sort=True\\) needs keys"):
        items().repartition(2, sort=True)
    with pytest.raises(ColumnNotFoundError):
        items().repartition(2, keys=["nope"])


def test_groupby_join_and_sampling_arguments() -> None:
    grouped = items().groupby("a", num_partitions=3)
    assert grouped.count()._plan.root.num_partitions == 3
    assert grouped.map_groups(double)._plan.root.num_partitions == 3
    with pytest.raises(PlanError, match="groupby key must be a column name"):
        items().groupby(123)
    with pytest.raises(PlanError, match="num_partitions must be a positive int"):
        items().groupby("a", num_partitions=0)
    join = items().join(items(), "inner", 2, on="a",
                        aggregator_ray_remote_args={"num_cpus": 0.5})._plan.root
    assert isinstance(join, Join) and dict(join.ray_remote_args) == {"num_cpus": 0.5}
    with pytest.raises(SchemaError, match="key 'a' is int64 on the left"):
        items().join(items([{"a": "s"}]), "inner", 2, on="a", validate_schemas=True)
    with pytest.raises(PlanError, match="partition_size_hint"):
        items().join(items(), "inner", 2, on="a", partition_size_hint=-3)
    for fraction in (-0.1, 1.5, "half"):
        with pytest.raises(PlanError, match="fraction must be a number in \\[0, 1\\]"):
            items().random_sample(fraction)
    with pytest.raises(PlanError, match="seed must be an int"):
        items().random_sample(0.5, seed="s")
    assert items().random_sample(0.5, seed=sd.RandomSeedConfig(seed=4))._plan.root.seed == 4


def test_map_groups_and_grouped_with_column_arguments() -> None:
    with pytest.raises(PlanError, match="zero_copy_batch must be a bool"):
        items().groupby("a").map_groups(double, zero_copy_batch="yes")
    fn = lambda: {}  # noqa: E731
    node = items().groupby("a").map_groups(double, ray_remote_args_fn=fn)._plan.root
    assert node.ray_remote_args["ray_remote_args_fn"] is fn
    with pytest.raises(PlanError, match="needs an expression"):
        items().groupby("a").with_column("c", "a + 1")


def test_len_and_iteration_raise_as_ray() -> None:
    with pytest.raises(AttributeError, match="count"):
        len(items())
    with pytest.raises(TypeError, match="iter_rows"):
        iter(items())


def test_names_ids_copies_and_lineage() -> None:
    ds = items()
    assert ds.name is None and ds.get_dataset_id().startswith("dataset_")
    ds.set_name("train")
    assert ds.name == "train" and ds.get_dataset_id().startswith("train_")
    assert ds.get_dataset_id() == ds.get_dataset_id()
    copy = Dataset.copy(ds)
    assert copy is not ds and copy.name == "train" and copy._plan is ds._plan
    with pytest.raises(PlanError, match="set_name takes a str"):
        ds.set_name(3)
    assert not ds.has_serializable_lineage()  # rows held on the driver: False, as Ray's from_items
    with pytest.raises(PlanError, match="in-memory data"):
        ds.serialize_lineage()
    rng = Dataset(LogicalPlan(Read(datasource=RangeDatasource(3))))
    assert rng.has_serializable_lineage() and rng.zip(rng, rng).has_serializable_lineage()
    assert not rng.union(ds).has_serializable_lineage()
    again = Dataset.deserialize_lineage(rng.serialize_lineage())
    assert again.schema() == rng.schema()


def test_write_and_split_arguments_fail_before_running(tmp_path) -> None:
    ds = items()
    with pytest.raises(PlanError, match="destination path"):
        ds.write_parquet(123)
    with pytest.raises(PlanError, match="mode must be"):
        ds.write_csv(str(tmp_path), mode="sometimes")
    with pytest.raises(PlanError, match="min_rows_per_file must be a positive int"):
        ds.write_json(str(tmp_path), min_rows_per_file=0)
    with pytest.raises(PlanError, match="not both"):
        ds.write_json(str(tmp_path), min_rows_per_file=2, num_rows_per_file=2)
    with pytest.raises(PlanError, match="get_filename_for_block"):
        ds.write_parquet(str(tmp_path), filename_provider=object())
    with pytest.raises(NotImplementedError, match="catalog"):
        ds.write_parquet(str(tmp_path), catalog=object())
    with pytest.raises(PlanError, match="write_datasink takes a Datasink"):
        ds.write_datasink("sink")
    with pytest.raises(PlanError, match="test_size must be between 0 and 1"):
        ds.streaming_train_test_split(1.5)
    with pytest.raises(PlanError, match="hash_column"):
        ds.streaming_train_test_split(0.5, split_type="hash")
    with pytest.raises(PlanError, match="seed is not supported for a hash split"):
        ds.streaming_train_test_split(0.5, split_type="hash", hash_column="a", seed=1)
    with pytest.raises(PlanError, match="shuffle=True or stratify"):
        ds.train_test_split(0.5, shuffle=True, stratify="a")
    train, test = ds.streaming_train_test_split(0.5, seed=1)
    assert isinstance(train._plan.root, MapBatches) and isinstance(test._plan.root, MapBatches)


def test_clear_errors_for_what_needs_a_ray_cluster() -> None:
    with pytest.raises(NotImplementedError, match="RayDP"):
        items().to_spark(None)
    with pytest.raises(NotImplementedError, match="Mars on Ray"):
        items().to_mars()
    with pytest.raises(NotImplementedError, match="RandomAccessDataset"):
        items().to_random_access_dataset("a")
    with pytest.raises(PlanError, match="column name"):
        items().to_random_access_dataset(1)


# ---------------------------------------------------------------------------- context
def test_data_context_has_every_ray_field_with_rays_default() -> None:
    ray_data = pytest.importorskip("ray.data")
    ours, theirs = DataContext(), ray_data.DataContext()
    for name, default, _group in ACCEPTED_FIELDS:
        assert getattr(ours, name) == default
        their = getattr(theirs, name)
        if isinstance(their, (bool, int, float, str, type(None))):
            assert default == their, name
    for f in dataclasses.fields(ray_data.DataContext):
        if not f.name.startswith("_"):
            assert hasattr(ours, f.name), f.name
    assert ours.copy().retried_io_errors is not ours.retried_io_errors


def test_execution_options_validate_and_narrow_the_limits() -> None:
    opts = ExecutionOptions(resource_limits=ExecutionResources(cpu=1, object_store_memory=50))
    assert effective_limits(opts, cpu=4, gpu=1, object_store_memory=100) == (1.0, 1.0, 50.0)
    excl = ExecutionOptions(exclude_resources=ExecutionResources(cpu=3, gpu=0,
                                                                 object_store_memory=0, memory=0))
    assert effective_limits(excl, cpu=2, gpu=0, object_store_memory=10) == (0.0, 0.0, 10.0)
    both = ExecutionOptions(resource_limits=ExecutionResources(cpu=1),
                            exclude_resources=ExecutionResources(cpu=1, gpu=0,
                                                                 object_store_memory=0, memory=0))
    with pytest.raises(PlanError, match="cannot both be set for cpu"):
        effective_limits(both, cpu=2, gpu=0, object_store_memory=1)
    with pytest.raises(PlanError, match="cpu must be a number >= 0"):
        ExecutionResources(cpu=-1)
    base = ExecutionResources(cpu=1, gpu=2, object_store_memory=4, memory=3)
    assert base.copy(cpu=10, gpu=5, object_store_memory=10e9) == ExecutionResources(
        cpu=10, gpu=5, object_store_memory=10e9, memory=3)  # Ray's overrides
    assert base.copy(memory=7) == ExecutionResources(cpu=1, gpu=2, object_store_memory=4, memory=7)
    assert base.copy() == base and base.copy() is not base
    assert math.isinf(ExecutionResources().gpu) and ExecutionOptions().is_resource_limits_default()
    ctx = DataContext()
    assert not ctx.execution_options.preserve_order and ctx.effective_preserve_order()
    ctx.preserve_order = False
    assert not ctx.effective_preserve_order()
    ctx.execution_options.preserve_order = True
    assert ctx.effective_preserve_order()
    ctx.max_tasks_in_flight_per_actor = 7
    assert ctx.effective_max_tasks_in_flight_per_actor() == 7
    ctx.set_config("k", 1)
    assert ctx.get_config("k") == 1 and ctx.get_config("z", 2) == 2


# ---------------------------------------------------------------------------- types
def test_schema_is_rays_view_of_an_arrow_schema() -> None:
    base = pa.schema([("id", pa.int64()), ("name", pa.string())])
    s = Schema(base)
    assert s.names == ["id", "name"] and s.types == [pa.int64(), pa.string()]
    assert s.base_schema is base and s == base and s.field("id").type == pa.int64()
    assert str(s).splitlines()[0].split() == ["Column", "Type"]
    assert isinstance(items().schema(), Schema)
    with pytest.raises(TypeError, match="pyarrow.Schema"):
        Schema({"id": "int"})


def test_top_level_names_and_configs() -> None:
    assert sd.DatasetContext is sd.DataContext and sd.DatasetIterator is sd.DataIterator
    assert sd.SaveMode("overwrite") is sd.SaveMode.OVERWRITE
    with pytest.raises(PlanError, match="seed must be an int"):
        sd.FileShuffleConfig(seed="x")
    assert sd.RandomSeedConfig.create_seed_config(None).seed is None


def test_summary_statistics_by_type() -> None:
    b = SummaryBuilder(pa.schema([("x", pa.float64()), ("s", pa.string()), ("t", pa.date32())]))
    import datetime
    b.add(pa.table({"x": [0.0, 2.0], "s": ["a", "b"],
                    "t": [datetime.date(2020, 1, 1), None]}))
    b.add(pa.table({"x": [None, 4.0], "s": ["a", None],
                    "t": [datetime.date(2021, 1, 1), datetime.date(2019, 1, 1)]}))
    s = b.build()
    x = s.get_column_stats("x")
    assert (x["count"], x["mean"], x["min"], x["max"]) == (4, 2.0, 0.0, 4.0)
    assert x["missing_pct"] == 25.0 and x["zero_pct"] == 25.0 and x["std"] == 2.0
    assert x["approx_quantile[0]"] == 2.0
    assert s.get_column_stats("s")["approx_topk[0]"] == {"s": "a", "count": 2}
    t = s.get_column_stats("t")
    assert t["min"] == datetime.date(2019, 1, 1) and t["max"] == datetime.date(2021, 1, 1)
    frame = s.to_pandas()
    assert list(frame.columns) == ["statistic", "x", "s", "t"]
    with pytest.raises(ColumnNotFoundError):
        s.get_column_stats("nope")


def test_repartition_slices_by_rows_per_block() -> None:
    assert plan_slices([4, 4], None, rows_per_output=3) == [
        [(0, 0, 3)], [(0, 3, 4), (1, 0, 2)], [(1, 2, 4)]]
    assert plan_slices([0], None, rows_per_output=3) == [[]]
    with pytest.raises(PlanError):
        plan_slices([1], None, rows_per_output=0)


@pytest.mark.parametrize("call, message", [
    (lambda d: d.take("3"), "take limit must be an int >= 0"),
    (lambda d: d.show(-1), "show limit must be an int >= 0"),
    (lambda d: d.limit(2.5), "limit must be an int >= 0"),
    (lambda d: d.random_shuffle(seed="s"), "random_shuffle seed must be an int"),
    (lambda d: d.randomize_block_order(seed=1.5), "randomize_block_order seed must be an int"),
    (lambda d: d.iter_batches(batch_size="8"), "batch_size must be a positive int"),
    (lambda d: d.iter_batches(prefetch_batches=-1), "prefetch_batches must be an int >= 0"),
    (lambda d: d.iter_batches(local_shuffle_buffer_size=0), "local_shuffle_buffer_size"),
    (lambda d: d.iter_torch_batches(pin_memory="yes"), "pin_memory must be a bool"),
    (lambda d: d.take_batch(0), "take_batch batch_size must be a positive int"),
    (lambda d: d.to_numpy_refs(column=1), "column must be a column name"),
    (lambda d: d.summary(columns="a"), "summary columns must be a list"),
    (lambda d: d.rename_columns("a"), "rename_columns takes a dict"),
])
def test_consumption_arguments_fail_before_running(call, message) -> None:
    with pytest.raises(PlanError if "pin_memory" not in message else ValueError, match=message):
        result = call(items())
        next(iter(result))  # iterator methods are lazy: their checks run before anything else


def test_mix_picks_the_input_furthest_behind() -> None:
    from streamdata.exec.operators.mix import pick_input
    assert pick_input([0, 0, 0], [0.5, 0.25, 0.25], [True, True, True]) == 0
    assert pick_input([2, 0, 0], [0.5, 0.25, 0.25], [True, True, True]) == 1
    assert pick_input([2, 1, 0], [0.5, 0.25, 0.25], [True, True, False]) == 0  # ties: lowest
    assert pick_input([2, 0, 0], [0.5, 0.25, 0.25], [True, True, False]) == 1
    assert pick_input([1], [1.0], [False]) is None


def test_from_modin_mars_tf_say_what_they_need() -> None:
    with pytest.raises(NotImplementedError, match="Mars on Ray"):
        sd.from_mars(None)
    for fn, package in ((sd.from_modin, "modin"), (sd.from_tf, "tensorflow")):
        try:
            __import__(package)
        except ImportError:
            with pytest.raises(ImportError, match=f"pip install {package}"):
                fn(None)
