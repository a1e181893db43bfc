"""``min_rows_per_file`` at the sink, as Ray's file sinks hold it: the sink reports it as
``min_rows_per_write`` (the plan gives each write task at least that many rows) and a
write task puts all its rows in one file, so each file holds at least that many but the
last; with ``max_rows_per_file`` as well, files are cut at the maximum."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from io_testutil import read_table

from streamdata.errors import PlanError
from streamdata.io.csv import CSVDatasink, CSVDatasource
from streamdata.io.datasink import Datasink
from streamdata.io.json import JSONDatasink, JSONDatasource
from streamdata.io.parquet import ParquetDatasink, ParquetDatasource
from streamdata.write_context import WriteContext

SINKS = [(ParquetDatasink, ParquetDatasource, "parquet"), (CSVDatasink, CSVDatasource, "csv"),
         (JSONDatasink, JSONDatasource, "json")]


def table(start: int, n: int) -> pa.Table:
    return pa.table({"id": np.arange(start, start + n)})


def write(sink, task_blocks: list[list[pa.Table]]) -> None:
    sink.on_write_start()
    results = [sink.write(iter(blocks), WriteContext("w1", i)) for i, blocks in enumerate(task_blocks)]
    sink.on_write_complete(results)


def rows_per_file(path: Path, source_cls) -> list[int]:
    return sorted(read_table(source_cls(str(f))).num_rows for f in path.iterdir() if f.is_file())


@pytest.mark.parametrize("sink_cls,source_cls,ext", SINKS)
def test_min_rows_per_file_is_the_sinks_min_rows_per_write(tmp_path: Path, sink_cls, source_cls, ext):
    sink = sink_cls(str(tmp_path / ext), min_rows_per_file=25)
    assert sink.min_rows_per_write == 25
    assert sink_cls(str(tmp_path / "other")).min_rows_per_write is None
    # the plan hands each task >= 25 rows (here: small blocks, as they come from upstream);
    # each task writes them into one file
    write(sink, [[table(0, 10), table(10, 10), table(20, 10)], [table(30 + 5 * k, 5) for k in range(5)], [table(55, 7)]])
    assert rows_per_file(tmp_path / ext, source_cls) == [7, 25, 30]
    assert sorted(read_table(source_cls(str(tmp_path / ext))).column("id").to_pylist()) == list(range(62))


@pytest.mark.parametrize("sink_cls,source_cls,ext", SINKS)
def test_min_and_max_rows_per_file(tmp_path: Path, sink_cls, source_cls, ext):
    sink = sink_cls(str(tmp_path / ext), min_rows_per_file=10, max_rows_per_file=10)
    write(sink, [[table(4 * k, 4) for k in range(8)]])  # one task, 32 rows: files of exactly 10, and the rest
    assert rows_per_file(tmp_path / ext, source_cls) == [2, 10, 10, 10]


def test_bad_min_rows_per_file_names_the_argument(tmp_path: Path):
    for bad in (0, -3, 2.5, "10", True):
        with pytest.raises(PlanError, match=r"min_rows_per_file must be a positive int"):
            JSONDatasink(str(tmp_path / "j"), min_rows_per_file=bad)
    with pytest.raises(PlanError, match=r"min_rows_per_file \(20\) must not exceed max_rows_per_file \(5\)"):
        CSVDatasink(str(tmp_path / "c"), min_rows_per_file=20, max_rows_per_file=5)


def test_a_datasink_has_no_minimum_by_default():
    class Mine(Datasink):
        def write(self, blocks, ctx):
            return None

    assert Mine().min_rows_per_write is None
