"""``read → map_batches(callable class) → write``: the write runs in the actors' calls
(issue 14, wave 5), on 2 CPUs, with the pool holding one CPU or all of them, and an actor
that dies mid-run still leaves every row written exactly once."""

from __future__ import annotations

import os
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import streamdata as sd

ROWS = 4000
FILES = 4


@pytest.fixture()
def source(tmp_path):  # type: ignore[no-untyped-def]
    folder = tmp_path / "in"
    folder.mkdir()
    per = ROWS // FILES
    for i in range(FILES):
        ids = list(range(i * per, (i + 1) * per))
        pq.write_table(pa.table({"id": ids, "a": [float(x) for x in ids],
                                 "s": [f"v{x % 7}" for x in ids]}), folder / f"part-{i}.parquet")
    return str(folder)


class AddC:
    def __init__(self, factor: float) -> None:
        self.factor = factor
        self.pid = os.getpid()

    def __call__(self, df):  # type: ignore[no-untyped-def]
        df["c"] = df["a"] * self.factor
        df["pid"] = self.pid
        return df


class DiesOnce:
    """Exits its process on its first call ever (a marker file says it happened)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __call__(self, df):  # type: ignore[no-untyped-def]
        if not os.path.exists(self.marker):
            with open(self.marker, "w") as f:
                f.write("died")
            os._exit(1)
        df["c"] = df["a"] * 2
        return df


def _written(folder: str) -> pa.Table:
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".parquet"))
    assert files, f"nothing written to {folder}"
    return pa.concat_tables([pq.read_table(f) for f in files]).sort_by("id")


@pytest.mark.parametrize("actors", [1, 2])
def test_each_call_writes_its_block_and_every_row_lands_once(runtime, source, tmp_path, actors) -> None:  # type: ignore[no-untyped-def]
    """One actor leaves a CPU free; two hold every CPU of the 2 (nothing else needs one now
    that the write runs in the calls, and nothing waits for a CPU forever)."""
    ds = sd.read_parquet(source).map_batches(AddC, batch_format="pandas", concurrency=actors,
                                             fn_constructor_kwargs={"factor": 3.0})
    out = str(tmp_path / "out")
    began = time.monotonic()
    ds.write_parquet(out)
    assert time.monotonic() - began < 120
    table = _written(out)
    assert table["id"].to_pylist() == list(range(ROWS))
    assert table["c"].to_pylist() == [3.0 * x for x in range(ROWS)]
    assert table["s"].to_pylist() == [f"v{x % 7}" for x in range(ROWS)]
    assert len(set(table["pid"].to_pylist())) <= actors  # the rows came through the pool's actors


def test_a_dead_actor_restarts_and_its_write_is_done_once(runtime, source, tmp_path) -> None:  # type: ignore[no-untyped-def]
    marker = str(tmp_path / "died")
    ds = sd.read_parquet(source).map_batches(DiesOnce, batch_format="pandas", concurrency=1,
                                             fn_constructor_kwargs={"marker": marker})
    out = str(tmp_path / "out")
    ds.write_parquet(out)
    assert os.path.exists(marker)  # it did die once
    table = _written(out)
    assert table["id"].to_pylist() == list(range(ROWS))
    assert table["c"].to_pylist() == [2.0 * x for x in range(ROWS)]


class SqliteScaled:
    """Thread-bound state: a sqlite connection made in the constructor may only be used on
    its thread (sqlite3 raises ProgrammingError elsewhere)."""

    def __init__(self) -> None:
        import sqlite3

        self.db = sqlite3.connect(":memory:")
        self.db.execute("create table f (v real)")
        self.db.execute("insert into f values (2.0)")

    def __call__(self, df):  # type: ignore[no-untyped-def]
        import streamdata as sd_

        (factor,) = self.db.execute("select v from f").fetchone()
        df["c"] = df["a"] * factor
        df["task"] = sd_.get_runtime_context().get_task_id()
        return df


def _add_c(df):  # type: ignore[no-untyped-def]
    df["c"] = df["a"] * 2.0
    return df


def test_the_pools_written_files_equal_the_task_forms(runtime, source, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """What the pool writes (the write in its calls) is what the task form of the same UDF
    writes: rows once each, values, schema; the UDF keeps its thread-bound state (a sqlite
    connection from its constructor) and sees the call it runs in."""
    pool_out, task_out = str(tmp_path / "pool"), str(tmp_path / "task")
    # 4 one-file calls: several calls queued in the one actor, overlapping
    sd.read_parquet(source, override_num_blocks=FILES).map_batches(
        SqliteScaled, batch_format="pandas", concurrency=1).write_parquet(pool_out)
    sd.read_parquet(source, override_num_blocks=FILES).map_batches(
        _add_c, batch_format="pandas").write_parquet(task_out)
    pool, task = _written(pool_out), _written(task_out)
    assert pool.num_rows == ROWS and pool["id"].to_pylist() == list(range(ROWS))
    tasks = pool["task"].to_pylist()
    assert None not in tasks and len(set(tasks)) >= 2  # every batch saw the call it ran in
    assert pool.drop_columns(["task"]).equals(task)
    assert pool.schema.remove(pool.schema.get_field_index("task")).equals(task.schema, check_metadata=False)
    assert len([f for f in os.listdir(pool_out) if f.endswith(".parquet")]) == len(
        [f for f in os.listdir(task_out) if f.endswith(".parquet")])
