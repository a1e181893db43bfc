"""Union: the bundles of every input; in input order when the execution preserves order.

Example:
    >>> from streamdata.exec.operators.input_data import InputDataOperator
    >>> a, b = InputDataOperator("a", bundles=[]), InputDataOperator("b", bundles=[])
    >>> UnionOperator([a, b]).name
    'Union'
"""

from __future__ import annotations

from collections.abc import Sequence

from streamdata.exec.interfaces import PhysicalOperator, RefBundle
from streamdata.exec.operators.buffered_inputs import BufferedInputsOperator


class UnionOperator(BufferedInputsOperator):
    """Forwards every input bundle; with ``preserve_order`` input 0 first, then input 1, ..."""

    def __init__(self, input_ops: Sequence[PhysicalOperator]) -> None:
        if len(input_ops) < 2:
            raise ValueError(f"Union needs at least two inputs, got {len(input_ops)}")
        super().__init__("Union", input_ops)
        self._current = 0  # the input being forwarded (preserve_order)

    def add_input(self, bundle: RefBundle, input_index: int) -> None:
        self.metrics.on_input(bundle)
        if self.options.preserve_order:
            self._buffers[input_index].append(bundle)
            self._flush_ordered()
        else:
            self._emit(bundle)

    def _emit(self, bundle: RefBundle) -> None:
        self.metrics.on_output(bundle)
        self._outputs.append(bundle)

    def _flush_ordered(self) -> None:
        while self._current < len(self._buffers):
            buf = self._buffers[self._current]
            while buf:
                self._emit(buf.popleft())
            if not self._inputs_done[self._current]:
                return
            self._current += 1

    def input_done(self, input_index: int) -> None:
        super().input_done(input_index)
        if self.options.preserve_order:
            self._flush_ordered()
