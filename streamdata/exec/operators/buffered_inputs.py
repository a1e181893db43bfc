"""The shape shared by operators that forward their inputs' bundles without running tasks
(``Union``, ``Mix``): a buffer per input, an output queue, no throttling of their own.

Example:
    >>> from streamdata.exec.operators.input_data import InputDataOperator
    >>> from streamdata.exec.operators.union import UnionOperator
    >>> op = UnionOperator([InputDataOperator("a", bundles=[]), InputDataOperator("b", bundles=[])])
    >>> isinstance(op, BufferedInputsOperator), op.has_next(), op.internal_queue_size()
    (True, False, 0)
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from streamdata.exec.interfaces import PhysicalOperator, RefBundle


class BufferedInputsOperator(PhysicalOperator):
    """Holds ``_buffers`` (one deque of bundles per input) and ``_outputs`` (bundles ready);
    subclasses decide what moves from the first to the second, and when."""

    def __init__(self, name: str, input_ops: Sequence[PhysicalOperator]) -> None:
        super().__init__(name, input_ops)
        self._buffers: list[deque[RefBundle]] = [deque() for _ in input_ops]
        self._outputs: deque[RefBundle] = deque()

    def has_next(self) -> bool:
        return bool(self._outputs)

    def get_next(self) -> RefBundle:
        return self._outputs.popleft()

    def throttling_disabled(self) -> bool:
        return True  # it launches no work: holding bundles back would only stall its inputs

    def internal_queue_size(self) -> int:
        return sum(len(b) for b in self._buffers)

    def internal_queue_bytes(self) -> int:
        return (sum(x.size_bytes() for b in self._buffers for x in b)
                + sum(x.size_bytes() for x in self._outputs))
