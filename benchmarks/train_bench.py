"""Training throughput, streamdata vs Ray Train, on the same loop and data.

The loop (2 workers, torch DDP over gloo, a small MLP) reads its shard with
``iter_torch_batches`` for a few epochs; the dataset is ``range(rows)`` with a
``map_batches`` stage making 16 float features and a target. Inside the loop each
worker times every wait for the next batch; rank 0 reports per epoch:

- rows/s into the loop (all workers' rows / epoch time),
- epoch time,
- the fraction of the epoch spent waiting for data.

Each engine runs in its own process (a fresh runtime / Ray instance) with the same
logical CPUs. Run:

    PYTHONPATH=$PWD python benchmarks/train_bench.py --rows 200000 --epochs 3
    PYTHONPATH=$PWD python benchmarks/train_bench.py --engine streamdata   # one engine only

Results go to benchmarks/results/train-<time>.json and .md (with the command).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from typing import Any

FEATURES = 16


def make_features(batch: dict[str, Any]) -> dict[str, Any]:
    """16 float32 features and a target, from the ids (the same for both engines)."""
    import numpy as np

    ids = batch["id"].astype(np.float32)
    x = np.stack([np.sin(ids * (k + 1) * 1e-3) for k in range(FEATURES)], axis=1).astype(np.float32)
    y = (x.sum(axis=1) * 0.5).astype(np.float32)
    return {"x": x, "y": y}


def train_loop(config: dict) -> None:
    """The loop both engines run (the engine's train module comes from the config)."""
    import torch

    train = importlib.import_module(config["train_module"])
    torch_mod = importlib.import_module(config["train_module"] + ".torch")
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = torch_mod.prepare_model(torch.nn.Sequential(
        torch.nn.Linear(FEATURES, config["hidden"]), torch.nn.ReLU(), torch.nn.Linear(config["hidden"], 1)))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    shard = train.get_dataset_shard("train")
    ctx = train.get_context()
    for epoch in range(config["epochs"]):
        start = time.perf_counter()
        waited = 0.0
        rows = 0
        it = iter(shard.iter_torch_batches(batch_size=config["batch_size"], dtypes=torch.float32))
        while True:
            t0 = time.perf_counter()
            try:
                batch = next(it)
            except StopIteration:
                waited += time.perf_counter() - t0
                break
            waited += time.perf_counter() - t0
            loss = torch.nn.functional.mse_loss(model(batch["x"]).squeeze(1), batch["y"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            rows += len(batch["y"])
        elapsed = time.perf_counter() - start
        t = torch.tensor([float(rows), elapsed, waited], dtype=torch.float64)
        all_t = [torch.zeros_like(t) for _ in range(ctx.get_world_size())]
        torch.distributed.all_gather(all_t, t)
        total_rows = sum(float(a[0]) for a in all_t)
        epoch_time = max(float(a[1]) for a in all_t)
        wait_frac = max(float(a[2]) / float(a[1]) for a in all_t)
        figures = {"epoch": epoch, "rows": total_rows, "epoch_s": epoch_time,
                   "rows_per_s": total_rows / epoch_time, "wait_fraction": wait_frac}
        if ctx.get_world_rank() == 0:  # Ray Train V2's Result keeps no metrics history: write them
            with open(config["figures_path"], "a") as f:
                f.write(json.dumps(figures) + "\n")
        train.report(figures)


def run_engine(engine: str, *, rows: int, epochs: int, batch_size: int, num_cpus: int, workers: int,
               hidden: int) -> dict:
    """Run the loop on one engine in this process; returns its figures."""
    import tempfile

    t0 = time.perf_counter()
    figures_path = os.path.join(tempfile.mkdtemp(prefix="train_bench-"), "figures.jsonl")
    config = {"epochs": epochs, "batch_size": batch_size, "figures_path": figures_path, "hidden": hidden}
    if engine == "streamdata":
        import streamdata as sd
        from streamdata import train
        from streamdata.train.torch import TorchTrainer

        sd.init(num_cpus=num_cpus)
        ds = sd.range(rows, override_num_blocks=16).map_batches(make_features)
        config["train_module"] = "streamdata.train"
        trainer = TorchTrainer(train_loop, train_loop_config=config, datasets={"train": ds},
                               scaling_config=train.ScalingConfig(num_workers=workers))
    else:
        import ray
        import ray.data
        import ray.train
        from ray.train.torch import TorchTrainer as RayTorchTrainer

        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)
        ray.data.DataContext.get_current().enable_progress_bars = False
        ds = ray.data.range(rows, override_num_blocks=16).map_batches(make_features)
        config["train_module"] = "ray.train"
        trainer = RayTorchTrainer(train_loop, train_loop_config=config, datasets={"train": ds},
                                  scaling_config=ray.train.ScalingConfig(num_workers=workers),
                                  run_config=ray.train.RunConfig(storage_path="/tmp/train_bench_ray"))
    fit_start = time.perf_counter()
    trainer.fit()
    fit_s = time.perf_counter() - fit_start
    with open(figures_path) as f:
        epochs_out = [json.loads(line) for line in f]
    steady = epochs_out[1:] or epochs_out  # the first epoch includes the pipeline's start
    return {"engine": engine, "fit_s": fit_s, "total_s": time.perf_counter() - t0, "epochs": epochs_out,
            "steady_rows_per_s": sum(e["rows_per_s"] for e in steady) / len(steady),
            "steady_epoch_s": sum(e["epoch_s"] for e in steady) / len(steady),
            "max_wait_fraction": max(e["wait_fraction"] for e in epochs_out),
            "steady_wait_fraction": max(e["wait_fraction"] for e in steady)}


def _markdown(results: list[dict], command: str, args: argparse.Namespace) -> str:
    lines = [f"# train_bench — {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}", "",
             f"Command: `{command}`", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared, loaded: other jobs ran), "
             f"load average {os.getloadavg()[0]:.1f}; {args.workers} workers, {args.num_cpus} logical CPUs, "
             f"{args.rows} rows x {args.epochs} epochs, batch {args.batch_size}, MLP 16-{args.hidden}-1.", "",
             "| engine | rows/s (epochs 2+) | epoch s (epochs 2+) | wait for data (max, epochs 2+) | "
             "wait (max, all epochs) | fit() s |", "|---|---|---|---|---|---|"]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['engine']} | error: {r['error']} | | | | |")
            continue
        lines.append(f"| {r['engine']} | {r['steady_rows_per_s']:.0f} | {r['steady_epoch_s']:.2f} | "
                     f"{100 * r['steady_wait_fraction']:.1f}% | {100 * r['max_wait_fraction']:.1f}% | "
                     f"{r['fit_s']:.1f} |")
    ok = {r["engine"]: r for r in results if "error" not in r}
    if "streamdata" in ok and "ray" in ok:
        ratio = ok["streamdata"]["steady_rows_per_s"] / ok["ray"]["steady_rows_per_s"]
        lines += ["", f"streamdata / Ray Train rows/s: **{ratio:.2f}x**; fit() time ratio "
                      f"{ok['streamdata']['fit_s'] / ok['ray']['fit_s']:.2f}x (lower is faster)."]
    lines += ["", "Per epoch:", "", "| engine | epoch | rows | epoch s | rows/s | wait |", "|---|---|---|---|---|---|"]
    for r in ok.values():
        for e in r["epochs"]:
            lines.append(f"| {r['engine']} | {int(e['epoch'])} | {int(e['rows'])} | {e['epoch_s']:.2f} | "
                         f"{e['rows_per_s']:.0f} | {100 * e['wait_fraction']:.1f}% |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--num-cpus", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=64, help="the MLP's hidden width (compute per batch)")
    parser.add_argument("--engine", choices=["streamdata", "ray", "both"], default="both")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = parser.parse_args()
    kwargs = dict(rows=args.rows, epochs=args.epochs, batch_size=args.batch_size, num_cpus=args.num_cpus,
                  workers=args.workers, hidden=args.hidden)
    if args.child:
        print("RESULT " + json.dumps(run_engine(args.engine, **kwargs)), flush=True)
        return
    engines = ["streamdata", "ray"] if args.engine == "both" else [args.engine]
    results = []
    for engine in engines:
        cmd = [sys.executable, __file__, "--child", "--engine", engine, "--rows", str(args.rows), "--epochs",
               str(args.epochs), "--batch-size", str(args.batch_size), "--workers", str(args.workers),
               "--num-cpus", str(args.num_cpus), "--hidden", str(args.hidden)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            results.append({"engine": engine, "error": (proc.stderr.strip().splitlines() or ["no output"])[-1]})
        else:
            results.append(json.loads(line[len("RESULT "):]))
        print(json.dumps(results[-1])[:400], flush=True)
    command = "PYTHONPATH=$PWD python benchmarks/train_bench.py " + " ".join(sys.argv[1:])
    os.makedirs(args.out, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d-%H%M%S", time.gmtime())
    with open(os.path.join(args.out, f"train-{stamp}.json"), "w") as f:
        json.dump({"command": command, "results": results}, f, indent=1)
    md = _markdown(results, command, args)
    with open(os.path.join(args.out, f"train-{stamp}.md"), "w") as f:
        f.write(md)
    print(md)


if __name__ == "__main__":
    main()
