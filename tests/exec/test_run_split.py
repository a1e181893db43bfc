"""A sort's merge split over shared sorted runs (``run_split``): the partitions, merged
and concatenated, are exactly the one-task merge, i.e. a stable sort of the input
(checked against pyarrow's ``sort_indices`` and pandas' stable ``sort_values``)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from streamdata.exec.operators.all_to_all.spec import SortSpec
from streamdata.exec.operators.map_transformer import TaskContext
from streamdata.exec.operators.sort_runs import SortRunsStage
from streamdata.exec.shuffle.run_split import can_split_runs, run_slices
from streamdata.exec.shuffle.sort import merge_sorted_runs

N = 3000


def _values(kind: str, rng: np.random.Generator) -> pa.Array:
    return {
        "distinct floats": lambda: pa.array(rng.random(N)),
        "ties": lambda: pa.array(rng.integers(0, 30, N)),
        "few ties": lambda: pa.array(rng.integers(0, 3, N)),
        "all equal": lambda: pa.array(np.full(N, 7)),
        "nan": lambda: pa.array(np.where(rng.random(N) < 0.1, np.nan, rng.integers(0, 30, N).astype(float))),
        "nulls": lambda: pa.array(rng.integers(0, 30, N), mask=rng.random(N) < 0.1),
        "nan and nulls": lambda: pa.array(np.where(rng.random(N) < 0.1, np.nan, rng.normal(size=N).round(1)),
                                          mask=rng.random(N) < 0.1),
        "all null": lambda: pa.array([None] * N, pa.float64()),
        "all nan": lambda: pa.array(np.full(N, np.nan)),
        "int16": lambda: pa.array(rng.integers(-50, 50, N), pa.int16()),
        "uint64 large": lambda: pa.array(rng.integers(0, 2**63, N, dtype=np.uint64) + np.uint64(2**63 - 1)),
        "int64 extremes": lambda: pa.array(np.where(rng.random(N) < 0.5, np.iinfo(np.int64).min,
                                                    np.iinfo(np.int64).max)),
        "float32 with -0.0": lambda: pa.array(np.where(rng.random(N) < 0.2, -0.0, rng.normal(size=N)),
                                              pa.float32()),
        "infinities": lambda: pa.array(np.where(rng.random(N) < 0.2, np.inf * np.sign(rng.normal(size=N)),
                                                rng.normal(size=N))),
    }[kind]()


def _runs(table: pa.Table, keys: list[tuple[str, str]], blocks_per_run: int = 2) -> list[pa.Table]:
    """Runs as the read tasks make them: blocks of 500 rows, sorted a few at a time
    (with an empty block among them)."""
    blocks = [table.slice(i, 500) for i in range(0, table.num_rows, 500)]
    blocks.insert(1, table.slice(0, 0))
    stage = SortRunsStage(name="s", keys=tuple(keys), run_bytes=1 << 40)
    return [run for i in range(0, len(blocks), blocks_per_run)
            for run in stage.apply(iter(blocks[i:i + blocks_per_run]), TaskContext(task_index=0))]


def _split_merge(runs: list[pa.Table], keys: list[tuple[str, str]], n: int) -> list[pa.Table]:
    return [merge_sorted_runs(run_slices(runs, keys, j, n), keys) for j in range(n)]


KINDS = ["distinct floats", "ties", "few ties", "all equal", "nan", "nulls", "nan and nulls", "all null",
         "all nan", "int16", "uint64 large", "int64 extremes", "float32 with -0.0", "infinities"]


@pytest.mark.parametrize("order", ["ascending", "descending"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n", [2, 3, 7])
def test_split_merge_is_the_stable_sort_of_everything(order: str, kind: str, n: int) -> None:
    rng = np.random.default_rng(len(kind) * 31 + n)
    table = pa.table({"k": _values(kind, rng), "pos": np.arange(N)})
    keys = [("k", order)]
    parts = _split_merge(_runs(table, keys), keys, n)
    got = pa.concat_tables(parts).column("pos").to_pylist()
    arrow = pc.take(table.column("pos"), pc.sort_indices(table, sort_keys=keys)).to_pylist()
    assert got == arrow
    if kind not in ("nan", "nan and nulls", "all nan", "float32 with -0.0"):  # pandas orders NaN as null
        pandas = table.to_pandas().sort_values("k", ascending=order == "ascending", kind="stable",
                                               na_position="last")["pos"].tolist()
        assert got == pandas
    assert all(p.schema.equals(table.schema) for p in parts)


@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_distinct_keys_are_split_evenly_and_every_partition_is_a_key_range(order: str) -> None:
    rng = np.random.default_rng(5)
    table = pa.table({"k": rng.random(20_000), "pos": np.arange(20_000)})
    keys = [("k", order)]
    runs = _runs(table, keys, blocks_per_run=10)
    parts = _split_merge(runs, keys, 4)
    sizes = [p.num_rows for p in parts]
    assert sum(sizes) == 20_000 and min(sizes) > 4_000, sizes
    edges = [(p.column("k")[0].as_py(), p.column("k")[-1].as_py()) for p in parts]
    for (_, last), (first, _) in zip(edges[:-1], edges[1:]):
        assert (last < first) if order == "ascending" else (last > first)


def test_equal_keys_land_in_one_partition() -> None:
    table = pa.table({"k": [1] * 10 + [2] * 3000 + [3] * 10, "pos": np.arange(3020)})
    keys = [("k", "ascending")]
    parts = _split_merge(_runs(table, keys), keys, 3)
    holders = [i for i, p in enumerate(parts) if 2 in p.column("k").to_pylist()]
    assert len(holders) == 1
    assert pa.concat_tables(parts).column("pos").to_pylist() == list(range(3020))


@pytest.mark.parametrize("case", ["strings", "two keys", "schemas differ"])
def test_runs_that_cannot_be_cut_all_go_to_the_first_partition(case: str) -> None:
    rng = np.random.default_rng(2)
    k = [f"s{v}" for v in rng.integers(0, 9, 1000)] if case == "strings" else rng.integers(0, 9, 1000)
    table = pa.table({"k": k, "k2": rng.integers(0, 3, 1000), "pos": np.arange(1000)})
    keys = [("k", "ascending")] + ([("k2", "descending")] if case == "two keys" else [])
    runs = _runs(table, keys)
    if case == "schemas differ":
        runs[1] = runs[1].cast(pa.schema([("k", pa.int32()), ("k2", pa.int64()), ("pos", pa.int64())]))
    parts = [run_slices(runs, keys, j, 3) for j in range(3)]
    assert parts[0] == runs
    assert [[t.num_rows for t in p] for p in parts[1:]] == [[0], [0]]
    if case != "schemas differ":
        want = pc.take(table.column("pos"), pc.sort_indices(table, sort_keys=keys)).to_pylist()
        got = pa.concat_tables(_split_merge(runs, keys, 3)).column("pos").to_pylist()
        assert got == want


def test_one_run_empty_runs_and_no_runs() -> None:
    keys = [("k", "ascending")]
    run = pa.table({"k": np.arange(100), "pos": np.arange(100)})
    parts = [run_slices([run], keys, j, 2) for j in range(2)]
    assert pa.concat_tables([t for p in parts for t in p]).equals(run)
    assert all(len(p) == 1 for p in parts)
    empty = run.slice(0, 0)
    assert [[t.num_rows for t in run_slices([empty, empty], keys, j, 2)] for j in range(2)] == [[0], [0]]
    assert run_slices([], keys, 0, 2) == []
    assert run_slices([run], keys, 0, 1) == [run]


def test_a_partition_outside_the_count_is_an_error() -> None:
    with pytest.raises(ValueError, match="partition 2 of 2"):
        run_slices([pa.table({"k": [1]})], [("k", "ascending")], 2, 2)


def test_the_sort_spec_splits_only_a_merge_of_runs_of_one_numeric_key() -> None:
    schema = pa.schema([("k", pa.float64()), ("s", pa.string())])
    runs_spec = SortSpec(keys=(("k", "ascending"),), presorted=True)
    assert runs_spec.can_split_runs(schema)
    assert not SortSpec(keys=(("k", "ascending"),)).can_split_runs(schema)  # blocks not sorted
    assert not SortSpec(keys=(("s", "ascending"),), presorted=True).can_split_runs(schema)
    assert not SortSpec(keys=(("k", "ascending"), ("s", "ascending")), presorted=True).can_split_runs(schema)
    assert not SortSpec(keys=(("k", "ascending"),), presorted=True,
                        fixed_boundaries=(0.5,)).can_split_runs(schema)
    assert can_split_runs(pa.schema([("k", pa.uint8())]), [("k", "descending")])
    assert not can_split_runs(schema, [("missing", "ascending")])
    split = runs_spec.with_split_runs(2)
    assert split.split_runs == 2 and runs_spec.split_runs == 1
    with pytest.raises(NotImplementedError, match="sorted runs"):
        SortSpec(keys=(("k", "ascending"),)).with_split_runs(2)
    runs = [pa.table({"k": [0.1, 0.5, 0.9], "s": ["a", "b", "c"]}), pa.table({"k": [0.2, 0.6], "s": ["d", "e"]})]
    out = [split.reduce([runs], index=j) for j in range(2)]
    assert pa.concat_tables(out).column("s").to_pylist() == ["a", "d", "b", "e", "c"]
