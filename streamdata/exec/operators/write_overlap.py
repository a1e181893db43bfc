"""An actor-pool call's write, overlapped with the next call's UDF.

An actor pool whose calls run one at a time may end its chain with the write
(:func:`streamdata.plan.lowering.reads_writes.write_fuses_into`). The call then spends
most of its time in the Parquet encode at the file's close, which releases the GIL,
while the next call waits for the actor. :class:`UDFThread` splits each call in two:
the chain before the write (the user's UDF and the batch conversions) runs on one
dedicated thread of the actor, the write on the call's own thread. With two call
threads, call N's encode runs while call N+1's UDF runs, so a single actor uses the
CPU its write leaves idle (the write is the larger half: ~18 of ~28 ms per 200k-row
call of the suite's pandas UDF).

What the user's code sees is unchanged from one call at a time: the callable class is
built on that thread and every call's UDF runs there, one call after the other (no
batches of two calls interleave), so thread-bound state (a sqlite connection, say)
keeps working; ``get_runtime_context()`` there reports the call being run.

Example:
    >>> import pyarrow as pa
    >>> from streamdata.exec.operators.map_transformer import MapTransformer, ProjectStage, TaskContext
    >>> head = UDFThread(MapTransformer([ProjectStage(name="p", select=("a",))]))
    >>> head.init()
    >>> run = head.start(TaskContext(task_index=0), (pa.table({"a": [1], "b": [2]}),))
    >>> [t.column_names for t in run.tables()]
    [['a']]
    >>> run.finish() >= 0.0
    True
    >>> head.close()
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from streamdata.core import context as core_context
from streamdata.exec.operators.map_transformer import MapTransformer, TaskContext

#: output tables of a call's UDF waiting for its write (bounds what a call holds beyond the writer's own buffer)
QUEUE_DEPTH = 2

_END = object()

#: the worker's per-thread task context fields that the UDF thread copies from the call's thread
_TASK_FIELDS = ("task_id", "task_name", "gpu_ids", "resources", "actor_id", "actor_name", "reconstructed")


class UDFThread:
    """Runs the chain before an actor call's write on one thread of its own.

    Args:
        head: the stages before the write (the user's callable class among them).
    """

    def __init__(self, head: MapTransformer) -> None:
        self._head = head
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="udf")

    def init(self) -> None:
        """Build the chain (the user's class) on the UDF thread; raises what it raised."""
        self._thread.submit(self._head.init).result()

    def start(self, ctx: TaskContext, inputs: tuple[Any, ...]) -> HeadRun:
        """Queue one call's head on the thread; consume its output with :meth:`HeadRun.tables`."""
        run = HeadRun()
        caller = _task_context()
        run.future = self._thread.submit(run.produce, self._head, ctx, inputs, caller)
        return run

    def close(self) -> None:
        self._thread.shutdown(wait=False)


class HeadRun:
    """One call's head: produced on the UDF thread, consumed by the call's thread."""

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_DEPTH)
        self._stop = threading.Event()
        self.future: concurrent.futures.Future | None = None
        self.cpu_s = 0.0

    def produce(self, head: MapTransformer, ctx: TaskContext, inputs: tuple[Any, ...],
                caller: dict[str, Any] | None) -> None:
        start = time.thread_time()
        mine = _task_context_object()
        saved = _swap(mine, caller)
        try:
            for table in head.apply(inputs, ctx):
                if not self._put((True, table)):
                    return
            self._put((False, _END))
        except BaseException as exc:  # noqa: BLE001 - re-raised on the call's thread
            self._put((False, exc))
        finally:
            _swap(mine, saved)
            self.cpu_s = time.thread_time() - start

    def _put(self, item: tuple[bool, Any]) -> bool:
        """Hand ``item`` to the call's thread; False once that thread stopped reading."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def tables(self) -> Iterator[pa.Table]:
        """The head's output tables, in order; raises what the head raised."""
        while True:
            ok, item = self._queue.get()
            if ok:
                yield item
            elif item is _END:
                return
            else:
                raise item

    def finish(self) -> float:
        """Stop the head if it still runs (the write failed), wait for it; its CPU seconds."""
        self._stop.set()
        if self.future is not None:
            self.future.result()
        return self.cpu_s


def _task_context_object() -> Any:
    client = core_context.get_client()
    return getattr(client, "context", None)


def _task_context() -> dict[str, Any] | None:
    current = _task_context_object()
    if current is None:
        return None
    return {f: getattr(current, f, None) for f in _TASK_FIELDS}


def _swap(current: Any, values: dict[str, Any] | None) -> dict[str, Any] | None:
    """Set ``values`` on the thread's task context; returns what was there."""
    if current is None or values is None:
        return None
    old = {f: getattr(current, f, None) for f in _TASK_FIELDS}
    for f, v in values.items():
        if v is not None or f in ("task_id", "task_name"):
            setattr(current, f, v)
    return old


__all__ = ["QUEUE_DEPTH", "HeadRun", "UDFThread"]
