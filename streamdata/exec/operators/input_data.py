"""The source of a physical DAG: bundles already in the object store, or read tasks.

Read tasks come from the lowering as a factory (so planning stays cheap and never
touches the runtime); this operator calls it when the execution starts and ``put`` s
each task into the object store as a one-block bundle whose size counts as zero (a
read task is small; the read map's output is what counts).

Example:
    >>> op = InputDataOperator("Input", bundles=[])
    >>> op.start(ExecutionOptions()); op.completed()
    True
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from streamdata.block_metadata import BlockMetadata
from streamdata.core import api as rt
from streamdata.exec.interfaces import ExecutionOptions, PhysicalOperator, RefBundle
from streamdata.read_task import ReadTask


def read_task_bundles(tasks: Sequence[ReadTask]) -> list[RefBundle]:
    """Each read task ``put`` into the object store, as a one-block bundle (the runtime must
    be initialized)."""
    return [RefBundle(blocks=((rt.put(t), BlockMetadata(input_files=t.metadata.input_files)),),
                      owns_blocks=True) for t in tasks]


class InputDataOperator(PhysicalOperator):
    """Emits a fixed list of bundles (made lazily by ``bundles_factory`` or
    ``read_tasks_factory`` at start).

    Args:
        name: display name.
        bundles: the bundles, when already known.
        bundles_factory: makes the bundles at start.
        read_tasks_factory: makes read tasks at start; each is ``put`` as a one-block
            bundle (:func:`read_task_bundles`) for the read map downstream to run.
        num_bundles_hint: how many bundles to expect, for progress bars.
    """

    def __init__(self, name: str, bundles: Sequence[RefBundle] | None = None, *,
                 bundles_factory: Callable[[], Sequence[RefBundle]] | None = None,
                 read_tasks_factory: Callable[[], Sequence[ReadTask]] | None = None,
                 num_bundles_hint: int | None = None) -> None:
        super().__init__(name, [])
        given = [x for x in (bundles, bundles_factory, read_tasks_factory) if x is not None]
        if len(given) != 1:
            raise ValueError("InputDataOperator takes exactly one of bundles, bundles_factory or "
                             "read_tasks_factory")
        self._read_tasks_factory = read_tasks_factory
        if read_tasks_factory is not None:
            def bundles_factory() -> list[RefBundle]:
                return read_task_bundles(read_tasks_factory())
        self._initial = list(bundles) if bundles is not None else None
        self._factory = bundles_factory
        self._bundles: deque[RefBundle] = deque()
        self._hint = num_bundles_hint if bundles is None else len(self._initial or [])

    def start(self, options: ExecutionOptions) -> None:
        super().start(options)
        if self._factory is not None:
            self._bundles = deque(self._factory())
        else:
            self._bundles = deque(self._initial or [])
            self._initial = None  # the queue holds them now; consumed ones can be freed
        self._hint = len(self._bundles)
        for bundle in self._bundles:
            self.metrics.on_output(bundle)

    def add_input(self, bundle: RefBundle, input_index: int) -> None:
        raise RuntimeError("InputDataOperator has no inputs")

    def has_next(self) -> bool:
        return bool(self._bundles) and not self._execution_finished

    def get_next(self) -> RefBundle:
        return self._bundles.popleft()

    def mark_execution_finished(self) -> None:
        super().mark_execution_finished()
        self._bundles.clear()

    def throttling_disabled(self) -> bool:
        return True

    def num_outputs_total(self) -> int | None:
        return self._hint

    def internal_queue_bytes(self) -> int:
        return sum(b.size_bytes() for b in self._bundles)
