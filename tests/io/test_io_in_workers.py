"""Read tasks and sinks run in real worker processes of the runtime (no planner needed):
pickling, the S3 environment in workers, and a worker dying mid-write."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import streamdata.core.api as rt

from streamdata.errors import DataSourceError, WorkerCrashedError  # noqa: E402
from streamdata.io.csv import CSVDatasource  # noqa: E402
from streamdata.write_context import WriteContext  # noqa: E402
from streamdata.io.parquet import ParquetDatasink, ParquetDatasource  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def runtime(s3_server):
    """A runtime started after the S3 environment is set, so its workers inherit it."""
    if rt.is_initialized():
        rt.shutdown()
    rt.init(num_cpus=2)
    yield
    rt.shutdown()


def _run_read_task(task):
    return pa.concat_tables(list(task()), promote_options="permissive")


def _write(sink, blocks, write_uuid, index):
    return sink.write(iter(blocks), WriteContext(write_uuid, index))


def _write_then_die(sink, blocks, write_uuid, index):
    def gen():
        yield blocks[0]
        os._exit(17)  # the worker dies half-way through its blocks
    return sink.write(gen(), WriteContext(write_uuid, index))


def read_in_workers(source, parallelism: int = 4) -> pa.Table:
    fn = rt.remote(_run_read_task)
    parts = rt.get([fn.remote(t) for t in source.get_read_tasks(parallelism)], timeout=120)
    return pa.concat_tables(parts, promote_options="permissive")


def write_in_workers(sink, task_blocks, fn=_write, max_retries=0):
    remote = rt.remote(fn).options(max_retries=max_retries)
    write_uuid = uuid.uuid4().hex[:8]
    sink.on_write_start()
    try:
        results = rt.get([remote.remote(sink, blocks, write_uuid, i) for i, blocks in enumerate(task_blocks)],
                         timeout=120)
    except BaseException as exc:
        sink.on_write_failed(exc)
        raise
    sink.on_write_complete(results)
    return results


def visible(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def test_parquet_read_tasks_in_workers(tmp_path: Path):
    for i in range(3):
        pq.write_table(pa.table({"a": list(range(i * 10, i * 10 + 10))}), tmp_path / f"{i}.parquet")
    table = read_in_workers(ParquetDatasource(str(tmp_path)), 3)
    assert sorted(table.column("a").to_pylist()) == list(range(30))


def test_errors_cross_processes_naming_the_file(tmp_path: Path):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3\n")
    with pytest.raises(DataSourceError, match=r"bad\.csv: line 3") as info:
        read_in_workers(CSVDatasource(str(tmp_path / "bad.csv")), 1)
    cause = getattr(info.value, "cause", None) or info.value
    assert cause.path.endswith("bad.csv")


def test_worker_death_mid_write_leaves_destination_unchanged(tmp_path: Path):
    dest = tmp_path / "out"
    write_in_workers(ParquetDatasink(str(dest)), [[pa.table({"x": [1, 2]})]])
    before = visible(dest)
    blocks = [pa.table({"x": list(range(1000))}), pa.table({"x": [0]})]
    with pytest.raises(WorkerCrashedError, match="exited with code 17"):
        write_in_workers(ParquetDatasink(str(dest), mode="overwrite"), [blocks, blocks], fn=_write_then_die)
    assert visible(dest) == before
    assert sorted(os.listdir(dest)) == before  # no staging directory left


def test_retried_write_task_commits_each_row_once(tmp_path: Path):
    dest = tmp_path / "retried"
    marker = tmp_path / "died-once"

    def die_once(sink, blocks, write_uuid, index):
        def gen():
            yield blocks[0]
            if index == 1 and not marker.exists():
                marker.write_text("x")
                os._exit(3)
            yield from blocks[1:]
        return sink.write(gen(), WriteContext(write_uuid, index))

    parts = [[pa.table({"x": [i * 10 + j]}) for j in range(3)] for i in range(3)]
    write_in_workers(ParquetDatasink(str(dest)), parts, fn=die_once, max_retries=2)
    assert marker.exists()
    back = pq.read_table(dest).column("x").to_pylist()
    assert sorted(back) == sorted(i * 10 + j for i in range(3) for j in range(3))


def test_s3_from_workers(s3_server):
    s3_server.bucket("wk-bucket")
    write_in_workers(ParquetDatasink("s3://wk-bucket/data"), [[pa.table({"v": [1, 2]})], [pa.table({"v": [3]})]])
    assert len(s3_server.keys("wk-bucket", "data/")) == 2
    table = read_in_workers(ParquetDatasource("s3://wk-bucket/data"), 2)
    assert sorted(table.column("v").to_pylist()) == [1, 2, 3]
