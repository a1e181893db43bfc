"""The map chain and the map-task wrapper, run in-process (no runtime)."""

from __future__ import annotations

import cloudpickle
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from streamdata.errors import ColumnNotFoundError, UDFReturnError
from streamdata.exec.operators.map_task import MapWorker, run_map_task
from streamdata.exec.operators.map_transformer import (
    ROW_COUNT_COLUMN,
    BatchStage,
    FilterStage,
    FlatMapStage,
    MapTransformer,
    ProjectStage,
    RandomSampleStage,
    ReadStage,
    RowStage,
    TaskContext,
    WithColumnStage,
    WriteStage,
)
from streamdata.io.datasink import Datasink
from streamdata.block_metadata import BlockMetadata
from streamdata.read_task import ReadTask

CTX = TaskContext(task_index=0, op_name="test")


def run(stages: list, tables: list[pa.Table]) -> pa.Table:
    out = list(MapTransformer(stages).apply(tables, CTX))
    return pa.concat_tables(out) if out else pa.table({})


def table(n: int, start: int = 0) -> pa.Table:
    return pa.table({"a": np.arange(start, start + n)})


def test_batch_stage_exact_batch_sizes_across_blocks() -> None:
    sizes: list[int] = []

    def fn(batch: dict) -> dict:
        sizes.append(len(batch["a"]))
        return batch

    out = run([BatchStage(name="f", fn=fn, batch_size=4)], [table(3), table(3, 3), table(3, 6)])
    assert sizes == [4, 4, 1]
    assert out.column("a").to_pylist() == list(range(9))


def test_batch_stage_auto_size_comes_from_the_first_block_with_rows(monkeypatch) -> None:
    import streamdata.exec.operators.map_transformer as mt
    from streamdata.batcher import resolve_auto_batch_size

    sizes: list[int] = []

    def fn(batch: dict) -> dict:
        sizes.append(len(batch["a"]))
        return batch

    # 8 bytes a row and a 32-byte target: batches of 4 rows, empty blocks skipped
    monkeypatch.setattr(mt, "resolve_auto_batch_size",
                        lambda blocks: resolve_auto_batch_size(blocks, target_bytes=32))
    out = run([BatchStage(name="f", fn=fn, batch_size="auto")], [table(0), table(6), table(5, 6)])
    assert sizes == [4, 4, 3] and out.column("a").to_pylist() == list(range(11))
    sizes.clear()
    assert run([BatchStage(name="f", fn=fn, batch_size="auto")], [table(0)]).num_rows == 0
    assert sizes == []


def test_batch_stage_formats_and_fn_args() -> None:
    def pd_fn(df: pd.DataFrame, k: int, *, scale: int) -> pd.DataFrame:
        assert isinstance(df, pd.DataFrame)
        return df.assign(b=df["a"] * scale + k)

    out = run([BatchStage(name="p", fn=pd_fn, batch_format="pandas", fn_args=(1,), fn_kwargs={"scale": 10})],
              [table(3)])
    assert out.column("b").to_pylist() == [1, 11, 21]

    def arrow_fn(t: pa.Table) -> pa.Table:
        assert isinstance(t, pa.Table)
        return t.append_column("c", pa.array([0] * t.num_rows))

    assert run([BatchStage(name="a", fn=arrow_fn, batch_format="pyarrow")], [table(2)]).column_names == ["a", "c"]


def test_zero_copy_batch_is_read_only_default_is_writable() -> None:
    seen = {}

    def fn(batch: dict) -> dict:
        seen["writeable"] = batch["a"].flags.writeable
        return batch

    run([BatchStage(name="f", fn=fn, zero_copy_batch=True)], [table(4)])
    assert seen["writeable"] is False
    run([BatchStage(name="f", fn=fn)], [table(4)])
    assert seen["writeable"] is True


def test_generator_udf_yields_several_batches() -> None:
    def gen(batch: dict):
        for v in batch["a"]:
            yield {"x": np.array([v, v])}

    assert run([BatchStage(name="g", fn=gen)], [table(3)]).column("x").to_pylist() == [0, 0, 1, 1, 2, 2]


def test_udf_wrong_return_is_a_clear_error() -> None:
    with pytest.raises(UDFReturnError, match="returned int; expected a dict of arrays"):
        run([BatchStage(name="f", fn=lambda b: 3)], [table(2)])
    with pytest.raises(UDFReturnError, match=r"unequal lengths: \{'a': 2, 'b': 1\}"):
        run([BatchStage(name="f", fn=lambda b: {"a": b["a"], "b": b["a"][:1]})], [table(2)])
    with pytest.raises(UDFReturnError, match="returned None"):
        run([BatchStage(name="f", fn=lambda b: None)], [table(2)])
    with pytest.raises(UDFReturnError, match="expected a dict"):
        run([RowStage(name="m", fn=lambda r: 1)], [table(2)])


def test_row_flat_map_filter_stages() -> None:
    out = run([RowStage(name="m", fn=lambda r: {"a": r["a"], "sq": r["a"] ** 2}),
               FlatMapStage(name="fm", fn=lambda r: [r, r]),
               FilterStage(name="f", fn=lambda r: r["sq"] % 2 == 0)], [table(4)])
    assert out.column("a").to_pylist() == [0, 0, 2, 2]


def test_filter_and_with_column_by_expression() -> None:
    from streamdata.expressions import col

    out = run([FilterStage(name="f", expr=col("a") > 1),
               WithColumnStage(name="w", column="b", expr=col("a") * 10)], [table(4)])
    assert out.to_pydict() == {"a": [2, 3], "b": [20, 30]}
    with pytest.raises(ColumnNotFoundError):
        run([FilterStage(name="f", expr=col("zz") > 1)], [table(1)])


def test_project_stage_select_drop_rename_and_missing_column() -> None:
    t = pa.table({"a": [1], "b": [2], "c": [3]})
    out = run([ProjectStage(name="p", select=("a", "b"), drop=("b",), rename={"a": "x"})], [t])
    assert out.column_names == ["x"]
    with pytest.raises(ColumnNotFoundError) as info:
        run([ProjectStage(name="p", select=("nope",))], [t])
    assert info.value.available == ["a", "b", "c"]


def test_random_sample_is_seeded() -> None:
    stage = RandomSampleStage(name="s", fraction=0.5, seed=7)
    a = run([stage], [table(1000)]).column("a").to_pylist()
    b = run([stage], [table(1000)]).column("a").to_pylist()
    assert a == b and 350 < len(a) < 650


def test_read_stage_runs_read_tasks() -> None:
    tasks = [ReadTask(lambda i=i: [table(2, i * 2)], BlockMetadata(num_rows=2)) for i in range(3)]
    assert run([ReadStage()], tasks).column("a").to_pylist() == list(range(6))


class _ListSink(Datasink):
    def write(self, blocks, ctx):  # type: ignore[no-untyped-def]
        return (ctx.task_index, sum(b.num_rows for b in blocks))


def test_write_stage_returns_the_sink_result() -> None:
    out = list(MapTransformer([WriteStage(name="w", datasink=_ListSink(), write_uuid="u")]).apply(
        [table(3), table(2)], TaskContext(task_index=5)))
    from streamdata.block import to_numpy
    assert to_numpy(out[0])["write_result"].tolist() == [(5, 5)]


def test_callable_class_built_once_per_worker_and_pickles_unbuilt() -> None:
    built = []

    class AddK:
        def __init__(self, k: int) -> None:
            built.append(k)
            self.k = k

        def __call__(self, batch: dict) -> dict:
            return {"a": batch["a"] + self.k}

    chain = MapTransformer([BatchStage(name="add", fn=AddK, fn_constructor_args=(5,))])
    worker = MapWorker(chain, None)
    for _ in range(3):
        last, out = worker.submit(CTX, table(2))
    assert built == [5]
    assert last.column("a").to_pylist() == [5, 6]
    clone = cloudpickle.loads(cloudpickle.dumps(chain))  # state travels without the built instance
    assert clone.stages[0]._callable is None


def test_run_map_task_shapes_output_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    puts: list[pa.Table] = []
    monkeypatch.setattr("streamdata.exec.operators.map_task._put", lambda t: puts.append(t) or f"ref{len(puts)}")
    big = pa.table({"a": np.arange(10_000, dtype=np.int64)})  # 80 kB
    ctx = TaskContext(task_index=0, target_max_block_size=30_000)
    chain = MapTransformer([BatchStage(name="id", fn=lambda b: b, batch_size=1000)])
    last, out = run_map_task(chain, ctx, big)
    assert len(out.metas) == len(puts) + 1 and len(puts) >= 2
    assert all(m.size_bytes <= 30_000 + 8 for m in out.metas)
    assert sum(m.num_rows for m in out.metas) == 10_000
    assert pa.concat_tables(puts + [last]).column("a").to_pylist() == list(range(10_000))
    assert out.extra_refs == tuple(f"ref{i + 1}" for i in range(len(puts)))


def test_run_map_task_empty_output_keeps_schema() -> None:
    chain = MapTransformer([FilterStage(name="none", fn=lambda r: False)])
    last, out = run_map_task(chain, CTX, table(3))
    assert out.metas == () and last.num_rows == 0
    assert out.schema is not None and out.schema.names == ["a"]


def test_read_task_input_files_reach_block_metadata() -> None:
    task = ReadTask(lambda: [table(2)], BlockMetadata(num_rows=2, input_files=("f.csv",)))
    _, out = run_map_task(MapTransformer([ReadStage()]), CTX, task)
    assert out.metas[0].input_files == ("f.csv",)


def test_row_stages_pass_fn_args_and_check_what_each_row_returns() -> None:
    from collections import OrderedDict

    out = run([RowStage(name="m", fn=lambda r, k, scale=1: {"b": (r["a"] + k) * scale},
                        fn_args=(1,), fn_kwargs={"scale": 10})], [table(3)])
    assert out.column("b").to_pylist() == [10, 20, 30]
    # a Mapping that is not a dict is a row too; anything else is named
    out = run([RowStage(name="m", fn=lambda r: OrderedDict(b=r["a"]))], [table(2)])
    assert out.column("b").to_pylist() == [0, 1]
    with pytest.raises(UDFReturnError, match="map UDF m returned int"):
        run([RowStage(name="m", fn=lambda r: r["a"])], [table(2)])
    # flat_map: lists, tuples and generators of rows; a dict or a non-row element is named
    out = run([FlatMapStage(name="f", fn=lambda r: [r, r])], [table(2)])
    assert out.column("a").to_pylist() == [0, 0, 1, 1]
    out = run([FlatMapStage(name="f", fn=lambda r: (x for x in (r,)))], [table(2)])
    assert out.column("a").to_pylist() == [0, 1]
    with pytest.raises(UDFReturnError, match="expected a list of dicts"):
        run([FlatMapStage(name="f", fn=lambda r: r)], [table(2)])
    with pytest.raises(UDFReturnError, match="as a row; expected a dict"):
        run([FlatMapStage(name="f", fn=lambda r: [1])], [table(2)])
    # filter: bools (Python or numpy) keep rows; anything else is named
    out = run([FilterStage(name="p", fn=lambda r, lo: r["a"] > lo, fn_args=(1,))], [table(4)])
    assert out.column("a").to_pylist() == [2, 3]
    out = run([FilterStage(name="p", fn=lambda r: np.bool_(r["a"] % 2))], [table(4)])
    assert out.column("a").to_pylist() == [1, 3]
    with pytest.raises(UDFReturnError, match="must return a bool for each row, got int"):
        run([FilterStage(name="p", fn=lambda r: r["a"])], [table(2)])


def _pruned(stage: RowStage | FlatMapStage, columns: tuple[str, ...]) -> RowStage | FlatMapStage:
    stage.columns = columns
    return stage


def test_row_stages_over_many_chunks_keep_order_and_every_row() -> None:
    big = pa.concat_tables([table(10_000), table(7_000, start=10_000)])  # chunks of 8192 rows
    out = run([RowStage(name="m", fn=lambda r: {"a": r["a"], "odd": r["a"] % 2 == 1})], [big])
    assert out.column("a").to_pylist() == list(range(17_000))
    out = run([FlatMapStage(name="f", fn=lambda r: [r] * (r["a"] % 3))], [big])
    assert out.num_rows == sum(a % 3 for a in range(17_000))
    out = run([FilterStage(name="p", fn=lambda r: r["a"] % 1000 == 0)], [big])
    assert out.column("a").to_pylist() == list(range(0, 17_000, 1000))


def test_a_pruned_row_stage_builds_only_the_columns_read_downstream() -> None:
    fn = lambda r: {"a": r["a"], "c": r["a"] * 2, "s": str(r["a"])}  # noqa: E731
    out = run([_pruned(RowStage(name="m", fn=fn), ("c",))], [table(3)])
    assert out.column_names == ["c"] and out.column("c").to_pylist() == [0, 2, 4]
    out = run([_pruned(FlatMapStage(name="f", fn=lambda r: [fn(r)] * 2), ("s", "a"))], [table(2)])
    assert out.column_names == ["s", "a"] and out.column("a").to_pylist() == [0, 0, 1, 1]
    # nothing read (a bare Count()): a placeholder column of nulls carries the row count
    out = run([_pruned(FlatMapStage(name="f", fn=lambda r: [r] * 3), ())], [table(2)])
    assert out.column_names == [ROW_COUNT_COLUMN] and out.num_rows == 6
    assert out.column(ROW_COUNT_COLUMN).null_count == 6
    # only empty rows: what the unpruned stage makes of them (no rows, no columns)
    assert run([_pruned(RowStage(name="m", fn=lambda r: {}), ())], [table(2)]).num_rows == 0


def test_a_pruned_row_stage_takes_the_general_path_for_rows_of_other_shapes() -> None:
    # keys that vary between rows: the read column still gets its nulls
    fn = lambda r: {"c": r["a"]} if r["a"] % 2 else {"x": 1}  # noqa: E731
    out = run([_pruned(RowStage(name="m", fn=fn), ("c",))], [table(4)])
    assert out.column_names == ["c"] and out.column("c").to_pylist() == [None, 1, None, 3]
    # a column read downstream that no row has: the whole block, so the error lists them all
    out = run([_pruned(RowStage(name="m", fn=lambda r: {"a": 1, "b": 2}), ("nope",))], [table(2)])
    assert out.column_names == ["a", "b"]
    # non-dict rows are still named, whatever is read
    with pytest.raises(UDFReturnError, match="map UDF m returned int"):
        run([_pruned(RowStage(name="m", fn=lambda r: 1), ("a",))], [table(2)])
    with pytest.raises(UDFReturnError, match="as a row; expected a dict"):
        run([_pruned(FlatMapStage(name="f", fn=lambda r: [1]), ())], [table(2)])
    # a Mapping that is not a dict: the general path, then the columns read
    from collections import OrderedDict
    out = run([_pruned(RowStage(name="m", fn=lambda r: OrderedDict(b=r["a"], z=0)), ("b",))], [table(2)])
    assert out.column_names == ["b"] and out.column("b").to_pylist() == [0, 1]


def test_pruned_stages_pickle_with_their_columns() -> None:
    stage = cloudpickle.loads(cloudpickle.dumps(_pruned(RowStage(name="m", fn=dict), ("c",))))
    assert stage.columns == ("c",)
    assert RowStage(name="m", fn=dict).columns is None
