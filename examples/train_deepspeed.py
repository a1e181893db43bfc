"""Train a tiny torch model with DeepSpeed on 2 workers, fed by a streamdata dataset.

``deepspeed.initialize`` inside the loop runs on the process group
streamdata.train set up (gloo on CPU, nccl on GPUs); the DeepSpeed config is
passed through as is. On CPU this uses DeepSpeed's CPU accelerator with a torch
optimizer and ZeRO stage 0; on GPUs set ``use_gpu=True`` and any ZeRO stage.

Run: python examples/train_deepspeed.py
"""

from __future__ import annotations

import os

import numpy as np

import streamdata as sd
from streamdata import train
from streamdata.train.torch import TorchTrainer

DS_CONFIG = {"train_micro_batch_size_per_gpu": 16, "gradient_accumulation_steps": 1,
             "zero_optimization": {"stage": 0}, "steps_per_print": 10_000}


def make_points(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """y = -3x + 1 with x in [0, 1)."""
    x = (batch["id"] % 64).astype(np.float32) / 64.0
    return {"x": x, "y": -3 * x + 1}


def train_loop(config: dict) -> None:
    import deepspeed
    import torch

    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    engine, _, _, _ = deepspeed.initialize(
        model=model, optimizer=torch.optim.SGD(model.parameters(), lr=config["lr"]),
        config=config["ds_config"])
    shard = train.get_dataset_shard("train")
    for epoch in range(config["epochs"]):
        total, rows = 0.0, 0
        for batch in shard.iter_torch_batches(batch_size=16, dtypes=torch.float32, device=engine.device):
            loss = torch.nn.functional.mse_loss(engine(batch["x"].unsqueeze(1)).squeeze(1), batch["y"])
            engine.backward(loss)
            engine.step()
            total += loss.item() * len(batch["x"])
            rows += len(batch["x"])
        with __import__("tempfile").TemporaryDirectory() as tmp:
            engine.save_checkpoint(tmp, tag=f"epoch{epoch}")  # collective: every rank calls it
            train.report({"epoch": epoch, "loss": total / rows, "rows": rows,
                          "world_size": engine.world_size, "dp_world_size": engine.dp_world_size,
                          "files": sorted(os.listdir(tmp))},
                         checkpoint=train.Checkpoint.from_directory(tmp))


def main(*, num_workers: int = 2, storage_path: str | None = None, epochs: int = 2,
         use_gpu: bool = False) -> train.Result:
    trainer = TorchTrainer(train_loop, train_loop_config={"lr": 0.3, "epochs": epochs, "ds_config": DS_CONFIG},
                           scaling_config=train.ScalingConfig(num_workers=num_workers, use_gpu=use_gpu),
                           run_config=train.RunConfig(storage_path=storage_path, name="tiny_deepspeed"),
                           datasets={"train": sd.range(512).map_batches(make_points)})
    return trainer.fit()


if __name__ == "__main__":
    print(main().metrics_dataframe)
