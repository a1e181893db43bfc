"""The streaming executor driving real operators on a 2-CPU runtime."""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from exec_testutil import column_values, make_bundles

from streamdata.context import DataContext
from streamdata.exec.executor import StreamingExecutor
from streamdata.exec.operators.actor_pool_map import ActorPoolMapOperator
from streamdata.exec.operators.input_data import InputDataOperator
from streamdata.exec.operators.limit import LimitOperator
from streamdata.exec.operators.map_operator import MIN_ORDER_WINDOW
from streamdata.exec.operators.map_transformer import (
    BatchStage,
    MapTransformer,
    ReadStage,
)
from streamdata.exec.operators.output_splitter import OutputSplitterOperator
from streamdata.exec.operators.task_pool_map import TaskPoolMapOperator
from streamdata.exec.operators.union import UnionOperator
from streamdata.exec.operators.zip import ZipOperator
from streamdata.block_metadata import BlockMetadata
from streamdata.read_task import ReadTask

RUNTIME_INIT = {"num_cpus": 2}


def batch_map(name: str, fn: Any, upstream: Any, **kw: Any) -> TaskPoolMapOperator:
    stage_kw = {k: kw.pop(k) for k in ("batch_size", "batch_format") if k in kw}
    return TaskPoolMapOperator(name, upstream, MapTransformer([BatchStage(name=name, fn=fn, **stage_kw)]), **kw)


def run(dag: Any, ctx: DataContext | None = None) -> list:
    return list(StreamingExecutor(ctx).execute(dag))


def test_task_map_transforms_every_row(runtime: Any, ctx: DataContext) -> None:
    dag = batch_map("double", lambda b: {"a": b["a"] * 2}, InputDataOperator("in", bundles=make_bundles(12)))
    assert sorted(column_values(run(dag, ctx))) == [2 * i for i in range(1200)]


def test_preserve_order_keeps_input_order(runtime: Any, ctx: DataContext) -> None:
    ctx.preserve_order = True

    def jitter(b: dict) -> dict:
        import time
        time.sleep(0.002 * (int(b["a"][0]) // 100 % 3))
        return b

    dag = batch_map("jitter", jitter, InputDataOperator("in", bundles=make_bundles(9)))
    assert column_values(run(dag, ctx)) == list(range(900))


def test_read_tasks_run_as_a_map(runtime: Any, ctx: DataContext) -> None:
    from streamdata.core import api as rt
    from streamdata.exec.interfaces import RefBundle

    tasks = [ReadTask(lambda i=i: [pa.table({"a": [i, i]})], BlockMetadata(num_rows=2)) for i in range(5)]
    src = InputDataOperator("in", bundles=[
        RefBundle(blocks=((rt.put(t), BlockMetadata()),), owns_blocks=True) for t in tasks])
    dag = TaskPoolMapOperator("Read", src, MapTransformer([ReadStage()]))
    assert sorted(column_values(run(dag, ctx))) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_small_inputs_coalesce_up_to_batch_size(runtime: Any, ctx: DataContext) -> None:
    dag = batch_map("sizes", lambda b: {"n": np.array([len(b["a"])])},
                    InputDataOperator("in", bundles=make_bundles(10, rows=10)),
                    batch_size=25, min_rows_per_bundle=25)
    out = run(dag, ctx)
    sizes = sorted(column_values(out, "n"))
    # 10-row bundles coalesce into tasks of 30, 30, 30 and 10 rows
    assert dag.metrics.tasks_submitted == 4
    assert sum(sizes) == 100 and max(sizes) == 25 and sizes.count(25) == 3


def test_outputs_larger_than_target_are_split(runtime: Any, ctx: DataContext) -> None:
    ctx.target_max_block_size = 100_000
    dag = batch_map("grow", lambda b: {"x": np.zeros((len(b["a"]), 100))},  # 80 kB per 100 rows
                    InputDataOperator("in", bundles=make_bundles(1, rows=1000)), batch_size=100)
    out = run(dag, ctx)
    metas = [m for b in out for _, m in b.blocks]
    assert sum(m.num_rows for m in metas) == 1000
    assert len(metas) >= 8 and all(m.size_bytes <= 100_000 + 1000 for m in metas)


def test_udf_error_is_the_users_type_with_operator_name(runtime: Any, ctx: DataContext) -> None:
    def explode(b: dict) -> dict:
        raise KeyError("no such thing")

    dag = batch_map("MapBatches(explode)", explode, InputDataOperator("in", bundles=make_bundles(2)))
    with pytest.raises(KeyError) as info:
        run(dag, ctx)
    text = str(info.value)
    assert "MapBatches(explode)" in text and "no such thing" in text and "explode" in text.split("Remote traceback")[1]


def test_max_errored_blocks_skips_with_a_warning(runtime: Any, ctx: DataContext) -> None:
    ctx.max_errored_blocks = 1

    def fail_first(b: dict) -> dict:
        if b["a"][0] == 0:
            raise ValueError("bad block")
        return b

    dag = batch_map("flaky", fail_first, InputDataOperator("in", bundles=make_bundles(3)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = run(dag, ctx)
    assert sorted(column_values(out)) == list(range(100, 300))
    assert any("skipped block of task" in str(w.message) and "bad block" in str(w.message) for w in caught)
    ctx.max_errored_blocks = 0
    with pytest.raises(ValueError, match="bad block"):
        run(batch_map("flaky", fail_first, InputDataOperator("in", bundles=make_bundles(3))), ctx)


def test_actor_pool_builds_class_once_per_actor(runtime: Any, ctx: DataContext) -> None:
    class Tag:
        def __init__(self, offset: int) -> None:
            self.offset = offset
            self.pid = os.getpid()
            self.instance = id(self)

        def __call__(self, b: dict) -> dict:
            n = len(b["a"])
            return {"a": b["a"] + self.offset, "pid": np.full(n, self.pid), "inst": np.full(n, self.instance)}

    chain = MapTransformer([BatchStage(name="tag", fn=Tag, fn_constructor_args=(1000,))])
    dag = ActorPoolMapOperator("Tag", InputDataOperator("in", bundles=make_bundles(16)), chain,
                               min_size=2, max_size=2)
    out = run(dag, ctx)
    assert sorted(column_values(out)) == [1000 + i for i in range(1600)]
    pairs = set(zip(column_values(out, "pid"), column_values(out, "inst")))
    assert len({p for p, _ in pairs}) == len(pairs) <= 2  # one instance per actor process


def test_actor_pool_scales_up_under_load(runtime: Any, ctx: DataContext, tmp_path: Any) -> None:
    seen = str(tmp_path)
    give_up_at = time.time() + 60  # one deadline for every call (wall clock: shared by processes)

    class Slow:
        """Each call waits (with a deadline) until a second actor has joined: the pool only
        finishes if the autoscaler really adds one, however slowly actors start on a busy machine."""

        def __call__(self, b: dict) -> dict:
            import time
            open(os.path.join(seen, str(os.getpid())), "w").close()
            while len(os.listdir(seen)) < 2 and time.time() < give_up_at:
                time.sleep(0.01)
            return {"pid": np.full(len(b["a"]), os.getpid())}

    ctx.actor_max_tasks_in_flight = 1
    op = ActorPoolMapOperator("Slow", InputDataOperator("in", bundles=make_bundles(30, rows=1)),
                              MapTransformer([BatchStage(name="slow", fn=Slow)]), min_size=1, max_size=2)
    out = run(op, ctx)
    assert len(set(column_values(out, "pid"))) == 2


def test_actor_pools_holding_every_cpu_still_run_reads(runtime: Any, ctx: DataContext) -> None:
    class Ident:
        def __call__(self, b: dict) -> dict:
            return b

    read = batch_map("produce", lambda b: b, InputDataOperator("in", bundles=make_bundles(6)))
    pool = ActorPoolMapOperator("Ident", read, MapTransformer([BatchStage(name="id", fn=Ident)]),
                                min_size=2, max_size=2)
    ex = StreamingExecutor(ctx)
    out = list(ex.execute(pool))
    assert sorted(column_values(out)) == list(range(600))
    assert ex.oversubscribed == {"produce": 2}
    assert read.cpu_oversubscription_cap == 2


def test_limit_stops_upstream_work(runtime: Any, ctx: DataContext) -> None:
    src = InputDataOperator("in", bundles=make_bundles(200))
    mapper = batch_map("id", lambda b: b, src)
    out = run(LimitOperator(150, mapper), ctx)
    assert column_values(out) and sum(b.num_rows() for b in out) == 150
    assert sorted(column_values(out)) == sorted(set(column_values(out)))
    # outputs keep input order, so a slow first task (a cold worker) holds every later
    # output back; the order window bounds how far the map runs ahead meanwhile
    assert mapper.metrics.tasks_submitted < 2 * MIN_ORDER_WINDOW


def test_ordered_map_stops_at_its_window_behind_a_slow_head(runtime: Any, ctx: DataContext,
                                                            tmp_path: Any) -> None:
    release = tmp_path / "release"

    def hold_first(b: dict) -> dict:
        if int(b["a"][0]) == 0:  # the head of the order waits until the test lets it go
            deadline = time.monotonic() + 60
            while not release.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
        return b

    ctx.preserve_order = True
    mapper = batch_map("hold", hold_first, InputDataOperator("in", bundles=make_bundles(60, rows=2)))
    it = StreamingExecutor(ctx).execute(mapper)
    try:
        deadline = time.monotonic() + 60
        # every launched call but the head finished: nothing can free a slot of the window
        while mapper.metrics.tasks_finished < MIN_ORDER_WINDOW - 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert mapper.metrics.tasks_finished == MIN_ORDER_WINDOW - 1
        assert mapper.order_window_full()
        assert mapper.metrics.tasks_submitted == MIN_ORDER_WINDOW
    finally:
        release.touch()
    assert column_values(list(it)) == list(range(120))


def test_union_and_zip(runtime: Any, ctx: DataContext) -> None:
    ctx.preserve_order = True
    a = InputDataOperator("a", bundles=make_bundles(2, rows=5))
    b = InputDataOperator("b", bundles=make_bundles(3, rows=5, start=100))
    assert column_values(run(UnionOperator([a, b]), ctx)) == list(range(10)) + list(range(100, 115))

    left = InputDataOperator("l", bundles=make_bundles(3, rows=4))
    right = batch_map("rename", lambda t: {"a": t["a"] * -1}, InputDataOperator("r", bundles=make_bundles(2, rows=6)))
    out = run(ZipOperator(left, right), ctx)
    assert column_values(out) == list(range(12))
    assert column_values(out, "a_1") == [-i for i in range(12)]


def test_zip_of_three_inputs_appends_each_in_turn(runtime: Any, ctx: DataContext) -> None:
    ctx.preserve_order = True
    dag = ZipOperator(InputDataOperator("l", bundles=make_bundles(3, rows=4)),
                      InputDataOperator("m", bundles=make_bundles(2, rows=6, start=100)),
                      InputDataOperator("r", bundles=make_bundles(4, rows=3, start=200)))
    out = run(dag, ctx)
    assert column_values(out) == list(range(12))
    assert column_values(out, "a_1") == list(range(100, 112))
    assert column_values(out, "a_2") == list(range(200, 212))


def test_zip_of_unequal_lengths_fails(runtime: Any, ctx: DataContext) -> None:
    dag = ZipOperator(InputDataOperator("l", bundles=make_bundles(1, rows=3)),
                      InputDataOperator("r", bundles=make_bundles(1, rows=4)))
    with pytest.raises(ValueError, match="Cannot zip datasets of different number of rows: 3, 4"):
        run(dag, ctx)


@pytest.mark.parametrize("equal", [False, True])
def test_output_splitter(runtime: Any, ctx: DataContext, equal: bool) -> None:
    sizes = [7, 3, 11, 5, 9, 2, 8]
    bundles = []
    start = 0
    for n in sizes:
        bundles += make_bundles(1, rows=n, start=start)
        start += n
    out = run(OutputSplitterOperator(InputDataOperator("in", bundles=bundles), 3, equal=equal), ctx)
    per_split: dict[int, list] = {0: [], 1: [], 2: []}
    for b in out:
        per_split[b.output_split_idx].extend(column_values([b]))
    counts = [len(v) for v in per_split.values()]
    all_rows = sorted(v for vals in per_split.values() for v in vals)
    assert len(all_rows) == len(set(all_rows))
    if equal:
        assert counts == [sum(sizes) // 3] * 3
    else:
        assert sum(counts) == sum(sizes) and max(counts) - min(counts) <= max(sizes)


def test_closing_the_iterator_releases_actors(runtime: Any, ctx: DataContext) -> None:
    from streamdata.core import api as rt

    class Ident:
        def __call__(self, b: dict) -> dict:
            return b

    pool = ActorPoolMapOperator("Ident", InputDataOperator("in", bundles=make_bundles(50)),
                                MapTransformer([BatchStage(name="id", fn=Ident)]), min_size=1, max_size=1,
                                ray_remote_args={"num_cpus": 1})
    it = StreamingExecutor(ctx).execute(pool)
    next(it)
    it.close()
    assert pool.num_actors() == 0
    import time
    deadline = time.monotonic() + 60  # the actor's exit is seen by the runtime asynchronously
    while rt.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert rt.available_resources().get("CPU", 0) == 2


def test_stats_summary_counts(runtime: Any, ctx: DataContext) -> None:
    ex = StreamingExecutor(ctx)
    list(ex.execute(batch_map("id", lambda b: b, InputDataOperator("in", bundles=make_bundles(4)))))
    stats = ex.stats()
    assert stats.finished
    op = stats.operator("id")
    assert op.tasks == 4 and op.rows_out == 400 and op.blocks_out == 4
    # the input buffer has no row of its own; a short run's peak is at least its blocks in flight
    assert "Operator 1 id: 4 tasks" in stats.summary() and "Operator 2" not in stats.summary()
    assert stats.peak_object_store_bytes >= op.peak_bytes > 0


def test_worker_crash_is_retried_every_row_once(runtime: Any, ctx: DataContext, tmp_path: Any) -> None:
    marker = str(tmp_path / "crashed-task")

    def crash_once(b: dict) -> dict:
        import os
        if b["a"][0] == 300 and not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # the worker process dies mid-task
        return b

    out = run(batch_map("crashy", crash_once, InputDataOperator("in", bundles=make_bundles(6))), ctx)
    assert column_values(out) == list(range(600))


def test_actor_crash_restarts_and_retries(runtime: Any, ctx: DataContext, tmp_path: Any) -> None:
    marker = str(tmp_path / "crashed-actor")

    class CrashOnce:
        def __call__(self, b: dict) -> dict:
            import os
            if b["a"][0] == 200 and not os.path.exists(marker):
                open(marker, "w").close()
                os._exit(1)
            return b

    pool = ActorPoolMapOperator("CrashOnce", InputDataOperator("in", bundles=make_bundles(6)),
                                MapTransformer([BatchStage(name="c", fn=CrashOnce)]), min_size=1, max_size=1)
    assert column_values(run(pool, ctx)) == list(range(600))


def test_limit_zero_and_exact_block_boundary(runtime: Any, ctx: DataContext) -> None:
    assert run(LimitOperator(0, InputDataOperator("in", bundles=make_bundles(3))), ctx) == []
    out = run(LimitOperator(200, InputDataOperator("in", bundles=make_bundles(5))), ctx)
    assert column_values(out) == list(range(200)) and all(len(b.blocks) == 1 for b in out)


def test_actor_udf_and_constructor_errors_name_the_operator(runtime: Any, ctx: DataContext) -> None:
    class BadCall:
        def __call__(self, b: dict) -> dict:
            raise ValueError("bad call")

    class BadInit:
        def __init__(self) -> None:
            raise RuntimeError("bad init")

        def __call__(self, b: dict) -> dict:
            return b

    pool = ActorPoolMapOperator("MapBatches(BadCall)", InputDataOperator("in", bundles=make_bundles(2)),
                                MapTransformer([BatchStage(name="c", fn=BadCall)]), min_size=1, max_size=1)
    with pytest.raises(ValueError, match=r"MapBatches\(BadCall\) failed on block of task \d+: ValueError: bad call"):
        run(pool, ctx)
    pool = ActorPoolMapOperator("MapBatches(BadInit)", InputDataOperator("in", bundles=make_bundles(2)),
                                MapTransformer([BatchStage(name="i", fn=BadInit)]), min_size=1, max_size=1)
    with pytest.raises(RuntimeError, match=r"MapBatches\(BadInit\) failed: RuntimeError: bad init") as info:
        run(pool, ctx)
    assert "__init__" in str(info.value).split("Remote traceback")[1]
