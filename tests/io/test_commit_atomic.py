"""All-or-nothing commits on a real S3 server (moto): readers see the old files or the new
ones, never a mix, when a commit fails or the process dies between its steps."""

from __future__ import annotations

import logging

import numpy as np
import pyarrow as pa
import pytest
from io_testutil import read_table

from streamdata.errors import DataSinkError
from streamdata.io import commit_log
from streamdata.io.csv import CSVDatasink, CSVDatasource
from streamdata.io.parquet import ParquetDatasink, ParquetDatasource
from streamdata.write_context import WriteContext


class Crash(BaseException):
    """Stands for the process dying at this point: no rollback code runs."""


def table(start: int, n: int) -> pa.Table:
    ids = np.arange(start, start + n)
    return pa.table({"id": ids, "x": ids * 1.5})


def stage(sink, task_blocks: list[list[pa.Table]], uuid: str) -> list[dict]:
    sink.on_write_start()
    return [sink.write(iter(blocks), WriteContext(uuid, i)) for i, blocks in enumerate(task_blocks)]


def write(sink, task_blocks: list[list[pa.Table]], uuid: str) -> None:
    sink.on_write_complete(stage(sink, task_blocks, uuid))


def ids(dest: str, source=ParquetDatasource) -> list[int]:
    return sorted(read_table(source(dest)).column("id").to_pylist())


OLD = list(range(0, 6))
NEW = list(range(100, 109))


@pytest.fixture
def dest(s3_server, request) -> str:
    """A destination holding the old set: two files, ids 0..5."""
    bucket = s3_server.bucket("atomic-commit")
    dest = f"s3://{bucket}/{request.node.name[:40]}"
    write(ParquetDatasink(dest), [[table(0, 3)], [table(3, 3)]], uuid="old")
    assert ids(dest) == OLD
    return dest


def _keys(s3_server, dest: str) -> list[str]:
    prefix = dest.split("/", 3)[3] + "/"
    return [k[len(prefix):] for k in s3_server.keys("atomic-commit", prefix)]


def _new_sink(dest: str) -> ParquetDatasink:
    return ParquetDatasink(dest, mode="overwrite")


def _fail_copy_after_one(monkeypatch, fs, exc: BaseException) -> None:
    """The store copies the first staged file, then fails (or the process dies)."""
    real_copy = fs.copy

    def copy(sources, targets, *args, **kwargs):
        real_copy(sources[:1], targets[:1], *args, **kwargs)
        raise exc
    monkeypatch.setattr(fs, "copy", copy)


def _fail_delete_of(monkeypatch, fs, names: list[str], exc: BaseException) -> None:
    """Deleting any of ``names`` fails (or the process dies there)."""
    real_rm = fs.rm

    def rm(path, *args, **kwargs):
        paths = path if isinstance(path, list) else [path]
        if any(p.rstrip("/").endswith(tuple(names)) for p in paths):
            raise exc
        return real_rm(path, *args, **kwargs)
    monkeypatch.setattr(fs, "rm", rm)


THREE_TASKS = [[table(100, 3)], [table(103, 3)], [table(106, 3)]]


def test_a_failed_copy_rolls_back_to_the_old_set(s3_server, dest, monkeypatch) -> None:
    before = _keys(s3_server, dest)
    sink = _new_sink(dest)
    results = stage(sink, THREE_TASKS, uuid="new")
    with monkeypatch.context() as patch:
        _fail_copy_after_one(patch, sink.filesystem, OSError("connection reset by peer"))
        with pytest.raises(DataSinkError, match="rolled back.*connection reset"):
            sink.on_write_complete(results)
    assert _keys(s3_server, dest) == before
    assert ids(dest) == OLD


def test_a_crash_while_copying_leaves_the_old_set_valid_and_the_next_write_cleans_up(
        s3_server, dest, monkeypatch) -> None:
    sink = _new_sink(dest)
    results = stage(sink, THREE_TASKS, uuid="new")
    with monkeypatch.context() as patch:
        _fail_copy_after_one(patch, sink.filesystem, Crash())
        with pytest.raises(Crash):
            sink.on_write_complete(results)
    keys = _keys(s3_server, dest)
    assert "new_000000_000000.parquet" in keys  # one new file is in place...
    assert any(commit_log.is_marker(k) for k in keys)
    assert ids(dest) == OLD  # ...but readers skip it: the commit is pending
    write(ParquetDatasink(dest, mode="append"), [[table(50, 2)]], uuid="next")
    assert ids(dest) == OLD + [50, 51]  # the half-done commit was rolled back first
    assert not [k for k in _keys(s3_server, dest) if k.startswith(("new_", "."))]


def test_a_crash_while_deleting_the_old_files_leaves_the_new_set_valid(s3_server, dest, monkeypatch) -> None:
    old_names = ["old_000000_000000.parquet", "old_000001_000000.parquet"]
    sink = _new_sink(dest)
    results = stage(sink, THREE_TASKS, uuid="new")
    with monkeypatch.context() as patch:
        _fail_delete_of(patch, sink.filesystem, old_names, Crash())
        with pytest.raises(Crash):
            sink.on_write_complete(results)
    keys = _keys(s3_server, dest)
    assert set(old_names) <= set(keys) and "new_000002_000000.parquet" in keys
    assert ids(dest) == NEW  # committed: the old files are skipped
    write(ParquetDatasink(dest, mode="append"), [[table(50, 1)]], uuid="next")
    assert ids(dest) == [50] + NEW
    assert not set(old_names) & set(_keys(s3_server, dest))


def test_a_failed_delete_of_the_old_files_still_commits(s3_server, dest, monkeypatch, caplog) -> None:
    old_names = ["old_000000_000000.parquet", "old_000001_000000.parquet"]
    sink = _new_sink(dest)
    results = stage(sink, THREE_TASKS, uuid="new")
    with monkeypatch.context() as patch, caplog.at_level(logging.WARNING, logger="streamdata.io"):
        _fail_delete_of(patch, sink.filesystem, old_names, PermissionError("AccessDenied"))
        sink.on_write_complete(results)  # the write itself succeeded
    assert "deleting the replaced files failed" in caplog.text
    assert ids(dest) == NEW
    write(_new_sink(dest), [[table(7, 1)]], uuid="again")
    assert ids(dest) == [7]
    assert _keys(s3_server, dest) == ["again_000000_000000.parquet"]


def test_an_append_whose_copy_fails_adds_nothing(s3_server, dest, monkeypatch) -> None:
    sink = CSVDatasink(dest, mode="append")
    results = stage(sink, THREE_TASKS, uuid="app")
    with monkeypatch.context() as patch:
        _fail_copy_after_one(patch, sink.filesystem, OSError("SlowDown"))
        with pytest.raises(DataSinkError, match="SlowDown"):
            sink.on_write_complete(results)
    assert not [k for k in _keys(s3_server, dest) if k.endswith(".csv") or k.startswith(".")]
    assert ids(dest) == OLD


def test_a_completed_overwrite_leaves_only_the_new_files(s3_server, dest) -> None:
    write(_new_sink(dest), THREE_TASKS, uuid="new")
    assert _keys(s3_server, dest) == [f"new_00000{i}_000000.parquet" for i in range(3)]
    assert ids(dest) == NEW


def test_a_torn_marker_is_ignored_by_readers(s3_server, dest) -> None:
    sink = _new_sink(dest)
    with sink.filesystem.open(commit_log.marker_path(sink.path, "torn"), "wb") as f:
        f.write(b'{"state": "pend')
    assert ids(dest) == OLD
    write(_new_sink(dest), [[table(7, 1)]], uuid="after")  # and the next write goes through
    assert ids(dest) == [7]
