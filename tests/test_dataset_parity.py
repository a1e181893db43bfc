"""Ray Data parity of the facade, end to end on one shared runtime (2 CPUs) per module:
the behaviours Ray documents for the methods and parameters the surface test counts."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import streamdata as sd
from streamdata.context import DataContext
from streamdata.context_options import ExecutionOptions, ExecutionResources
from streamdata.datasource import FilenameProvider
from streamdata.errors import PlanError, TaskError, UDFReturnError
from streamdata.expressions import col


pytestmark = pytest.mark.usefixtures("data_runtime")  # one runtime for the module (tests/conftest.py)


def _raises_from_task(fn, exc_type, match: str) -> None:
    """A failure in a task: the user's error type, or a TaskError carrying its message."""
    with pytest.raises((exc_type, TaskError)) as info:
        fn()
    assert match in str(info.value)


# ---------------------------------------------------------------------------- remote options
def _env(batch, name):
    return {"v": np.array([os.environ.get(name, "")] * len(batch["id"]))}


def test_runtime_env_and_ray_remote_args_fn_reach_the_task() -> None:
    ds = sd.range(4, override_num_blocks=2).map_batches(
        _env, fn_kwargs={"name": "SD_PARITY_A"}, runtime_env={"env_vars": {"SD_PARITY_A": "on"}})
    assert {r["v"] for r in ds.take_all()} == {"on"}
    calls = []

    def args_fn():
        calls.append(1)
        return {"runtime_env": {"env_vars": {"SD_PARITY_B": "dyn"}}}

    ds = sd.range(4, override_num_blocks=2).map_batches(
        _env, fn_kwargs={"name": "SD_PARITY_B"}, ray_remote_args_fn=args_fn)
    assert {r["v"] for r in ds.take_all()} == {"dyn"}
    assert len(calls) >= 2  # Ray calls it before each task


class _EnvReader:
    def __call__(self, batch):
        return {"v": np.array([os.environ.get("SD_PARITY_C", "")] * len(batch["id"]))}


def test_ray_remote_args_fn_reaches_pool_actors() -> None:
    ds = sd.range(4).map_batches(
        _EnvReader, concurrency=1,
        ray_remote_args_fn=lambda: {"runtime_env": {"env_vars": {"SD_PARITY_C": "actor"}}})
    assert {r["v"] for r in ds.take_all()} == {"actor"}


class _Concurrent:
    """Counts how many calls of one actor overlap (threads of max_concurrent_calls)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.peak = 0

    def __call__(self, batch):
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(0.2)  # holds the call open so that others can overlap it
        with self.lock:
            self.active -= 1
        return {"peak": np.array([self.peak] * len(batch["id"]))}


def test_actor_pool_runs_calls_concurrently_as_configured() -> None:
    strategy = sd.ActorPoolStrategy(size=1, max_concurrent_calls_per_actor=2,
                                    enable_true_multi_threading=True)
    ds = sd.range(8, override_num_blocks=8).map_batches(_Concurrent, compute=strategy,
                                                          num_cpus=0)
    assert max(r["peak"] for r in ds.take_all()) == 2
    serial = sd.ActorPoolStrategy(size=1, max_concurrent_calls_per_actor=2)
    ds = sd.range(4, override_num_blocks=4).map_batches(_Concurrent, compute=serial, num_cpus=0)
    assert max(r["peak"] for r in ds.take_all()) == 1  # a sync UDF: one call at a time


def _overlap_probe(batch, lock_dir):
    marker = os.path.join(lock_dir, "running")
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        return {"overlap": np.array([True] * len(batch["id"]))}
    os.close(fd)
    time.sleep(0.15)  # the window another task would overlap
    os.remove(marker)
    return {"overlap": np.array([False] * len(batch["id"]))}


def test_resource_limits_cap_the_tasks_running_at_once(tmp_path) -> None:
    ctx = DataContext.get_current()
    saved = ctx.execution_options
    ctx.execution_options = ExecutionOptions(resource_limits=ExecutionResources(cpu=1))
    try:
        ds = sd.range(6, override_num_blocks=6).map_batches(
            _overlap_probe, fn_kwargs={"lock_dir": str(tmp_path)})
        assert not any(r["overlap"] for r in ds.take_all())
    finally:
        ctx.execution_options = saved


def test_preserve_order_from_execution_options() -> None:
    ctx = DataContext.get_current()
    saved = (ctx.preserve_order, ctx.execution_options)
    ctx.preserve_order = False
    ctx.execution_options = ExecutionOptions(preserve_order=True)

    def slow_first(batch):
        if batch["id"][0] == 0:
            time.sleep(0.3)  # lets later blocks finish first
        return batch

    try:
        ids = [r["id"] for r in sd.range(8, override_num_blocks=4).map_batches(slow_first).take_all()]
        assert ids == list(range(8))
    finally:
        ctx.preserve_order, ctx.execution_options = saved


# ---------------------------------------------------------------------------- transforms
def test_filter_function_must_return_a_bool() -> None:
    _raises_from_task(lambda: sd.range(3).filter(lambda r: "yes").take_all(), UDFReturnError,
                      "must return a bool")
    assert sd.range(5).filter(lambda r: np.bool_(r["id"] > 2)).count() == 2
    assert sd.range(5).filter(None, "id > 2").count() == 2


def test_sort_with_boundaries_cuts_blocks_at_them() -> None:
    ds = sd.range(20, override_num_blocks=3).random_shuffle(seed=1).sort("id", boundaries=[5, 12])
    blocks = [b["id"].to_pylist() for b in ds.iter_batches(batch_size=None, batch_format="pyarrow")]
    assert blocks == [list(range(5)), list(range(5, 12)), list(range(12, 20))]


def test_repartition_by_keys_and_by_rows() -> None:
    rows = [{"k": i % 3, "v": i} for i in range(30)]
    ds = sd.from_items(rows).repartition(2, keys=["k"], sort=True)
    blocks = [b for b in ds.iter_batches(batch_size=None, batch_format="pyarrow")]
    assert len(blocks) == 2 and sum(b.num_rows for b in blocks) == 30
    seen = {}
    for i, b in enumerate(blocks):
        keys = b["k"].to_pylist()
        assert keys == sorted(keys)
        for k in keys:
            assert seen.setdefault(k, i) == i  # every key in one block
    sizes = [b.num_rows for b in sd.range(10, override_num_blocks=3)
             .repartition(target_num_rows_per_block=4)
             .iter_batches(batch_size=None, batch_format="pyarrow")]
    assert sizes == [4, 4, 2]


def test_with_columns_and_grouped_with_column() -> None:
    ds = sd.range(3).with_columns({"a": col("id") + 1, "b": col("id") * 2})
    assert ds.take_all() == [{"id": i, "a": i + 1, "b": 2 * i} for i in range(3)]
    rows = [{"k": i % 2, "v": i} for i in range(4)]
    out = sd.from_items(rows).groupby("k").with_column("w", col("v") + 100).take_all()
    assert sorted((r["k"], r["v"], r["w"]) for r in out) == [
        (0, 0, 100), (0, 2, 102), (1, 1, 101), (1, 3, 103)]


def test_map_groups_with_a_generator_udf() -> None:
    def halves(group):
        n = len(group["v"])
        yield {"k": group["k"][: n // 2], "v": group["v"][: n // 2]}
        yield {"k": group["k"][n // 2:], "v": group["v"][n // 2:] * 10}

    rows = [{"k": i % 2, "v": i} for i in range(8)]
    out = sd.from_items(rows).groupby("k", num_partitions=2).map_groups(halves).take_all()
    assert sorted(r["v"] for r in out) == sorted([0, 2, 40, 60, 1, 3, 50, 70])


def test_join_validates_schemas_and_takes_task_options() -> None:
    left = sd.from_items([{"id": 1, "a": "x"}, {"id": 2, "a": "y"}])
    right = sd.from_items([{"id": 2, "b": 20}])
    out = left.join(right, "inner", 2, on="id", validate_schemas=True,
                    aggregator_ray_remote_args={"num_cpus": 0.5}, partition_size_hint=1 << 20)
    assert out.take_all() == [{"id": 2, "a": "y", "b": 20}]


def test_random_sample_of_an_empty_dataset_raises() -> None:
    with pytest.raises(ValueError, match="empty"):
        sd.from_items([{"a": 1}]).filter(expr=col("a") > 5).materialize().random_sample(0.5)


# ---------------------------------------------------------------------------- consumption
def test_take_batch_of_an_empty_dataset_raises_value_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        sd.range(5).filter(expr=col("id") > 10).take_batch()
    assert sd.range(5).take_batch(2)["id"].tolist() == [0, 1]


def test_unique_ignore_nulls() -> None:
    ds = sd.from_items([{"a": 1}, {"a": None}, {"a": 1}, {"a": 2}])
    assert sorted(ds.unique("a", ignore_nulls=True)) == [1, 2]
    assert None in ds.unique("a")


def test_blocks_and_refs_round_trip() -> None:
    ds = sd.from_blocks([pa.table({"x": [1, 2]}), pd.DataFrame({"x": [3]})])
    assert ds.num_blocks() == 2 and [r["x"] for r in ds.take_all()] == [1, 2, 3]
    arrow = sd.get(ds.to_arrow_refs())
    assert [t.num_rows for t in arrow] == [2, 1]
    frames = sd.get(ds.to_pandas_refs())
    assert [f["x"].tolist() for f in frames] == [[1, 2], [3]]
    arrays = sd.get(ds.to_numpy_refs(column="x"))
    assert [a.tolist() for a in arrays] == [[1, 2], [3]]
    assert sd.from_arrow_refs([sd.put(t) for t in arrow]).count() == 3
    assert sd.from_pandas_refs(sd.put(frames[0])).take_all() == [{"x": 1}, {"x": 2}]
    assert sd.from_numpy_refs([sd.put(np.arange(2))]).take_all() == [{"data": 0}, {"data": 1}]
    with pytest.raises(ValueError, match="ObjectRef"):
        sd.from_pandas_refs([frames[0]])
    with pytest.raises(ValueError, match="block 0 is a list"):
        sd.from_blocks([[1, 2]])
    _raises_from_task(lambda: sd.from_arrow_refs([sd.put(np.arange(2))]), ValueError,
                      "expected a pyarrow.Table")


def test_summary_runs_over_every_row() -> None:
    rows = [{"age": 25, "name": "a"}, {"age": 0, "name": None}, {"age": 35, "name": "a"}]
    summary = sd.from_items(rows).summary()
    age = summary.get_column_stats("age")
    assert (age["count"], age["min"], age["max"], age["mean"]) == (3, 0, 35, 20.0)
    assert summary.get_column_stats("name")["approx_topk[0]"] == {"name": "a", "count": 2}
    assert sd.from_items(rows).summary(columns=["age"]).columns == ["age"]


def test_iterator_materialize_schema_context_and_torch() -> None:
    torch = pytest.importorskip("torch")
    it = sd.from_items([{"x": float(i), "y": i % 2} for i in range(4)]).iterator()
    assert it.schema().names == ["x", "y"] and it.get_context() is DataContext.get_current()
    assert it.materialize().count() == 4
    batches = list(it.to_torch(label_column="y", batch_size=2))
    assert [tuple(f.shape) for f, _ in batches] == [(2, 1), (2, 1)]
    assert batches[0][1].dtype == torch.int64
    pinned = next(iter(sd.range(4).iter_torch_batches(batch_size=4, pin_memory=True)))
    assert pinned["id"].tolist() == [0, 1, 2, 3]


def test_streaming_split_iterators_know_their_schema() -> None:
    its = sd.range(4).streaming_split(2)
    try:
        assert its[0].schema().names == ["id"]
    finally:
        from streamdata.iterator import shutdown_split
        shutdown_split(its)


# ---------------------------------------------------------------------------- splits
def test_streaming_train_test_split_is_disjoint_and_stable() -> None:
    ds = sd.range(200, override_num_blocks=4)
    train, test = ds.streaming_train_test_split(0.25, seed=3)
    a = {r["id"] for r in train.take_all()}
    b = {r["id"] for r in test.take_all()}
    assert a.isdisjoint(b) and a | b == set(range(200)) and 20 < len(b) < 80
    assert {r["id"] for r in test.take_all()} == b  # the same split on a second run
    htrain, htest = ds.streaming_train_test_split(0.5, split_type="hash", hash_column="id")
    assert htrain.count() + htest.count() == 200


def test_train_test_split_stratified_keeps_class_shares() -> None:
    rows = [{"label": "a" if i < 80 else "b", "i": i} for i in range(100)]
    train, test = sd.from_items(rows).train_test_split(0.25, stratify="label")
    labels = [r["label"] for r in test.take_all()]
    assert labels.count("a") == 20 and labels.count("b") == 5
    assert train.count() == 75


# ---------------------------------------------------------------------------- writes
class _Names:
    def get_filename_for_block(self, block, write_uuid, task_index, block_index):
        return f"part-{task_index}-{block_index}.parquet"


def test_write_min_rows_per_file_and_filename_provider(tmp_path) -> None:
    out = tmp_path / "out"
    sd.range(100, override_num_blocks=10).write_parquet(
        str(out), min_rows_per_file=40, filename_provider=_Names(), mode=sd.SaveMode.OVERWRITE)
    files = sorted(os.listdir(out))
    assert all(f.startswith("part-") for f in files)
    sizes = [pq.read_metadata(out / f).num_rows for f in files]
    assert sum(sizes) == 100 and sorted(sizes)[1:] == sorted(s for s in sizes if s >= 40)
    csv_out = tmp_path / "csv"
    sd.range(10).write_csv(str(csv_out), arrow_csv_args_fn=lambda: {}, num_rows_per_file=10,
                           ray_remote_args={"num_cpus": 0.5}, concurrency=1)
    assert sd.read_csv(str(csv_out)).count() == 10
    json_out = tmp_path / "json"
    sd.range(3).write_json(str(json_out), orient="records", lines=True)
    assert sd.read_json(str(json_out)).count() == 3


# ---------------------------------------------------------------------------- hand-offs
def test_to_dask_and_missing_libraries() -> None:
    pytest.importorskip("dask.dataframe")
    assert int(sd.range(10, override_num_blocks=3).to_dask()["id"].sum().compute()) == 45
    for call, package in [(lambda: list(sd.range(2).iter_tf_batches()), "tensorflow"),
                          (lambda: list(sd.range(2).iter_jax_batches()), "jax")]:
        try:
            __import__(package)
        except ImportError:
            with pytest.raises(ImportError, match=f"pip install {package}"):
                call()


class _CsvBlocks(sd.BlockBasedFileDatasink):
    def write_block_to_file(self, block, file):
        file.write(("".join(f"{v}," for v in block.to_arrow()["id"].to_pylist())).encode())


class _RowNames:
    def get_filename_for_row(self, row, write_uuid, task_index, block_index, row_index):
        return f"row-{row['id']}.txt"


class _OneRow(sd.RowBasedFileDatasink):
    def write_row_to_file(self, row, file):
        file.write(str(row["id"] * 10).encode())


def test_custom_block_and_row_file_sinks(tmp_path) -> None:
    blocks = tmp_path / "blocks"
    sd.range(10, override_num_blocks=5).write_datasink(
        _CsvBlocks(str(blocks), min_rows_per_file=4, file_format="csv"))
    texts = [(blocks / f).read_text() for f in sorted(os.listdir(blocks))]
    values = sorted(int(v) for t in texts for v in t.split(",") if v)
    assert values == list(range(10)) and all(f.endswith(".csv") for f in os.listdir(blocks))
    assert sum(len(t.split(",")) - 1 >= 4 for t in texts) >= len(texts) - 1  # min_rows_per_file
    rows = tmp_path / "rows"
    sd.range(3).write_datasink(_OneRow(str(rows), filename_provider=_RowNames()))
    assert {f: (rows / f).read_text() for f in os.listdir(rows)} == {
        "row-0.txt": "0", "row-1.txt": "10", "row-2.txt": "20"}


def test_a_row_sink_names_each_file_after_its_own_row_when_a_block_holds_several(tmp_path) -> None:
    rows = tmp_path / "rows"
    sd.range(5, override_num_blocks=1).write_datasink(_OneRow(str(rows), filename_provider=_RowNames()))
    assert {f: (rows / f).read_text() for f in os.listdir(rows)} == {
        f"row-{i}.txt": str(10 * i) for i in range(5)}


def test_list_stats_summaries_collects_when_enabled() -> None:
    ctx = DataContext.get_current()
    before = len(sd.list_stats_summaries())
    ctx.enable_stats_summary_collection = True
    try:
        sd.range(5).map(lambda r: r).take_all()
    finally:
        ctx.enable_stats_summary_collection = False
    sd.range(5).map(lambda r: r).take_all()
    assert len(sd.list_stats_summaries()) == before + 1


def test_mix_interleaves_by_weight_and_stops_as_asked() -> None:
    a = sd.from_items([{"x": i} for i in range(6)], override_num_blocks=6)
    b = sd.from_items([{"x": 100 + i} for i in range(2)], override_num_blocks=2)
    out = [r["x"] for r in a.mix(b, weights=[2, 1]).take_all()]
    assert out == [0, 100, 1, 2, 101, 3, 4, 5]  # b drops out once exhausted
    short = a.mix(b, stopping_condition=sd.MixStoppingCondition.STOP_ON_SHORTEST).take_all()
    assert [r["x"] for r in short] == [0, 100, 1, 101, 2]
    with pytest.raises(ValueError, match="mix weights must be 2 positive numbers"):
        a.mix(b, weights=[1, -1])
    with pytest.raises(ValueError, match="stopping_condition"):
        a.mix(b, stopping_condition="never")


class _Scale(sd.Preprocessor):
    def __init__(self, column):
        super().__init__()
        self.columns = [column]

    def _fit(self, ds):
        self.stats_ = {"max": ds.max(self.columns[0])}
        return self

    def _transform_numpy(self, batch):
        batch[self.columns[0]] = batch[self.columns[0]] / self.stats_["max"]
        return batch


def test_preprocessor_fit_transform_and_batches() -> None:
    from streamdata.preprocessor import PreprocessorNotFittedException
    prep = _Scale("id")
    assert prep.fit_status() is sd.Preprocessor.FitStatus.NOT_FITTED
    with pytest.raises(PreprocessorNotFittedException, match="fit"):
        prep.transform(sd.range(3))
    out = prep.fit_transform(sd.range(5))
    assert [r["id"] for r in out.take_all()] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert prep.fit_status() is sd.Preprocessor.FitStatus.FITTED and prep.has_stats()
    again = sd.Preprocessor.deserialize(prep.serialize())
    assert again.transform_batch(pd.DataFrame({"id": [2]}))["id"].tolist() == [0.5]
    assert again.get_input_columns() == ["id"] == again.get_output_columns()
    with pytest.raises(TypeError, match="transform_batch takes"):
        again.transform_batch([1, 2])


class _TaskNames(FilenameProvider):
    """Ray 2.60's form: only the task's name."""

    def get_filename_for_task(self, write_uuid, task_index):
        return f"scores-{task_index:03d}.{self.file_format}"


def test_a_filename_provider_naming_tasks(tmp_path) -> None:
    out = tmp_path / "tasks"
    sd.range(100, override_num_blocks=4).write_parquet(str(out), filename_provider=_TaskNames(file_format="parquet"),
                                                       max_rows_per_file=20)
    files = sorted(os.listdir(out))
    assert files and all(f.startswith("scores-") and f.endswith(".parquet") for f in files)
    # 4 tasks of 25 rows, at most 20 a file: a task's second file gets _<n> before the extension
    assert files == [f"scores-{t:03d}{suffix}.parquet" for t in range(4) for suffix in ("", "_000001")]
    assert sum(pq.read_metadata(out / f).num_rows for f in files) == 100
    default = tmp_path / "default"
    sd.range(10, override_num_blocks=1).write_csv(
        str(default), filename_provider=FilenameProvider(dataset_uuid="ds", file_format="csv"))
    (name,) = os.listdir(default)
    assert name.startswith("ds_") and name.endswith("_000000.csv")


class _RowNamesForImages(FilenameProvider):
    """Ray's row form: one image file per row, named from the row."""

    def get_filename_for_row(self, row, write_uuid, task_index, block_index, row_index):
        return f"img-{row['label']}.png"


def test_a_filename_provider_names_image_files(tmp_path) -> None:
    images = sd.from_items([{"image": np.full((4, 4), i * 40, dtype=np.uint8), "label": f"n{i}"} for i in range(3)])
    images.write_images(str(tmp_path / "rows"), column="image", filename_provider=_RowNamesForImages())
    assert sorted(os.listdir(tmp_path / "rows")) == ["img-n0.png", "img-n1.png", "img-n2.png"]
    sd.from_items([{"image": np.zeros((2, 2), dtype=np.uint8)}] * 2).repartition(1).write_images(
        str(tmp_path / "tasks"), column="image", filename_provider=_TaskNames(file_format="png"))
    assert sorted(os.listdir(tmp_path / "tasks")) == ["scores-000.png", "scores-000_000001.png"]
    with pytest.raises(PlanError, match="filename_provider must have"):
        images.write_images(str(tmp_path / "bad"), column="image", filename_provider=object())


class _OnlyRows:
    """A provider (not a FilenameProvider) that names one-row files only."""

    def get_filename_for_row(self, row, write_uuid, task_index, block_index, row_index):
        return f"row-{row_index}.parquet"


def test_a_row_only_filename_provider_on_a_write_of_many_rows_is_refused(tmp_path) -> None:
    with pytest.raises(PlanError, match="only get_filename_for_row"):
        sd.range(10, override_num_blocks=1).write_parquet(str(tmp_path / "rows"), filename_provider=_OnlyRows())


# ---------------------------------------------------------------------------- doc examples (Ray 2.60)
class _CountRows:
    def __call__(self, batch):
        return {"n": [len(batch["id"])]}


def test_map_batches_auto_batch_size_aims_at_16_mib_a_batch() -> None:
    # 100_000 bytes a row: "auto" is 16 MiB // 100_000 = 167 rows, from each task's first
    # block (Ray gives the same sizes); small rows: whole 50_000-row blocks
    wide = sd.range(400, override_num_blocks=2).map(lambda r: {"x": np.zeros(100_000, np.uint8)})
    sizes = wide.map_batches(lambda b: {"n": [len(b["x"])]}, batch_size="auto").take_all()
    assert sorted(r["n"] for r in sizes) == [33, 33, 167, 167]
    narrow = sd.range(100_000, override_num_blocks=2)
    by_tasks = narrow.map_batches(lambda b: {"n": [len(b["id"])]}, batch_size="auto")
    assert [r["n"] for r in by_tasks.take_all()] == [50_000, 50_000]
    by_actors = narrow.map_batches(_CountRows, batch_size="auto", concurrency=1)
    assert [r["n"] for r in by_actors.take_all()] == [50_000, 50_000]


def test_zip_of_three_datasets_names_and_checks_as_ray() -> None:
    tens = sd.range(6, override_num_blocks=1).map(lambda r: {"id": r["id"], "id_1": r["id"] * 10})
    zipped = sd.range(6, override_num_blocks=3).zip(sd.range(6, override_num_blocks=2), tens)
    assert zipped.take_all() == [{"id": i, "id_1": i, "id_2": i, "id_1_1": 10 * i} for i in range(6)]
    assert list(sd.range(5).zip(sd.range(5), sd.range(5)).take_batch()) == ["id", "id_1", "id_2"]
    with pytest.raises(ValueError, match="Cannot zip datasets of different number of rows: 5, 4"):
        sd.range(5).zip(sd.range(5), sd.range(4)).take_all()


def test_ref_bundle_entries_stats_and_lineage_as_ray() -> None:
    ds = sd.range(3, override_num_blocks=1)
    assert ds.stats() == ""
    entries = [entry for bundle in ds.iter_internal_ref_bundles() for entry in bundle.blocks]
    assert [(sd.get(e.ref).num_rows, e.metadata.num_rows) for e in entries] == [(3, 3)]
    ref, meta = entries[0]  # still a (ref, metadata) pair
    assert ref is entries[0].ref and meta is entries[0].metadata
    assert not sd.from_items([1, 2]).has_serializable_lineage()
    assert sd.range(3).has_serializable_lineage()
