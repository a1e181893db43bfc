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
