"""Ray's options of the file readers: per-task options, ignore_missing_paths,
partition_filter, shuffle, arrow_open_*_args, lines/allow_pickle, the read_parquet extras
(skip_paths, tensor_column_schema, catalog, include_row_hash) and write_orc — each option's
effect and its bad input. One shared runtime for the module."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fsspec.implementations.local import LocalFileSystem

import streamdata as sd
from streamdata.datasource import PathPartitionFilter
from streamdata.errors import PlanError
from streamdata.plan.logical import Read


pytestmark = pytest.mark.usefixtures("data_runtime")  # one runtime for the module (tests/conftest.py)


@pytest.fixture()
def hive(tmp_path: Path) -> Path:
    for year in (2023, 2024, 2025):
        (tmp_path / f"year={year}").mkdir()
        pq.write_table(pa.table({"x": [year]}), tmp_path / f"year={year}" / "a.parquet")
    return tmp_path


def _texts(tmp_path: Path, n: int = 4) -> list[str]:
    paths = []
    for i in range(n):
        p = tmp_path / f"f{i}.txt"
        p.write_text(f"line{i}\n")
        paths.append(str(p))
    return paths


# ------------------------------------------------------------------ per-task options
def test_per_task_options_reach_the_read_node(tmp_path: Path) -> None:
    paths = _texts(tmp_path, 1)
    ds = sd.read_text(paths, num_cpus=0.5, memory=1e6, resources={"disk": 1}, accelerator_type="A100",
                      runtime_env={"env_vars": {"A": "1"}}, max_calls=2, label_selector={"zone": "a"},
                      fallback_strategy=[{"label_selector": {"zone": "b"}}])
    node = ds._logical_plan.root
    assert isinstance(node, Read)
    args = dict(node.ray_remote_args)
    assert args["num_cpus"] == 0.5 and args["memory"] == 1e6 and args["max_calls"] == 2
    assert args["resources"] == {"disk": 1} and args["accelerator_type"] == "A100"
    assert args["label_selector"] == {"zone": "a"}


class _EnvFS(LocalFileSystem):
    """A local filesystem whose files read as the task's SD_READ_OPT variable (shows the
    environment the read task runs in)."""

    def cat_file(self, path, start=None, end=None, **kwargs):
        return os.environ.get("SD_READ_OPT", "unset").encode()


def test_runtime_env_reaches_the_read_task(tmp_path: Path) -> None:
    paths = _texts(tmp_path, 2)
    ds = sd.read_binary_files(paths, filesystem=_EnvFS(), override_num_blocks=2,
                              runtime_env={"env_vars": {"SD_READ_OPT": "on"}})
    assert [r["bytes"] for r in ds.take_all()] == [b"on", b"on"]
    plain = sd.read_binary_files(paths, filesystem=_EnvFS(), override_num_blocks=2)
    assert {r["bytes"] for r in plain.take_all()} == {b"unset"}


def test_ray_remote_args_fn_is_called_before_each_read_task(tmp_path: Path) -> None:
    paths = _texts(tmp_path)
    assert sd.read_text(paths, override_num_blocks=2, runtime_env={"env_vars": {"X": "1"}}).count() == 4
    calls = []

    def args_fn():
        calls.append(1)
        return {}

    assert sd.read_text(paths, override_num_blocks=2, ray_remote_args_fn=args_fn).count() == 4
    assert len(calls) >= 2  # called before each read task


@pytest.mark.parametrize("kwargs, match", [
    ({"num_cpus": -1}, "num_cpus must be a number >= 0"),
    ({"memory": "lots"}, "memory must be a number >= 0"),
    ({"resources": {"disk": -1}}, r"resources\['disk'\]"),
    ({"runtime_env": "x"}, "runtime_env must be a dict"),
    ({"max_calls": -2}, "max_calls must be an int >= 0"),
    ({"ray_remote_args_fn": 3}, "ray_remote_args_fn must be a function"),
    ({"fallback_strategy": "b"}, "fallback_strategy must be a list of dicts"),
    ({"accelerator_type": 1}, "accelerator_type must be a str"),
])
def test_bad_per_task_options_are_named(tmp_path: Path, kwargs, match) -> None:
    paths = _texts(tmp_path, 1)
    for reader in (sd.read_text, sd.read_csv, sd.read_json, sd.read_binary_files):
        with pytest.raises(PlanError, match=match):
            reader(paths, **kwargs)


# ------------------------------------------------------------------ file selection
def test_ignore_missing_paths(tmp_path: Path) -> None:
    paths = _texts(tmp_path, 2)
    missing = str(tmp_path / "missing.txt")
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        sd.read_text([*paths, missing])
    assert sd.read_text([*paths, missing], ignore_missing_paths=True).count() == 2
    assert sd.read_binary_files([missing, paths[0]], ignore_missing_paths=True).count() == 1
    with pytest.raises(PlanError, match="ignore_missing_paths must be a bool"):
        sd.read_text(paths, ignore_missing_paths="yes")


def test_partition_filter_on_hive_partitions(hive: Path) -> None:
    keep = PathPartitionFilter.of(lambda p: p["year"] >= 2024, field_types={"year": int})
    rows = sd.read_parquet(str(hive), partition_filter=keep).take_all()
    assert sorted(r["x"] for r in rows) == [2024, 2025]
    # any callable on the list of paths (Ray's protocol)
    only_last = sd.read_parquet(str(hive), partition_filter=lambda paths: paths[-1:]).take_all()
    assert [r["x"] for r in only_last] == [2025]
    with pytest.raises(PlanError, match="partition_filter must be a PathPartitionFilter"):
        sd.read_parquet(str(hive), partition_filter="year=2024")
    with pytest.raises(PlanError, match="partition_filter must return a list of paths"):
        sd.read_parquet(str(hive), partition_filter=lambda paths: None)
    with pytest.raises(PlanError, match="'dir'.*needs field_names"):  # directory style: tests/io/test_partitioning.py
        PathPartitionFilter.of(lambda p: True, style="dir")
    with pytest.raises(PlanError, match="unsupported partitioning style 'flat'"):
        PathPartitionFilter.of(lambda p: True, style="flat")


def test_shuffle_orders_the_files(tmp_path: Path) -> None:
    paths = _texts(tmp_path, 12)
    plain = [r["text"] for r in sd.read_text(paths, override_num_blocks=1).take_all()]
    assert plain == [f"line{i}" for i in range(12)]
    seeded = [[r["text"] for r in sd.read_text(paths, override_num_blocks=1,
                                                shuffle=sd.FileShuffleConfig(seed=7)).take_all()]
              for _ in range(2)]
    assert seeded[0] == seeded[1] and sorted(seeded[0]) == sorted(plain) and seeded[0] != plain
    random_orders = {tuple(r["text"] for r in sd.read_text(paths, override_num_blocks=1, shuffle="files")
                           .take_all()) for _ in range(3)}
    assert all(sorted(o) == sorted(plain) for o in random_orders) and random_orders != {tuple(plain)}
    with pytest.raises(PlanError, match="shuffle must be None, 'files' or a FileShuffleConfig"):
        sd.read_text(paths, shuffle="rows")


# ------------------------------------------------------------------ open args
def test_arrow_open_stream_args_compression(tmp_path: Path) -> None:
    p = tmp_path / "data.bin"  # gzip data under a name that does not say so
    p.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    assert sd.read_csv(str(p), arrow_open_stream_args={"compression": "gzip"}).take_all() == [{"a": 1, "b": 2}]
    raw = sd.read_binary_files(str(p), arrow_open_stream_args={"compression": None}).take_all()
    assert raw[0]["bytes"] == p.read_bytes()
    with pytest.raises(PlanError, match="unsupported keys \\['mode'\\]"):
        sd.read_csv(str(p), arrow_open_stream_args={"mode": "r"})
    with pytest.raises(PlanError, match="arrow_open_stream_args must be a dict"):
        sd.read_json(str(p), arrow_open_stream_args=["gzip"])
    with pytest.raises(PlanError, match="buffer_size"):
        sd.read_text(str(p), arrow_open_stream_args={"buffer_size": 0})
    with pytest.raises(Exception, match="not a known codec"):
        sd.read_csv(str(p), arrow_open_stream_args={"compression": "rot13"}).take_all()


def test_arrow_open_file_args_of_read_images(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (3, 2)).save(tmp_path / "a.png")
    assert sd.read_images(str(tmp_path), arrow_open_file_args={}).count() == 1
    with pytest.raises(PlanError, match="arrow_open_file_args: unsupported keys"):
        sd.read_images(str(tmp_path), arrow_open_file_args={"buffer_size": 10})


# ------------------------------------------------------------------ reader-specific
def test_read_json_lines(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    p.write_text('{"x": 1}\n{"x": 2}\n')
    assert sd.read_json(str(p), lines=True).take_all() == [{"x": 1}, {"x": 2}]
    with pytest.raises(PlanError, match="lines must be a bool"):
        sd.read_json(str(p), lines="yes")


def test_read_numpy_allow_pickle(tmp_path: Path) -> None:
    p = tmp_path / "o.npy"
    np.save(p, np.array([{"a": 1}, {"a": 2}], dtype=object), allow_pickle=True)
    with pytest.raises(Exception, match="allow_pickle"):
        sd.read_numpy(str(p)).take_all()
    assert [r["data"] for r in sd.read_numpy(str(p), allow_pickle=True).take_all()] == [{"a": 1}, {"a": 2}]
    with pytest.raises(PlanError, match="allow_pickle must be a bool"):
        sd.read_numpy(str(p), allow_pickle=1)


def test_read_parquet_skip_paths(hive: Path) -> None:
    skip = str(hive / "year=2023" / "a.parquet")
    assert sorted(r["x"] for r in sd.read_parquet(str(hive), skip_paths=skip).take_all()) == [2024, 2025]
    assert sd.read_parquet(str(hive), skip_paths=["file://" + skip]).count() == 2
    with pytest.raises(PlanError, match="skip_paths must be a path or a list of paths"):
        sd.read_parquet(str(hive), skip_paths=3)


def test_read_parquet_tensor_column_schema(tmp_path: Path) -> None:
    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3) + i for i in range(2)]
    pq.write_table(pa.table({"t": [a.tobytes() for a in arrays]}), tmp_path / "t.parquet")
    rows = sd.read_parquet(str(tmp_path), tensor_column_schema={"t": (np.float32, (2, 3))}).take_all()
    assert all(np.array_equal(r["t"], a) for r, a in zip(rows, arrays))
    with pytest.raises(PlanError, match="tensor_column_schema must map column"):
        sd.read_parquet(str(tmp_path), tensor_column_schema={"t": np.float32})
    with pytest.raises(Exception, match="tensor_column_schema names column 'u'"):
        sd.read_parquet(str(tmp_path), tensor_column_schema={"u": (np.float32, (2, 3))}).take_all()


def test_read_parquet_catalog(hive: Path) -> None:
    class Dir(sd.Catalog):
        def resolve(self, table, *, reader, mode=sd.CatalogAccessMode.READ):
            assert reader is sd.ReaderFormat.PARQUET and mode is sd.CatalogAccessMode.READ
            return sd.ResolvedSource(path=str(hive / table), data_format=reader)

    assert sd.read_parquet("year=2024", catalog=Dir()).take_all() == [{"x": 2024, "year": "2024"}]
    with pytest.raises(PlanError, match="catalog must be a streamdata.Catalog"):
        sd.read_parquet("t", catalog=object())

    class Nowhere(sd.Catalog):
        def resolve(self, table, *, reader, mode=sd.CatalogAccessMode.READ):
            return sd.ResolvedSource()

    with pytest.raises(PlanError, match="resolved table 't' to no path"):
        sd.read_parquet("t", catalog=Nowhere())


def test_read_parquet_include_row_hash_is_not_supported(hive: Path) -> None:
    assert sd.read_parquet(str(hive), include_row_hash=False).count() == 3
    with pytest.raises(NotImplementedError, match="include_row_hash"):
        sd.read_parquet(str(hive), include_row_hash=True)


# ------------------------------------------------------------------ write_orc
def test_write_orc_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "orc"
    sd.range(10, override_num_blocks=2).write_orc(str(out), compression="zstd")
    files = sorted(os.listdir(out))
    assert files and all(f.endswith(".orc") for f in files)
    assert sorted(r["id"] for r in sd.read_orc(str(out)).take_all()) == list(range(10))
    with pytest.raises(PlanError, match="unknown ORC writer arguments \\['codec'\\]"):
        sd.range(2).write_orc(str(tmp_path / "bad"), codec="zstd")
    with pytest.raises(Exception, match="cannot be written to ORC"):
        sd.range_tensor(2, shape=(2,)).write_orc(str(tmp_path / "tensor"))
