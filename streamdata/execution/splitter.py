"""Splitting: materialized blocks cut at row indices, and the ``streaming_split`` coordinator.

:func:`slice_at_indices` shares whole blocks and slices partly covered ones with
small remote tasks. :func:`start_streaming_split` starts the coordinator actor that
runs a plan ending in a ``StreamingSplit`` node once per epoch and deals its output
to ``n`` :class:`SplitSource` s (picklable: they may go to other processes). An epoch
starts when a split starts iterating and the previous epoch is over for every split.

Example:
    >>> import streamdata.core.api as rt
    >>> from streamdata.block_metadata import BlockMetadata
    >>> import pyarrow as pa
    >>> t = pa.table({"a": range(5)})
    >>> pieces = slice_at_indices([(rt.put(t), BlockMetadata.of(t))], [2])
    >>> [sum(b.num_rows() for b in p) for p in pieces]
    [2, 3]
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

from streamdata.context import DataContext
from streamdata.errors import PlanError
from streamdata.exec.interfaces import RefBundle
from streamdata.exec.operators.block_tasks import slice_block
from streamdata.execution.runner import Execution, start
from streamdata.plan.logical import LogicalPlan
from streamdata.plan.streaming_nodes import StreamingSplit

Block = tuple[Any, Any]  # (block ref, BlockMetadata)


def slice_at_indices(blocks: Sequence[Block], indices: Sequence[int]) -> list[list[RefBundle]]:
    """Pieces ``[0, i0), [i0, i1), ..., [ik, end)`` of ``blocks`` (in order), each a list
    of one-block bundles that do not own their blocks."""
    from streamdata.core import api as rt

    total = sum(meta.num_rows or 0 for _, meta in blocks)
    bounds = [0] + [min(i, total) for i in indices] + [total]
    slicer = rt.remote(slice_block).options(num_returns=2, num_cpus=0)
    pieces: list[list[Any]] = []
    pending: list[tuple[int, int, Any, Any]] = []  # (piece, position, block ref, meta ref)
    for p, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        out: list[Any] = []
        offset = 0
        for ref, meta in blocks:
            n = meta.num_rows or 0
            first, last = max(lo, offset), min(hi, offset + n)
            if first < last:
                if first == offset and last == offset + n:
                    out.append((ref, meta))
                else:
                    block_ref, meta_ref = slicer.remote(ref, first - offset, last - offset)
                    pending.append((p, len(out), block_ref, meta_ref))
                    out.append(None)
            offset += n
        pieces.append(out)
    if pending:
        metas = rt.get([m for *_, m in pending])
        for (p, pos, block_ref, _), meta in zip(pending, metas):
            pieces[p][pos] = (block_ref, meta)
    return [[RefBundle(blocks=(blk,), owns_blocks=False) for blk in piece] for piece in pieces]


class SplitSource:
    """One split of a streaming_split: the coordinator actor and the split's index."""

    def __init__(self, coordinator: Any, index: int, n: int, schema: Any = None) -> None:
        self.coordinator = coordinator
        self.index = index
        self.n = n
        #: the output's schema when the plan knows it without running (else None)
        self.schema = schema

    def __repr__(self) -> str:
        return f"split {self.index} of {self.n}"

    def bundles(self) -> Iterator[RefBundle]:
        """This split's bundles of one epoch (the next get is asked for ahead)."""
        from streamdata.core import api as rt

        epoch = rt.get(self.coordinator.start_epoch.remote(self.index))
        pending = self.coordinator.get.remote(self.index, epoch)
        while True:
            bundle = rt.get(pending)
            if bundle is None:
                return
            pending = self.coordinator.get.remote(self.index, epoch)
            yield bundle

    def stats(self) -> str:
        from streamdata.core import api as rt
        return rt.get(self.coordinator.stats.remote())


class SplitCoordinator:
    """The actor behind ``streaming_split``: runs one execution per epoch and deals its
    output bundles (tagged by the output splitter) to per-split queues.

    Bundles waiting in the queues still count as unconsumed output for the executor,
    so a slow split holds back the whole execution instead of filling memory.
    """

    def __init__(self, logical_plan: LogicalPlan, data_context: Any) -> None:
        if data_context is not None:
            DataContext._set_current(data_context)
        root = logical_plan.root
        if not isinstance(root, StreamingSplit):
            raise PlanError(f"a split coordinator runs a plan ending in StreamingSplit, got {root.name}")
        self._plan = logical_plan
        self._n = root.n
        self._cond = threading.Condition()
        self._epoch = -1
        self._queues: list[deque[Any]] = [deque() for _ in range(self._n)]
        self._finished_split = [True] * self._n  # split i got the end of the current epoch
        self._producing = False
        self._error: BaseException | None = None
        self._execution: Execution | None = None
        self._last_stats = ""

    def start_epoch(self, index: int) -> int:
        """Wait until every split finished the current epoch (or join the running one)."""
        with self._cond:
            while True:
                if self._error is not None and not all(self._finished_split):
                    raise self._error
                if not self._finished_split[index]:
                    return self._epoch  # this split has not read the running epoch yet
                if all(self._finished_split) and not self._producing:
                    self._start()
                    return self._epoch
                self._cond.wait(timeout=1.0)

    def _start(self) -> None:
        self._epoch += 1
        self._finished_split = [False] * self._n
        self._queues = [deque() for _ in range(self._n)]
        self._error = None
        self._producing = True
        threading.Thread(target=self._pump, daemon=True, name="streamdata-split-pump").start()

    def _pump(self) -> None:
        execution = None
        try:
            self._execution = execution = start(self._plan, name="streaming_split")
            for bundle in execution:
                execution.hold_output_bytes(bundle.size_bytes())
                with self._cond:
                    self._queues[bundle.output_split_idx or 0].append(bundle)
                    self._cond.notify_all()
        except BaseException as exc:  # noqa: BLE001 - every split sees it
            with self._cond:
                self._error = exc
        finally:
            if execution is not None:
                execution.close()
            with self._cond:
                if self._execution is not None:
                    self._last_stats = self._execution.stats().summary()
                self._producing = False
                self._cond.notify_all()

    def get(self, index: int, epoch: int) -> Any:
        """The next bundle of split ``index`` in ``epoch``; None at its end."""
        with self._cond:
            while True:
                if epoch != self._epoch:
                    raise PlanError(f"split {index} asked for epoch {epoch}, but epoch "
                                    f"{self._epoch} is running")
                q = self._queues[index]
                if q:
                    bundle = q.popleft()
                    if self._execution is not None:
                        self._execution.hold_output_bytes(-bundle.size_bytes())
                    return bundle
                if self._error is not None:
                    self._finished_split[index] = True
                    self._cond.notify_all()
                    raise self._error
                if not self._producing:
                    self._finished_split[index] = True
                    self._cond.notify_all()
                    return None
                self._cond.wait(timeout=1.0)

    def stats(self) -> str:
        """The stats of the last finished epoch."""
        return self._last_stats

    def shutdown(self) -> None:
        """Stop the running execution (its tasks and actors); splits waiting get the end."""
        with self._cond:
            execution = self._execution if self._producing else None
        if execution is not None:
            execution.shutdown()


def start_streaming_split(logical_plan: LogicalPlan) -> list[SplitSource]:
    """Start the coordinator of ``logical_plan`` (its root a ``StreamingSplit``); its sources."""
    from streamdata.core import api as rt

    root = logical_plan.root
    if not isinstance(root, StreamingSplit):
        raise PlanError(f"streaming split needs a plan ending in StreamingSplit, got {root.name}")
    n = root.n
    actor_cls = rt.remote(SplitCoordinator).options(num_cpus=0, max_concurrency=2 * n + 4)
    coordinator = actor_cls.remote(logical_plan, DataContext.get_current())
    schema = logical_plan.schema()
    return [SplitSource(coordinator, i, n, schema) for i in range(n)]


def shutdown_split(sources: Sequence[Any], *, timeout: float = 30.0) -> None:
    """Stop the executions behind split sources and their coordinator actors (once each).

    Anything without a coordinator is ignored.
    """
    from streamdata.core import api as rt

    seen: list[Any] = []
    for source in sources:
        coordinator = getattr(source, "coordinator", None)
        if coordinator is None or any(coordinator is c for c in seen):
            continue
        seen.append(coordinator)
        try:
            rt.get(coordinator.shutdown.remote(), timeout=timeout)
        except Exception:  # noqa: BLE001 - already dead: nothing to stop
            pass
        try:
            rt.kill(coordinator)
        except Exception:  # noqa: BLE001
            pass


__all__ = ["SplitCoordinator", "SplitSource", "shutdown_split", "slice_at_indices",
           "start_streaming_split"]
