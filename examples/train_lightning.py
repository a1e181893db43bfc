"""Train a tiny PyTorch Lightning module on 2 CPU workers, fed by a streamdata dataset.

The Lightning Trainer runs inside each worker with ``RayDDPStrategy`` and
``RayLightningEnvironment`` (the process group and ranks come from
streamdata.train); ``RayTrainReportCallback`` reports each epoch's metrics and a
checkpoint.

Run: python examples/train_lightning.py
"""

from __future__ import annotations

import numpy as np

import streamdata as sd
from streamdata import train
from streamdata.train.lightning import (RayDDPStrategy, RayLightningEnvironment, RayTrainReportCallback,
                                        prepare_trainer)
from streamdata.train.torch import TorchTrainer


def make_points(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """y = 2x - 1 with x in [0, 1)."""
    x = (batch["id"] % 100).astype(np.float32) / 100.0
    return {"x": x, "y": 2 * x - 1}


def train_loop(config: dict) -> None:
    import lightning.pytorch as pl
    import torch

    class Regressor(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(1, 1)

        def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
            loss = torch.nn.functional.mse_loss(self.linear(batch["x"].unsqueeze(1)).squeeze(1), batch["y"])
            self.log("train_loss", loss, on_epoch=True, on_step=False, sync_dist=True)
            return loss

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=config["lr"])

    torch.manual_seed(0)
    shard = train.get_dataset_shard("train")
    trainer = pl.Trainer(max_epochs=config["epochs"], accelerator="cpu", devices="auto",
                         strategy=RayDDPStrategy(), plugins=[RayLightningEnvironment()],
                         callbacks=[RayTrainReportCallback()], enable_checkpointing=False,
                         enable_progress_bar=False, logger=False, enable_model_summary=False)
    trainer = prepare_trainer(trainer)
    # prepare_trainer makes every epoch a new pass over the shard
    trainer.fit(Regressor(), train_dataloaders=shard.iter_torch_batches(batch_size=32, dtypes=torch.float32))


def main(*, num_workers: int = 2, storage_path: str | None = None, epochs: int = 3) -> train.Result:
    trainer = TorchTrainer(
        train_loop, train_loop_config={"lr": 0.5, "epochs": epochs},
        scaling_config=train.ScalingConfig(num_workers=num_workers),
        run_config=train.RunConfig(storage_path=storage_path, name="tiny_lightning",
                                   checkpoint_config=train.CheckpointConfig(
                                       num_to_keep=1, checkpoint_score_attribute="train_loss",
                                       checkpoint_score_order="min")),
        datasets={"train": sd.range(1024).map_batches(make_points)})
    return trainer.fit()


if __name__ == "__main__":
    result = main()
    print("metrics:", result.metrics)
    print("best:", result.best_checkpoints)
