"""Length-bucketed batches: the packing rule and its checks without processes, then
``iter_bucket_batches`` over real datasets (Dataset and DataIterator)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from streamdata.bucket_batching import bucket_batches, pack_by_length, validate_bucket_batching

TEXTS = ["1", "11", "1", "1111", "111", "1", "11", "11", "111"]


# ------------------------------------------------------------------ the rule, no processes
def test_the_guides_example_packs_as_documented() -> None:
    calls = []

    def length(row: dict[str, Any]) -> int:
        calls.append(row["id"])
        return len(row["text"])

    window = pa.table({"text": TEXTS, "id": list(range(len(TEXTS)))})
    batches = list(bucket_batches(window, 5, length, "pyarrow"))
    assert [b.column("text").to_pylist() for b in batches] == [
        ["1", "1", "1", "11"], ["11", "11"], ["111"], ["111"], ["1111"]]
    assert sorted(i for b in batches for i in b.column("id").to_pylist()) == list(range(9))
    assert calls == list(range(9))  # length_fn once per row


@pytest.mark.parametrize("batch_format, kind", [
    ("numpy", dict), ("default", dict), ("pandas", pd.DataFrame), ("pyarrow", pa.Table), (None, pa.Table)])
def test_every_batch_format(batch_format, kind) -> None:
    window = pa.table({"n": pa.array([2, 1, 3], type=pa.int16())})
    batches = list(bucket_batches(window, 3, lambda r: int(r["n"]), batch_format))
    assert all(isinstance(b, kind) for b in batches) and len(batches) == 2
    if kind is pa.Table:
        assert all(b.schema == window.schema for b in batches)  # the window's types kept


def test_zero_lengths_and_an_empty_window() -> None:
    assert pack_by_length([0, 0, 0], max_tokens=1) == [[0, 1, 2]]
    assert pack_by_length([], max_tokens=1) == []
    window = pa.table({"id": [0, 1, 2]})
    [only] = bucket_batches(window, 5, lambda r: np.int64(0), "pyarrow")
    assert only.equals(window)


def test_ties_keep_their_order_and_no_batch_goes_over_budget() -> None:
    lengths = [3, 1, 2, 5, 0, 4, 2, 1, 3]
    batches = pack_by_length(lengths, max_tokens=5)
    assert [i for b in batches for i in b] == sorted(range(9), key=lambda i: lengths[i])
    assert all(sum(lengths[i] for i in b) <= 5 for b in batches)


@pytest.mark.parametrize("argument", ["max_tokens", "buffer_size"])
@pytest.mark.parametrize("value", [0, -1, 1.5, True, None])
def test_bad_budget_or_window_names_the_argument(argument, value) -> None:
    options: dict[str, Any] = {"max_tokens": 5, "buffer_size": 10, "length_fn": len}
    options[argument] = value
    with pytest.raises(ValueError, match=f"{argument} must be a positive integer"):
        validate_bucket_batching(**options)


def test_a_length_fn_that_is_not_callable() -> None:
    with pytest.raises(TypeError, match="length_fn must be callable"):
        validate_bucket_batching(5, 10, None)


@pytest.mark.parametrize("length", [-1, 1.5, True, None, float("nan"), "3"])
def test_a_bad_length_names_the_row(length) -> None:
    with pytest.raises(ValueError, match="returned .* for row 0 .* non-negative integer"):
        list(bucket_batches(pa.table({"id": [0]}), 5, lambda row: length, None))


def test_a_row_longer_than_the_budget() -> None:
    with pytest.raises(ValueError, match="length 6 exceeds max_tokens=5"):
        list(bucket_batches(pa.table({"text": ["123456"]}), 5, lambda r: 6, None))


# ------------------------------------------------------------------ over datasets
@pytest.fixture(scope="module")
def runtime() -> Iterator[Any]:
    from streamdata.core import api as rt

    if rt.is_initialized():
        rt.shutdown()
    rt.init(num_cpus=2)
    yield rt
    gc.collect()
    rt.shutdown()


LENGTHS = [3, 1, 2, 5, 0, 4, 2, 1, 3]


@pytest.mark.parametrize("use_iterator", [False, True])
@pytest.mark.parametrize("buffer_size", [1, 4, 100])
@pytest.mark.parametrize("prefetch_batches", [0, 1])
def test_windows_over_a_dataset(runtime, use_iterator, buffer_size, prefetch_batches) -> None:
    import streamdata as sd

    ds = sd.from_items([{"id": i, "length": n} for i, n in enumerate(LENGTHS)], override_num_blocks=3)
    source = ds.iterator() if use_iterator else ds
    batches = source.iter_bucket_batches(max_tokens=5, length_fn=lambda row: row["length"],
                                         buffer_size=buffer_size, prefetch_batches=prefetch_batches)
    for _ in range(2):  # every iteration is a new pass, as Ray's
        ids = []
        for batch in batches:
            assert sum(batch["length"]) <= 5
            assert 0 < len(batch["id"]) <= buffer_size
            assert batch["length"].tolist() == sorted(batch["length"].tolist())
            ids.extend(batch["id"].tolist())
        assert sorted(ids) == list(range(len(LENGTHS)))  # nothing lost, nothing twice
        if buffer_size >= len(LENGTHS):
            assert [LENGTHS[i] for i in ids] == sorted(LENGTHS)


def test_an_empty_dataset_has_no_batches(runtime) -> None:
    import streamdata as sd

    assert list(sd.range(0).iter_bucket_batches(max_tokens=5, length_fn=lambda row: 1)) == []


def test_arguments_are_checked_before_anything_runs(runtime) -> None:
    import streamdata as sd

    ds = sd.range(3)
    with pytest.raises(ValueError, match="max_tokens must be a positive integer"):
        ds.iter_bucket_batches(max_tokens=0, length_fn=len)
    with pytest.raises(ValueError, match="batch_format"):
        ds.iter_bucket_batches(max_tokens=3, length_fn=len, batch_format="parquet")


def test_a_failing_window_stops_the_pass_with_the_error(runtime) -> None:
    import streamdata as sd

    batches = sd.range(10).iter_bucket_batches(max_tokens=3, length_fn=lambda r: r["id"], buffer_size=5)
    with pytest.raises(ValueError, match="length 4 exceeds max_tokens=3"):
        list(batches)
