"""``read_images`` (streamdata/io/images.py) over images of different sizes: as Ray 2.60 gives
them (``batch["image"].shape == (32,)``, dtype object, each row its own ndarray)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import streamdata as sd
from streamdata.context import DataContext

pytestmark = pytest.mark.usefixtures("data_runtime")

#: (height, width) of each file, ``0.png`` ... ``5.png``: the same byte size, different shapes
SHAPES = [(4, 6), (4, 6), (4, 6), (6, 4), (4, 6), (3, 8)]


@pytest.fixture
def images(tmp_path: Path) -> str:
    from PIL import Image

    for i, (h, w) in enumerate(SHAPES):
        Image.fromarray(np.full((h, w, 3), i * 10, np.uint8)).save(tmp_path / f"{i}.png")
    return str(tmp_path)


@pytest.fixture(params=[None, 200])
def block_size(request: pytest.FixtureRequest) -> Iterator[int | None]:
    """The default block sizes, and blocks of a few images each: one read task's blocks then
    mix fixed-shape (images of one size) and variable-shape ones, merged downstream."""
    ctx = DataContext.get_current()
    saved = ctx.target_max_block_size, ctx.target_min_block_size
    if request.param is not None:
        ctx.target_max_block_size, ctx.target_min_block_size = request.param, 1
    yield request.param
    ctx.target_max_block_size, ctx.target_min_block_size = saved


def test_images_of_different_sizes_make_an_object_batch(images: str, block_size: int | None) -> None:
    batch = sd.read_images(images).take_batch(batch_size=6)["image"]
    assert batch.shape == (6,) and batch.dtype == object and batch[0].dtype == np.uint8
    assert [a.shape for a in batch] == [(4, 6, 3), (4, 6, 3), (4, 6, 3), (6, 4, 3), (4, 6, 3), (3, 8, 3)]
    assert [int(a[0, 0, 0]) for a in batch] == [0, 10, 20, 30, 40, 50]


def test_a_batch_udf_and_a_row_udf_see_every_image(images: str, block_size: int | None) -> None:
    ds = sd.read_images(images, override_num_blocks=1)
    brighter = ds.map_batches(lambda b: {"image": b["image"]}, batch_size=None).map(
        lambda r: {"image": np.clip(r["image"] + 4, 0, 255)})
    rows = brighter.take_all()
    assert sorted(int(r["image"][0, 0, 0]) for r in rows) == [4, 14, 24, 34, 44, 54]
    assert sorted(r["image"].shape for r in rows) == [(3, 8, 3), (4, 6, 3), (4, 6, 3), (4, 6, 3), (4, 6, 3),
                                                      (6, 4, 3)]
