"""``streamdata.experimental.tqdm_ray``: bars in the driver and in tasks (unit level:
the bar writes status lines; no runtime needed)."""

from __future__ import annotations

import io

import pytest

from streamdata.experimental.tqdm_ray import tqdm


def test_bar_counts_and_writes_the_final_state() -> None:
    out = io.StringIO()
    assert list(tqdm(iter([5, 6]), desc="it", file=out, flush_interval_s=0)) == [5, 6]
    lines = out.getvalue().splitlines()
    assert lines[0] == "it: 1 it" and lines[-1] == "it: 2 it"


def test_manual_updates_and_throttling() -> None:
    out = io.StringIO()
    with tqdm(total=4, desc="m", file=out, flush_interval_s=3600) as bar:
        for _ in range(4):
            bar.update()
    # the first update writes, the rest wait for the interval, close writes the end
    assert out.getvalue().splitlines() == ["m: 25% 1/4", "m: 100% 4/4"]


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="flush_interval_s"):
        tqdm(range(2), flush_interval_s=-1)
    with pytest.raises(TypeError, match="no iterable"):
        list(tqdm(total=3))
