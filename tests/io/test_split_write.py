"""A write task allowed several encode threads (``WriteContext.encode_threads``, issue 14
wave 6) cuts its rows into files encoded at once — where the sink's options leave the
files to it — and writes one file at a time otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streamdata.io.csv import CSVDatasink
from streamdata.io.file_datasink import MIN_ROWS_PER_SPLIT_FILE
from streamdata.io.parquet import ParquetDatasink
from streamdata.write_context import WriteContext


def block(n: int, start: int = 0) -> pa.Table:
    ids = np.arange(start, start + n)
    return pa.table({"id": ids, "x": np.random.default_rng(start).random(n), "s": [f"k{i % 5}" for i in ids]})


def write(sink: Any, blocks: list[pa.Table], threads: int = 2) -> dict[str, Any]:
    sink.on_write_start()
    result = sink.write(iter(blocks), WriteContext("w", 3, encode_threads=threads))
    sink.on_write_complete([result])
    return result


def test_a_large_block_becomes_files_encoded_at_once_and_reads_back_whole(tmp_path: Path) -> None:
    blocks = [block(30_000), block(20_000, 30_000)]
    result = write(ParquetDatasink(str(tmp_path / "out")), blocks)
    assert result["files"] == ["w_000003_000000.parquet", "w_000003_000001.parquet"]
    assert result["num_rows"] == 50_000
    parts = [pq.read_table(tmp_path / "out" / name) for name in result["files"]]
    assert [p.num_rows for p in parts] == [25_000, 25_000]
    assert pa.concat_tables(parts).equals(pa.concat_tables(blocks))


def test_small_blocks_stay_one_file(tmp_path: Path) -> None:
    result = write(ParquetDatasink(str(tmp_path / "out")), [block(MIN_ROWS_PER_SPLIT_FILE * 2 - 1)])
    assert len(result["files"]) == 1


def test_a_schema_change_starts_new_files(tmp_path: Path) -> None:
    other = block(40_000, 40_000).append_column("extra", pa.array(np.ones(40_000)))
    result = write(ParquetDatasink(str(tmp_path / "out")), [block(40_000), other])
    assert len(result["files"]) == 4
    back = [pq.read_table(tmp_path / "out" / name) for name in result["files"]]
    assert [t.num_columns for t in back] == [3, 3, 4, 4]
    assert sum(t.num_rows for t in back) == 80_000


@pytest.mark.parametrize("option", ["max_rows_per_file", "min_rows_per_file", "partition_cols",
                                    "filename_provider", "one thread", "csv"])
def test_options_that_decide_the_files_keep_one_file_at_a_time(tmp_path: Path, option: str) -> None:
    kwargs: dict[str, Any] = {"max_rows_per_file": {"max_rows_per_file": 100_000},
                              "min_rows_per_file": {"min_rows_per_file": 10},
                              "partition_cols": {"partition_cols": ["s"]}}.get(option, {})
    sink: Any = (CSVDatasink(str(tmp_path / "out")) if option == "csv"
                 else ParquetDatasink(str(tmp_path / "out"), **kwargs))
    if option == "filename_provider":
        class Names:
            def get_filename_for_block(self, block, write_uuid, task_index, block_index):  # type: ignore[no-untyped-def]
                return f"mine-{task_index}-{block_index}.parquet"

        sink.filename_provider = Names()
    result = write(sink, [block(50_000)], threads=1 if option == "one thread" else 2)
    assert len(result["files"]) == (5 if option == "partition_cols" else 1)
    if option == "filename_provider":
        assert result["files"] == ["mine-3-0.parquet"]


def test_an_encode_error_in_a_thread_fails_the_write(tmp_path: Path) -> None:
    class Failing(ParquetDatasink):
        def open_writer(self, f, schema):  # type: ignore[no-untyped-def]
            raise OSError("disk full (test)")

    sink = Failing(str(tmp_path / "out"))
    sink.on_write_start()
    with pytest.raises(OSError, match="disk full"):
        sink.write(iter([block(50_000)]), WriteContext("w", 0, encode_threads=2))
