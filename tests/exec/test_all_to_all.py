"""All-to-all operators on the real runtime, driven through the PhysicalOperator protocol.

A small driver below feeds the operator from an InputDataOperator (blocks put in the
object store) exactly as the protocol in ``streamdata/exec/interfaces.py`` says, and
fetches the output blocks at the end. Results are compared with pandas.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from streamdata.aggregate import Count, Mean, Std, Sum
from streamdata.context import DataContext
from streamdata.errors import ColumnNotFoundError, SchemaError
from streamdata.exec.interfaces import ExecutionOptions, ExecutionResources, RefBundle
from streamdata.exec.operators.all_to_all import AllToAllOperator
from streamdata.plan.lowering.all_to_all import lower_all_to_all
from streamdata.exec.operators.all_to_all.simple_ops import (
    RandomizeBlockOrderOperator,
    SplitRepartitionOperator,
)
from streamdata.exec.operators.all_to_all.spec import SortSpec
from streamdata.exec.operators.input_data import InputDataOperator
from streamdata.block_metadata import BlockMetadata
from streamdata.plan import logical as L

RUNTIME_INIT = {"num_cpus": 2, "object_store_memory": 256 << 20}


@pytest.fixture(scope="module")
def rt(runtime):
    """The module's runtime (tests/exec/conftest.py collects garbage before shutting it down,
    so no stale ObjectRef outlives it)."""
    return runtime


def source(rt, tables: list[pa.Table], name: str = "Input") -> InputDataOperator:
    bundles = [RefBundle(blocks=((rt.put(t), BlockMetadata.of(t)),), owns_blocks=True) for t in tables]
    return InputDataOperator(name, bundles=bundles)


def drive(rt, op, *, cpus: float = 2, memory: float = float("inf"), timeout: float = 120) -> list[pa.Table]:
    """Run ``op`` (and its inputs) to completion; the output blocks in order."""
    ops = list(op.post_order())
    options = ExecutionOptions(resource_limits=ExecutionResources(cpu=cpus, object_store_memory=memory),
                               data_context=DataContext.get_current())
    for o in ops:
        o.start(options)
    done_inputs: set[tuple[int, int]] = set()
    out_refs = []
    deadline = time.monotonic() + timeout
    try:
        while not op.completed():
            assert time.monotonic() < deadline, f"{op} did not finish: {op.progress_str()}"
            progressed = False
            for o in ops:
                for i, dep in enumerate(o.input_dependencies):
                    while dep.has_next() and o.should_add_input():
                        o.add_input(dep.get_next(), i)
                        progressed = True
                    if dep.completed() and (o.id, i) not in done_inputs:
                        done_inputs.add((o.id, i))
                        o.input_done(i)
                        if all((o.id, k) in done_inputs for k in range(len(o.input_dependencies))):
                            o.all_inputs_done()
                        progressed = True
            while op.has_next():
                out_refs.extend(op.get_next().block_refs())
                progressed = True
            tasks = [t for o in ops for t in o.get_active_tasks()]
            if tasks:
                ready, _ = rt.wait([t.waitable() for t in tasks], num_returns=1, timeout=1.0)
                ready_ids = {id(r) for r in ready}
                for t in tasks:
                    if id(t.waitable()) in ready_ids:
                        t.on_ready()
            elif not progressed:
                assert op.completed() or op.has_next(), f"stalled: {op.progress_str()}"
    finally:
        for o in ops:
            o.shutdown()
    return [rt.get(r) for r in out_refs]


def split(table: pa.Table, blocks: int) -> list[pa.Table]:
    edges = np.linspace(0, table.num_rows, blocks + 1).astype(int)
    return [table.slice(a, b - a) for a, b in zip(edges[:-1], edges[1:])]


def data(n: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    keys = np.where(rng.random(n) < 0.5, 0, rng.integers(0, 50, n))  # skewed: half the rows key 0
    return pa.table({"k": keys, "v": rng.normal(size=n), "s": rng.integers(0, 1000, n).astype(str),
                     "row": np.arange(n)})


def concat(tables: list[pa.Table]) -> pa.Table:
    tables = [t for t in tables if t.num_columns]
    return pa.concat_tables(tables) if tables else pa.table({})


@pytest.mark.parametrize("partitions", [None, 1, 5])
def test_sort_matches_pandas(rt, partitions) -> None:
    t = data(3000, seed=1)
    node = L.Sort(inputs=(L.InputData(),), keys=("k", "s"), descending=(True, False))
    op = lower_all_to_all(node, source(rt, split(t, 6)))
    op.fixed_partitions = partitions
    if partitions is not None:  # the partitioned path (a small input otherwise runs as one task)
        op.single_task_bytes = 0
    out = concat(drive(rt, op))
    expected = t.to_pandas().sort_values(["k", "s"], ascending=[False, True], kind="stable")
    assert out.column("row").to_pylist() == expected["row"].tolist()


def test_sort_partitions_from_size_and_memory_budget(rt) -> None:
    t = pa.table({"x": np.random.default_rng(0).permutation(400_000), "pad": np.zeros(400_000)})
    op = AllToAllOperator("Sort", [source(rt, split(t, 8))], SortSpec(keys=(("x", "ascending"),)))
    blocks = drive(rt, op, memory=4 << 20)  # 6.4 MB of data, 1 MiB partitions at most (4 MiB / 2 / 2 CPUs)
    assert op.num_outputs_total() is not None and op.num_outputs_total() >= 6
    assert concat(blocks).column("x").to_pylist() == list(range(400_000))


def test_random_shuffle_seeded_and_repartition(rt) -> None:
    t = data(2000, seed=2)
    node = L.RandomShuffle(inputs=(L.InputData(),), seed=5)
    a = concat(drive(rt, lower_all_to_all(node, source(rt, split(t, 4))))).column("row").to_pylist()
    b = concat(drive(rt, lower_all_to_all(node, source(rt, split(t, 4))))).column("row").to_pylist()
    c = concat(drive(rt, lower_all_to_all(L.RandomShuffle(inputs=(L.InputData(),)),
                                           source(rt, split(t, 4))))).column("row").to_pylist()
    assert a == b and sorted(a) == list(range(2000)) and a != list(range(2000)) and c != a

    shuffled = drive(rt, lower_all_to_all(L.Repartition(inputs=(L.InputData(),), num_blocks=3, shuffle=True),
                                          source(rt, split(t, 4))))
    assert len(shuffled) == 3 and sorted(concat(shuffled).column("row").to_pylist()) == list(range(2000))
    plain = drive(rt, lower_all_to_all(L.Repartition(inputs=(L.InputData(),), num_blocks=7),
                                       source(rt, split(t, 4))))
    sizes = [b.num_rows for b in plain]
    assert len(plain) == 7 and max(sizes) - min(sizes) <= 1
    assert concat(plain).column("row").to_pylist() == list(range(2000))


def test_repartition_reuses_whole_blocks_and_makes_empty_ones(rt) -> None:
    t = data(10)
    src = source(rt, split(t, 2))
    op = SplitRepartitionOperator("Repartition", [src], num_blocks=2)
    out = drive(rt, op)
    assert [b.num_rows for b in out] == [5, 5] and op.metrics.tasks_submitted == 0
    out = drive(rt, SplitRepartitionOperator("Repartition", [source(rt, split(t, 2))], num_blocks=12))
    assert len(out) == 12 and sum(b.num_rows for b in out) == 10


def test_randomize_block_order(rt) -> None:
    t = data(100)
    blocks = split(t, 10)
    a = drive(rt, RandomizeBlockOrderOperator("R", [source(rt, blocks)], seed=3))
    b = drive(rt, RandomizeBlockOrderOperator("R", [source(rt, blocks)], seed=3))
    firsts = [x.column("row")[0].as_py() for x in a]
    assert firsts == [x.column("row")[0].as_py() for x in b]
    assert sorted(firsts) == [x.column("row")[0].as_py() for x in blocks] and firsts != sorted(firsts)


@pytest.mark.parametrize("partitions", [None, 4])
def test_groupby_aggregate_matches_pandas(rt, partitions) -> None:
    t = data(5000, seed=3)
    node = L.Aggregate(inputs=(L.InputData(),), keys=("k",), aggs=(Count(), Sum("v"), Mean("v"), Std("v")),
                       num_partitions=partitions)
    op = lower_all_to_all(node, source(rt, split(t, 7)))
    if partitions is not None:  # the partitioned path (a small input otherwise runs as one task)
        op.single_task_bytes = 0
    out = concat(drive(rt, op))
    g = t.to_pandas().groupby("k")["v"]
    assert out.column("k").to_pylist() == sorted(g.groups)  # sorted by key across partitions
    np.testing.assert_allclose(out.column("sum(v)").to_numpy(), g.sum().to_numpy())
    np.testing.assert_allclose(out.column("mean(v)").to_numpy(), g.mean().to_numpy())
    np.testing.assert_allclose(out.column("std(v)").to_numpy(), g.std().to_numpy())
    assert out.column("count()").to_pylist() == g.size().tolist()


def test_global_aggregate_and_empty_input(rt) -> None:
    t = data(1000, seed=4)
    node = L.Aggregate(inputs=(L.InputData(),), aggs=(Count(), Sum("row")))
    out = concat(drive(rt, lower_all_to_all(node, source(rt, split(t, 5)))))
    assert out.to_pylist() == [{"count()": 1000, "sum(row)": 999 * 1000 // 2}]
    empty = concat(drive(rt, lower_all_to_all(node, source(rt, []))))
    assert empty.to_pylist() == [{"count()": 0, "sum(row)": None}]
    sort_empty = drive(rt, lower_all_to_all(L.Sort(inputs=(L.InputData(),), keys=("k",)), source(rt, [])))
    assert sum(b.num_rows for b in sort_empty) == 0


def test_map_groups(rt) -> None:
    t = data(2000, seed=5)

    def normalize(df: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({"k": df["k"].iloc[:1], "n": [len(df)], "centered": [float((df["v"] - df["v"].mean()).sum())]})

    node = L.MapGroups(inputs=(L.InputData(),), keys=("k",), fn=normalize, batch_format="pandas",
                       num_partitions=3)
    out = concat(drive(rt, lower_all_to_all(node, source(rt, split(t, 5)))))
    sizes = t.to_pandas().groupby("k").size()
    assert out.column("k").to_pylist() == sizes.index.tolist()
    assert out.column("n").to_pylist() == sizes.tolist()
    assert np.allclose(out.column("centered").to_numpy(), 0.0)


@pytest.mark.parametrize("one_task", [False, True])
@pytest.mark.parametrize("how,pd_how", [("inner", "inner"), ("left_outer", "left"),
                                        ("right_outer", "right"), ("full_outer", "outer")])
def test_join_matches_pandas(rt, how, pd_how, one_task) -> None:
    rng = np.random.default_rng(6)
    left = pa.table({"id": rng.integers(0, 300, 1500), "a": rng.normal(size=1500)})
    right = pa.table({"id": rng.integers(100, 400, 800), "b": rng.integers(0, 9, 800)})
    node = L.Join(inputs=(L.InputData(), L.InputData()), on=("id",), join_type=how, num_partitions=4)
    op = lower_all_to_all(node, [source(rt, split(left, 3), "L"), source(rt, split(right, 2), "R")])
    if not one_task:  # the hash-partitioned path (this small input otherwise runs as one task)
        op.single_task_bytes = 0
    out = concat(drive(rt, op))
    assert op.num_outputs_total() == (1 if one_task else 4)
    exp = left.to_pandas().merge(right.to_pandas(), on="id", how=pd_how)
    got = out.to_pandas()
    key = ["id", "a", "b"]
    assert len(got) == len(exp)
    pd.testing.assert_frame_equal(got[key].sort_values(key, ignore_index=True).astype(float),
                                  exp[key].sort_values(key, ignore_index=True).astype(float))


def test_join_with_an_empty_side(rt) -> None:
    left = pa.table({"id": [1, 2], "a": ["x", "y"]})
    node = L.Join(inputs=(L.InputData(), L.InputData()), on=("id",), join_type="left_outer")
    out = concat(drive(rt, lower_all_to_all(node, [source(rt, [left]), source(rt, [])])))
    assert sorted(out.column("id").to_pylist()) == [1, 2]


def test_errors_name_the_column(rt) -> None:
    t = data(100)
    with pytest.raises(ColumnNotFoundError) as info:
        drive(rt, lower_all_to_all(L.Sort(inputs=(L.InputData(),), keys=("nope",)), source(rt, [t])))
    assert "k" in info.value.available
    with pytest.raises(SchemaError):
        lst = pa.table({"l": [[1], [2]]})
        drive(rt, lower_all_to_all(L.Sort(inputs=(L.InputData(),), keys=("l",)), source(rt, [lst])))
    with pytest.raises(ColumnNotFoundError):
        node = L.Aggregate(inputs=(L.InputData(),), keys=("k",), aggs=(Sum("missing"),))
        drive(rt, lower_all_to_all(node, source(rt, [t])))
    with pytest.raises(SchemaError, match="suffix"):
        node = L.Join(inputs=(L.InputData(), L.InputData()), on=("k",))
        drive(rt, lower_all_to_all(node, [source(rt, [t]), source(rt, [t])]))


def test_user_error_in_map_groups_keeps_its_type(rt) -> None:
    def boom(batch):
        raise KeyError("bad group")

    node = L.MapGroups(inputs=(L.InputData(),), keys=("k",), fn=boom)
    with pytest.raises(KeyError):
        drive(rt, lower_all_to_all(node, source(rt, [data(50)])))


def test_map_groups_with_a_callable_class_in_an_actor_pool(rt) -> None:
    import streamdata.exec.executor as executor
    t = data(1500, seed=8)

    class Summarize:
        def __init__(self, scale: float) -> None:
            self.scale = scale

        def __call__(self, batch: dict) -> dict:
            return {"k": batch["k"][:1], "total": [float(batch["v"].sum()) * self.scale]}

    node = L.MapGroups(inputs=(L.InputData(),), keys=("k",), fn=Summarize, fn_constructor_args=(2.0,),
                       compute=L.ActorPoolStrategy(size=1), num_partitions=3)
    op = lower_all_to_all(node, source(rt, split(t, 4)))
    assert type(op).__name__ == "ActorPoolMapOperator"
    out = concat([rt.get(r) for b in executor.StreamingExecutor().execute(op) for r in b.block_refs()])
    out = out.sort_by("k")  # the pool may finish partitions in any order
    expected = t.to_pandas().groupby("k")["v"].sum() * 2.0
    assert out.column("k").to_pylist() == expected.index.tolist()
    np.testing.assert_allclose(out.column("total").to_numpy(), expected.to_numpy())


def test_errors_raised_in_tasks_keep_their_type(rt) -> None:
    t = data(100)
    # metadata without a schema: the column is only found missing inside the tasks
    src = InputDataOperator("in", bundles=[RefBundle(blocks=((rt.put(t), BlockMetadata(num_rows=100, size_bytes=t.nbytes)),),
                                                     owns_blocks=True)])
    node = L.Aggregate(inputs=(L.InputData(),), keys=("nope",), aggs=(Count(),))
    with pytest.raises(ColumnNotFoundError) as info:
        drive(rt, lower_all_to_all(node, src))
    assert info.value.available == t.column_names
    assert "Aggregate" in str(info.value)  # named after the operator


def test_repartition_counts_rows_the_metadata_does_not_give(rt) -> None:
    t = data(90)
    blocks = split(t, 3)
    src = InputDataOperator("in", bundles=[RefBundle(blocks=((rt.put(b), BlockMetadata(num_rows=None, size_bytes=b.nbytes)),),
                                                     owns_blocks=True) for b in blocks])
    out = drive(rt, SplitRepartitionOperator("Repartition", [src], num_blocks=4))
    assert [b.num_rows for b in out] == [23, 23, 22, 22]
    assert concat(out).column("row").to_pylist() == list(range(90))


def test_many_tiny_blocks_are_aggregated_in_few_tasks(rt) -> None:
    t = data(400, seed=9)
    op = lower_all_to_all(L.Aggregate(inputs=(L.InputData(),), keys=("k",), aggs=(Count(),)),
                          source(rt, split(t, 200)))
    out = concat(drive(rt, op))
    assert sum(out.column("count()").to_pylist()) == 400
    assert op.metrics.tasks_submitted <= 3  # one prepare for all of them, one reduce


@pytest.mark.parametrize("partitions", [1, 3])
def test_seeded_shuffle_does_not_depend_on_block_arrival_order(rt, partitions) -> None:
    blocks = split(data(900, seed=10), 6)
    node = L.RandomShuffle(inputs=(L.InputData(),), seed=21, num_blocks=partitions)
    forward = concat(drive(rt, lower_all_to_all(node, source(rt, blocks)))).column("row").to_pylist()
    backward = concat(drive(rt, lower_all_to_all(node, source(rt, blocks[::-1])))).column("row").to_pylist()
    assert forward == backward and sorted(forward) == list(range(900)) and forward != list(range(900))


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("kind", ["ties and nulls", "nan", "one block"])
def test_a_small_sort_of_runs_splits_its_merge_into_one_task_per_cpu(rt, descending, kind) -> None:
    """Blocks that are sorted runs (as the read tasks make them): two reduce tasks, each
    over every run, no sample or map task, and exactly the one-task merge's order."""
    from streamdata.exec.shuffle.sort import sort_table

    rng = np.random.default_rng(3)
    n = 6000
    if kind == "nan":
        k = pa.array(np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n).round(1)))
    else:
        k = pa.array(rng.integers(0, 40, n), mask=rng.random(n) < 0.1)
    t = pa.table({"k": k, "row": np.arange(n)})
    keys = [("k", "descending" if descending else "ascending")]
    blocks = [t] if kind == "one block" else split(t, 5)
    runs = [sort_table(b, keys) for b in blocks] + [t.slice(0, 0)]
    op = AllToAllOperator("Sort", [source(rt, runs)], SortSpec(keys=tuple(keys), presorted=True),
                          split_merge_bytes=1)
    out = drive(rt, op)
    assert op.num_outputs_total() == 2 and op.spec.split_runs == 2
    assert op.metrics.tasks_submitted == 2  # the two reduce tasks, nothing else
    expected = t.to_pandas().sort_values("k", ascending=not descending, kind="stable", na_position="last")
    assert concat(out).column("row").to_pylist() == expected["row"].tolist()
    assert all(b.schema.equals(t.schema) for b in out)


def test_a_sort_of_runs_keeps_one_merge_when_it_may_not_split(rt) -> None:
    """Too little data per CPU, or a string key: one reduce task, as before."""
    t = pa.table({"k": np.arange(1000)[::-1], "s": [f"s{i % 7}" for i in range(1000)]})
    for keys, split_bytes in (((("k", "ascending"),), None), ((("s", "ascending"),), 1)):
        runs = [t.slice(i, 250).sort_by(list(keys)) for i in range(0, 1000, 250)]
        kwargs = {} if split_bytes is None else {"split_merge_bytes": split_bytes}
        op = AllToAllOperator("Sort", [source(rt, runs)], SortSpec(keys=keys, presorted=True), **kwargs)
        out = concat(drive(rt, op))
        assert op.num_outputs_total() == 1 and op.metrics.tasks_submitted == 1
        assert out.column(keys[0][0]).to_pylist() == sorted(t.column(keys[0][0]).to_pylist())
