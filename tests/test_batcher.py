"""The Batcher: exact batch sizes across blocks, row order kept."""

import numpy as np
import pyarrow as pa
import pytest

from streamdata.batcher import Batcher


def test_batcher_exact_sizes_across_blocks() -> None:
    b = Batcher(3)
    out = []
    for n in (2, 2, 5, 0, 1):
        b.add(pa.table({"a": np.arange(n)}))
        out += [x.num_rows for x in b.drain()]
    out += [x.num_rows for x in b.finish()]
    assert out == [3, 3, 3, 1]
    whole = Batcher(None)
    whole.add(pa.table({"a": [1]}))
    whole.add(pa.table({"a": [2, 3]}))
    assert [x.num_rows for x in whole.drain()] == [1, 2]
    with pytest.raises(ValueError):
        Batcher(0)


def test_batcher_preserves_row_order() -> None:
    b = Batcher(4)
    for start in range(0, 10, 3):
        b.add(pa.table({"a": np.arange(start, min(start + 3, 10))}))
    rows = [v for t in list(b.drain()) + list(b.finish()) for v in t.column("a").to_pylist()]
    assert rows == list(range(10))
