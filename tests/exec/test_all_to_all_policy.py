"""Pure parts of the all-to-all operators: partition counts, map grouping, and every spec's
prepare → map → reduce chain run in-process (the task functions are plain functions)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from streamdata.aggregate import Count, Mean
from streamdata.exec.operators.all_to_all.policy import (
    choose_num_partitions,
    group_by_size,
)
from streamdata.exec.operators.all_to_all.spec import (
    AggregateSpec,
    JoinSpec,
    MapGroupsSpec,
    RandomShuffleSpec,
    RepartitionShuffleSpec,
    ShuffleSpec,
    SortSpec,
)
from streamdata.exec.operators.all_to_all.tasks import (
    map_task,
    prepare_task,
    reduce_task,
)

MiB = 1 << 20


@pytest.mark.parametrize("total,rows,cpus,cap,expected", [
    (0, 0, 4, 128 * MiB, 1),            # nothing
    (100, 10, 4, 128 * MiB, 1),         # tiny: one partition
    (3 * MiB, 10**6, 8, 128 * MiB, 3),  # small: one per MiB, at most one per CPU
    (10 * MiB, 10**6, 4, 128 * MiB, 4),  # one per CPU
    (5 * MiB, 10**6, 2, MiB, 6),        # by size, rounded up to a multiple of the CPUs
    (50 * MiB, 7, 2, MiB, 7),           # never more than rows
    (10 * MiB, None, 2, MiB, 10),       # unknown rows
])
def test_choose_num_partitions(total, rows, cpus, cap, expected) -> None:
    assert choose_num_partitions(total_bytes=total, total_rows=rows, cpus=cpus, max_partition_bytes=cap) == expected


def test_group_by_size_keeps_order_and_limits() -> None:
    sizes = [3, 3, 3, 10, 0, 0, 2, 9]
    groups = group_by_size(sizes, 6)
    assert [i for g in groups for i in g] == list(range(len(sizes)))
    for g in groups:
        assert len(g) == 1 or sum(sizes[i] for i in g) <= 6
    assert group_by_size([], 5) == []


def run_spec(spec: ShuffleSpec, sides: list[list[pa.Table]], n: int) -> list[pa.Table]:
    """prepare (when the spec has it) → sample → map → reduce, as the operator sequences them."""
    prepared, samples = [], []
    for side, blocks in enumerate(sides):
        out = []
        for i, b in enumerate(blocks):
            table, sample, _ = prepare_task(spec, i, spec.has_prepare, None, b)
            out.append(table if spec.has_prepare else b)
            if sample is not None:
                samples.append(sample)
        prepared.append(out)
    bounds = spec.boundaries(samples, n) if spec.needs_sample else None
    maps = [[map_task(spec, side, n, m, bounds, b) for m, b in enumerate(blocks)]
            for side, blocks in enumerate(prepared)]
    outputs = []
    for j in range(n):
        counts, args = [], []
        for side_maps in maps:  # each map returned its n parts, then their sizes
            assert all(len(out) == n + 1 and len(out[-1]) == n for out in side_maps)
            counts.append(len(side_maps))
            args.extend(out[j] for out in side_maps)
        block, _ = reduce_task(spec, j, tuple(counts), 1 << 40, None, *args)
        outputs.append(block)
    return outputs


def blocks_of(table: pa.Table, k: int) -> list[pa.Table]:
    edges = np.linspace(0, table.num_rows, k + 1).astype(int)
    return [table.slice(a, b - a) for a, b in zip(edges[:-1], edges[1:])]


def test_sort_spec_in_process() -> None:
    rng = np.random.default_rng(0)
    t = pa.table({"x": rng.integers(0, 50, 500), "row": np.arange(500)})
    out = pa.concat_tables(run_spec(SortSpec(keys=(("x", "descending"),)), [blocks_of(t, 4)], 3))
    assert out.column("x").to_pylist() == sorted(t.column("x").to_pylist(), reverse=True)


def test_aggregate_spec_in_process_is_sorted_by_key() -> None:
    rng = np.random.default_rng(1)
    t = pa.table({"k": rng.integers(0, 30, 600), "v": rng.normal(size=600)})
    spec = AggregateSpec(keys=("k",), aggs=(Count(), Mean("v")))
    out = pa.concat_tables([o for o in run_spec(spec, [blocks_of(t, 5)], 4) if o.num_columns])
    df = t.to_pandas().groupby("k")["v"]
    assert out.column("k").to_pylist() == sorted(df.groups)
    np.testing.assert_allclose(out.column("mean(v)").to_numpy(), df.mean().to_numpy())


def test_shuffle_specs_in_process_keep_every_row() -> None:
    t = pa.table({"x": np.arange(300)})
    for spec in (RandomShuffleSpec(seed=3), RepartitionShuffleSpec()):
        out = run_spec(spec, [blocks_of(t, 3)], 4)
        assert len(out) == 4 and sorted(pa.concat_tables(out).column("x").to_pylist()) == list(range(300))


def test_join_and_map_groups_specs_in_process() -> None:
    left = pa.table({"id": np.arange(100) % 40, "a": np.arange(100)})
    right = pa.table({"id": np.arange(30) + 20, "b": np.arange(30)})
    spec = JoinSpec(left_keys=("id",), right_keys=("id",), join_type="inner")
    out = pa.concat_tables(run_spec(spec, [blocks_of(left, 3), blocks_of(right, 2)], 4))
    expected = left.to_pandas().merge(right.to_pandas(), on="id")
    assert out.num_rows == len(expected)
    groups = MapGroupsSpec(keys=("id",), fn=lambda g: {"id": g["id"][:1], "n": [len(g["a"])]})
    counts = pa.concat_tables([o for o in run_spec(groups, [blocks_of(left, 3)], 3) if o.num_columns])
    assert counts.column("id").to_pylist() == list(range(40))
    assert sum(counts.column("n").to_pylist()) == 100


def test_a_small_input_runs_as_one_task_within_the_partition_budget() -> None:
    from streamdata.exec.operators.all_to_all.policy import SINGLE_TASK_BYTES, run_as_single_task
    assert run_as_single_task(total_bytes=0, max_partition_bytes=1 << 20)
    assert run_as_single_task(total_bytes=SINGLE_TASK_BYTES, max_partition_bytes=1 << 30)
    assert not run_as_single_task(total_bytes=SINGLE_TASK_BYTES + 1, max_partition_bytes=1 << 30)
    # a tight memory budget (small partitions) keeps even a small input partitioned
    assert not run_as_single_task(total_bytes=4 << 20, max_partition_bytes=1 << 20)
    assert not run_as_single_task(total_bytes=1, max_partition_bytes=1 << 20, single_task_bytes=0)
