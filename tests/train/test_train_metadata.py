"""The data-loading guide's preprocessor hand-off: a fitted preprocessor serialized (bytes, as
Ray 2.60's built-in preprocessors give), passed as the trainer's ``metadata=``, read back from
the loop's context and from the checkpoints the run saved."""

from __future__ import annotations

import base64
import tempfile
from typing import Any

import pytest

import streamdata as sd
from streamdata import train
from streamdata.preprocessor import Preprocessor
from streamdata.preprocessors import Concatenator, StandardScaler


pytestmark = pytest.mark.usefixtures("data_runtime")  # sd.init(num_cpus=2) for the module


class Identity(Preprocessor):
    """A user's preprocessor (not one of streamdata.preprocessors)."""

    _is_fittable = False

    def _transform_pandas(self, df: Any) -> Any:
        return df


def _table() -> Any:
    return sd.from_items([{"mean radius": float(i), "mean texture": 2.0 * i, "target": i % 2} for i in range(20)])


def test_builtin_preprocessors_serialize_to_bytes_and_subclasses_to_str() -> None:
    scaler = StandardScaler(columns=["mean radius"]).fit(_table())
    blob = scaler.serialize()
    assert isinstance(blob, bytes) and blob.startswith(b"CPKL:")
    text = base64.b64encode(blob).decode("ascii")  # what the guide puts in the metadata
    again = StandardScaler.deserialize(base64.b64decode(text))
    assert again.stats_ == scaler.stats_ and again.columns == ["mean radius"]

    custom = Identity().serialize()  # Ray's base-class format: a base64 string
    assert isinstance(custom, str) and type(Preprocessor.deserialize(custom)).__name__ == "Identity"
    with pytest.raises(ValueError, match="CPKL"):
        Preprocessor.deserialize(b"not a preprocessor")


def test_trainer_metadata_reaches_the_loop_and_every_saved_checkpoint() -> None:
    dataset = _table()
    scaler = StandardScaler(columns=["mean radius", "mean texture"])
    dataset = scaler.fit_transform(dataset)
    concatenator = Concatenator(columns=["mean radius", "mean texture"], output_column_name="features")
    dataset = concatenator.fit_transform(dataset)
    serialized = base64.b64encode(scaler.serialize()).decode("ascii")

    def loop() -> None:
        meta = train.get_context().get_metadata()
        rows = sum(len(b["features"]) for b in train.get_dataset_shard("train").iter_batches(batch_size=4))
        for epoch in range(2):
            with tempfile.TemporaryDirectory() as tmp:
                ckpt = train.Checkpoint.from_directory(tmp)
                ckpt.set_metadata({"epoch": epoch})  # the worker's own metadata stays beside the trainer's
                train.report({"rows": rows, "epoch": epoch, "meta": meta}, checkpoint=ckpt)

    result = train.DataParallelTrainer(
        loop, datasets={"train": dataset}, metadata={"preprocessor_pkl": serialized},
        scaling_config=train.ScalingConfig(num_workers=2, resources_per_worker={"CPU": 0.5})).fit()
    assert result.metrics["meta"] == {"preprocessor_pkl": serialized}
    for ckpt, _ in result.best_checkpoints:
        assert ckpt.get_metadata()["preprocessor_pkl"] == serialized
    assert result.checkpoint.get_metadata() == {"epoch": 1, "preprocessor_pkl": serialized}
    restored = StandardScaler.deserialize(base64.b64decode(result.checkpoint.get_metadata()["preprocessor_pkl"]))
    assert restored.stats_ == scaler.stats_
