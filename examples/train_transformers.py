"""Fine-tune a tiny GPT-2 (built from a config: no download) with Hugging Face
``transformers.Trainer`` on 2 CPU workers, fed by a streamdata dataset.

Each worker reads its shard with ``iter_torch_batches``; ``prepare_trainer`` lets
the ``Trainer`` iterate it, and ``RayTrainReportCallback`` reports the Trainer's
logs and checkpoints to ``streamdata.train``.

Run: python examples/train_transformers.py
"""

from __future__ import annotations

import tempfile

import numpy as np

import streamdata as sd
from streamdata import train
from streamdata.train.huggingface.transformers import RayTrainReportCallback, prepare_trainer
from streamdata.train.torch import TorchTrainer

VOCAB, SEQ = 64, 16


def make_tokens(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rows of a repeating token pattern (easy to learn): input_ids == labels."""
    ids = (batch["id"][:, None] + np.arange(SEQ)[None, :]) % VOCAB
    return {"input_ids": ids.astype(np.int64), "labels": ids.astype(np.int64)}


def train_loop(config: dict) -> None:
    import torch
    import transformers

    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        vocab_size=VOCAB, n_positions=SEQ, n_embd=32, n_layer=1, n_head=2))
    shard = train.get_dataset_shard("train")
    args = transformers.TrainingArguments(
        output_dir=config["output_dir"], max_steps=config["max_steps"], learning_rate=5e-3,
        logging_steps=1, save_strategy="steps", save_steps=config["save_steps"], report_to="none",
        use_cpu=True, disable_tqdm=True, dataloader_num_workers=0)
    trainer = transformers.Trainer(model=model, args=args,
                                   train_dataset=shard.iter_torch_batches(batch_size=8))
    trainer.add_callback(RayTrainReportCallback())
    trainer = prepare_trainer(trainer)
    trainer.train()


def main(*, num_workers: int = 2, storage_path: str | None = None, max_steps: int = 6) -> train.Result:
    ds = sd.range(256).map_batches(make_tokens)
    trainer = TorchTrainer(
        train_loop, train_loop_config={"output_dir": tempfile.mkdtemp(), "max_steps": max_steps,
                                       "save_steps": max_steps // 2},
        scaling_config=train.ScalingConfig(num_workers=num_workers),
        run_config=train.RunConfig(storage_path=storage_path, name="tiny_gpt2",
                                   checkpoint_config=train.CheckpointConfig(num_to_keep=1)),
        datasets={"train": ds})
    return trainer.fit()


if __name__ == "__main__":
    result = main()
    print("metrics:", result.metrics)
    print("checkpoint:", result.checkpoint)
