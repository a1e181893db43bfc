"""batch_stream: batches converted a segment at a time are the batches of the per-batch path.

Pure (no runtime): blocks are built in the test; the reference is cutting the concatenated
stream with :func:`streamdata.iterator.batch_tables` and converting each batch on its own.
"""

from __future__ import annotations

import pickle
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamdata import batch_stream as bs
from streamdata import block as B
from streamdata.batch_stream import (
    ArrowFormatter,
    TorchFormatter,
    format_batch_groups,
    format_batches,
    formatter_for,
)
from streamdata.iterator import batch_tables
from streamdata.numpy_batch import NumpySegment, SlicedNumpyBatch, arrow_columns_of, raw_items


SCHEMA = pa.schema([("id", pa.int64()), ("x", pa.float64()), ("s", pa.string())])


def make_blocks(sizes: list[int], chunks: int = 1) -> list[pa.Table]:
    """Blocks of the given sizes (each made of ``chunks`` chunks), ids counting up."""
    out, start = [], 0
    for n in sizes:
        parts = []
        bounds = np.linspace(0, n, chunks + 1).astype(int)
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            ids = np.arange(start + lo, start + hi)
            parts.append(pa.table({"id": ids, "x": ids * 0.5, "s": [f"r{i}" for i in ids]}, schema=SCHEMA))
        out.append(pa.concat_tables(parts))
        start += n
    return out


@pytest.fixture
def small_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    """Segments of 2,000 bytes: 3 batches of 10 rows (of ~23 bytes), so small blocks hold several."""
    monkeypatch.setattr(bs, "SEGMENT_BYTES", 2000)


def reference(blocks: list[pa.Table], batch_size: int | None, drop_last: bool) -> list[pa.Table]:
    return list(batch_tables(iter(blocks), batch_size=batch_size, drop_last=drop_last))


# ------------------------------------------------------------------ the same batches


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 40), min_size=0, max_size=6), chunks=st.integers(1, 3),
       batch_size=st.one_of(st.none(), st.integers(1, 17)), drop_last=st.booleans(),
       segment_bytes=st.sampled_from([1, 200, 10_000]))
def test_every_format_gives_the_per_batch_path_batches(sizes: list[int], chunks: int, batch_size: int | None,
                                                       drop_last: bool, segment_bytes: int) -> None:
    torch = pytest.importorskip("torch")
    old = bs.SEGMENT_BYTES
    bs.SEGMENT_BYTES = segment_bytes
    try:
        blocks = make_blocks(sizes, chunks)
        want = reference(blocks, batch_size, drop_last)
        arrow = list(format_batches(iter(blocks), ArrowFormatter(), batch_size=batch_size, drop_last=drop_last))
        assert [t.to_pydict() for t in arrow] == [t.to_pydict() for t in want]
        numpy = list(format_batches(iter(blocks), formatter_for("numpy"), batch_size=batch_size,
                                    drop_last=drop_last))
        assert [{k: v.tolist() for k, v in b.items()} for b in numpy] == \
               [{k: v.tolist() for k, v in B.to_numpy(t).items()} for t in want]
        frames = list(format_batches(iter(blocks), formatter_for("pandas"), batch_size=batch_size,
                                     drop_last=drop_last))
        assert len(frames) == len(want)
        for got, table in zip(frames, want):
            pd.testing.assert_frame_equal(got, B.to_pandas(table))
        tensors = list(format_batches(iter(blocks), TorchFormatter(torch, None, torch.device("cpu")),
                                      batch_size=batch_size, drop_last=drop_last))
        assert [b["id"].tolist() for b in tensors] == [t.column("id").to_pylist() for t in want]
        assert [b["s"].tolist() for b in tensors] == [t.column("s").to_pylist() for t in want]
    finally:
        bs.SEGMENT_BYTES = old


def test_bad_batch_size_is_refused() -> None:
    for bad in (0, -3, True):
        with pytest.raises(ValueError, match="batch_size must be a positive integer or None"):
            list(format_batches(iter(make_blocks([3])), ArrowFormatter(), batch_size=bad))


def test_empty_blocks_give_no_batches() -> None:
    empty = make_blocks([0])[0]
    assert list(format_batches(iter([empty, empty]), formatter_for("numpy"), batch_size=4)) == []
    assert list(format_batches(iter([empty]), formatter_for("pandas"), batch_size=None)) == []


def test_groups_are_the_batches_of_one_segment(small_segments: None) -> None:
    # 205 rows (~23 bytes each) then 30: segments of 8 batches of 10 rows; the batch across
    # the two blocks alone, as is the short last one
    blocks = make_blocks([205, 30])
    groups = list(format_batch_groups(iter(blocks), formatter_for("numpy"), batch_size=10))
    assert [[len(b["id"]) for b in g] for g in groups] == [[10] * 8, [10] * 8, [10] * 4, [10], [10, 10], [5]]
    flat = [b["id"].tolist() for g in groups for b in g]
    assert flat == [b["id"].tolist() for b in format_batches(iter(blocks), formatter_for("numpy"), batch_size=10)]
    assert list(format_batch_groups(iter(blocks), ArrowFormatter(), batch_size=None))[1][0].num_rows == 30
    with pytest.raises(ValueError, match="batch_size must be a positive integer or None"):
        list(format_batch_groups(iter(blocks), ArrowFormatter(), batch_size=0))


# ------------------------------------------------------------------ segments: views, laziness


def test_numpy_batches_of_a_segment_are_views_of_one_read_only_array(small_segments: None) -> None:
    blocks = make_blocks([40])
    batches = list(format_batches(iter(blocks), formatter_for("numpy"), batch_size=10))
    assert [b["id"].tolist() for b in batches] == [list(range(i, i + 10)) for i in range(0, 40, 10)]
    assert all(isinstance(b, SlicedNumpyBatch) for b in batches[:3])
    first, second = batches[0]["id"], batches[1]["id"]
    assert first.base is not None and first.base is second.base  # one conversion, two views
    assert not first.flags.writeable  # Arrow's memory, as the per-batch path gives it


def test_segment_converts_a_column_once_and_only_when_read() -> None:
    calls: list[int] = []

    def convert(column: pa.ChunkedArray) -> np.ndarray:
        calls.append(len(column))
        return column.to_numpy()

    segment = NumpySegment(make_blocks([6])[0], convert)
    a, b = segment.batch(0, 3), segment.batch(3, 6)
    assert a["id"].tolist() == [0, 1, 2] and b["id"].tolist() == [3, 4, 5]
    assert calls == [6]  # the whole segment's column, once
    # "s" and "x" were never read: they go back as Arrow, sliced to the batch
    assert {name: col.to_pylist() for name, col in arrow_columns_of(b)} == \
           {"x": [1.5, 2.0, 2.5], "s": ["r3", "r4", "r5"]}
    assert [(k, type(v).__name__) for k, v in raw_items(a)] == \
           [("id", "ndarray"), ("x", "ChunkedArray"), ("s", "ChunkedArray")]
    assert calls == [6]


def test_sliced_batch_behaves_as_a_dict() -> None:
    batch = NumpySegment(make_blocks([4])[0], lambda c: c.to_numpy(zero_copy_only=False)).batch(1, 3)
    assert list(batch) == ["id", "x", "s"] and len(batch) == 3
    plain = pickle.loads(pickle.dumps(batch))
    assert type(plain) is dict and plain["s"].tolist() == ["r1", "r2"]
    assert batch.pop("x").tolist() == [0.5, 1.0] and "x" not in batch
    batch["new"] = np.ones(2)
    assert sorted(batch.copy()) == ["id", "new", "s"]


def test_pandas_batches_are_independent_frames(small_segments: None) -> None:
    blocks = make_blocks([30, 30])
    frames = list(format_batches(iter(blocks), formatter_for("pandas"), batch_size=10))
    assert [list(f.index) for f in frames] == [list(range(10))] * 6
    frames[0].loc[0, "id"] = -1  # writes to one batch...
    frames[0]["extra"] = 1
    assert frames[1]["id"].tolist() == list(range(10, 20))  # ...never show in another
    assert "extra" not in frames[1].columns
    again = list(format_batches(iter(blocks), formatter_for("pandas"), batch_size=10))
    assert again[0]["id"].tolist() == list(range(10))  # nor in the blocks


def test_pandas_without_copy_on_write_converts_each_batch(monkeypatch: pytest.MonkeyPatch,
                                                          small_segments: None) -> None:
    monkeypatch.setattr(bs, "pandas_copy_on_write", lambda: False)
    frames = list(format_batches(iter(make_blocks([30])), formatter_for("pandas"), batch_size=10))
    assert [f["id"].tolist() for f in frames] == [list(range(i, i + 10)) for i in range(0, 30, 10)]
    assert all(not np.shares_memory(frames[0]["id"].to_numpy(), f["id"].to_numpy()) for f in frames[1:])


def test_torch_batches_are_writable_copies_with_dtypes(small_segments: None) -> None:
    torch = pytest.importorskip("torch")
    blocks = make_blocks([25])
    fmt = TorchFormatter(torch, {"x": torch.float32}, torch.device("cpu"))
    batches = list(format_batches(iter(blocks), fmt, batch_size=10))
    assert [b["id"].dtype for b in batches] == [torch.int64] * 3
    assert [b["x"].dtype for b in batches] == [torch.float32] * 3
    assert isinstance(batches[0]["s"], np.ndarray)  # strings have no tensor form
    batches[0]["id"].add_(100)  # in place: must neither fault nor change the block
    assert blocks[0].column("id").to_pylist()[:3] == [0, 1, 2]
    assert batches[1]["id"].tolist() == list(range(10, 20))
    one_type = list(format_batches(iter(blocks), TorchFormatter(torch, torch.float64, torch.device("cpu")),
                                   batch_size=None))
    assert one_type[0]["id"].dtype == torch.float64 and one_type[0]["id"].shape == (25,)


def test_tensor_columns_keep_their_shape(small_segments: None) -> None:
    table = B.batch_to_table({"t": np.arange(48).reshape(12, 2, 2), "id": np.arange(12)})
    batches = list(format_batches(iter([table]), formatter_for("numpy"), batch_size=5))
    assert [b["t"].shape for b in batches] == [(5, 2, 2), (5, 2, 2), (2, 2, 2)]
    assert np.array_equal(np.concatenate([b["t"] for b in batches]), np.arange(48).reshape(12, 2, 2))
