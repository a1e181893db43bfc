"""An actor call's write overlapped with the next call's UDF (issue 14, wave 8):
``MapWorker(overlap_write=True)`` run in this process (no runtime), as the actor's two
call threads would run it."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pytest

from streamdata.exec.operators.map_task import MapWorker
from streamdata.exec.operators.map_transformer import BatchStage, MapTransformer, TaskContext, WriteStage
from streamdata.io.datasink import Datasink
from streamdata.write_context import WriteContext

WAIT_S = 30.0


class GatedSink(Datasink):
    """Records what each call wrote; the first call's write waits until ``gate`` is set."""

    name = "Gated"

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.writing = threading.Event()  # call 0 is in its write
        self.written: dict[int, list[int]] = {}
        self.write_threads: set[int] = set()

    def write(self, blocks: Iterable[pa.Table], ctx: WriteContext) -> Any:
        rows = [v for b in blocks for v in b["x"].to_pylist()]
        self.write_threads.add(threading.get_ident())
        if ctx.task_index == 0:
            self.writing.set()
        if ctx.task_index == 0 and not self.gate.wait(WAIT_S):
            raise AssertionError("call 1's UDF never ran while call 0 was writing")
        self.written[ctx.task_index] = rows
        return len(rows)


class Recorder:
    """A callable class that notes the thread of its constructor and of every call."""

    def __init__(self, sink: GatedSink) -> None:
        self.sink = sink
        self.init_thread = threading.get_ident()
        self.call_threads: list[int] = []
        self.batches: list[list[int]] = []

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        self.call_threads.append(threading.get_ident())
        self.batches.append(batch["x"].tolist())
        if batch["x"][0] >= 100:  # call 1 is running its UDF: call 0's write may go on
            self.sink.gate.set()
        return {"x": batch["x"] * 2}


def _worker(sink: GatedSink, batch_size: int = 2) -> MapWorker:
    chain = MapTransformer([BatchStage(name="udf", fn=Recorder, batch_format="numpy", batch_size=batch_size,
                                       fn_constructor_args=(sink,)),
                            WriteStage(name="w", datasink=sink, write_uuid="u")])
    return MapWorker(chain, None, overlap_write=True)


def _call(worker: MapWorker, index: int, rows: list[int], results: dict[int, Any]) -> None:
    try:
        results[index] = worker.submit(TaskContext(task_index=index), pa.table({"x": rows}))
    except BaseException as exc:  # noqa: BLE001 - checked by the test
        results[index] = exc


def test_a_calls_write_runs_while_the_next_calls_udf_runs() -> None:
    sink = GatedSink()
    worker = _worker(sink)
    assert worker.ready()
    results: dict[int, Any] = {}
    calls = [threading.Thread(target=_call, args=(worker, 0, [1, 2, 3], results)),
             threading.Thread(target=_call, args=(worker, 1, [100, 101, 102, 103], results))]
    calls[0].start()
    assert sink.writing.wait(WAIT_S)  # call 0's UDF is done and its write waits for the gate
    calls[1].start()
    for t in calls:
        t.join(WAIT_S + 5)
    assert not isinstance(results[0], BaseException), results[0]
    assert not isinstance(results[1], BaseException), results[1]
    assert sink.written == {0: [2, 4, 6], 1: [200, 202, 204, 206]}
    assert len(sink.write_threads) == 2  # each call wrote on its own thread
    udf = worker._udf_thread._head.stages[0]._callable  # type: ignore[union-attr]
    # the user's class: built on the UDF thread, every call there, one call after the other
    assert set(udf.call_threads) == {udf.init_thread} != threading.get_ident()
    assert udf.batches == [[1, 2], [3], [100, 101], [102, 103]]
    for index, rows in ((0, 3), (1, 4)):
        last, out = results[index]
        assert last.column_names == [WriteStage.RESULT_COLUMN] and out.metas[0].num_rows == 1
        assert out.cpu_s >= 0.0


class Fails:
    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        raise KeyError("bad batch")


class CountingSink(Datasink):
    name = "Counting"

    def __init__(self) -> None:
        self.calls = 0

    def write(self, blocks: Iterable[pa.Table], ctx: WriteContext) -> Any:
        self.calls += 1
        return sum(b.num_rows for b in blocks)


def test_the_udfs_error_reaches_the_call_with_its_type_and_the_next_call_still_runs() -> None:
    sink = CountingSink()
    chain = MapTransformer([BatchStage(name="udf", fn=Fails, batch_format="numpy", batch_size=None),
                            WriteStage(name="w", datasink=sink, write_uuid="u")])
    worker = MapWorker(chain, None, overlap_write=True)
    for index in range(2):  # the UDF thread is free again after a failed call
        with pytest.raises(KeyError, match="bad batch"):
            worker.submit(TaskContext(task_index=index), pa.table({"x": [1]}))


class FailsFirst(Datasink):
    """Its first call's write fails after reading one block; later calls write."""

    name = "FailsFirst"

    def write(self, blocks: Iterable[pa.Table], ctx: WriteContext) -> Any:
        if ctx.task_index == 0:
            next(iter(blocks))
            raise OSError("disk full")
        return sum(b.num_rows for b in blocks)


def test_a_write_that_fails_early_stops_the_udf_of_its_call() -> None:
    chain = MapTransformer([BatchStage(name="udf", fn=lambda b: b, batch_format="pyarrow", batch_size=1),
                            WriteStage(name="w", datasink=FailsFirst(), write_uuid="u")])
    worker = MapWorker(chain, None, overlap_write=True)
    with pytest.raises(OSError, match="disk full"):
        worker.submit(TaskContext(task_index=0), pa.table({"x": list(range(50))}))
    # the head was stopped, not left blocked on its full queue: the UDF thread takes the next call
    last, out = worker.submit(TaskContext(task_index=1), pa.table({"x": list(range(50))}))
    assert last.num_rows == 1 and out.metas[0].num_rows == 1


class BadInit:
    def __init__(self) -> None:
        raise ValueError("no model file")

    def __call__(self, batch):  # type: ignore[no-untyped-def]  # pragma: no cover - never built
        return batch


def test_a_constructor_error_is_raised_by_ready_as_the_users_own() -> None:
    chain = MapTransformer([BatchStage(name="udf", fn=BadInit, batch_format="numpy", batch_size=None),
                            WriteStage(name="w", datasink=CountingSink(), write_uuid="u")])
    worker = MapWorker(chain, None, overlap_write=True)
    with pytest.raises(ValueError, match="no model file"):
        worker.ready()
