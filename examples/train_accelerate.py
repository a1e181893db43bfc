"""Train a tiny torch model with Hugging Face Accelerate on 2 CPU workers, fed by a
streamdata dataset.

``accelerate.Accelerator()`` inside the loop finds the process group
streamdata.train set up (ranks, world size, gloo), so ``prepare`` wraps the model
in DistributedDataParallel and ``backward`` averages gradients across workers.

Run: python examples/train_accelerate.py
"""

from __future__ import annotations

import numpy as np

import streamdata as sd
from streamdata import train
from streamdata.train.torch import TorchTrainer


def make_points(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """y = 4x + 2 with x in [0, 1)."""
    x = (batch["id"] % 50).astype(np.float32) / 50.0
    return {"x": x, "y": 4 * x + 2}


def train_loop(config: dict) -> None:
    import torch
    from accelerate import Accelerator

    accelerator = Accelerator(cpu=True)
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"])
    model, optimizer = accelerator.prepare(model, optimizer)
    shard = train.get_dataset_shard("train")
    for epoch in range(config["epochs"]):
        total, rows = 0.0, 0
        for batch in shard.iter_torch_batches(batch_size=32, dtypes=torch.float32):
            loss = torch.nn.functional.mse_loss(model(batch["x"].unsqueeze(1)).squeeze(1), batch["y"])
            optimizer.zero_grad()
            accelerator.backward(loss)
            optimizer.step()
            total += loss.item() * len(batch["x"])
            rows += len(batch["x"])
        weight = accelerator.unwrap_model(model).weight.item()
        train.report({"epoch": epoch, "loss": total / rows, "rows": rows, "weight": weight,
                      "num_processes": accelerator.num_processes, "process_index": accelerator.process_index,
                      "distributed_type": str(accelerator.distributed_type)})


def main(*, num_workers: int = 2, storage_path: str | None = None, epochs: int = 3) -> train.Result:
    trainer = TorchTrainer(train_loop, train_loop_config={"lr": 0.3, "epochs": epochs},
                           scaling_config=train.ScalingConfig(num_workers=num_workers),
                           run_config=train.RunConfig(storage_path=storage_path, name="tiny_accelerate"),
                           datasets={"train": sd.range(1000).map_batches(make_points)})
    return trainer.fit()


if __name__ == "__main__":
    print(main().metrics_dataframe)
