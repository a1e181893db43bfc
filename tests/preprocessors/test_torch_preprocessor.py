"""TorchVisionPreprocessor (streamdata.preprocessors.torch): a transform of image columns."""

from __future__ import annotations

import numpy as np
import pytest

import streamdata as sd
from streamdata.preprocessors import PreprocessorArgumentError, TorchVisionPreprocessor

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.usefixtures("data_runtime")


def _images(shapes: list[tuple[int, ...]]) -> sd.Dataset:
    return sd.from_items([{"image": np.full(shape, i, dtype=np.float32), "i": i} for i, shape in enumerate(shapes)])


def test_each_image_goes_through_the_transform_as_a_tensor() -> None:
    seen = []

    def flip(t):
        seen.append(type(t).__name__)
        return torch.flip(t, dims=[0]) + 1

    prep = TorchVisionPreprocessor(["image"], transform=flip, output_columns=["flipped"])
    rows = prep.transform(_images([(2, 3)] * 4)).take_all()
    assert [r["flipped"].shape for r in rows] == [(2, 3)] * 4
    assert [r["flipped"][0, 0] for r in rows] == [1.0, 2.0, 3.0, 4.0]
    assert [r["image"][0, 0] for r in rows] == [0.0, 1.0, 2.0, 3.0]  # the input column is kept
    assert prep.fit_status() == prep.FitStatus.NOT_FITTABLE


def test_a_transform_that_wants_arrays_gets_arrays_and_shapes_may_differ() -> None:
    def crop_array(a):
        if not isinstance(a, np.ndarray):
            raise TypeError("wants an array")  # as torchvision's ToTensor does with a tensor
        return a[:1]

    rows = TorchVisionPreprocessor(["image"], transform=crop_array).transform(_images([(2, 2), (3, 4)])).take_all()
    assert sorted(r["image"].shape for r in rows) == [(1, 2), (1, 4)]


def test_batched_transforms_take_the_whole_column() -> None:
    batches = []

    def whole(t):
        batches.append(tuple(t.shape))
        return t.mean(dim=(1, 2))

    out = TorchVisionPreprocessor(["image"], transform=whole, batched=True).transform_batch(
        {"image": np.ones((5, 2, 2), dtype=np.float32)})
    assert batches == [(5, 2, 2)] and out["image"].tolist() == [1.0] * 5


def test_bad_arguments_and_results_are_named() -> None:
    with pytest.raises(PreprocessorArgumentError, match="transform must be callable"):
        TorchVisionPreprocessor(["image"], transform="resize")
    with pytest.raises(PreprocessorArgumentError, match="output_columns"):
        TorchVisionPreprocessor(["image"], transform=abs, output_columns=["a", "b"])
    prep = TorchVisionPreprocessor(["image"], transform=lambda t: "not an image")
    with pytest.raises(PreprocessorArgumentError, match="returned a str"):
        prep.transform_batch({"image": np.ones((1, 2, 2))})
    with pytest.raises(PreprocessorArgumentError, match="'image'.*not in the batch"):
        TorchVisionPreprocessor(["image"], transform=abs).transform_batch({"pixels": np.ones((1, 2))})
