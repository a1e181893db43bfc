"""Shared fixtures of the benchmark-suite tests: the benchmarks/ directory on sys.path
(the suite's modules are scripts, imported by name) and one tiny generated dataset."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

BENCH_DIR = Path(__file__).resolve().parents[1]
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

TINY_ROWS_PER_FILE = 500


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """16 Parquet files and 4 CSV files of 500 rows, and a 1 MiB-budget ltm set."""
    import datagen

    root = tmp_path_factory.mktemp("bench-data")
    info = datagen.generate_all(root, scale=TINY_ROWS_PER_FILE / datagen.FULL_ROWS_PER_FILE,
                                ltm_budget_bytes=2**20)
    return {"root": root, **{k: v["path"] for k, v in info.items()}}
