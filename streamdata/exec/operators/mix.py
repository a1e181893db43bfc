"""Mix: interleave the blocks of several inputs so that the rows emitted follow target
weights (``Dataset.mix``).

Each output bundle comes from one input; the next one is taken from the input furthest
behind its share (emitted rows / weight). ``stop_on_shortest``: the output ends when the
input whose turn it is has ended (the rest is dropped); otherwise an exhausted input drops
out and the others go on until the longest ends. The choice is deterministic, so the output
order repeats from run to run when the inputs' orders do.

Example:
    >>> pick_input([0, 0], [0.5, 0.5], [True, True])
    0
    >>> pick_input([4, 1], [0.5, 0.5], [True, True])
    1
"""

from __future__ import annotations

from collections.abc import Sequence

from streamdata.exec.interfaces import PhysicalOperator, RefBundle
from streamdata.exec.operators.buffered_inputs import BufferedInputsOperator


def pick_input(rows_out: Sequence[int], weights: Sequence[float], active: Sequence[bool]) -> int | None:
    """The active input furthest behind its share (ties: the lowest index), or None."""
    best, best_score = None, 0.0
    for i, (rows, weight, on) in enumerate(zip(rows_out, weights, active)):
        if not on:
            continue
        score = rows / weight
        if best is None or score < best_score:
            best, best_score = i, score
    return best


class MixOperator(BufferedInputsOperator):
    """Interleaves its inputs' bundles by ``weights`` (see the module docstring)."""

    def __init__(self, input_ops: Sequence[PhysicalOperator], weights: Sequence[float], *,
                 stop_on_shortest: bool = False) -> None:
        if len(input_ops) < 2 or len(weights) != len(input_ops):
            raise ValueError(f"Mix needs two or more inputs and one weight each, got "
                             f"{len(input_ops)} inputs and {len(weights)} weights")
        super().__init__("Mix", input_ops)
        total = float(sum(weights))
        self.weights = [w / total for w in weights]
        self.stop_on_shortest = stop_on_shortest
        self._rows_out = [0] * len(input_ops)
        self._stopped = False

    def add_input(self, bundle: RefBundle, input_index: int) -> None:
        self.metrics.on_input(bundle)
        if not self._stopped:
            self._buffers[input_index].append(bundle)
            self._advance()

    def input_done(self, input_index: int) -> None:
        super().input_done(input_index)
        self._advance()

    def all_inputs_done(self) -> None:
        super().all_inputs_done()
        self._advance()

    def _exhausted(self, i: int) -> bool:
        return self._inputs_done[i] and not self._buffers[i]

    def _advance(self) -> None:
        while not self._stopped:
            n = len(self._buffers)
            active = [self.stop_on_shortest or not self._exhausted(i) for i in range(n)]
            i = pick_input(self._rows_out, self.weights, active)
            if i is not None and self.stop_on_shortest and self._exhausted(i):
                self._stop()  # the input whose turn it is has ended
                return
            if i is None or not self._buffers[i]:
                return  # all done, or wait for the input that is behind
            bundle = self._buffers[i].popleft()
            self._rows_out[i] += bundle.num_rows() or 0
            self.metrics.on_output(bundle)
            self._outputs.append(bundle)

    def _stop(self) -> None:
        self._stopped = True
        for buf in self._buffers:
            buf.clear()

    def needs_more_input(self) -> bool:
        return not self._stopped and not self._execution_finished

    def completed(self) -> bool:
        done_in = self.inputs_complete() or self._stopped or self._execution_finished
        return done_in and not self._outputs and (
            self._stopped or not any(self._buffers))



__all__ = ["MixOperator", "pick_input"]
