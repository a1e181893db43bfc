"""CSV is parsed in 16 MiB blocks unless the user's read_options say otherwise (no processes)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.csv as pacsv

from streamdata.io.csv import CSVDatasource


def test_a_3_mb_file_is_parsed_in_one_block_by_default(tmp_path):
    n = 250_000
    pacsv.write_csv(pa.table({"id": range(n), "x": [i * 0.5 for i in range(n)]}), tmp_path / "a.csv")
    assert (tmp_path / "a.csv").stat().st_size > 2 << 20
    src = CSVDatasource(str(tmp_path))
    tables = list(_raw_batches(src))
    assert len(tables) == 1 and tables[0].num_rows == n
    small = list(_raw_batches(CSVDatasource(str(tmp_path), read_options={"block_size": 1 << 20})))
    assert len(small) >= 3 and sum(t.num_rows for t in small) == n  # the user's block size wins


def _raw_batches(src: CSVDatasource):
    (split,) = [s for group in src.plan_splits(1) for s in group]
    return src.read_split(src.filesystem, split)
