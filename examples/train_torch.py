"""Data-parallel training of a small torch model on a streamdata dataset, with 2 workers.

Each worker reads its own share of one streaming execution of the dataset
(``sd.train.get_dataset_shard``), the model is wrapped in DistributedDataParallel
(gradients averaged over gloo), and rank 0 saves a checkpoint every epoch.

Run: python examples/train_torch.py  (or with the short form, sd.train.run(train_fn, ...))
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import torch

import streamdata as sd
from streamdata import train
from streamdata.train import Checkpoint
from streamdata.train.torch import TorchTrainer, prepare_model


def make_points(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """y = 3x + 1 with a little noise, x in [0, 1)."""
    x = batch["id"].astype(np.float32) / 4000.0
    noise = np.random.default_rng(int(batch["id"][0])).normal(0, 0.01, size=len(x)).astype(np.float32)
    return {"x": x, "y": 3 * x + 1 + noise}


def train_fn(config: dict) -> None:
    ctx = train.get_context()
    model = prepare_model(torch.nn.Linear(1, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"])
    start_epoch = 0
    checkpoint = train.get_checkpoint()  # set when the group restarted after a failure
    if checkpoint is not None:
        with checkpoint.as_directory() as d:
            state = torch.load(os.path.join(d, "model.pt"))
        model.module.load_state_dict(state["model"])
        start_epoch = state["epoch"] + 1

    shard = train.get_dataset_shard("train")
    for epoch in range(start_epoch, config["epochs"]):
        total_loss, batches = 0.0, 0
        for batch in shard.iter_torch_batches(batch_size=64, dtypes=torch.float32):
            pred = model(batch["x"].unsqueeze(1)).squeeze(1)
            loss = torch.nn.functional.mse_loss(pred, batch["y"])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.item()
            batches += 1
        mean_loss = torch.tensor([total_loss / max(batches, 1)])
        torch.distributed.all_reduce(mean_loss)  # average over the workers
        metrics = {"epoch": epoch, "loss": mean_loss.item() / ctx.get_world_size(),
                   "w": model.module.weight.item(), "b": model.module.bias.item()}
        if ctx.get_world_rank() == 0:
            with tempfile.TemporaryDirectory() as d:
                torch.save({"model": model.module.state_dict(), "epoch": epoch}, os.path.join(d, "model.pt"))
                train.report(metrics, checkpoint=Checkpoint.from_directory(d))  # copied before it returns
        else:
            train.report(metrics)


def main() -> None:
    sd.init(num_cpus=2)
    ds = sd.range(4000, override_num_blocks=8).map_batches(make_points)
    # Ray Train's code with the import changed; on this 2-CPU runtime the 2 workers of 1 CPU each
    # would leave the dataset's tasks none, so the trainer keeps one for them (and logs it)
    trainer = TorchTrainer(
        train_fn,
        train_loop_config={"lr": 0.3, "epochs": 8},
        scaling_config=train.ScalingConfig(num_workers=2),
        run_config=train.RunConfig(failure_config=train.FailureConfig(max_failures=1),
                                   checkpoint_config=train.CheckpointConfig(num_to_keep=2)),
        datasets={"train": ds},
    )
    result = trainer.fit()
    for m in result.metrics_history:
        print(f"epoch {m['epoch']}: loss {m['loss']:.5f}  w={m['w']:.3f} b={m['b']:.3f}")
    print("checkpoint:", result.checkpoint.path)
    with result.checkpoint.as_directory() as d:
        state = torch.load(os.path.join(d, "model.pt"))
    w, b = state["model"]["weight"].item(), state["model"]["bias"].item()
    print(f"learned y = {w:.2f} x + {b:.2f} (true: y = 3 x + 1)")
    assert abs(w - 3) < 0.5 and abs(b - 1) < 0.3, (w, b)


if __name__ == "__main__":
    main()
