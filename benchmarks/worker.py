"""Runs ONE workload on ONE engine in this (fresh) process and writes a JSON result.

Started by ``run.py``, one process per (workload, engine), so that memory and
start-up are isolated. Timeline, all measured here from the top of this file::

    import_s   importing the engine (``import ray`` / ``import streamdata`` / ...)
    init_s     starting it (``ray.init`` / ``sd.init``; a process pool for pyarrow)
    runs       each repetition of the workload; the steady-state median leaves out the
               first, which is reported as ``first_s``
    settle_s   after the first repetition, the wait for the process tree to go quiet
               (``settle.py``: start-up work still running in background processes), so
               the repetitions after it time the steady state; the same for every engine
    e2e_s      process start → end of the first repetition (start-up included)

After the timed repetitions, written output is verified with pyarrow (untimed).
Any failure is caught and written as ``"error": "<Type>: <message>"``; completed
stages keep their figures.

Usage: ``python benchmarks/worker.py --engine ray --workload sort --params P --result R``.
"""

from __future__ import annotations

import time

T_START = time.perf_counter()

import argparse
import json
import os
import shutil
import statistics
import sys
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engines import module_for
from engines.common import sig
from settle import wait_until_quiet
from workloads import WORKLOADS, Params

MAX_ERROR_CHARS = 500


def describe_error(exc: BaseException) -> str:
    """``"<Type>: <first lines of the message>"``, bounded in length.

    Example:
        >>> describe_error(ValueError("bad\\nthing"))
        'ValueError: bad thing'
    """
    message = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text[:MAX_ERROR_CHARS]


def reset_dir(path: str) -> None:
    """Empty (or create) a scratch output directory."""
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path, exist_ok=True)


def verify_written(path: str) -> dict[str, Any]:
    """Row count and ``sum(c)`` of the Parquet files written under ``path`` (any layout:
    the number of files differs between engines, so it is not part of the check).

    Raises:
        ValueError: nothing was written.
    """
    import pyarrow.compute as pc
    import pyarrow.dataset as pads

    dataset = pads.dataset(path, format="parquet")
    if not dataset.files:
        raise ValueError(f"no Parquet file written under {path}")
    rows = 0
    total = 0.0
    for batch in dataset.to_batches(columns=["c"]):
        rows += batch.num_rows
        total += pc.sum(batch.column(0)).as_py() or 0.0
    return {"rows": rows, "sum_c": sig(total)}


def run(engine: str, workload: str, params: Params) -> dict[str, Any]:
    """Import, start, run the repetitions, verify; never raises."""
    result: dict[str, Any] = {"engine": engine, "workload": workload, "pid": os.getpid(),
                              "runs": [], "error": None}
    module = module_for(engine)
    fn = module.WORKLOADS.get(workload)
    if fn is None:
        result["error"] = f"NotImplemented: {engine} has no {workload}"
        return result
    writes = WORKLOADS[workload].writes
    stage = "import"
    ctx: Any = None
    try:
        t = time.perf_counter()
        handle = module.import_engine(engine)
        result["import_s"] = round(time.perf_counter() - t, 4)
        stage = "init"
        t = time.perf_counter()
        ctx = module.start(handle, params, workload)
        result["init_s"] = round(time.perf_counter() - t, 4)
        result["startup_s"] = round(result["import_s"] + result["init_s"], 4)
        stage = "run"
        for rep in range(params.reps):
            if writes:
                reset_dir(params.out_dir)
            t = time.perf_counter()
            out = fn(ctx, params)
            end = time.perf_counter()
            result["runs"].append(round(end - t, 4))
            if rep == 0:
                result["e2e_s"] = round(end - T_START, 4)
                if params.reps > 1:
                    result["settle_s"] = wait_until_quiet()
            result["metrics"] = out.pop("metrics", {})
            result["check"] = out
        stage = "verify"
        if writes:
            result["check"] = verify_written(params.out_dir)
    except BaseException as exc:  # noqa: BLE001 - every failure becomes a result
        traceback.print_exc()
        result["error"] = describe_error(exc)
        result["failed_stage"] = stage
    finally:
        if ctx is not None:
            try:
                module.stop(ctx)
            except Exception as exc:  # noqa: BLE001
                traceback.print_exc()
                result.setdefault("stop_error", describe_error(exc))
        if writes and params.out_dir and os.path.isdir(params.out_dir):
            shutil.rmtree(params.out_dir, ignore_errors=True)
    if result["runs"]:
        # steady state: the repetitions after the first (which pays each engine's first-use
        # costs and is reported on its own); the first alone when there is no other
        steady = result["runs"][1:] or result["runs"]
        result["median_s"] = round(statistics.median(steady), 4)
        result["first_s"] = result["runs"][0]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run one benchmark workload on one engine")
    parser.add_argument("--engine", required=True)
    parser.add_argument("--workload", required=True, choices=sorted(WORKLOADS))
    parser.add_argument("--params", required=True, help="JSON file of Params")
    parser.add_argument("--result", required=True, help="where to write the JSON result")
    args = parser.parse_args(argv)
    result = run(args.engine, args.workload, Params.from_file(args.params))
    result["process_s"] = round(time.perf_counter() - T_START, 4)
    tmp = args.result + ".tmp"
    Path(tmp).write_text(json.dumps(result))
    os.replace(tmp, args.result)
    return 0 if result["error"] is None else 1


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    raise SystemExit(main())
