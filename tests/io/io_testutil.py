"""Helpers of the I/O tests: run read tasks the way a worker does (pickled, then called)."""

from __future__ import annotations

from typing import Any

import cloudpickle
import pyarrow as pa


def run_tasks(source: Any, parallelism: int = 4) -> tuple[list[pa.Table], list[Any]]:
    """Every block of every read task, and the tasks as the worker saw them (after running)."""
    blocks: list[pa.Table] = []
    ran = []
    for task in source.get_read_tasks(parallelism):
        task = cloudpickle.loads(cloudpickle.dumps(task))
        blocks.extend(task())
        ran.append(task)
    return blocks, ran


def read_table(source: Any, parallelism: int = 4) -> pa.Table:
    """All rows a source reads, as one table (schemas unified like the engine's concat)."""
    blocks, _ = run_tasks(source, parallelism)
    return pa.concat_tables(blocks, promote_options="permissive")


def source_stats(tasks: list[Any]) -> dict[str, int]:
    """Sum of the Parquet read counters of tasks that ran."""
    out: dict[str, int] = {}
    for task in tasks:
        for k, v in getattr(task._read_fn.source, "stats", {}).items():
            out[k] = out.get(k, 0) + v
    return out
