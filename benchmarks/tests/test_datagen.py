"""Tests of the synthetic data generator (small sizes, no engines)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import datagen


def test_table_shape_and_value_ranges() -> None:
    table = datagen.make_table(2, 5000)
    assert table.schema == datagen.SCHEMA
    assert table["id"].to_pylist() == list(range(10_000, 15_000))
    keys = table["key"].to_numpy()
    assert keys.min() >= 0 and keys.max() < datagen.NUM_KEYS
    a = table["a"].to_numpy()
    assert a.min() >= 0.0 and a.max() < 1.0
    assert abs(table["b"].to_numpy().mean()) < 0.1
    assert len(set(table["s"].to_pylist())) == datagen.NUM_STRINGS


def test_files_differ_and_are_deterministic() -> None:
    assert datagen.make_table(1, 100).equals(datagen.make_table(1, 100))
    assert not datagen.make_table(1, 100).drop(["id"]).equals(
        datagen.make_table(2, 100).drop(["id"]))
    assert not datagen.make_table(1, 100, seed=1).equals(datagen.make_table(1, 100, seed=2))


def test_generate_all_writes_parquet_and_csv(tmp_path: Path) -> None:
    info = datagen.generate_all(tmp_path, scale=0.001)
    assert info["parquet"]["generated"] and info["csv"]["generated"]
    parquet_dir = Path(info["parquet"]["path"])
    assert sorted(p.name for p in parquet_dir.iterdir()) == [
        f"part-{i:05d}.parquet" for i in range(datagen.NUM_PARQUET_FILES)]
    table = pq.read_table(parquet_dir)
    assert table.num_rows == datagen.NUM_PARQUET_FILES * 1000
    assert table["id"].to_pylist() == list(range(table.num_rows))
    csv_dir = Path(info["csv"]["path"])
    csv_files = sorted(csv_dir.iterdir())
    assert len(csv_files) == datagen.NUM_CSV_FILES
    first = pcsv.read_csv(csv_files[0])
    assert first.column_names == datagen.SCHEMA.names
    assert first.num_rows == 1000
    # The CSV holds the same rows as the Parquet file with the same index.
    assert first["key"].equals(pq.read_table(parquet_dir / "part-00000.parquet")["key"])


def test_generation_is_idempotent_and_regenerates_on_change(tmp_path: Path) -> None:
    target = tmp_path / "p"
    assert datagen.generate_parquet(target, num_files=2, rows_per_file=10)["generated"]
    mtime = (target / "part-00000.parquet").stat().st_mtime_ns
    assert not datagen.generate_parquet(target, num_files=2, rows_per_file=10)["generated"]
    assert (target / "part-00000.parquet").stat().st_mtime_ns == mtime
    # Different params: regenerated, and no stale file from the old layout is left.
    assert datagen.generate_parquet(target, num_files=1, rows_per_file=10)["generated"]
    assert sorted(p.name for p in target.iterdir()) == ["part-00000.parquet"]
    manifest = json.loads(datagen.manifest_path(target).read_text())
    assert manifest["params"]["num_files"] == 1


def test_missing_file_triggers_regeneration(tmp_path: Path) -> None:
    target = tmp_path / "p"
    datagen.generate_parquet(target, num_files=2, rows_per_file=10)
    (target / "part-00001.parquet").unlink()
    assert datagen.generate_parquet(target, num_files=2, rows_per_file=10)["generated"]
    assert pq.read_table(target).num_rows == 20


def test_ltm_dataset_is_ten_times_the_budget(tmp_path: Path) -> None:
    budget = 2 * 2**20
    info = datagen.generate_all(tmp_path, scale=0.001, ltm_budget_bytes=budget, which=("ltm",))
    table = pq.read_table(info["ltm"]["path"])
    assert 9.5 * budget < table.nbytes < 10.5 * budget
    assert set(info) == {"ltm"}


def test_bad_scale_is_rejected() -> None:
    with pytest.raises(ValueError, match="scale"):
        datagen.rows_per_file_for_scale(0)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert datagen.main(["--scale", "0.0005", "--out", str(tmp_path)]) == 0
    assert "generated" in capsys.readouterr().out
    assert datagen.main(["--scale", "0.0005", "--out", str(tmp_path)]) == 0
    assert "already present" in capsys.readouterr().out
