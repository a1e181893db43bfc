"""Hugging Face datasets, torch datasets, Dask/Daft/Spark interop, and connectors written for Ray's API."""

from __future__ import annotations

import json

import cloudpickle
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import streamdata as sd
from streamdata.errors import DataSourceError, PlanError
from streamdata.io.huggingface import HuggingFaceDatasource


@pytest.fixture(scope="module", autouse=True)
def runtime():
    if sd.is_initialized():
        sd.shutdown()
    sd.init(num_cpus=2)
    yield
    sd.shutdown()


# ---------------------------------------------------------------------------- Hugging Face


def test_from_huggingface_map_style():
    datasets = pytest.importorskip("datasets")
    hf = datasets.Dataset.from_dict({"text": [f"t{i}" for i in range(100)], "label": [i % 2 for i in range(100)]})
    ds = sd.from_huggingface(hf)
    assert ds.count() == 100 and ds.schema().names == ["text", "label"]
    assert sorted(r["text"] for r in ds.take_all())[:2] == ["t0", "t1"]
    # an in-memory table: each task carries only its own rows
    big = datasets.Dataset.from_dict({"x": np.arange(200_000)})
    tasks = HuggingFaceDatasource(big).get_read_tasks(4)
    sizes = [len(cloudpickle.dumps(t)) for t in tasks]
    assert all(50_000 * 8 <= n < 50_000 * 8 + 20_000 for n in sizes), sizes
    assert sum(b.num_rows for t in tasks for b in cloudpickle.loads(cloudpickle.dumps(t))()) == 200_000
    # select/shuffle/filter leave an indices mapping: honoured
    picked = hf.select([5, 3, 99])
    assert sd.from_huggingface(picked).take_all() == [{"text": "t5", "label": 1}, {"text": "t3", "label": 1},
                                                      {"text": "t99", "label": 1}]
    assert sd.from_huggingface(hf.filter(lambda r: r["label"] == 0)).count() == 50
    with pytest.raises(PlanError, match="pass e.g. dataset\\['train'\\]"):
        sd.from_huggingface(datasets.DatasetDict({"train": hf}))


def test_from_huggingface_memory_mapped_travels_as_paths(tmp_path):
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_dict({"x": np.arange(200_000), "y": np.ones(200_000)}).save_to_disk(str(tmp_path))
    hf = datasets.load_from_disk(str(tmp_path)).rename_column("y", "z")
    tasks = HuggingFaceDatasource(hf).get_read_tasks(4)
    assert max(len(cloudpickle.dumps(t)) for t in tasks) < 20_000  # paths, not 3.2 MB of rows
    got = [b for t in tasks for b in cloudpickle.loads(cloudpickle.dumps(t))()]
    assert sum(b.num_rows for b in got) == 200_000 and got[0].column_names == ["x", "z"]
    assert sd.from_huggingface(hf.select(range(10, 20))).sum("x") == sum(range(10, 20))


def test_from_huggingface_iterable():
    datasets = pytest.importorskip("datasets")

    hf = datasets.Dataset.from_dict({"shard": [s for s in range(3) for _ in range(10)],
                                     "i": [i for _ in range(3) for i in range(10)]})
    it = hf.to_iterable_dataset(num_shards=3)
    src = HuggingFaceDatasource(it)
    assert len(src.get_read_tasks(8)) == 3  # one per shard
    rows = sd.from_huggingface(it).take_all()
    assert sorted((r["shard"], r["i"]) for r in rows) == [(s, i) for s in range(3) for i in range(10)]


# ---------------------------------------------------------------------------- torch


def test_from_torch():
    torch = pytest.importorskip("torch")

    class Pairs(torch.utils.data.Dataset):
        def __len__(self):
            return 40

        def __getitem__(self, i):
            return torch.full((2,), float(i)), i

    ds = sd.from_torch(Pairs())
    assert ds.count() == 40
    items = sorted((r["item"] for r in ds.take_all()), key=lambda it: it[1])
    assert list(items[7][0]) == [7.0, 7.0] and items[7][1] == 7

    class Broken(torch.utils.data.Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            raise IndexError(f"no item {i} here")

    with pytest.raises(DataSourceError, match=r"from_torch: Broken\[\d\] failed: IndexError: no item \d here"):
        sd.from_torch(Broken()).take_all()
    with pytest.raises(PlanError, match="map-style"):
        sd.from_torch(iter([1, 2]))


# ---------------------------------------------------------------------------- Dask, Daft, Spark


def test_dask_roundtrip():
    dd = pytest.importorskip("dask.dataframe")
    pdf = pd.DataFrame({"a": np.arange(100), "b": [f"x{i}" for i in range(100)]})
    ddf = dd.from_pandas(pdf, npartitions=4)
    ds = sd.from_dask(ddf)
    assert ds.count() == 100 and ds.sum("a") == 4950
    back = sd.range(50, override_num_blocks=5).to_dask()
    assert isinstance(back, dd.DataFrame) and back.npartitions == 5
    assert int(back["id"].sum().compute()) == 1225
    with pytest.raises(PlanError, match="from_dask takes a dask.dataframe.DataFrame"):
        sd.from_dask(pdf)


def test_daft_and_spark_are_clear_about_being_unavailable():
    try:
        import daft  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="daft"):
            sd.range(3).to_daft()
        with pytest.raises(ImportError, match="daft"):
            sd.from_daft(object())
    else:  # pragma: no cover - daft is not in the test environment
        assert sd.from_daft(daft.from_pydict({"x": [1, 2]})).count() == 2
    with pytest.raises(NotImplementedError, match="Ray backend|Ray itself"):
        sd.from_spark(object())
    with pytest.raises(NotImplementedError, match="Ray itself"):
        sd.range(3).to_spark(object())
    with pytest.raises(NotImplementedError, match="read_hudi"):
        sd.read_hudi("/tmp/table")


# ---------------------------------------------------------------------------- a connector written for Ray's API


from streamdata.datasource import BlockMetadata, Datasink, Datasource, ReadTask  # noqa: E402


class FibonacciSource(Datasource):
    """Written the way a Ray user writes one: get_name, pandas blocks, Ray's BlockMetadata keywords."""

    def __init__(self, n):
        self.n = n

    def get_name(self):
        return "Fibonacci"

    def estimate_inmemory_data_size(self):
        return self.n * 16

    def get_read_tasks(self, parallelism, per_task_row_limit=None, data_context=None):
        bounds = np.linspace(0, self.n, parallelism + 1).astype(int)
        tasks = []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            if lo == hi:
                continue

            def read(lo=int(lo), hi=int(hi)):
                a, b = 0, 1
                fib = []
                for i in range(hi):
                    if i >= lo:
                        fib.append(a)
                    a, b = b, a + b
                yield pd.DataFrame({"i": np.arange(lo, hi), "fib": fib})

            meta = BlockMetadata(num_rows=int(hi - lo), size_bytes=int(hi - lo) * 16, input_files=None,
                                 exec_stats=None)
            tasks.append(ReadTask(read, meta, per_task_row_limit=per_task_row_limit))
        return tasks


class CollectingSink(Datasink):
    """Ray-style sink: counts rows per task, checks Ray's WriteResult on completion."""

    def __init__(self, path):
        self.path = path
        self.started = False

    def get_name(self):
        return "Collect"

    def on_write_start(self):
        self.started = True

    def write(self, blocks, ctx):
        rows = 0
        with open(f"{self.path}/part-{ctx.task_idx}.csv", "w") as f:
            for block in blocks:
                df = block.to_pandas() if isinstance(block, pa.Table) else block
                df.to_csv(f, index=False, header=False)
                rows += len(df)
        return rows

    def on_write_complete(self, write_result):
        with open(f"{self.path}/_SUCCESS", "w") as f:
            f.write(str(sum(write_result.write_returns)))


def test_ray_style_connectors_run_unchanged(tmp_path):
    ds = sd.read_datasource(FibonacciSource(30), parallelism=3)
    rows = sorted(ds.take_all(), key=lambda r: r["i"])
    assert [r["fib"] for r in rows[:8]] == [0, 1, 1, 2, 3, 5, 8, 13] and len(rows) == 30
    assert "Fibonacci" in FibonacciSource(3).name
    sd.range(25, override_num_blocks=3).write_datasink(CollectingSink(str(tmp_path)))
    assert (tmp_path / "_SUCCESS").read_text() == "25"
    assert sum(len(p.read_text().split()) for p in tmp_path.glob("part-*.csv")) == 25
    assert sd.read_datasource(FibonacciSource(20)).limit(4).count() == 4


def test_ray_scheduling_arguments_of_read_datasource_and_write_datasink(tmp_path):
    ds = sd.read_datasource(FibonacciSource(10), num_cpus=1, memory=10**6, label_selector={"a": "b"},
                            runtime_env={}, max_calls=3)
    assert ds.count() == 10
    with pytest.raises(PlanError, match="compute= is not supported"):
        sd.read_datasource(FibonacciSource(10), compute="tasks")
    sd.range(6).write_datasink(CollectingSink(str(tmp_path)), ray_remote_args={"num_cpus": 1}, concurrency=1)
    assert (tmp_path / "_SUCCESS").read_text() == "6"


from streamdata.datasource import BlockBasedFileDatasink, RowBasedFileDatasink  # noqa: E402


class JsonLinesSink(BlockBasedFileDatasink):
    def __init__(self, path, **kwargs):
        super().__init__(path, file_format="jsonl", **kwargs)

    def write_block_to_file(self, block, file):
        for row in block.iter_rows():
            file.write((json.dumps({k: int(v) for k, v in row.items()}) + "\n").encode())


class OneFilePerRow(RowBasedFileDatasink):
    def __init__(self, path):
        super().__init__(path, file_format="txt")

    def write_row_to_file(self, row, file):
        file.write(str(row["id"]).encode())


def test_ray_style_file_sinks(tmp_path):
    sd.range(20, override_num_blocks=2).write_datasink(JsonLinesSink(str(tmp_path / "jl")))
    lines = [json.loads(x) for p in sorted((tmp_path / "jl").glob("*.jsonl")) for x in p.read_text().splitlines()]
    assert sorted(r["id"] for r in lines) == list(range(20))
    sd.range(5).write_datasink(OneFilePerRow(str(tmp_path / "rows")))
    assert sorted(int(p.read_text()) for p in (tmp_path / "rows").glob("*.txt")) == list(range(5))

    def boom(row):
        if row["id"] == 13:
            raise ValueError("bad row 13")
        return row

    with pytest.raises(ValueError, match="bad row 13"):
        sd.range(20, override_num_blocks=2).map(boom).write_datasink(JsonLinesSink(str(tmp_path / "failed")))
    assert not (tmp_path / "failed").exists() or not list((tmp_path / "failed").iterdir())
