"""Deterministic synthetic tables for the benchmark suite.

Every table has the same five columns (``id`` int64, ``key`` int64 in [0, 1000),
``a`` float64 uniform in [0, 1), ``b`` float64 standard normal, ``s`` string with
50 distinct values). Each file is generated from its own seeded generator, so a
file's content depends only on (seed, file index, rows per file): the same
parameters always give the same bytes, whatever else is generated.

Three datasets live side by side under one directory per scale::

    <out>/scale-<scale>/parquet/part-00000.parquet ...   16 files × 1,000,000 rows × scale
    <out>/scale-<scale>/csv/part-00000.csv ...             4 files, same shape
    <out>/ltm-<budget MiB>/part-00000.parquet ...          10 × an object-store budget

Generation is idempotent: next to each dataset directory ``<dir>`` a manifest
``<dir>.manifest.json`` is written last (outside the directory, so that readers given the
directory see data files only); a directory whose manifest matches the requested
parameters is left alone.

Example:
    >>> import tempfile, pyarrow.parquet as pq
    >>> d = tempfile.mkdtemp()
    >>> info = generate_parquet(d + "/p", num_files=2, rows_per_file=10)
    >>> pq.read_table(d + "/p").num_rows
    20
    >>> generate_parquet(d + "/p", num_files=2, rows_per_file=10)["generated"]
    False

Command line: ``python benchmarks/datagen.py --scale 0.05 --out benchmarks/data``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

DEFAULT_OUT = Path(__file__).resolve().parent / "data"
DEFAULT_SEED = 20240607
FULL_ROWS_PER_FILE = 1_000_000
NUM_PARQUET_FILES = 16
NUM_CSV_FILES = 4
NUM_LTM_FILES = 40
NUM_KEYS = 1000
NUM_STRINGS = 50
LTM_FACTOR = 10
MANIFEST_SUFFIX = ".manifest.json"
FORMAT_VERSION = 1

SCHEMA = pa.schema([
    ("id", pa.int64()),
    ("key", pa.int64()),
    ("a", pa.float64()),
    ("b", pa.float64()),
    ("s", pa.string()),
])

_STRING_VALUES = pa.array([f"value_{i:02d}" for i in range(NUM_STRINGS)], pa.string())


def make_table(file_index: int, rows: int, *, seed: int = DEFAULT_SEED,
               first_id: int | None = None) -> pa.Table:
    """Build the rows of one file.

    Args:
        file_index: which file (selects the generator stream).
        rows: number of rows.
        seed: the dataset seed.
        first_id: the ``id`` of the first row; default ``file_index * rows``.

    Returns:
        A table with :data:`SCHEMA`.

    Example:
        >>> t = make_table(0, 5)
        >>> t.column_names, t.num_rows, t["id"].to_pylist()
        (['id', 'key', 'a', 'b', 's'], 5, [0, 1, 2, 3, 4])
        >>> make_table(3, 5).equals(make_table(3, 5))
        True
    """
    rng = np.random.default_rng([seed, file_index])
    start = file_index * rows if first_id is None else first_id
    ids = np.arange(start, start + rows, dtype=np.int64)
    keys = rng.integers(0, NUM_KEYS, size=rows, dtype=np.int64)
    a = rng.random(rows)
    b = rng.standard_normal(rows)
    codes = rng.integers(0, NUM_STRINGS, size=rows, dtype=np.int32)
    s = pa.DictionaryArray.from_arrays(pa.array(codes), _STRING_VALUES).cast(pa.string())
    return pa.Table.from_arrays([pa.array(ids), pa.array(keys), pa.array(a), pa.array(b), s],
                                schema=SCHEMA)


def bytes_per_row(*, seed: int = DEFAULT_SEED, sample_rows: int = 10_000) -> float:
    """In-memory (Arrow) bytes of one row, measured on a sample.

    Example:
        >>> 40 < bytes_per_row() < 60
        True
    """
    return make_table(0, sample_rows, seed=seed).nbytes / sample_rows


def manifest_path(directory: str | os.PathLike[str]) -> Path:
    """Where the manifest of a dataset directory lives (beside it, not inside).

    Example:
        >>> manifest_path("/x/parquet").as_posix()
        '/x/parquet.manifest.json'
    """
    directory = Path(directory)
    return directory.with_name(directory.name + MANIFEST_SUFFIX)


def _read_manifest(directory: Path) -> dict[str, Any] | None:
    try:
        return json.loads(manifest_path(directory).read_text())
    except (OSError, ValueError):
        return None


def _is_complete(directory: Path, params: dict[str, Any]) -> bool:
    manifest = _read_manifest(directory)
    if manifest is None or manifest.get("params") != params:
        return False
    return all((directory / name).is_file() for name in manifest.get("files", []))


def _generate(directory: Path, params: dict[str, Any], fmt: str) -> dict[str, Any]:
    """Write ``params['num_files']`` files of ``params['rows_per_file']`` rows, atomically."""
    if _is_complete(directory, params):
        return {"path": str(directory), "generated": False, **params}
    manifest_path(directory).unlink(missing_ok=True)
    if directory.exists():
        shutil.rmtree(directory)
    staging = directory.with_name(directory.name + ".tmp")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    start = time.perf_counter()
    names = []
    rows = params["rows_per_file"]
    for i in range(params["num_files"]):
        table = make_table(i, rows, seed=params["seed"])
        name = f"part-{i:05d}.{fmt}"
        if fmt == "parquet":
            import pyarrow.parquet as pq
            pq.write_table(table, staging / name)
        else:
            import pyarrow.csv as pcsv
            pcsv.write_csv(table, staging / name)
        names.append(name)
    manifest = {"params": params, "files": names,
                "bytes_on_disk": sum((staging / n).stat().st_size for n in names),
                "seconds": round(time.perf_counter() - start, 3)}
    os.replace(staging, directory)
    manifest_path(directory).write_text(json.dumps(manifest, indent=1))
    return {"path": str(directory), "generated": True, **params}


def generate_parquet(directory: str | os.PathLike[str], *, num_files: int = NUM_PARQUET_FILES,
                     rows_per_file: int = FULL_ROWS_PER_FILE,
                     seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Write ``num_files`` Parquet files (skipped when already there with the same params).

    Returns:
        ``{"path", "generated", "num_files", "rows_per_file", "seed", ...}``.
    """
    params = {"format": "parquet", "num_files": num_files, "rows_per_file": rows_per_file,
              "seed": seed, "version": FORMAT_VERSION}
    return _generate(Path(directory), params, "parquet")


def generate_csv(directory: str | os.PathLike[str], *, num_files: int = NUM_CSV_FILES,
                 rows_per_file: int = FULL_ROWS_PER_FILE,
                 seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Write ``num_files`` CSV files with a header row (idempotent, as :func:`generate_parquet`)."""
    params = {"format": "csv", "num_files": num_files, "rows_per_file": rows_per_file,
              "seed": seed, "version": FORMAT_VERSION}
    return _generate(Path(directory), params, "csv")


def rows_per_file_for_scale(scale: float) -> int:
    """Rows of each main-table file at ``scale`` (1.0 = 1,000,000).

    Example:
        >>> rows_per_file_for_scale(0.05)
        50000
    """
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    return max(1, round(FULL_ROWS_PER_FILE * scale))


def ltm_rows_per_file(budget_bytes: int, *, factor: int = LTM_FACTOR,
                      num_files: int = NUM_LTM_FILES, seed: int = DEFAULT_SEED) -> int:
    """Rows per file so that ``num_files`` files hold ``factor`` × ``budget_bytes`` in memory.

    Example:
        >>> rows = ltm_rows_per_file(80 * 2**20)
        >>> 0.95 < rows * NUM_LTM_FILES * bytes_per_row() / (800 * 2**20) < 1.05
        True
    """
    return max(1, math.ceil(factor * budget_bytes / (num_files * bytes_per_row(seed=seed))))


def dataset_paths(out: str | os.PathLike[str], scale: float,
                  ltm_budget_bytes: int | None = None) -> dict[str, Path]:
    """Where :func:`generate_all` puts each dataset (nothing is written)."""
    root = Path(out)
    paths = {"parquet": root / f"scale-{scale:g}" / "parquet",
             "csv": root / f"scale-{scale:g}" / "csv"}
    if ltm_budget_bytes is not None:
        paths["ltm"] = root / f"ltm-{ltm_budget_bytes // 2**20}MiB"
    return paths


def generate_all(out: str | os.PathLike[str] = DEFAULT_OUT, *, scale: float = 1.0,
                 ltm_budget_bytes: int | None = None, seed: int = DEFAULT_SEED,
                 which: tuple[str, ...] = ("parquet", "csv", "ltm")) -> dict[str, dict[str, Any]]:
    """Generate the datasets named in ``which`` (``ltm`` only with a budget).

    Returns:
        Per dataset, the dict returned by :func:`generate_parquet` / :func:`generate_csv`.
    """
    paths = dataset_paths(out, scale, ltm_budget_bytes)
    rows = rows_per_file_for_scale(scale)
    info: dict[str, dict[str, Any]] = {}
    if "parquet" in which:
        info["parquet"] = generate_parquet(paths["parquet"], rows_per_file=rows, seed=seed)
    if "csv" in which:
        info["csv"] = generate_csv(paths["csv"], rows_per_file=rows, seed=seed)
    if "ltm" in which and ltm_budget_bytes is not None:
        info["ltm"] = generate_parquet(paths["ltm"], num_files=NUM_LTM_FILES,
                                       rows_per_file=ltm_rows_per_file(ltm_budget_bytes, seed=seed),
                                       seed=seed)
        info["ltm"]["budget_bytes"] = ltm_budget_bytes
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="fraction of the full size (1.0 = 16 × 1,000,000 rows)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output directory")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--ltm-budget-mb", type=int, default=None,
                        help="also write the larger-than-memory dataset for this budget (MiB)")
    args = parser.parse_args(argv)
    budget = args.ltm_budget_mb * 2**20 if args.ltm_budget_mb else None
    for name, item in generate_all(args.out, scale=args.scale, ltm_budget_bytes=budget,
                                   seed=args.seed).items():
        state = "generated" if item["generated"] else "already present"
        print(f"{name}: {item['num_files']} × {item['rows_per_file']:,} rows at {item['path']} "
              f"({state})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
