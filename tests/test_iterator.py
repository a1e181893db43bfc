"""DataIterator: batching, formats, local shuffle, torch, streaming_split (threads and processes)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from streamdata import read_api as rd
from streamdata.context import DataContext
from streamdata.iterator import (
    DataIterator,
    ShufflingBatcher,
    batch_tables,
    streaming_split_iterators,
)


@pytest.fixture(scope="module")
def runtime() -> Iterator[Any]:
    from streamdata.core import api as rt

    if rt.is_initialized():
        rt.shutdown()
    rt.init(num_cpus=2)
    old = DataContext.get_current()
    DataContext._set_current(DataContext(enable_progress_bars=False))
    yield rt
    DataContext._set_current(old)
    gc.collect()
    rt.shutdown()


# ---------------------------------------------------------------- pure batching


def tables(*sizes: int) -> Iterator[pa.Table]:
    start = 0
    for n in sizes:
        yield pa.table({"a": np.arange(start, start + n)})
        start += n


def test_batch_tables_exact_sizes_and_drop_last() -> None:
    assert [t.num_rows for t in batch_tables(tables(5, 1, 7, 2), batch_size=4)] == [4, 4, 4, 3]
    assert [t.num_rows for t in batch_tables(tables(5, 1, 7, 2), batch_size=4, drop_last=True)] == [4, 4, 4]
    assert [t.num_rows for t in batch_tables(tables(5, 1), batch_size=None)] == [5, 1]
    rows = [v for t in batch_tables(tables(5, 1, 7), batch_size=3) for v in t.column("a").to_pylist()]
    assert rows == list(range(13))
    with pytest.raises(ValueError, match="batch_size"):
        list(batch_tables(tables(1), batch_size=0))


def test_local_shuffle_is_a_seeded_permutation() -> None:
    def run(seed: int) -> list[int]:
        out = batch_tables(tables(30, 30, 40), batch_size=8, local_shuffle_buffer_size=20, local_shuffle_seed=seed)
        batches = list(out)
        assert all(b.num_rows == 8 for b in batches[:-1]) and batches[-1].num_rows == 100 % 8
        return [v for b in batches for v in b.column("a").to_pylist()]

    a, b, c = run(1), run(1), run(2)
    assert sorted(a) == list(range(100)) and a == b and a != c and a != list(range(100))


def test_shuffling_batcher_keeps_a_buffer() -> None:
    s = ShufflingBatcher(4, buffer_size=10, seed=0)
    s.add(pa.table({"a": np.arange(12)}))
    assert list(s.drain()) == []  # 12 < buffer 10 + batch 4
    s.add(pa.table({"a": np.arange(12, 20)}))
    assert [t.num_rows for t in s.drain()] == [4, 4]
    assert sum(t.num_rows for t in s.finish()) == 12


# ---------------------------------------------------------------- through the engine


def test_iter_batches_formats_and_exact_sizes(runtime: Any) -> None:
    ds = rd.range(103, override_num_blocks=7)
    sizes = [len(b["id"]) for b in ds.iter_batches(batch_size=10)]
    assert sizes == [10] * 10 + [3]
    batch = next(iter(ds.iter_batches(batch_size=5, batch_format="pandas")))
    assert isinstance(batch, pd.DataFrame) and batch["id"].tolist() == [0, 1, 2, 3, 4]
    batch = next(iter(ds.iter_batches(batch_size=5, batch_format="pyarrow")))
    assert isinstance(batch, pa.Table) and batch.num_rows == 5
    ids = [v for b in ds.iter_batches(batch_size=16, prefetch_batches=0) for v in b["id"].tolist()]
    assert ids == list(range(103))
    ids = [v for b in ds.iter_batches(batch_size=16, prefetch_batches=3) for v in b["id"].tolist()]
    assert ids == list(range(103))


def test_iter_batches_tensor_columns(runtime: Any) -> None:
    ds = rd.range_tensor(6, shape=(2, 3), override_num_blocks=2)
    batches = list(ds.iter_batches(batch_size=4))
    assert [b["data"].shape for b in batches] == [(4, 2, 3), (2, 2, 3)]


def test_iter_rows_and_leaving_early(runtime: Any) -> None:
    ds = rd.range(50, override_num_blocks=5)
    assert [r["id"] for r in DataIterator(ds).iter_rows()][:3] == [0, 1, 2]
    it = iter(ds.iter_batches(batch_size=2, prefetch_batches=2))  # one pass
    first = next(it)
    it.close()  # stops the prefetch thread and the execution
    assert first["id"].tolist() == [0, 1]
    # the batches come a segment at a time: closing the flattening generator ends the thread
    assert not [t for t in threading.enumerate() if t.name == "streamdata-prefetch" and t.is_alive()]


def test_iter_batches_surfaces_udf_errors(runtime: Any) -> None:
    def bad(batch: dict) -> dict:
        raise ZeroDivisionError("nope")

    with pytest.raises(ZeroDivisionError, match="nope"):
        list(rd.range(10).map_batches(bad).iter_batches(batch_size=4))


def test_iter_torch_batches(runtime: Any) -> None:
    torch = pytest.importorskip("torch")
    ds = rd.range(10, override_num_blocks=2)
    batches = list(ds.iter_torch_batches(batch_size=4, dtypes=torch.float32, device="cpu"))
    assert [b["id"].dtype for b in batches] == [torch.float32] * 3
    assert torch.cat([b["id"] for b in batches]).tolist() == [float(i) for i in range(10)]
    auto = next(iter(ds.iter_torch_batches(batch_size=3)))
    assert auto["id"].device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    collated = list(ds.iter_torch_batches(batch_size=5, collate_fn=lambda b: int(b["id"].sum())))
    assert collated == [10, 35]
    with pytest.raises(ValueError, match="collate_fn or dtypes"):
        next(iter(ds.iter_torch_batches(collate_fn=lambda b: b, dtypes=torch.float32)))


# ---------------------------------------------------------------- streaming_split


def consume_all(its: list[DataIterator]) -> list[list[int]]:
    out: list[list[int]] = [[] for _ in its]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            for b in its[i].iter_batches(batch_size=7):
                out[i].extend(b["id"].tolist())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(its))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return out


def test_streaming_split_threads_equal_and_two_epochs(runtime: Any) -> None:
    its = streaming_split_iterators(rd.range(100, override_num_blocks=9), 3, equal=True)
    for _ in range(2):  # each epoch runs the dataset again
        parts = consume_all(its)
        assert [len(p) for p in parts] == [33, 33, 33]
        seen = sorted(v for p in parts for v in p)
        assert len(set(seen)) == 99 and set(seen) <= set(range(100))


def test_streaming_split_unequal_covers_every_row(runtime: Any) -> None:
    its = rd.range(90, override_num_blocks=6).map_batches(lambda b: {"id": b["id"] * 2}).streaming_split(2)
    parts = consume_all(its)
    assert sorted(v for p in parts for v in p) == [2 * i for i in range(90)]
    assert all(parts)


def test_streaming_split_consumed_from_other_processes(runtime: Any) -> None:
    rt = runtime

    @rt.remote
    class Trainer:
        def consume(self, it: DataIterator) -> list[int]:
            import os
            rows = []
            for b in it.iter_batches(batch_size=8):
                rows.extend(b["id"].tolist())
            return [os.getpid()] + rows

    its = rd.range(64, override_num_blocks=8).streaming_split(2, equal=True)
    trainers = [Trainer.options(num_cpus=0).remote() for _ in range(2)]
    results = rt.get([t.consume.remote(it) for t, it in zip(trainers, its)], timeout=120)
    pids = {r[0] for r in results}
    rows = [r[1:] for r in results]
    assert len(pids) == 2 and [len(r) for r in rows] == [32, 32]
    assert sorted(v for r in rows for v in r) == list(range(64))
    for t in trainers:
        rt.kill(t)


def test_shutdown_split_stops_the_execution_and_its_actors(runtime: Any) -> None:
    import time

    from streamdata.iterator import shutdown_split

    rt = runtime

    class Ident:
        def __call__(self, b: dict) -> dict:
            return b

    its = rd.range(10_000, override_num_blocks=50).map_batches(Ident, concurrency=1, num_cpus=1) \
        .streaming_split(2)
    first = next(iter(its[0].iter_batches(batch_size=10, prefetch_batches=0)))
    assert len(first["id"]) == 10
    shutdown_split(its)
    deadline = time.monotonic() + 60  # the actor's exit is seen by the runtime asynchronously
    while rt.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert rt.available_resources().get("CPU", 0) == 2  # the pool's actor is gone


def test_iter_methods_return_iterables_that_restart_every_pass(runtime: Any) -> None:
    # As Ray's: a framework iterating its data once per epoch can be handed one object.
    ds = rd.range(6, override_num_blocks=2)
    batches = ds.iter_batches(batch_size=4)
    assert [[len(b["id"]) for b in batches] for _ in range(2)] == [[4, 2], [4, 2]]
    rows = ds.iter_rows()
    assert [r["id"] for r in rows] == [r["id"] for r in rows] == list(range(6))
    torch_batches = ds.iter_torch_batches(batch_size=6)
    assert [int(b["id"].sum()) for b in torch_batches] * 2 == [int(b["id"].sum()) for _ in range(2)
                                                               for b in torch_batches]
    with pytest.raises(TypeError):
        next(batches)  # an iterable, not an iterator (as Ray's)
