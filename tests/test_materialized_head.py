"""A materialized dataset answers ``take``, ``take_batch``, ``schema`` and ``count`` from
its blocks (metadata, or its first blocks read from the object store) with no execution,
and gives exactly what running a ``limit`` over it gives."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import streamdata as sd

pytestmark = pytest.mark.usefixtures("data_runtime")


def _tables() -> list[pa.Table]:
    rng = np.random.default_rng(4)
    sizes = [0, 3, 1, 0, 50, 7]  # empty blocks among them, first one too
    out, start = [], 0
    for n in sizes:
        out.append(pa.table({"id": np.arange(start, start + n), "v": rng.normal(size=n),
                             "s": pa.array([f"s{i}" for i in range(n)], pa.string())}))
        start += n
    return out


def _expected_rows(tables: list[pa.Table], limit: int) -> list[dict]:
    return pa.concat_tables(tables).slice(0, limit).to_pylist()


@pytest.mark.parametrize("limit", [0, 1, 3, 4, 5, 60, 61, 100])
def test_take_and_take_batch_of_a_materialized_dataset(limit: int) -> None:
    tables = _tables()
    m = sd.from_arrow(tables).materialize()
    assert m.take(limit) == _expected_rows(tables, limit)
    assert m.take(limit) == m.limit(limit).take_all()  # the same rows as running a limit
    if limit:
        batch = m.take_batch(limit, batch_format="pyarrow")
        assert batch.to_pylist() == _expected_rows(tables, limit)
        numpy_batch = m.take_batch(limit)
        assert numpy_batch["id"].tolist() == list(range(min(limit, 61)))


def test_the_sorted_materialized_dataset_of_the_suite_takes_its_first_row_without_running() -> None:
    rng = np.random.default_rng(1)
    t = pa.table({"id": np.arange(20_000), "a": rng.random(20_000)})
    m = sd.from_arrow([t.slice(0, 10_000), t.slice(10_000)]).sort("a").materialize()
    stats = m.stats()
    first = m.take(1)
    assert first == [{"id": int(np.argmin(t.column("a").to_numpy())), "a": float(np.min(t.column("a")))}]
    assert m.count() == 20_000
    assert m.schema().names == ["id", "a"]
    assert m.take_batch(3, batch_format="pandas")["a"].is_monotonic_increasing
    assert m.stats() == stats  # nothing ran on its behalf: no Limit execution recorded
    assert "Limit" in m.limit(1).materialize().stats()  # a limit that runs does


def test_take_batch_of_an_empty_materialized_dataset_raises() -> None:
    m = sd.from_arrow([pa.table({"id": pa.array([], pa.int64())})]).materialize()
    assert m.take(5) == [] and m.count() == 0
    with pytest.raises(ValueError, match="empty"):
        m.take_batch(5)
    assert m.schema().names == ["id"]


def test_iteration_of_a_materialized_dataset_after_take_still_sees_every_row() -> None:
    tables = _tables()
    m = sd.from_arrow(tables).materialize()
    assert m.take(2) == _expected_rows(tables, 2)
    assert [r["id"] for r in m.iter_rows()] == list(range(61))
    assert m.take_all() == _expected_rows(tables, 61)
