"""streamdata quickstart: a real pipeline on the embedded runtime, no cluster needed.

1. writes a small synthetic dataset as Parquet files (in parallel tasks),
2. reads it back with a filter pushed into the reader,
3. transforms it with a task stage and an actor-pool stage (a stand-in "model"),
4. aggregates per key, writes the result, and prints what the executor did.

Run: python examples/quickstart.py [--rows N] [--out DIR]

Without ``--out`` everything is written to a temporary folder that is removed when the script ends.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

import streamdata as sd


def add_features(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A vectorized CPU stage: derive a feature column."""
    batch["c"] = batch["a"] * 2 + batch["b"]
    return batch


class Scorer:
    """A stateful stage (think: a model loaded once per actor) run by an actor pool."""

    def __init__(self, weight: float) -> None:
        self.weight = weight

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        batch["score"] = np.tanh(batch["c"] * self.weight)
        return batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--out", default=None, help="output folder (default: a temp folder)")
    args = parser.parse_args()
    if args.out:
        run(args.rows, args.out)
    else:
        with tempfile.TemporaryDirectory(prefix="streamdata-quickstart-") as out:
            run(args.rows, out)


def run(rows: int, out: str) -> None:
    """Run the pipeline, writing under ``out``."""
    start = time.perf_counter()
    sd.init(num_cpus=2)
    print(f"sd.init(): {time.perf_counter() - start:.3f} s")

    # 1. synthetic data -> Parquet (8 files)
    rng_rows = rows
    source = (sd.range(rng_rows, override_num_blocks=8)
              .map_batches(lambda b: {
                  "id": b["id"],
                  "key": b["id"] % 100,
                  "a": (b["id"] % 1000) / 1000.0,
                  "b": np.sin(b["id"].astype(np.float64)),
              }))
    source.write_parquet(f"{out}/input")

    # 2-3. read with a pushed-down filter, a task stage, an actor-pool stage
    ds = (sd.read_parquet(f"{out}/input")
          .filter(expr=sd.col("a") > 0.5)
          .map_batches(add_features)
          .map_batches(Scorer, fn_constructor_kwargs={"weight": 0.1}, concurrency=2, batch_size=8192))

    # 4. aggregate per key and write
    result = ds.groupby("key").mean("score").sort("key")
    result.write_parquet(f"{out}/scores")
    table = sd.read_parquet(f"{out}/scores").to_pandas()

    expected_rows = sum(1 for i in range(1000) if i / 1000.0 > 0.5) * (rng_rows // 1000)
    print(f"rows after filter: {ds.count():,} (expected about {expected_rows:,})")
    print(f"keys aggregated: {len(table)}; first rows:\n{table.head(3).to_string(index=False)}")
    print("\nplan:")
    ds.explain()
    print(f"\nwrote {out}/scores in {time.perf_counter() - start:.2f} s end to end"
          " (a temporary folder, removed on exit, unless --out DIR was given)")
    sd.shutdown()


if __name__ == "__main__":
    main()
